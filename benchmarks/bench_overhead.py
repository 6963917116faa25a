"""Guard overhead: a guarded call against the raw SDK call to the same upstream, and guardfn's own CPU.

The upstream is :mod:`benchmarks.upstream` (a canned server in a child process, not
guardfn's fake). Calls alternate (raw, guarded, raw, ...) and every call is timed on
its own, so p50 is compared to p50 and p99 to p99 and drift on a shared machine hits
both. Only guardfn's built-in stages load (no entry-point plugin of the environment).

* p50 / p99 of a guarded call, default stages, against the raw ``openai`` call
  (targets, issues 2 and 17: <= 1.05x and <= 1.10x);
* the same with two limits (``requests_per_minute`` and ``tokens_per_day`` of one busy
  user) on diskcache and on Redis (target, issue 17: p50 <= 1.15x);
* guardfn's own CPU per call, default stages, the SDK stubbed (``time.thread_time`` of a
  whole guarded call answered by a stub plugin; target, issue 17: <= 40 us);
* where the added time goes, from ``call.spans`` of the interleaved guarded calls: the
  model-call span (the SDK's request inside the guarded call, against the raw call)
  and the other stages (the injection screening shown on its own);
* the Anthropic call and the OpenAI stream (report).
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from functools import partial
from typing import Any

from benchmarks.common import (
    KEY,
    REDIS,
    Row,
    builtin_stages_only,
    interleaved,
    main,
    percentile,
    row,
    scaled,
    stubbed_model,
)
from benchmarks.upstream import upstream
from guardfn.hookspecs import hookimpl

ISSUE = 17
CALLS = scaled(1500)
STREAMS = scaled(300)
PROMPT = "How do I reset my password? I tried twice and the link in the email has expired."
SYSTEM = "You are a support assistant."
TWO_LIMITS = {"requests_per_minute": 10**9, "tokens_per_day": 10**12}


def guarded(url: str, *, model: str = "gpt-4o-mini", is_async: bool = False, **options: Any) -> Any:
    """A guarded function answering ``(user_id, question)`` from the upstream at ``url``."""
    from guardfn import guarded_llm

    base_url = url if model.startswith("claude") else url + "/v1"
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


def raw_openai(url: str, **more: Any) -> Callable[[], Any]:
    """The same request through the raw ``openai`` client."""
    import openai

    client = openai.OpenAI(base_url=url + "/v1", api_key=KEY, max_retries=0)
    messages: Any = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": PROMPT}]
    return lambda: client.chat.completions.create(model="gpt-4o-mini", messages=messages, max_tokens=64, **more)


def _raw_anthropic(url: str) -> Callable[[], Any]:
    import anthropic

    client = anthropic.Anthropic(base_url=url, api_key=KEY, max_retries=0)
    messages: Any = [{"role": "user", "content": PROMPT}]
    return lambda: client.messages.create(model="claude-haiku-4-5", system=SYSTEM, messages=messages, max_tokens=64)


class Spans:
    """A record plugin keeping each guarded call's spans (to say where its time went)."""

    def __init__(self) -> None:
        self.calls: list[list[Any]] = []

    @hookimpl(trylast=True)
    def guardfn_record(self, call: Any, outcome: str) -> None:
        """Keep the call's spans."""
        self.calls.append(list(call.spans))


def _with_spans() -> Spans:
    import guardfn

    spans = Spans()
    guardfn.register(spans, name="bench-spans")
    return spans


def _latency_rows(label: str, anchor: str, raw: list[float], guard: list[float], targets: tuple[float, ...]) -> list[Row]:
    rows = []
    for q, target in zip((50, 99), targets, strict=False):
        r, g = percentile(raw, q) * 1e6, percentile(guard, q) * 1e6
        rows.append(row(f"sync p{q} latency, {label}", g, "us", anchor=anchor, anchor_value=r,
                        target=f"<= {target}x", met=g / r <= target))  # fmt: skip
    added = (percentile(guard, 50) - percentile(raw, 50)) * 1e6
    rows.append(row(f"sync p50 added time, {label}", added, "us", target="report"))
    return rows


