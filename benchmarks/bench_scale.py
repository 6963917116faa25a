"""Cost under load: the overhead and limiter benchmarks with 1, 4 and 16 concurrent workers.

Workers are threads (sync calls, one shared decorated function and client), processes
(sync calls, each its own) or asyncio tasks (async calls in one event loop); see
:mod:`benchmarks.workers`. Every operation runs in turn at the same load and the best of
three rounds is kept, so the anchor and the guarded figure always share a run.

* overhead: guarded calls per second (default stages; and with two limits on Redis)
  against the raw SDK on the same upstream (:mod:`benchmarks.upstream`, not guardfn's
  fake), plus the client's CPU time per call. Only guardfn's built-in stages load.
  The upstream is one child process, so at 16 workers both sides queue on it; the CPU
  figure shows what guardfn adds where throughput cannot. Target (issue 2): async
  throughput at least 0.9x the raw ``AsyncOpenAI``.
* limiter: the issue-3 check (rpm, rpd, tokens/day; 2,000 users per worker process)
  against the ``limits`` library's moving windows on the same Redis and a raw
  ``Cache.incr`` on the same diskcache directory (the ``limits`` library has no diskcache
  storage). diskcache has no async mode: async calls run its store inline (it is local
  and takes tens of microseconds), so its async figure is its sync one.
"""

from __future__ import annotations

import tempfile
import time
import uuid
from collections.abc import Callable
from typing import Any

from benchmarks.bench_limits import USERS, claims, guardfn_check, limits_items, limits_library
from benchmarks.bench_overhead import PROMPT, guarded, raw_openai
from benchmarks.common import KEY, REDIS, Row, builtin_stages_only, main, row, scaled
from benchmarks.upstream import upstream
from benchmarks.workers import MODES, Mode, Phase, measure

ISSUE = 10
WORKERS = (1, 4, 16)
CALLS = scaled(600)  # calls per phase, all workers together
CHECKS = scaled(3000)  # limit checks per phase, all workers together
REDIS_LIMITS = {"requests_per_minute": 10**9, "tokens_per_day": 10**12}


def _users() -> Callable[[], str]:
    counter, prefix = iter(range(10**12)), uuid.uuid4().hex[:8]
    return lambda: f"scale-{prefix}-{next(counter) % 1000}"


def overhead_ops(url: str) -> dict[str, Callable[[], Any]]:
    """Sync operations: the raw call, the guarded call, the guarded call with limits on Redis."""
    builtin_stages_only()
    user = _users()
    plain, limited = guarded(url), guarded(url, limits=REDIS_LIMITS, store=REDIS)
    return {
        "raw": raw_openai(url),
        "guarded": lambda: plain(user(), PROMPT),
        "guarded + Redis limits": lambda: limited(user(), PROMPT),
    }


async def overhead_async_ops(url: str) -> dict[str, Callable[[], Any]]:
    """The same operations as coroutine functions on the SDK's async client."""
    import openai

    builtin_stages_only()
    client = openai.AsyncOpenAI(base_url=url + "/v1", api_key=KEY, max_retries=0)
    messages: Any = [{"role": "system", "content": "You are a support assistant."}, {"role": "user", "content": PROMPT}]
    user = _users()
    plain = guarded(url, is_async=True)
    limited = guarded(url, is_async=True, limits=REDIS_LIMITS, store=REDIS)
    return {
        "raw": lambda: client.chat.completions.create(model="gpt-4o-mini", messages=messages, max_tokens=64),
        "guarded": lambda: plain(user(), PROMPT),
        "guarded + Redis limits": lambda: limited(user(), PROMPT),
    }


def limiter_ops(url: str) -> dict[str, Callable[[], Any]]:
    """Sync operations: guardfn's three-limit check and the anchor on the same store."""
    if url.startswith("redis"):
        return {"guardfn": guardfn_check(url), "limits library": limits_library(url)}
    import diskcache

    cache = diskcache.Cache(url.removeprefix("diskcache://") + "-incr")
    return {"guardfn": guardfn_check(url), "Cache.incr": lambda: cache.incr("k")}


