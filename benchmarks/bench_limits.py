"""Limiter throughput: one call's three limits (rpm, rpd, tokens/day) checked and reserved.

Anchors in the same run: a Redis PING and the ``limits`` library doing the same three
limits (moving windows) on the same Redis; a raw ``diskcache.Cache.incr`` on the same
kind of directory. Also: exact counts with 4 processes on each store.
Targets (issue 3): Redis <= 1.3x PING and <= 0.45x ``limits``; diskcache <= 1.3x
``Cache.incr`` and >= 3,000 checks/s; 4 processes admit exactly the limit.
"""

from __future__ import annotations

import multiprocessing
import tempfile
import time
import uuid
from collections.abc import Callable
from typing import Any

from benchmarks.common import Row, main, row

REDIS = "redis://127.0.0.1:6379/14"
N = 3000
LIMITS = {"requests_per_minute": 60, "requests_per_day": 1000, "tokens_per_day": 1_000_000}
USERS = 2000  # checks cycle through this many users, as a service's traffic does


def _claims(user: str) -> list[Any]:
    from guardfn.limits import counter_key, parse_limits
    from guardfn.store import Claim

    return [
        Claim(counter_key(user, s), s.name, s.window, s.capacity, 1.0 if s.kind == "requests" else 500.0)
        for s in parse_limits(LIMITS)
    ]


def _rate(fn: Callable[[], Any], n: int = N) -> float:
    for _ in range(100):
        fn()
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - start) / n


def _guardfn_check(url: str) -> Callable[[], Any]:
    from guardfn.store import open_store

    store = open_store(url)
    run = uuid.uuid4().hex[:8]
    users = [_claims(f"bench-{run}-{i}") for i in range(USERS)]
    counter = iter(range(10**9))

    def check() -> None:
        i = next(counter)
        assert store.reserve(users[i % USERS], f"{run}-{i}", time.time()) is None

    return check


def _exact(url: str, user: str, attempts: int, capacity: int, queue: Any) -> None:
    from guardfn.store import Claim, open_store

    store = open_store(url)
    claim = Claim(f"guardfn:{{u:{user}}}:requests_per_day", "requests_per_day", 86400.0, capacity, 1.0)
    queue.put(sum(store.reserve([claim], uuid.uuid4().hex, time.time()) is None for _ in range(attempts)))


def _exact_count(url: str) -> int:
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    user = f"exact-{uuid.uuid4()}"
    procs = [ctx.Process(target=_exact, args=(url, user, 500, 1000, queue)) for _ in range(4)]
    for p in procs:
        p.start()
    total = sum(queue.get(timeout=120) for _ in procs)
    for p in procs:
        p.join()
    return total


def run() -> list[Row]:
    import diskcache
    import redis
    from limits import RateLimitItemPerDay, RateLimitItemPerMinute, parse
    from limits.storage import storage_from_string
    from limits.strategies import MovingWindowRateLimiter

    rows: list[Row] = []
    client = redis.Redis.from_url(REDIS)
    ping = _rate(client.ping)
    ours = _rate(_guardfn_check(REDIS))
    limiter = MovingWindowRateLimiter(storage_from_string(REDIS))
    items = [RateLimitItemPerMinute(60), RateLimitItemPerDay(1000), parse("1000000/day")]
    run = uuid.uuid4().hex[:8]
    turn = iter(range(10**9))

    def limits_check() -> None:
        user = f"limits-{run}-{next(turn) % USERS}"
        for item in items[:2]:
            assert limiter.hit(item, user)
        assert limiter.hit(items[2], user, "tokens", cost=500)

    theirs = _rate(limits_check)
    rows.append(row("redis: 3-limit check", ours * 1e6, "us", anchor="Redis PING", anchor_value=ping * 1e6,
                    target="<= 1.3x", met=ours / ping <= 1.3))
    rows.append(row("redis: 3-limit check vs limits library", ours * 1e6, "us",
                    anchor="limits MovingWindow (3 hits)", anchor_value=theirs * 1e6, target="<= 0.45x",
                    met=ours / theirs <= 0.45))
    with tempfile.TemporaryDirectory() as tmp:
        cache = diskcache.Cache(f"{tmp}/raw")
        incr = _rate(lambda: cache.incr("k"))
        disk = _rate(_guardfn_check(f"diskcache://{tmp}/limits"))
        rows.append(row("diskcache: 3-limit check", disk * 1e6, "us", anchor="Cache.incr",
                        anchor_value=incr * 1e6, target="<= 1.3x", met=disk / incr <= 1.3))
        rows.append(row("diskcache: checks per second", 1 / disk, "checks/s", target=">= 3000", met=1 / disk >= 3000))
        disk_exact = _exact_count(f"diskcache://{tmp}/exact")
    rows.append(row("diskcache: 4 processes x 500 attempts, limit 1000", disk_exact, "admitted",
                    target="== 1000", met=disk_exact == 1000))
    redis_exact = _exact_count(REDIS)
    rows.append(row("redis: 4 processes x 500 attempts, limit 1000", redis_exact, "admitted",
                    target="== 1000", met=redis_exact == 1000))
    for key in client.scan_iter(match="guardfn:*"):
        client.delete(key)
    for key in client.scan_iter(match="LIMITS*"):
        client.delete(key)
    return rows


if __name__ == "__main__":
    main(run)
