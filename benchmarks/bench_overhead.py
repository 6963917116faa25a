"""Guard overhead: a guarded call against the raw SDK call to the same loopback server.

Anchors, measured in the same run: the raw ``openai`` client and the raw ``anthropic``
client (sync calls), and the raw ``openai`` stream (time to the first chunk and to the
end of a 44-chunk answer). Targets (issue 2): p50 <= 1.05x and p99 <= 1.10x the raw call.
Async throughput and the cost under load are in ``bench_scale``.

Calls are interleaved (raw, guarded, raw, ...) so drift on a shared machine hits both.
"""

from __future__ import annotations

import functools
import tempfile
import time
from collections.abc import Callable
from typing import Any

from benchmarks.common import KEY, FakeProvider, Row, fake_provider, main, percentile, row, scaled

ISSUE = 2
CALLS = scaled(1500)
STREAMS = scaled(300)
PROMPT = "How do I reset my password? I tried twice and the link in the email has expired."
SYSTEM = "You are a support assistant."
CONFIGS: dict[str, dict[str, Any]] = {
    "default stages": {},
    "default stages + 2 limits on diskcache": {"limits": {"requests_per_minute": 10**9, "tokens_per_day": 10**12}},
}


def guarded(server: FakeProvider, *, model: str = "gpt-4o-mini", is_async: bool = False, **options: Any) -> Any:
    """A guarded function answering ``(user_id, question)`` on the fake provider."""
    from guardfn import guarded_llm

    base_url = server.anthropic_base_url if model.startswith("claude") else server.openai_base_url
    settings = {"model": model, "max_tokens": 64, "base_url": base_url, "api_key": lambda: KEY, "system": SYSTEM}
    if is_async:

        @guarded_llm(**settings, **options)
        async def answer_async(user_id: str, question: str) -> str:
            return question

        return answer_async

    @guarded_llm(**settings, **options)
    def answer(user_id: str, question: str) -> Any:
        return question

    return answer


def raw_openai(server: FakeProvider, **more: Any) -> Callable[[], Any]:
    """The same request through the raw ``openai`` client."""
    import openai

    client = openai.OpenAI(base_url=server.openai_base_url, api_key=KEY, max_retries=0)
    messages: Any = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": PROMPT}]
    return lambda: client.chat.completions.create(model="gpt-4o-mini", messages=messages, max_tokens=64, **more)


def _raw_anthropic(server: FakeProvider) -> Callable[[], Any]:
    import anthropic

    client = anthropic.Anthropic(base_url=server.anthropic_base_url, api_key=KEY, max_retries=0)
    messages: Any = [{"role": "user", "content": PROMPT}]
    return lambda: client.messages.create(model="claude-haiku-4-5", system=SYSTEM, messages=messages, max_tokens=64)


def _interleaved(raw: Callable[[], Any], guard: Callable[[], Any], n: int) -> tuple[list[float], list[float]]:
    """Seconds per call of each, alternating, after a warm-up of both."""
    for _ in range(50):
        raw()
        guard()
    raw_times, guard_times = [], []
    for _ in range(n):
        start = time.perf_counter()
        raw()
        raw_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        guard()
        guard_times.append(time.perf_counter() - start)
    return raw_times, guard_times


def _latency_rows(label: str, anchor: str, raw: list[float], guard: list[float], targets: bool) -> list[Row]:
    rows = []
    for q, target in ((50, 1.05), (99, 1.10)):
        r, g = percentile(raw, q) * 1e6, percentile(guard, q) * 1e6
        rows.append(row(f"sync p{q} latency, {label}", g, "us", anchor=anchor, anchor_value=r,
                        target=f"<= {target}x" if targets else "report", met=g / r <= target if targets else None))  # fmt: skip
    added = (percentile(guard, 50) - percentile(raw, 50)) * 1e6
    rows.append(row(f"sync p50 added time, {label}", added, "us", target="report"))
    return rows


def _stream_times(consume: Callable[[], Any]) -> Callable[[], tuple[float, float]]:
    """Time to the first text chunk and to the end of the stream."""

    def timed() -> tuple[float, float]:
        start = time.perf_counter()
        first = 0.0
        for piece in consume():
            if not first and piece:
                first = time.perf_counter() - start
        return first, time.perf_counter() - start

    return timed


def _stream_rows(server: FakeProvider) -> list[Row]:
    create = raw_openai(server, stream=True, stream_options={"include_usage": True})
    answer = guarded(server, stream=True)

    def raw_pieces() -> Any:
        for event in create():
            yield event.choices[0].delta.content if event.choices else None

    raw_timed, guard_timed = _stream_times(raw_pieces), _stream_times(lambda: answer("u-1", PROMPT))
    samples: dict[str, list[tuple[float, float]]] = {"raw": [], "guarded": []}
    for i in range(STREAMS + 20):
        for name, fn in (("raw", raw_timed), ("guarded", guard_timed)):
            sample = fn()
            if i >= 20:  # the first 20 warm up
                samples[name].append(sample)
    rows = []
    for index, what in ((0, "time to first chunk"), (1, "time to the end")):
        r = percentile([s[index] for s in samples["raw"]], 50) * 1e6
        g = percentile([s[index] for s in samples["guarded"]], 50) * 1e6
        rows.append(row(f"stream p50 {what}, default stages", g, "us", anchor="raw openai SDK stream",
                        anchor_value=r, target="report"))  # fmt: skip
    return rows


def run() -> list[Row]:
    rows: list[Row] = []
    with fake_provider(chunk_chars=2) as server, tempfile.TemporaryDirectory() as store_dir:
        raw = raw_openai(server)
        for label, options in CONFIGS.items():
            store = {"store": f"diskcache://{store_dir}"} if "limits" in options else {}
            answer = guarded(server, **{**options, **store})
            raw_times, guard_times = _interleaved(raw, functools.partial(answer, "u-1", PROMPT), CALLS)
            rows += _latency_rows(label, "raw openai SDK call", raw_times, guard_times, targets=True)
        answer = guarded(server, model="claude-haiku-4-5")
        raw_times, guard_times = _interleaved(_raw_anthropic(server), lambda: answer("u-1", PROMPT), CALLS // 3)
        rows += _latency_rows("default stages, Anthropic", "raw anthropic SDK call", raw_times, guard_times,
                              targets=False)  # fmt: skip
        rows += _stream_rows(server)
    return rows


if __name__ == "__main__":
    main(run)
