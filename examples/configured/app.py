"""Settings from a config file: ``guardfn.toml`` beside this file (or ``[tool.guardfn]`` in
``pyproject.toml``) sets the defaults; the decorators here only say what is special.

    cd examples/configured && python app.py          # runs offline without OPENAI_API_KEY
    cd examples/configured && guardfn config app:summarize

``guardfn config`` shows every effective setting of a function and where it came from.
"""

from __future__ import annotations

import contextlib
import os

from guardfn import guarded_llm

OFFLINE = not os.environ.get("OPENAI_API_KEY")
_stack = contextlib.ExitStack()
_endpoint: dict[str, object] = {}
if OFFLINE:
    from guardfn.testing import FakeLLMServer

    _server = _stack.enter_context(FakeLLMServer())
    _endpoint = {"base_url": _server.openai_base_url, "api_key": lambda: "sk-offline-demo-0000"}


@guarded_llm(system="You answer questions about Acme's products.", **_endpoint)
def answer(user_id: str, question: str) -> str:
    return question


@guarded_llm(**_endpoint)
def summarize(user_id: str, document: str) -> str:
    return f"Summarize in three bullet points:\n{document}"


def main() -> dict[str, int]:
    """Run both functions; return the max_tokens each got from the file."""
    print(answer("u-1", "Which plans include SSO?"))
    print(summarize("u-1", "Acme's Q3 report: revenue grew 12%, churn fell to 2%."))
    return {f.__name__: f.guard.engine.settings.max_tokens for f in (answer, summarize)}  # type: ignore[attr-defined]


if __name__ == "__main__":
    with _stack:
        print(main())