async def limiter_async_ops(url: str) -> dict[str, Callable[[], Any]]:
    """Async operations on Redis: guardfn's ``areserve`` and ``limits.aio``'s moving windows."""
    from limits.aio.strategies import MovingWindowRateLimiter
    from limits.storage import storage_from_string

    from guardfn.store import open_store

    store: Any = open_store(url)
    run, counter = uuid.uuid4().hex[:8], iter(range(10**12))
    per_user = [claims(f"bench-{run}-{i}") for i in range(USERS)]
    limiter = MovingWindowRateLimiter(storage_from_string("async+" + url, implementation="redispy"))
    per_minute, per_day, tokens = limits_items()

    async def ours() -> None:
        assert await store.areserve(per_user[next(counter) % USERS], time.time()) is None

    async def theirs() -> None:
        user = f"limits-{run}-{next(counter) % USERS}"
        assert await limiter.hit(per_minute, user)
        assert await limiter.hit(per_day, user)
        assert await limiter.hit(tokens, user, "tokens", cost=500)

    return {"guardfn": ours, "limits library": theirs}


def _factory(mode: Mode, name: str) -> str:
    return f"benchmarks.bench_scale:{name}_async_ops" if mode == "async" else f"benchmarks.bench_scale:{name}_ops"


def _overhead_rows(url: str) -> list[Row]:
    rows: list[Row] = []
    for mode in MODES:
        for workers in WORKERS:
            phases = measure(_factory(mode, "overhead"), (url,), mode, workers, CALLS)
            raw = phases["raw"]
            where = f"{mode} x{workers}"
            for name in ("guarded", "guarded + Redis limits"):
                ratio = phases[name].rate / raw.rate
                target = mode == "async" and name == "guarded"
                rows.append(row(f"overhead, {where}: {name} calls/s", phases[name].rate, "calls/s",
                                anchor=f"raw {'AsyncOpenAI' if mode == 'async' else 'openai'} calls/s",
                                anchor_value=raw.rate, target=">= 0.9x" if target else "report",
                                met=ratio >= 0.9 if target else None, issue=2 if target else None))  # fmt: skip
            rows.append(_cpu_row(f"overhead, {where}: client CPU per guarded call", phases["guarded"], raw,
                                 "raw call"))  # fmt: skip
    return rows


def _cpu_row(name: str, phase: Phase, anchor: Phase, anchor_name: str) -> Row:
    return row(name, phase.cpu_per_op * 1e6, "us", anchor=f"CPU per {anchor_name}",
               anchor_value=anchor.cpu_per_op * 1e6, target="report")  # fmt: skip


def _limiter_rows(url: str, label: str, modes: tuple[Mode, ...]) -> list[Row]:
    rows: list[Row] = []
    for mode in modes:
        for workers in WORKERS:
            phases = measure(_factory(mode, "limiter"), (url,), mode, workers, CHECKS)
            ours = phases.pop("guardfn")
            (anchor_name, anchor), = phases.items()
            where = f"{mode} x{workers}"
            rows.append(row(f"limiter on {label}, {where}: checks/s", ours.rate, "checks/s",
                            anchor=f"{anchor_name} ops/s", anchor_value=anchor.rate, target="report"))  # fmt: skip
            rows.append(_cpu_row(f"limiter on {label}, {where}: CPU per check", ours, anchor, anchor_name))
    return rows


def _clean_redis() -> None:
    import redis

    client = redis.Redis.from_url(REDIS)
    for pattern in ("*bench-*", "*limits-*", "*scale-*", "*busy-*"):
        for key in client.scan_iter(match=pattern, count=1000):
            client.delete(key)


def run() -> list[Row]:
    rows: list[Row] = []
    try:
        with upstream() as url:
            rows += _overhead_rows(url)
        rows += _limiter_rows(REDIS, "Redis", MODES)
        with tempfile.TemporaryDirectory() as tmp:
            rows += _limiter_rows(f"diskcache://{tmp}/limits", "diskcache", ("threads", "processes"))
    finally:
        _clean_redis()
    return rows


if __name__ == "__main__":
    main(run)
