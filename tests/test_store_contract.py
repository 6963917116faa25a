"""The counter-store contract, checked on every store: memory, a real diskcache directory, a real Redis.

Property tests drive each store with a controllable clock (epoch-sized timestamps, random
arrival gaps) and compare it with a plain model of the sliding log: it must admit
exactly when the window has room, never more than N in any window, compute the same
``retry_after``, and keep nothing of a refused or released reservation.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import shutil
import tempfile
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from guardfn.errors import ConfigurationError, StoreUnavailable
from guardfn.store import Claim, Store, default_url, open_store, redacted_url
from guardfn.store.memory import MemoryStore
from tests._redis import redis_url

REDIS = redis_url(15)
RUN = uuid.uuid4().hex
"""Every key of this module contains RUN, so cleanup never touches another run's keys."""
T0 = 1_763_000_000.0
STORES = ["memory", "diskcache", "redis"]


def _key(name: str = "requests_per_minute") -> str:
    return f"guardfn:{{u:{RUN}-{uuid.uuid4().hex}}}:{name}"


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
    return open_store(REDIS)


# --- the algorithm -------------------------------------------------------------------------


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    # negative gaps: clocks of different processes or machines disagree by a little
    gaps=st.lists(st.floats(min_value=-0.5, max_value=90.0), min_size=1, max_size=40),
    capacity=st.integers(min_value=1, max_value=5),
    window=st.sampled_from([1.0, 7.0, 60.0, 61.5]),
)
def test_request_log_admits_exactly_when_the_window_has_room(
    store: Store, gaps: list[float], capacity: int, window: float
) -> None:
    key = _key()
    now, admitted = T0, list[float]()
    latest = now  # an entry pruned when the clock was at `latest` stays gone if a clock then runs behind
    for i, gap in enumerate(gaps):
        now += gap
        latest = max(latest, now)
        in_window = [t for t in admitted if t > latest - window]
        denied = store.reserve([Claim(key, "requests_per_minute", window, capacity, 1.0)], f"r{i}", now)
        if denied is None:
            assert len(in_window) < capacity  # never over-admits
            admitted.append(now)
        else:
            assert len(in_window) == capacity  # refuses only when the window is full
            assert (denied.name, denied.usage, denied.capacity) == ("requests_per_minute", capacity, capacity)
            assert denied.retry_after == pytest.approx(max(min(in_window) + window - now, 0.0), abs=1e-5)
            assert 0 < denied.retry_after <= window + 0.5 * len(gaps)  # + how far clocks ran ahead
        # a refused attempt left nothing behind: the store holds exactly the model's live entries
        live = sorted(t for t in admitted if t > latest - window)
        assert [ts for ts, _ in store.entries(key, window, now)] == pytest.approx(live)
    admitted.sort()
    for i, t in enumerate(admitted):  # any window [t, t + window) holds at most `capacity`
        assert sum(1 for u in admitted[i:] if u < t + window) <= capacity


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    steps=st.lists(
        st.tuples(st.floats(min_value=0.0, max_value=40.0), st.integers(min_value=0, max_value=400)),
        min_size=1,
        max_size=30,
    ),
    capacity=st.integers(min_value=100, max_value=1000),
)
def test_token_budget_admits_exactly_within_capacity(store: Store, steps: list[tuple[float, int]], capacity: int) -> None:
    key, window = _key("tokens_per_minute"), 60.0
    now, admitted = T0, list[tuple[float, int]]()
    for i, (gap, amount) in enumerate(steps):
        now += gap
        used = sum(a for t, a in admitted if t > now - window)
        denied = store.reserve([Claim(key, "tokens_per_minute", window, capacity, float(amount))], f"r{i}", now)
        if denied is None:
            assert used + amount <= capacity
            admitted.append((now, amount))
        else:
            assert used + amount > capacity
            assert denied.usage == pytest.approx(used)
            # retry_after: when enough of the oldest entries have left for this amount to fit
            live = sorted((t, a) for t, a in admitted if t > now - window)
            freed, expected = 0, None
            for t, a in live:
                freed += a
                if used - freed + amount <= capacity:
                    expected = t + window - now
                    break
            if amount > capacity:
                assert denied.retry_after == float("inf")
            else:
                assert expected is not None
                assert denied.retry_after == pytest.approx(max(expected, 0.0), abs=1e-5)
        live_total = sum(a for t, a in admitted if t > now - window)
        assert sum(a for _, a in store.entries(key, window, now)) == pytest.approx(live_total)
        assert store.used(key, window, now) == pytest.approx(live_total)  # the alerts' cheap read


