"""The counter-store contract, checked on every store: memory, a real diskcache directory, a real
Redis and a real 3-node Redis Cluster.

A model-based property test drives each store through random interleavings of
reservations, settles, releases and clock steps (epoch-sized timestamps, steps back as
well as forward) and compares it with a plain model of the bucketed log
(:mod:`guardfn.limits`): it admits exactly when the model has room, reports the same
usage and ``retry_after``, keeps nothing of a refused call, settles and releases in the
reservation's bucket, and no window ever holds more than the allowance.
"""

from __future__ import annotations

import asyncio
import math
import multiprocessing
import shutil
import tempfile
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from guardfn.errors import ConfigurationError, StoreUnavailable
from guardfn.limits import BUCKETS, bucket_of, bucket_width, leaves_at, oldest_live
from guardfn.store import MIN_RETRY, Claim, Store, default_url, open_store, redacted_url
from guardfn.store.disk import DiskStore
from guardfn.store.memory import MemoryStore
from guardfn.store.redis import RedisStore
from tests._redis import redis_url

REDIS = redis_url(15)
RUN = uuid.uuid4().hex
"""Every key of this module contains RUN, so cleanup never touches another run's keys."""
T0 = 1_763_000_000.0
STORES = ["memory", "diskcache", "diskcache-transactions", "redis", "cluster"]
"""``diskcache-transactions``: the SQLite store without its one-statement paths (SQLite before 3.35)."""


def _key(name: str = "requests_per_minute", subject: str = "") -> str:
    return f"guardfn:b:{{u:{RUN}-{subject or uuid.uuid4().hex}}}:{name}"


@pytest.fixture(scope="module")
def disk_dir() -> Iterator[str]:
    path = tempfile.mkdtemp(prefix="guardfn-store-")
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module", autouse=True)
def _clean_redis() -> Iterator[None]:
    yield
    import redis

    client = redis.Redis.from_url(REDIS)
    for key in client.scan_iter(match=f"*{RUN}*"):
        client.delete(key)


@pytest.fixture(scope="module", params=STORES)
def store(request: pytest.FixtureRequest, disk_dir: str) -> Store:
    kind = request.param
    if kind == "memory":
        return open_store(f"memory://{RUN}")
    if kind == "diskcache":
        return open_store(f"diskcache://{disk_dir}/contract")
    if kind == "diskcache-transactions":
        store = DiskStore(f"diskcache://{disk_dir}/contract-transactions")
        store.one_statement = False
        return store
    if kind == "cluster":
        return open_store(request.getfixturevalue("redis_cluster"))
    return open_store(REDIS)


# --- the geometry --------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(
    at=st.floats(min_value=1e9, max_value=2e9),
    window=st.sampled_from([1.0, 7.0, 60.0, 61.5, 3600.0, 86400.0, 30 * 86400.0]),
)
def test_an_admission_counts_for_its_whole_window_and_at_most_one_bucket_longer(at: float, window: float) -> None:
    bucket = bucket_of(at, window)
    ends = leaves_at(bucket, window)
    rounding = 1e-6  # float rounding of epoch-sized times: sub-microsecond
    assert at + window - rounding <= ends <= at + window + bucket_width(window) + rounding
    assert oldest_live(at, window) <= bucket  # counted when it is made
    assert oldest_live(ends - 1e-6 * window, window) <= bucket < oldest_live(ends + 1e-6 * window, window)
    assert bucket - oldest_live(at, window) <= BUCKETS  # at most BUCKETS + 1 live buckets


# --- the algorithm, against a model ----------------------------------------------------------


@dataclass
class ModelLog:
    """The bucketed log as the contract defines it: ``{bucket: amount}``, pruned as the store prunes."""

    window: float
    capacity: float
    buckets: dict[int, float] = field(default_factory=dict)

    def prune(self, now: float) -> None:
        oldest = oldest_live(now, self.window)
        for bucket in [b for b in self.buckets if b < oldest]:
            del self.buckets[bucket]

    def used(self) -> float:
        return max(sum(self.buckets.values()), 0.0)

    def retry_after(self, amount: float, now: float) -> float:
        if amount > self.capacity:
            return math.inf
        need, freed = self.used() + amount - self.capacity, 0.0
        for bucket in sorted(self.buckets):
            freed += self.buckets[bucket]
            if freed >= need:
                return max(MIN_RETRY, leaves_at(bucket, self.window) - now)
        return self.window


@dataclass
class Admission:
    """One admitted reservation: when, its current amounts, whether it was settled, released, settled up."""

    at: float
    amounts: list[float]
    settled: bool = False
    released: bool = False
    grew: bool = False


