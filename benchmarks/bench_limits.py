"""Limiter throughput: one call's three limits (rpm, rpd, tokens/day) checked and reserved.

Anchors in the same run, measured in interleaved rounds (median of rounds, so load on
the machine hits every candidate alike): a Redis PING and the ``limits`` library doing
the same three limits (moving windows, one ``hit`` each) on the same Redis; a raw
``diskcache.Cache.incr``. Context rows show the floor of each design in the same run:
an EVALSHA of an empty script with the same keys and arguments, and a diskcache
transaction doing one ``get`` and one ``set`` of the same record. Hot-user rows show the
cost when one user's request log already holds 1,000 entries. Exactness: 4 processes
hammer one user on each store and must admit exactly the limit.

Targets (issue 3): Redis <= 1.3x PING and <= 0.45x ``limits``; diskcache <= 1.3x
``Cache.incr`` and >= 3,000 checks/s; 4 processes admit exactly the limit.
"""

from __future__ import annotations

import multiprocessing
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from typing import Any

from benchmarks.common import Row, main, row, scaled

ISSUE = 3
REDIS = "redis://127.0.0.1:6379/14"
N = scaled(1000)  # operations per candidate per round
ROUNDS = 5
LIMITS: dict[str, float] = {"requests_per_minute": 60, "requests_per_day": 1000, "tokens_per_day": 1_000_000}
USERS = 2000  # checks cycle through this many users, as a service's traffic does
RUN = uuid.uuid4().hex[:10]


def claims(user: str, limits: dict[str, float] = LIMITS) -> list[Any]:
    """What the limits stage reserves for one call of ``user``: one claim per limit."""
    from guardfn.limits import counter_key, parse_limits
    from guardfn.store import Claim

    return [
        Claim(counter_key(user, s), s.name, s.window, s.capacity, 1.0 if s.kind == "requests" else 500.0)
        for s in parse_limits(limits)
    ]


def _per_op(fn: Callable[[], Any], n: int = N) -> float:
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - start) / n


def _interleaved(candidates: dict[str, Callable[[], Any]]) -> dict[str, float]:
    """Median seconds per operation of each candidate over ROUNDS interleaved rounds."""
    for fn in candidates.values():
        _per_op(fn, 100)  # warm up: connections, script cache, first records
    samples: dict[str, list[float]] = {name: [] for name in candidates}
    for _ in range(ROUNDS):
        for name, fn in candidates.items():
            samples[name].append(_per_op(fn))
    return {name: statistics.median(values) for name, values in samples.items()}


def guardfn_check(url: str, users: int = USERS, limits: dict[str, float] = LIMITS) -> Callable[[], Any]:
    """One call's reservation on guardfn's store at ``url``, cycling through ``users`` users."""
    from guardfn.store import open_store

    store = open_store(url)
    per_user = [claims(f"bench-{RUN}-{i}", limits) for i in range(users)]
    counter = iter(range(10**9))

    def check() -> None:
        i = next(counter)
        assert store.reserve(per_user[i % users], f"{RUN}-{i}", time.time()) is None

    return check


def _empty_script(url: str) -> Callable[[], Any]:
    """The floor of any one-round-trip design: EVALSHA of ``return 0`` with the same keys and args."""
    from guardfn.store import open_store
    from guardfn.store.redis import _reserve_args

    store: Any = open_store(url)
    script = store.client.register_script("return 0")
    per_user = [claims(f"bench-{RUN}-{i}") for i in range(USERS)]
    counter = iter(range(10**9))

    def call() -> None:
        i = next(counter)
        keys, args = _reserve_args(per_user[i % USERS], f"{RUN}-{i}", time.time())
        script(keys=keys, args=args)

    return call


def limits_items() -> tuple[Any, Any, Any]:
    """LIMITS as the ``limits`` library's items: requests per minute, requests per day, tokens per day."""
    from limits import RateLimitItemPerDay, RateLimitItemPerMinute

    return (
        RateLimitItemPerMinute(int(LIMITS["requests_per_minute"])),
        RateLimitItemPerDay(int(LIMITS["requests_per_day"])),
        RateLimitItemPerDay(int(LIMITS["tokens_per_day"])),
    )


def limits_library(url: str) -> Callable[[], Any]:
    """The same three limits with the ``limits`` library's moving windows on the same store."""
    from limits.storage import storage_from_string
    from limits.strategies import MovingWindowRateLimiter

    limiter = MovingWindowRateLimiter(storage_from_string(url))
    per_minute, per_day, tokens = limits_items()
    turn = iter(range(10**9))

    def check() -> None:
        user = f"limits-{RUN}-{next(turn) % USERS}"
        assert limiter.hit(per_minute, user)
        assert limiter.hit(per_day, user)
        assert limiter.hit(tokens, user, "tokens", cost=500)

    return check