def _where_rows(spans: Spans, raw: list[float]) -> list[Row]:
    """The model-call span against the raw call; the other stages' time (the injection stage apart)."""
    model, stages, injection = [], [], []
    for call in spans.calls:
        model.append(sum(s.end_ns - s.start_ns for s in call if s.step == "guardfn_call_model") / 1e3)
        stages.append(sum(s.end_ns - s.start_ns for s in call if s.step != "guardfn_call_model") / 1e3)
        injection.append(sum(s.end_ns - s.start_ns for s in call if s.plugin == "injection") / 1e3)
    raw_p50 = percentile(raw, 50) * 1e6
    return [
        row("where: the model-call span of a guarded call (SDK request inside guardfn), p50", percentile(model, 50),
            "us", anchor="raw openai SDK call", anchor_value=raw_p50, target="report"),
        row("where: every other stage's span together, p50", percentile(stages, 50), "us", target="report"),
        row("where: of which the injection screening (issue 4), p50", percentile(injection, 50), "us",
            target="report"),
    ]  # fmt: skip


def _own_cpu() -> Row:
    """guardfn's CPU per call, default stages, with the SDK stubbed (p50 of ``thread_time`` per call)."""
    with stubbed_model():
        answer = guarded("http://127.0.0.1:9")
        for _ in range(300):
            answer("u-1", PROMPT)
        cpu = []
        clock = time.thread_time_ns
        for _ in range(CALLS * 2):
            start = clock()
            answer("u-1", PROMPT)
            cpu.append((clock() - start) / 1e3)
    value = percentile(cpu, 50)
    return row("guardfn's own CPU per call, default stages, SDK stubbed (p50)", value, "us", target="<= 40 us",
               met=value <= 40)  # fmt: skip


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


def _stream_rows(url: str) -> list[Row]:
    create = raw_openai(url, stream=True, stream_options={"include_usage": True})
    answer = guarded(url, stream=True)

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


def _pair(raw: Callable[[], Any], guard: Callable[[], Any], n: int) -> tuple[list[float], list[float]]:
    samples = interleaved({"raw": raw, "guarded": guard}, n, warm_up=50)
    return samples["raw"], samples["guarded"]


def run() -> list[Row]:
    builtin_stages_only()
    rows: list[Row] = []
    import redis

    from guardfn import plugins

    client = redis.Redis.from_url(REDIS)
    user = f"bench-overhead-{time.time_ns()}"
    try:
        rows.append(_own_cpu())  # first, in a fresh process state
        with upstream(chunk_chars=2) as url, tempfile.TemporaryDirectory() as store_dir:
            raw = raw_openai(url)
            spans = _with_spans()
            answer = guarded(url)
            raw_times, guard_times = _pair(raw, lambda: answer(user, PROMPT), CALLS)
            plugins.unregister("bench-spans")
            rows += _latency_rows("default stages", "raw openai SDK call", raw_times, guard_times, (1.05, 1.10))
            rows += _where_rows(spans, raw_times)
            for label, store in (("diskcache", f"diskcache://{store_dir}"), ("Redis", REDIS)):
                limited = guarded(url, limits=TWO_LIMITS, store=store)
                raw_times, guard_times = _pair(raw, partial(limited, user, PROMPT), CALLS)
                rows += _latency_rows(f"default stages + 2 limits on {label}", "raw openai SDK call", raw_times,
                                      guard_times, (1.15,))  # fmt: skip
            answer = guarded(url, model="claude-haiku-4-5")
            raw_times, guard_times = _pair(_raw_anthropic(url), lambda: answer(user, PROMPT), CALLS // 3)
            for q in (50, 99):
                rows.append(row(f"sync p{q} latency, default stages, Anthropic", percentile(guard_times, q) * 1e6, "us",
                                anchor="raw anthropic SDK call", anchor_value=percentile(raw_times, q) * 1e6,
                                target="report"))  # fmt: skip
            rows += _stream_rows(url)
    finally:
        for key in client.scan_iter(match=f"*{user}*", count=1000):
            client.delete(key)
    return rows


if __name__ == "__main__":
    main(run)