OPS = st.lists(
    st.one_of(
        # the clock moves by a fraction of the window: any, or one that lands on a bucket edge
        st.tuples(
            st.just("reserve"),
            st.one_of(st.floats(min_value=-0.01, max_value=0.7), st.sampled_from([0.0, 1 / 240, 1 / 120, 119 / 120, 1.0, 121 / 120])),
            st.integers(0, 300),
        ),
        st.tuples(st.just("wait"), st.sampled_from([1 / 120, 0.5, 1.0, 121 / 120]), st.just(0)),  # time passes
        st.tuples(st.just("settle"), st.integers(0, 40), st.floats(min_value=0.0, max_value=1.5)),
        st.tuples(st.just("release"), st.integers(0, 40), st.just(0.0)),
    ),
    min_size=1,
    max_size=40,
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=OPS, requests=st.integers(1, 6), tokens=st.integers(100, 1000), window=st.sampled_from([7.0, 60.0, 61.5]))
def test_the_store_behaves_as_the_bucketed_log_and_never_over_admits(
    store: Store, ops: list[tuple[str, float, float]], requests: int, tokens: int, window: float
) -> None:
    subject = uuid.uuid4().hex
    keys = [_key("requests_per_minute", subject), _key("tokens_per_minute", f"g{subject}")]  # two subjects
    model = [ModelLog(window, requests), ModelLog(window, tokens)]
    now, admitted, monotonic = T0, list[Admission](), True
    for op, a, b in ops:
        if op == "wait":
            now += a * window
            continue
        if op == "reserve":
            now += a * window
            monotonic &= a >= 0
            amounts = [1.0, float(b)]
            claims = [Claim(k, k.rpartition(":")[2], window, m.capacity, x) for k, m, x in zip(keys, model, amounts, strict=True)]
            for m in model:
                m.prune(now)
            before = [m.used() for m in model]
            usage: list[float] = []
            denied = store.reserve(claims, now, usage)
            fits = [u + x <= m.capacity + 1e-9 for u, x, m in zip(before, amounts, model, strict=True)]
            if all(fits):
                assert denied is None
                assert usage == pytest.approx(before)
                for m, x in zip(model, amounts, strict=True):
                    bucket = bucket_of(now, window)
                    m.buckets[bucket] = m.buckets.get(bucket, 0.0) + x
                admitted.append(Admission(now, amounts))
                if monotonic and not any(d.grew for d in admitted):  # the exact sliding window holds too
                    for i, m in enumerate(model):
                        live = [d.amounts[i] for d in admitted if not d.released and now - window < d.at <= now]
                        assert sum(live) <= m.capacity + 1e-9
            else:
                first = fits.index(False)
                assert denied is not None and denied.name == claims[first].name
                assert denied.usage == pytest.approx(before[first])
                assert denied.retry_after == pytest.approx(model[first].retry_after(amounts[first], now), abs=1e-6)
        else:  # settle or release one reservation that was neither (the limits stage does one or the other, once)
            pending = [d for d in admitted if not d.settled and not d.released]
            if not pending:
                continue
            d = pending[int(a) % len(pending)]
            claims = [Claim(k, k.rpartition(":")[2], window, m.capacity, x) for k, m, x in zip(keys, model, d.amounts, strict=True)]
            for m in model:
                m.prune(now)
            bucket = bucket_of(d.at, window)
            if op == "settle":
                actual = float(math.floor(d.amounts[1] * b))
                used = store.settle(claims[1:], d.at, [actual], now)
                if bucket in model[1].buckets:
                    model[1].buckets[bucket] += actual - d.amounts[1]
                d.settled, d.grew, d.amounts = True, actual > d.amounts[1], [1.0, actual]
                assert used == pytest.approx([model[1].used()])
            else:
                store.release(claims, d.at, now)
                for m, x in zip(model, d.amounts, strict=True):
                    if bucket in m.buckets:
                        m.buckets[bucket] -= x
                d.released = True
        for k, m in zip(keys, model, strict=True):
            assert store.used(k, window, now) == pytest.approx(m.used(), abs=1e-9)
            assert len(store.buckets(k, window, now)) <= BUCKETS + 1
    if monotonic and not any(d.grew for d in admitted):
        live = sorted((d.at, d.amounts) for d in admitted if not d.released)
        for i, (start, _) in enumerate(live):  # any window [t, t + window) holds at most the allowance
            for j, m in enumerate(model):
                assert sum(x[j] for t, x in live[i:] if t < start + window) <= m.capacity + 1e-9


