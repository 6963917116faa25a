"""Tool loops: a 3-request agent loop, guarded, against the raw SDK doing the same loop by hand.

The fake provider (its own process) plays an agent: it calls ``get_weather`` twice, then
answers, so each loop is 3 model requests and 2 tool runs. Anchor, in the same run and
interleaved: the raw ``openai`` client running that loop by hand (send, run the tool, append
the assistant and tool messages, send again). guardfn's own cost is the p50 difference;
target (issue 15): the loop adds no more than 3x the single-call difference measured in
the same run against the raw single call.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from benchmarks.common import KEY, FakeProvider, Row, fake_provider, main, percentile, row, scaled

ISSUE = 15
LOOPS = scaled(400)
REQUESTS = 3
PROMPT = "What's the weather in Paris?"


def get_weather(city: str) -> str:
    """Current weather for a city."""
    return f"21C and sunny in {city}"


def _guarded(server: FakeProvider, tools: bool) -> Callable[[], Any]:
    from guardfn import guarded_llm

    options: dict[str, Any] = {"tools": [get_weather]} if tools else {}

    @guarded_llm(model="gpt-4o-mini", max_tokens=64, base_url=server.openai_base_url, api_key=lambda: KEY, **options)
    def assistant(user_id: str, question: str) -> str:
        return question

    return lambda: assistant("u-1", PROMPT)


def _raw(server: FakeProvider, tools: bool) -> Callable[[], Any]:
    """The raw SDK: one call, or the tool loop written by hand."""
    import openai

    from guardfn.tools import tool_from

    client = openai.OpenAI(base_url=server.openai_base_url, api_key=KEY, max_retries=0)
    tool = tool_from(get_weather)  # the very schema guardfn sends, so both requests are the same size
    spec: Any = [{"type": "function", "function": {"name": tool.name, "description": tool.description,
                                                   "parameters": tool.parameters}}]  # fmt: skip

    def single() -> Any:
        return client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": PROMPT}], max_tokens=64
        )

    def loop() -> Any:
        messages: list[Any] = [{"role": "user", "content": PROMPT}]
        while True:
            answer = client.chat.completions.create(model="gpt-4o-mini", messages=messages, max_tokens=64, tools=spec)
            message = answer.choices[0].message
            if not message.tool_calls:
                return message.content
            messages.append(message.model_dump(exclude_none=True))
            for call in message.tool_calls:
                result = get_weather(**json.loads(call.function.arguments))  # type: ignore[union-attr]
                messages.append({"role": "tool", "tool_call_id": call.id, "content": result})

    return loop if tools else single


def _interleaved(pairs: list[tuple[Callable[[], Any], Callable[[], Any]]], n: int) -> list[tuple[list[float], list[float]]]:
    """Seconds per run of each (raw, guarded) pair, all four alternating, after a warm-up."""
    for _ in range(20):
        for raw, guard in pairs:
            raw()
            guard()
    samples: list[tuple[list[float], list[float]]] = [([], []) for _ in pairs]
    for _ in range(n):
        for (raw, guard), (raw_times, guard_times) in zip(pairs, samples, strict=True):
            for fn, out in ((raw, raw_times), (guard, guard_times)):
                start = time.perf_counter()
                fn()
                out.append(time.perf_counter() - start)
    return samples


def run() -> list[Row]:
    with fake_provider(tool_rounds=REQUESTS) as loop_server, fake_provider() as plain_server:
        pairs = [
            (_raw(plain_server, tools=False), _guarded(plain_server, tools=False)),
            (_raw(loop_server, tools=True), _guarded(loop_server, tools=True)),
        ]
        (raw_single, guard_single), (raw_loop, guard_loop) = _interleaved(pairs, LOOPS)
    p50 = lambda values: percentile(values, 50) * 1e6  # noqa: E731
    single_added = p50(guard_single) - p50(raw_single)
    loop_added = p50(guard_loop) - p50(raw_loop)
    return [
        row("single call p50, default stages", p50(guard_single), "us", anchor="raw openai SDK call",
            anchor_value=p50(raw_single), target="report"),
        row(f"tool loop p50 ({REQUESTS} requests, 2 tool runs), default stages", p50(guard_loop), "us",
            anchor="raw openai SDK, the same loop by hand", anchor_value=p50(raw_loop), target="report"),
        row("added by guardfn, single call (p50 - p50)", single_added, "us", target="report"),
        row("added by guardfn, tool loop (p50 - p50)", loop_added, "us", anchor="3 x the single-call addition",
            anchor_value=3 * single_added, target="<= 1x (loop <= 3x one call)", met=loop_added <= 3 * single_added),
    ]  # fmt: skip


if __name__ == "__main__":
    main(run)