def test_one_failing_limit_reserves_nothing_in_the_others(store: Store) -> None:
    wide, narrow = _key("requests_per_day"), _key("tokens_per_day")
    claims = [Claim(wide, "requests_per_day", 86400.0, 100, 1.0), Claim(narrow, "tokens_per_day", 86400.0, 1000, 400.0)]
    results = [store.reserve(claims, f"r{i}", T0 + i) for i in range(5)]
    assert [r is None for r in results] == [True, True, False, False, False]
    denied = results[2]
    assert denied is not None and denied.name == "tokens_per_day"
    assert len(store.entries(wide, 86400.0, T0 + 5)) == 2  # the refused calls took no request either


def test_settle_replaces_the_estimate_and_release_removes_everything(store: Store) -> None:
    requests, tokens = _key("requests_per_day"), _key("tokens_per_day")
    est = [Claim(requests, "requests_per_day", 86400.0, 10, 1.0), Claim(tokens, "tokens_per_day", 86400.0, 1000, 600.0)]
    assert store.reserve(est, "a", T0) is None
    assert store.reserve(est, "b", T0 + 1) is not None  # 600 + 600 > 1000
    store.settle([Claim(tokens, "tokens_per_day", 86400.0, 1000, 150.0)], "a")
    assert store.entries(tokens, 86400.0, T0 + 1) == [(T0, 150.0)]
    assert store.used(tokens, 86400.0, T0 + 1) == pytest.approx(150.0)
    assert store.used(requests, 86400.0, T0 + 1) == 1.0
    assert store.reserve(est, "b", T0 + 1) is None  # 150 + 600 fits now
    store.release([requests, tokens], "b")
    store.release([requests, tokens], "b")  # twice is harmless
    store.settle([Claim(tokens, "tokens_per_day", 86400.0, 1000, 999.0)], "b")  # a released id stays gone
    assert store.entries(tokens, 86400.0, T0 + 2) == [(T0, 150.0)]
    assert store.entries(requests, 86400.0, T0 + 2) == [(T0, 1.0)]
    assert store.reserve([Claim(tokens, "tokens_per_day", 86400.0, 1000, 850.0)], "c", T0 + 2) is None  # 150 + 850


def test_reserve_reports_each_limits_usage_before_the_reservation(store: Store) -> None:
    requests, tokens = _key("requests_per_day"), _key("tokens_per_day")
    claims = [Claim(requests, "requests_per_day", 86400.0, 10, 1.0), Claim(tokens, "tokens_per_day", 86400.0, 1000, 250.5)]
    usage: list[float] = []
    assert store.reserve(claims, "a", T0, usage) is None and usage == [0.0, 0.0]
    assert store.reserve(claims, "b", T0 + 1, usage) is None and usage == [1.0, 250.5]


def test_settle_after_the_window_passed_is_a_no_op(store: Store) -> None:
    tokens = _key("tokens_per_minute")
    claim = Claim(tokens, "tokens_per_minute", 60.0, 100, 80.0)
    assert store.reserve([claim], "a", T0) is None
    assert store.reserve([claim], "b", T0 + 61) is None  # prunes "a"
    store.settle([Claim(tokens, "tokens_per_minute", 60.0, 100, 5.0)], "a")
    assert store.entries(tokens, 60.0, T0 + 61) == [(T0 + 61, 80.0)]


def test_keys_and_delete_match_prefixes_literally(store: Store) -> None:
    base = f"guardfn:{{u:{RUN}-{uuid.uuid4().hex[:8]}"
    star, other = f"{base}*}}:requests_per_day", f"{base}x}}:requests_per_day"
    for key in (star, other):
        assert store.reserve([Claim(key, "requests_per_day", 86400.0, 5, 1.0)], "a", T0) is None
    assert store.keys(f"{base}*}}") == [star]
    store.delete([star])
    assert store.entries(star, 86400.0, T0) == []
    assert len(store.entries(other, 86400.0, T0)) == 1


# --- concurrency: exact under processes and threads ----------------------------------------------


def _hammer(url: str, key: str, attempts: int, capacity: int, amount: float, out: Any) -> None:
    import time

    from guardfn.store import Claim, open_store

    store = open_store(url)
    claim = Claim(key, key.rpartition(":")[2], 86400.0, capacity, amount)
    out.put(sum(store.reserve([claim], uuid.uuid4().hex, time.time()) is None for _ in range(attempts)))


