"""Guard overhead: a guarded call against the raw SDK call to the same loopback server.

Anchors, measured in the same run: the raw ``openai`` client (sync), the raw
``AsyncOpenAI`` client (throughput with concurrent tasks), and ``import openai``.
Targets (issue 2): p50 <= 1.05x and p99 <= 1.10x the raw call; async throughput >= 0.9x
the raw async client; ``import guardfn`` <= 0.2x ``import openai``.

Calls are interleaved (raw, guarded, raw, ...) so drift on a shared machine hits both.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from typing import Any

from benchmarks.common import Row, main, percentile, row, time_subprocess

CALLS = int(os.environ.get("GUARDFN_BENCH_CALLS", "1500"))
ASYNC_CALLS = int(os.environ.get("GUARDFN_BENCH_ASYNC_CALLS", "1000"))
CONCURRENCY = (1, 4, 16)
PROMPT = "How do I reset my password? I tried twice and the link in the email has expired."


def _guarded(server: Any, *, is_async: bool, full: bool, store_dir: str) -> Any:
    from guardfn import guarded_llm

    options: dict[str, Any] = {
        "model": "gpt-4o-mini",
        "max_tokens": 64,
        "base_url": server.openai_base_url,
        "api_key": lambda: "sk-bench-0000000000",
        "system": "You are a support assistant.",
    }
    if full:
        options.update(
            limits={"requests_per_minute": 10**9, "tokens_per_day": 10**12},
            store=f"diskcache://{store_dir}",
        )
    if is_async:

        @guarded_llm(**options)
        async def answer_async(user_id: str, question: str) -> str:
            return question

        return answer_async

    @guarded_llm(**options)
    def answer(user_id: str, question: str) -> str:
        return question

    return answer


def _sync_latencies(server: Any, full: bool, store_dir: str) -> tuple[list[float], list[float]]:
    import openai

    client = openai.OpenAI(base_url=server.openai_base_url, api_key="sk-bench-0000000000", max_retries=0)
    guarded = _guarded(server, is_async=False, full=full, store_dir=store_dir)
    messages = [{"role": "system", "content": "You are a support assistant."}, {"role": "user", "content": PROMPT}]
    for _ in range(50):  # warm up both paths (connections, caches, lazy imports)
        client.chat.completions.create(model="gpt-4o-mini", messages=messages, max_tokens=64)  # type: ignore[arg-type]
        guarded("u-1", PROMPT)
    raw, guard = [], []
    for _ in range(CALLS):
        start = time.perf_counter()
        client.chat.completions.create(model="gpt-4o-mini", messages=messages, max_tokens=64)  # type: ignore[arg-type]
        raw.append(time.perf_counter() - start)
        start = time.perf_counter()
        guarded("u-1", PROMPT)
        guard.append(time.perf_counter() - start)
    return raw, guard


async def _async_throughput(server: Any, concurrency: int, full: bool, store_dir: str) -> tuple[float, float]:
    import openai

    client = openai.AsyncOpenAI(base_url=server.openai_base_url, api_key="sk-bench-0000000000", max_retries=0)
    guarded = _guarded(server, is_async=True, full=full, store_dir=store_dir)
    messages = [{"role": "system", "content": "You are a support assistant."}, {"role": "user", "content": PROMPT}]

    async def raw_call() -> None:
        await client.chat.completions.create(model="gpt-4o-mini", messages=messages, max_tokens=64)  # type: ignore[arg-type]

    async def guarded_call() -> None:
        await guarded("u-1", PROMPT)

    async def rate(fn: Any) -> float:
        per_worker = ASYNC_CALLS // concurrency

        async def worker() -> None:
            for _ in range(per_worker):
                await fn()

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return per_worker * concurrency / (time.perf_counter() - start)

    await rate(raw_call)
    await rate(guarded_call)
    raw_rates, guard_rates = [], []
    for _ in range(3):
        raw_rates.append(await rate(raw_call))
        guard_rates.append(await rate(guarded_call))
    await client.close()
    return max(raw_rates), max(guard_rates)


class _Remote:
    """The fake provider in a child process, so it shares no GIL with the measured client."""

    def __init__(self) -> None:
        from guardfn.testing import serve_in_subprocess

        self.process, self.url = serve_in_subprocess()
        self.openai_base_url = self.url + "/v1"
        self.anthropic_base_url = self.url

    def __enter__(self) -> _Remote:
        return self

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        self.process.wait()


def run() -> list[Row]:
    rows: list[Row] = []
    with _Remote() as server, tempfile.TemporaryDirectory() as store_dir:
        for full in (False, True):
            label = "all stages + diskcache limits" if full else "default stages"
            raw, guard = _sync_latencies(server, full, store_dir)
            for q, target in ((50, 1.05), (99, 1.10)):
                r, g = percentile(raw, q) * 1e6, percentile(guard, q) * 1e6
                rows.append(
                    row(
                        f"sync p{q} latency, {label}",
                        g,
                        "us",
                        anchor="raw openai SDK call",
                        anchor_value=r,
                        target=f"<= {target}x",
                        met=g / r <= target,
                    )
                )
            rows.append(
                row(
                    f"sync p50 added time, {label}",
                    (percentile(guard, 50) - percentile(raw, 50)) * 1e6,
                    "us",
                )
            )
            for concurrency in CONCURRENCY:
                raw_rate, guard_rate = asyncio.run(_async_throughput(server, concurrency, full, store_dir))
                rows.append(
                    row(
                        f"async throughput, {concurrency} tasks, {label}",
                        guard_rate,
                        "calls/s",
                        anchor="raw AsyncOpenAI",
                        anchor_value=raw_rate,
                        target=">= 0.9x",
                        met=guard_rate / raw_rate >= 0.9,
                    )
                )
    baseline = time_subprocess("pass")
    guardfn_import = time_subprocess("import guardfn") - baseline
    openai_import = time_subprocess("import openai") - baseline
    rows.append(
        row(
            "import guardfn",
            guardfn_import * 1000,
            "ms",
            anchor="import openai",
            anchor_value=openai_import * 1000,
            target="<= 0.2x",
            met=guardfn_import / openai_import <= 0.2,
        )
    )
    return rows


if __name__ == "__main__":
    main(run)