@pytest.mark.parametrize("window", [60.0, 86400.0])
def test_a_bucket_counts_until_its_edge_and_not_after(store: Store, window: float) -> None:
    key = _key("tokens_per_day")
    full = Claim(key, "tokens_per_day", window, 100, 100.0)
    assert store.reserve([full], T0) is None
    edge = leaves_at(bucket_of(T0, window), window)
    denied = store.reserve([full], edge - 1e-3)
    assert denied is not None and denied.usage == 100 and denied.retry_after == pytest.approx(1e-3, abs=1e-5)
    assert store.reserve([full], edge) is None  # left exactly at its edge: the full allowance again
    assert store.used(key, window, edge) == 100


def test_one_failing_limit_reserves_nothing_in_the_others(store: Store) -> None:
    wide, narrow = _key("requests_per_day"), _key("tokens_per_day", "global")
    claims = [Claim(wide, "requests_per_day", 86400.0, 100, 1.0), Claim(narrow, "tokens_per_day", 86400.0, 1000, 400.0)]
    results = [store.reserve(claims, T0 + i) for i in range(5)]
    assert [r is None for r in results] == [True, True, False, False, False]
    denied = results[2]
    assert denied is not None and denied.name == "tokens_per_day" and denied.usage == 800
    assert store.used(wide, 86400.0, T0 + 5) == 2  # the refused calls took no request either


def test_settle_replaces_the_estimate_and_returns_usage_and_release_frees(store: Store) -> None:
    requests, tokens = _key("requests_per_day"), _key("tokens_per_day")
    est = [Claim(requests, "requests_per_day", 86400.0, 10, 1.0), Claim(tokens, "tokens_per_day", 86400.0, 1000, 600.0)]
    assert store.reserve(est, T0) is None
    assert store.reserve(est, T0 + 1) is not None  # 600 + 600 > 1000
    assert store.settle(est[1:], T0, [150.0], T0 + 1) == [150.0]  # what the budget alert reads
    assert store.used(tokens, 86400.0, T0 + 1) == pytest.approx(150.0)
    assert store.used(requests, 86400.0, T0 + 1) == 1.0
    assert store.reserve(est, T0 + 1) is None  # 150 + 600 fits now
    store.release(est, T0 + 1, T0 + 2)
    assert store.used(tokens, 86400.0, T0 + 2) == pytest.approx(150.0)
    assert store.used(requests, 86400.0, T0 + 2) == 1.0
    assert [a for _, a in store.buckets(tokens, 86400.0, T0 + 2)] == [150.0]
    assert store.reserve([Claim(tokens, "tokens_per_day", 86400.0, 1000, 850.0)], T0 + 2) is None  # 150 + 850


def test_settle_may_exceed_the_reservation_and_then_refuses_until_it_drains(store: Store) -> None:
    tokens = _key("tokens_per_minute")
    claim = Claim(tokens, "tokens_per_minute", 60.0, 100, 50.0)
    assert store.reserve([claim], T0) is None
    assert store.settle([claim], T0, [120.0], T0 + 1) == [120.0]  # the provider counted more than reserved
    denied = store.reserve([Claim(tokens, "tokens_per_minute", 60.0, 100, 1.0)], T0 + 2)
    assert denied is not None and denied.usage == 120.0
    assert denied.retry_after == pytest.approx(leaves_at(bucket_of(T0, 60.0), 60.0) - (T0 + 2))
    assert store.reserve([claim], T0 + denied.retry_after + 2) is None


def test_reserve_reports_each_limits_usage_before_the_reservation(store: Store) -> None:
    requests, usd = _key("requests_per_day"), _key("usd_per_day")
    claims = [Claim(requests, "requests_per_day", 86400.0, 10, 1.0), Claim(usd, "usd_per_day", 86400.0, 0.05, 0.0125)]
    usage: list[float] = []
    assert store.reserve(claims, T0, usage) is None and usage == [0.0, 0.0]
    assert store.reserve(claims, T0 + 1, usage) is None and usage == pytest.approx([1.0, 0.0125], abs=1e-9)
    assert store.reserve(claims, T0 + 2, usage) is None and usage == pytest.approx([2.0, 0.025], abs=1e-9)
    assert store.reserve(claims, T0 + 3, usage) is None and usage == pytest.approx([3.0, 0.0375], abs=1e-9)  # all 0.05
    assert store.settle(claims[1:], T0, [0.01], T0 + 4) == pytest.approx([0.0475], abs=1e-9)
    denied = store.reserve(claims, T0 + 4)
    assert denied is not None and denied.usage == pytest.approx(0.0475, abs=1e-9)


