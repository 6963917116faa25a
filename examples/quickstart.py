"""Quickstart: one guarded call.

With OPENAI_API_KEY set this calls OpenAI; without it, it runs offline against guardfn's
built-in fake provider (a loopback server that speaks the OpenAI API), so it always runs.

    python examples/quickstart.py
"""

from __future__ import annotations

import contextlib
import os

from guardfn import guarded_llm


def main() -> str:
    """Run one guarded call and return the answer."""
    with contextlib.ExitStack() as stack:
        options: dict[str, object] = {}
        if not os.environ.get("OPENAI_API_KEY"):
            from guardfn.testing import FakeLLMServer

            server = stack.enter_context(FakeLLMServer())
            options = {"base_url": server.openai_base_url, "api_key": lambda: "sk-offline-demo-0000"}
            print("OPENAI_API_KEY is not set: using the built-in fake provider on", server.url)

        @guarded_llm(model="gpt-4o-mini", max_tokens=256, system="You are a support assistant.", **options)
        def answer(user_id: str, question: str) -> str:
            return f"Answer briefly: {question}"

        reply: str = answer("u-1", "How do I reset my password?")
        print(reply)
        return reply


if __name__ == "__main__":
    main()
