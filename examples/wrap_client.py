"""Wrap the OpenAI client an application already has: the code that uses it stays as it is.

With OPENAI_API_KEY set this calls OpenAI; without it, it runs offline against guardfn's
built-in fake provider (a loopback server that speaks the OpenAI API), so it always runs.

    python examples/wrap_client.py

Three requests, written exactly as against the raw SDK: an answer with personal data in
the question (redacted before it leaves the process, restored in the answer), the same
streamed, and a tool call handed back to the application, which runs the tool.
"""

from __future__ import annotations

import contextlib
import json
import os
from typing import Any

from openai import OpenAI

import guardfn

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


def get_weather(city: str) -> str:
    """The application's own tool."""
    return f"21C and sunny in {city}"


def run(client: Any) -> dict[str, str]:
    """The application's code: unchanged whether ``client`` is wrapped or not."""
    question = "Write two lines to ann@example.com: her order A-17 has shipped."
    completion = client.chat.completions.create(
        model="gpt-4o-mini", max_tokens=200, user="u-42", messages=[{"role": "user", "content": question}]
    )
    answer = completion.choices[0].message.content or ""

    stream = client.chat.completions.create(
        model="gpt-4o-mini", max_tokens=200, stream=True, messages=[{"role": "user", "content": question}]
    )
    streamed = "".join(chunk.choices[0].delta.content or "" for chunk in stream)

    messages: list[Any] = [{"role": "user", "content": "What's the weather in Paris?"}]
    first = client.chat.completions.create(model="gpt-4o-mini", max_tokens=200, messages=messages, tools=[WEATHER_TOOL])
    message = first.choices[0].message
    messages.append(message)
    for call in message.tool_calls or []:  # guardfn checked each call; the application runs it
        result = get_weather(**json.loads(call.function.arguments))
        messages.append({"role": "tool", "tool_call_id": call.id, "content": result})
    final = client.chat.completions.create(model="gpt-4o-mini", max_tokens=200, messages=messages, tools=[WEATHER_TOOL])
    return {"answer": answer, "streamed": streamed, "with_tool": final.choices[0].message.content or ""}


def main() -> dict[str, str]:
    """Wrap the client (the one changed line) and run the application's code."""
    with contextlib.ExitStack() as stack:
        if os.environ.get("OPENAI_API_KEY"):
            raw = OpenAI()
            server = None
        else:
            from guardfn.testing import FakeLLMServer

            server = stack.enter_context(FakeLLMServer(responder=_offline_model))
            raw = OpenAI(base_url=server.openai_base_url, api_key="sk-offline-demo-0000")
            print("OPENAI_API_KEY is not set: using the built-in fake provider on", server.url)

        client = guardfn.wrap(raw, pii="pseudonymize", limits={"requests_per_minute": 20}, store="memory://")

        results = run(client)
        for name, text in results.items():
            print(f"{name:>10}: {text}")
        if server is not None:
            sent = json.dumps([r.body for r in server.requests])
            print("the provider saw ann@example.com:", "ann@example.com" in sent)
        return results


def _offline_model(request: Any) -> Any:
    """Offline: the fake provider echoes, and calls the weather tool when it is offered."""
    from guardfn.testing import Reply, echo

    body = request.body
    if body.get("tools") and not any(m.get("role") == "tool" for m in body["messages"]):
        return Reply(text="", tool_calls=[("get_weather", {"city": "Paris"})])
    return echo(request)


if __name__ == "__main__":
    main()