def _disk_floor(path: str) -> Callable[[], Any]:
    """A diskcache transaction reading and writing one small record: the floor of a record design."""
    import diskcache

    cache = diskcache.Cache(path, cull_limit=0, eviction_policy="none")
    turn = iter(range(10**9))

    def call() -> None:
        key = f"u{next(turn) % USERS}"
        with cache.transact():
            record = cache.get(key) or {}
            record["x"] = time.time()
            cache.set(key, record, expire=86460)

    return call


def _exact(url: str, user: str, attempts: int, capacity: int, queue: Any) -> None:
    from guardfn.store import Claim, open_store

    store = open_store(url)
    claim = Claim(f"guardfn:{{u:{user}}}:requests_per_day", "requests_per_day", 86400.0, capacity, 1.0)
    queue.put(sum(store.reserve([claim], uuid.uuid4().hex, time.time()) is None for _ in range(attempts)))


def _exact_count(url: str) -> int:
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    user = f"exact-{RUN}-{uuid.uuid4().hex[:6]}"
    procs = [ctx.Process(target=_exact, args=(url, user, 500, 1000, queue)) for _ in range(4)]
    for p in procs:
        p.start()
    total = sum(queue.get(timeout=120) for _ in procs)
    for p in procs:
        p.join()
    return total


def _hot_user(url: str) -> Callable[[], Any]:
    """One user whose request log already holds 1,000 live entries (capacity 100,000/day)."""
    hot: dict[str, float] = {"requests_per_minute": 100_000, "requests_per_day": 100_000, "tokens_per_day": 10**9}
    check = guardfn_check(url, users=1, limits=hot)
    for _ in range(1000):
        check()
    return check


def run() -> list[Row]:
    import diskcache
    import redis

    rows: list[Row] = []
    client = redis.Redis.from_url(REDIS)
    try:
        r = _interleaved(
            {
                "ping": client.ping,
                "ours": guardfn_check(REDIS),
                "limits": limits_library(REDIS),
                "empty": _empty_script(REDIS),
            }
        )
        ping, ours, theirs, empty = r["ping"], r["ours"], r["limits"], r["empty"]
        rows.append(row("redis: 3-limit check", ours * 1e6, "us", anchor="Redis PING", anchor_value=ping * 1e6,
                        target="<= 1.3x", met=ours / ping <= 1.3))
        rows.append(row("redis: 3-limit check vs limits library", ours * 1e6, "us",
                        anchor="limits MovingWindow (3 hits)", anchor_value=theirs * 1e6, target="<= 0.45x",
                        met=ours / theirs <= 0.45))
        rows.append(row("redis: context, EVALSHA of an empty script, same keys/args", empty * 1e6, "us",
                        anchor="Redis PING", anchor_value=ping * 1e6, target="(floor of one round trip)"))
        hot = _interleaved({"ping": client.ping, "hot": _hot_user(REDIS)})
        rows.append(row("redis: 3-limit check, hot user (1,000-entry logs)", hot["hot"] * 1e6, "us",
                        anchor="Redis PING", anchor_value=hot["ping"] * 1e6, target="(context: O(log n))"))
        with tempfile.TemporaryDirectory() as tmp:
            cache = diskcache.Cache(f"{tmp}/raw")
            d = _interleaved(
                {
                    "incr": lambda: cache.incr("k"),
                    "ours": guardfn_check(f"diskcache://{tmp}/limits"),
                    "floor": _disk_floor(f"{tmp}/floor"),
                }
            )
            incr, disk, floor = d["incr"], d["ours"], d["floor"]
            rows.append(row("diskcache: 3-limit check", disk * 1e6, "us", anchor="Cache.incr",
                            anchor_value=incr * 1e6, target="<= 1.3x", met=disk / incr <= 1.3))
            rows.append(row("diskcache: checks per second", 1 / disk, "checks/s", target=">= 3000",
                            met=1 / disk >= 3000))
            rows.append(row("diskcache: context, transact + get + set of one record", floor * 1e6, "us",
                            anchor="Cache.incr", anchor_value=incr * 1e6, target="(floor of a record design)"))
            hot_disk = _interleaved({"incr": lambda: cache.incr("k"), "hot": _hot_user(f"diskcache://{tmp}/hot")})
            rows.append(row("diskcache: 3-limit check, hot user (1,000-entry logs)", hot_disk["hot"] * 1e6, "us",
                            anchor="Cache.incr", anchor_value=hot_disk["incr"] * 1e6,
                            target="(context: O(n) array copy)"))
            disk_exact = _exact_count(f"diskcache://{tmp}/exact")
        rows.append(row("diskcache: 4 processes x 500 attempts, limit 1000", disk_exact, "admitted",
                        target="== 1000", met=disk_exact == 1000))
        redis_exact = _exact_count(REDIS)
        rows.append(row("redis: 4 processes x 500 attempts, limit 1000", redis_exact, "admitted",
                        target="== 1000", met=redis_exact == 1000))
    finally:
        for key in client.scan_iter(match=f"*{RUN}*", count=1000):
            client.delete(key)
    return rows


if __name__ == "__main__":
    main(run)