def test_settle_after_the_bucket_left_is_a_no_op(store: Store) -> None:
    tokens = _key("tokens_per_minute")
    claim = Claim(tokens, "tokens_per_minute", 60.0, 100, 80.0)
    assert store.reserve([claim], T0) is None
    assert store.reserve([claim], T0 + 61) is None  # the bucket of T0 left: pruned
    assert store.settle([claim], T0, [5.0], T0 + 61) == [80.0]
    store.release([claim], T0, T0 + 61)
    assert store.used(tokens, 60.0, T0 + 61) == 80.0


def test_a_busy_log_stays_bounded_and_frees_on_time(store: Store) -> None:
    key = _key("requests_per_minute")
    claim = Claim(key, "requests_per_minute", 60.0, 10**9, 1.0)
    for i in range(3000):  # 3,000 admissions spread over three windows
        assert store.reserve([claim], T0 + i * 0.06) is None
    now = T0 + 2999 * 0.06
    live = store.buckets(key, 60.0, now)
    assert len(live) <= BUCKETS + 1
    assert 1000 <= store.used(key, 60.0, now) <= 1000 + 60.0 / BUCKETS / 0.06 + 1  # a window, plus one bucket
    assert all(now < ends <= now + 60.0 + 0.5 for ends, _ in live)


def test_keys_and_delete_match_prefixes_literally(store: Store) -> None:
    base = f"guardfn:b:{{u:{RUN}-{uuid.uuid4().hex[:8]}"
    star, other = f"{base}*}}:requests_per_day", f"{base}x}}:requests_per_day"
    for key in (star, other):
        assert store.reserve([Claim(key, "requests_per_day", 86400.0, 5, 1.0)], T0) is None
    assert store.keys(f"{base}*}}") == [star]
    store.delete([star])
    assert store.buckets(star, 86400.0, T0) == []
    assert len(store.buckets(other, 86400.0, T0)) == 1


# --- concurrency: exact under processes and threads ----------------------------------------------


def _hammer(url: str, keys: list[str], attempts: int, capacity: int, amount: float, out: Any) -> None:
    import time

    from guardfn.store import Claim, open_store

    store = open_store(url)
    claims = [Claim(key, key.rpartition(":")[2], 86400.0, capacity, amount) for key in keys]
    out.put(sum(store.reserve(claims, time.time()) is None for _ in range(attempts)))


class _ListQueue:
    def __init__(self) -> None:
        self.items: list[int] = []

    def put(self, value: int) -> None:
        self.items.append(value)


@pytest.mark.parametrize("backend", ["memory", "diskcache", "redis", "cluster"])
def test_threads_and_processes_never_overshoot_a_user_and_a_global_budget(
    backend: str, disk_dir: str, request: pytest.FixtureRequest
) -> None:
    urls = {"memory": f"memory://{RUN}", "diskcache": f"diskcache://{disk_dir}/hammer", "redis": REDIS}
    url = request.getfixturevalue("redis_cluster") if backend == "cluster" else urls[backend]
    keys = [_key("tokens_per_day"), f"guardfn:b:{{global}}:{RUN}-{uuid.uuid4().hex}:tokens_per_day"]
    threads_out = _ListQueue()
    threads = [threading.Thread(target=_hammer, args=(url, keys, 20, 300, 7.0, threads_out)) for _ in range(4)]
    processes: list[Any] = []
    queue: Any = None
    if backend != "memory":  # memory:// is one process by definition
        ctx = multiprocessing.get_context("spawn")
        queue = ctx.Queue()
        processes = [ctx.Process(target=_hammer, args=(url, keys, 20, 300, 7.0, queue)) for _ in range(4)]
    for worker in [*processes, *threads]:
        worker.start()
    for t in threads:
        t.join()
    total = sum(threads_out.items) + sum(queue.get(timeout=60) for _ in processes)
    for p in processes:
        p.join(timeout=60)
    assert total == 42  # floor(300 / 7): no overshoot, no lost update, nothing left by a refusal


# --- Redis specifics ---------------------------------------------------------------------------


def test_redis_async_methods_work_on_fresh_event_loops() -> None:
    store: Any = open_store(REDIS)
    key = _key("tokens_per_day")
    claim = Claim(key, "tokens_per_day", 86400.0, 100, 60.0)

    async def first() -> Any:
        assert await store.areserve([claim], T0) is None
        return await store.areserve([claim], T0 + 1)

    async def second() -> None:
        assert await store.asettle([claim], T0, [10.0], T0 + 2) == [10.0]
        assert await store.areserve([claim], T0 + 2) is None
        await store.arelease([claim], T0 + 2, T0 + 3)

    denied = asyncio.run(first())  # each asyncio.run is a new loop: a client per loop
    assert denied is not None and denied.usage == 60
    assert denied.retry_after == pytest.approx(leaves_at(bucket_of(T0, 86400.0), 86400.0) - (T0 + 1))
    asyncio.run(second())
    assert store.used(key, 86400.0, T0 + 3) == 10.0