class _ListQueue:
    def __init__(self) -> None:
        self.items: list[int] = []

    def put(self, value: int) -> None:
        self.items.append(value)


@pytest.mark.parametrize("backend", STORES)
@pytest.mark.parametrize(("name", "amount", "capacity", "expected"), [("tokens_per_day", 7.0, 300, 42)])
def test_threads_and_processes_never_overshoot_a_budget(
    backend: str, name: str, amount: float, capacity: int, expected: int, disk_dir: str
) -> None:
    url = {"memory": f"memory://{RUN}", "diskcache": f"diskcache://{disk_dir}/hammer", "redis": REDIS}[backend]
    key = _key(name)
    threads_out = _ListQueue()
    threads = [threading.Thread(target=_hammer, args=(url, key, 20, capacity, amount, threads_out)) for _ in range(4)]
    processes: list[Any] = []
    queue: Any = None
    if backend != "memory":  # memory:// is one process by definition
        ctx = multiprocessing.get_context("spawn")
        queue = ctx.Queue()
        processes = [ctx.Process(target=_hammer, args=(url, key, 20, capacity, amount, queue)) for _ in range(4)]
    for worker in [*processes, *threads]:
        worker.start()
    for t in threads:
        t.join()
    total = sum(threads_out.items) + sum(queue.get(timeout=60) for _ in processes)
    for p in processes:
        p.join(timeout=60)
    assert total == expected  # floor(300 / 7): no overshoot, no lost update


# --- Redis specifics ---------------------------------------------------------------------------


def test_redis_async_methods_work_on_fresh_event_loops() -> None:
    store: Any = open_store(REDIS)
    key = _key("tokens_per_day")
    claim = Claim(key, "tokens_per_day", 86400.0, 100, 60.0)

    async def first() -> Any:
        assert await store.areserve([claim], "a", T0) is None
        return await store.areserve([claim], "b", T0 + 1)

    async def second() -> None:
        await store.asettle([Claim(key, "tokens_per_day", 86400.0, 100, 10.0)], "a")
        assert await store.areserve([claim], "b", T0 + 2) is None
        await store.arelease([key], "b")

    denied = asyncio.run(first())  # each asyncio.run is a new loop: a client per loop
    assert denied is not None and denied.usage == 60 and denied.retry_after == pytest.approx(86400 - 1)
    asyncio.run(second())
    assert store.entries(key, 86400.0, T0 + 3) == [(T0, 10.0)]


def test_redis_refusal_reports_retry_after_without_returning_the_log() -> None:
    store = open_store(REDIS)
    key = _key("requests_per_minute")
    for i in range(50):
        assert store.reserve([Claim(key, "requests_per_minute", 60.0, 50, 1.0)], f"r{i}", T0 + i * 0.5) is None
    denied = store.reserve([Claim(key, "requests_per_minute", 60.0, 50, 1.0)], "x", T0 + 30)
    assert denied is not None and denied.retry_after == pytest.approx(30.0)  # the oldest (T0) leaves at T0 + 60
    assert store.reserve([Claim(key, "requests_per_minute", 60.0, 50, 1.0)], "y", T0 + 60) is None


@pytest.mark.parametrize("url", ["redis://:hunter2@127.0.0.1:1/0", "rediss://admin:hunter2@127.0.0.1:1/0"])
def test_unreachable_redis_raises_store_unavailable_without_the_password(url: str) -> None:
    store = open_store(url)
    claim = Claim(_key("tokens_per_minute"), "tokens_per_minute", 60.0, 5, 1.0)
    calls = [
        lambda: store.reserve([claim], "a", T0),
        lambda: store.settle([claim], "a"),
        lambda: store.release([claim.key], "a"),
        lambda: store.entries(claim.key, 60.0, T0),
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
    assert default_url().startswith("diskcache://") and default_url().endswith("limits")
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    with pytest.raises(StoreUnavailable, match="diskcache"):
        open_store(f"diskcache://{blocker}/limits")


def test_redacted_url_hides_only_the_password() -> None:
    assert redacted_url("redis://user:pw@host:6380/1") == "redis://user:***@host:6380/1"
    assert redacted_url("redis://:pw@host/0") == "redis://:***@host/0"
    assert redacted_url("redis://host:6379/0") == "redis://host:6379/0"