def test_redis_keeps_a_log_in_one_small_hash_that_expires() -> None:
    store: Any = open_store(REDIS)
    key = _key("tokens_per_minute")
    for i in range(2000):
        assert store.reserve([Claim(key, "tokens_per_minute", 60.0, 10**9, 3.0)], T0 + i * 0.1) is None
    assert store.client.hlen(key) <= BUCKETS + 3  # buckets, total and oldest
    assert store.client.object("encoding", key) == b"listpack"
    assert 0 < store.client.pttl(key) <= (60.0 + 0.5 + 60.0) * 1000  # the window, a bucket, the grace


def test_redis_cluster_keeps_a_subject_on_one_slot_and_spreads_users(redis_cluster: str) -> None:
    from redis.cluster import RedisCluster

    from guardfn.limits import counter_key, parse_limits

    client = RedisCluster.from_url(redis_cluster.replace("+cluster", ""))
    specs = parse_limits({"requests_per_minute": 5, "tokens_per_day": 100, "global": {"tokens_per_day": 10}})
    slots = {user: {client.keyslot(counter_key(user, s)) for s in specs if s.scope == "user"} for user in "abcdefgh"}
    assert all(len(s) == 1 for s in slots.values())  # one script per subject never crosses slots
    nodes = {client.get_node_from_key(counter_key(user, specs[0])).name for user in "abcdefghijklmnop"}
    assert len(nodes) >= 2  # users spread over the cluster


@pytest.mark.parametrize("url", ["redis://:hunter2@127.0.0.1:1/0", "rediss://admin:hunter2@127.0.0.1:1/0"])
def test_unreachable_redis_raises_store_unavailable_without_the_password(url: str) -> None:
    store = open_store(url)
    claim = Claim(_key("tokens_per_minute"), "tokens_per_minute", 60.0, 5, 1.0)
    calls = [
        lambda: store.reserve([claim], T0),
        lambda: store.settle([claim], T0, [1.0], T0),
        lambda: store.release([claim], T0, T0),
        lambda: store.buckets(claim.key, 60.0, T0),
        lambda: store.keys("guardfn:"),
        lambda: store.delete([claim.key]),
    ]
    for call in calls:
        with pytest.raises(StoreUnavailable) as info:
            call()
        assert "hunter2" not in str(info.value) and "127.0.0.1:1" in str(info.value)


# --- opening stores ------------------------------------------------------------------------------


def test_open_store_caches_per_url_and_refuses_unknown_schemes(tmp_path: Any) -> None:
    assert open_store(f"memory://{RUN}") is open_store(f"memory://{RUN}")
    assert isinstance(open_store(f"memory://{RUN}"), MemoryStore)
    assert open_store(f"memory://{RUN}-other") is not open_store(f"memory://{RUN}")
    with pytest.raises(ConfigurationError, match="scheme"):
        open_store("postgres://localhost/db")
    with pytest.raises(ConfigurationError, match="only database 0"):
        open_store("redis+cluster://127.0.0.1:7000/3")
    assert default_url().startswith("diskcache://") and default_url().endswith("limits")
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    with pytest.raises(StoreUnavailable, match="diskcache"):
        open_store(f"diskcache://{blocker}/limits")


def test_redacted_url_hides_only_the_password() -> None:
    assert redacted_url("redis://user:pw@host:6380/1") == "redis://user:***@host:6380/1"
    assert redacted_url("redis://:pw@host/0") == "redis://:***@host/0"
    assert redacted_url("redis://host:6379/0") == "redis://host:6379/0"


def test_notes_are_recalled_until_they_expire(store: Store) -> None:
    key = f"guardfn:note:{RUN}-{uuid.uuid4().hex}"
    assert store.recall(key, T0) is None
    store.remember(key, "verdict: clean", 30.0, T0)
    assert store.recall(key, T0 + 1) == "verdict: clean"
    store.remember(key, "verdict: injection", 30.0, T0 + 2)  # replaced
    assert store.recall(key, T0 + 3) == "verdict: injection"
    if not isinstance(store, RedisStore):  # Redis expires by its own clock; a fake "now" cannot step it
        assert store.recall(key, T0 + 40) is None
