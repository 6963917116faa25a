"""Per-user rate limits and budgets on real stores: memory, diskcache directories, a real Redis."""

from __future__ import annotations

import json
import multiprocessing
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import guardfn
from guardfn import BudgetExceeded, ConfigurationError, ProviderError, RateLimitExceeded, StoreUnavailable, guarded_llm
from guardfn.call import Call
from guardfn.limits import counter_key, parse_limits
from guardfn.stages import limits as limits_stage
from guardfn.store import Claim, open_store
from guardfn.testing import FakeLLMServer
from tests._redis import redis_url

KEY = "sk-test-limits-000000000000"
REDIS = redis_url(15)


class Clock:
    """A controllable clock for window edges."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    c = Clock()
    monkeypatch.setattr(limits_stage, "clock", c)
    return c


@pytest.fixture
def run_id() -> str:
    """A token unique to this test; every Redis user id of the test contains it."""
    return uuid.uuid4().hex


@pytest.fixture
def redis_url(run_id: str) -> Iterator[str]:
    """The test Redis; afterwards deletes only this test's keys (other runs may share the db)."""
    import redis

    client = redis.Redis.from_url(REDIS)
    yield REDIS
    for key in client.scan_iter(match=f"guardfn:*{run_id}*"):
        client.delete(key)


def _fn(server: FakeLLMServer, **options: Any) -> Any:
    @guarded_llm(model="gpt-4o-mini", base_url=server.openai_base_url, api_key=lambda: KEY, **options)
    def ask(user_id: str, q: str) -> str:
        return q

    return ask


# --- configuration -----------------------------------------------------------------------


@pytest.mark.parametrize("bad", [{"requests_per_week": 3}, {"requests_per_minute": 0}, {"usd_per_minute": 1},
                                 {"global": 5}, {"requests_per_minute": "ten"}])
def test_bad_limits_are_refused_at_decoration(bad: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError):

        @guarded_llm(model="gpt-4o-mini", limits=bad, store="memory://")
        def ask(q: str) -> str:
            return q

        ask("x")


def test_refusal_consumes_nothing_and_reports_the_limit(server: FakeLLMServer, clock: Clock) -> None:
    ask = _fn(server, limits={"requests_per_minute": 2}, store=f"memory://{uuid.uuid4()}")
    ask("u-1", "a")
    ask("u-1", "b")
    for _ in range(5):
        with pytest.raises(RateLimitExceeded) as info:
            ask("u-1", "c")
    err = info.value
    assert (err.limit, err.usage, err.capacity) == ("requests_per_minute", 2, 2)
    assert err.retry_after == pytest.approx(60.5)  # the window, plus at most one bucket (0.5 s for a minute)
    assert len(server.requests) == 2  # refused before any network call
    assert ask("u-2", "other user") == "echo: other user"
    clock.now += err.retry_after  # the five refusals did not count: the window frees on time
    assert ask("u-1", "d") == "echo: d"


def test_global_limit_across_users(server: FakeLLMServer, clock: Clock) -> None:
    ask = _fn(server, limits={"requests_per_minute": 5, "global": {"requests_per_minute": 3}},
              store=f"memory://{uuid.uuid4()}")
    for user in ("a", "b", "c"):
        ask(user, "x")
    with pytest.raises(RateLimitExceeded) as info:
        ask("d", "x")
    assert info.value.limit == "global.requests_per_minute"
    assert (info.value.usage, info.value.capacity) == (3, 3)
    assert len(server.requests) == 3


@pytest.mark.parametrize("kind", ["memory", "diskcache", "redis"])
def test_a_global_refusal_leaves_the_users_own_allowance_untouched(
    server: FakeLLMServer, clock: Clock, tmp_path: Path, run_id: str, redis_url: str, kind: str
) -> None:
    store = {"memory": f"memory://{run_id}", "diskcache": f"diskcache://{tmp_path}/limits", "redis": redis_url}[kind]
    (spec,) = parse_limits({"global": {"requests_per_minute": 2}})
    open_store(store).delete([counter_key("", spec)])  # the global log is shared by every run on this Redis
    # the user's own limit lives an hour, the global one a minute: a leaked per-user
    # reservation would still be counted after the global window has freed up
    ask = _fn(server, limits={"requests_per_hour": 2, "global": {"requests_per_minute": 2}}, store=store)
    first, second = f"first-{run_id}", f"second-{run_id}"
    ask(first, "a")
    ask(first, "b")
    for _ in range(3):
        with pytest.raises(RateLimitExceeded) as info:
            ask(second, "refused by the global limit")
        assert info.value.limit == "global.requests_per_minute"
    clock.now += 61
    assert ask(second, "c") == "echo: c"  # both of the user's own two requests are still there
    assert ask(second, "d") == "echo: d"
    with pytest.raises(RateLimitExceeded) as info:
        ask(second, "e")
    assert info.value.limit == "requests_per_hour"


def test_tokens_follow_provider_usage_and_failures_release(server: FakeLLMServer, clock: Clock) -> None:
    url = f"memory://{uuid.uuid4()}"
    ask = _fn(server, limits={"tokens_per_day": 1000, "requests_per_day": 10}, store=url, max_tokens=100, retries=0)
    server.reply("hi", usage=(30, 20))
    ask("u-1", "hello")
    store = open_store(url)
    spec_tokens, spec_requests = parse_limits({"tokens_per_day": 1000, "requests_per_day": 10})
    assert store.used(counter_key("u-1", spec_tokens), 86400, clock.now) == 50.0
    server.fail(500)
    with pytest.raises(ProviderError):
        ask("u-1", "boom")
    assert store.used(counter_key("u-1", spec_requests), 86400, clock.now) == 1  # released


def test_token_budget_refuses_with_budget_exceeded(server: FakeLLMServer, clock: Clock) -> None:
    ask = _fn(server, limits={"tokens_per_day": 150}, store=f"memory://{uuid.uuid4()}", max_tokens=100)
    server.reply("x", usage=(60, 40))
    ask("u-1", "one")
    with pytest.raises(BudgetExceeded) as info:  # 100 used + estimate (prompt + 100) > 150
        ask("u-1", "two")
    assert isinstance(info.value, RateLimitExceeded)
    assert info.value.limit == "tokens_per_day"
    assert len(server.requests) == 1


def test_usd_budget(server: FakeLLMServer, clock: Clock) -> None:
    url = f"memory://{uuid.uuid4()}"

    @guarded_llm(model="gpt-4o", base_url=server.openai_base_url, api_key=lambda: KEY, max_tokens=1000,
                 limits={"usd_per_day": 0.02}, store=url, pricing={"gpt-4o": (2.50, 10.00)})
    def expensive(user_id: str, q: str) -> str:
        return q

    server.reply("x", usage=(1000, 1000))  # 1000 * 2.5e-6 + 1000 * 1e-5 = 0.0125 USD
    expensive("u-1", "a")
    with pytest.raises(BudgetExceeded) as info:
        expensive("u-1", "b")  # the estimate (max_tokens at the output price) no longer fits
    assert info.value.limit == "usd_per_day"


def test_unreachable_store_fails_closed_or_allows_when_asked(server: FakeLLMServer) -> None:
    ask = _fn(server, limits={"requests_per_minute": 5}, store="redis://:hunter2@127.0.0.1:1/0")
    with pytest.raises(StoreUnavailable) as info:
        ask("u-1", "x")
    assert "hunter2" not in str(info.value) and "127.0.0.1:1" in str(info.value)
    assert server.requests == []
    calls: list[Call] = []

    class Rec:
        @guardfn.hookimpl
        def guardfn_record(self, call: Call, outcome: str) -> None:
            calls.append(call)

    guardfn.register(Rec(), name="rec")
    lenient = _fn(server, limits={"requests_per_minute": 5}, store="redis://127.0.0.1:1/0", on_store_error="allow")
    assert lenient("u-1", "x") == "echo: x"
    assert [f.kind for f in calls[-1].findings] == ["store_unavailable"]


def test_disabling_the_limits_stage_with_limits_set_is_refused(server: FakeLLMServer) -> None:
    with pytest.raises(ConfigurationError, match="limits"):
        _fn(server, limits={"requests_per_minute": 5}, store="memory://", disable=["limits"])


async def test_async_calls_use_redis_asyncio(server: FakeLLMServer, redis_url: str, run_id: str, clock: Clock) -> None:
    @guarded_llm(model="gpt-4o-mini", base_url=server.openai_base_url, api_key=lambda: KEY,
                 limits={"requests_per_minute": 2}, store=redis_url)
    async def ask(user_id: str, q: str) -> str:
        return q

    user = f"async-{run_id}"
    assert await ask(user, "a") == "echo: a"
    await ask(user, "b")
    with pytest.raises(RateLimitExceeded):
        await ask(user, "c")
    assert len(server.requests) == 2


# --- exact under concurrency, on real stores ---------------------------------------------------


def _hammer(url: str, user: str, attempts: int, capacity: int, queue: Any) -> None:
    store = open_store(url)
    spec = parse_limits({"requests_per_day": capacity})[0]
    claim = Claim(counter_key(user, spec), spec.name, spec.window, spec.capacity, 1.0)
    import time

    admitted = sum(store.reserve([claim], time.time()) is None for _ in range(attempts))
    queue.put(admitted)


@pytest.mark.parametrize("backend", ["diskcache", "redis"])
def test_many_processes_and_threads_admit_exactly_the_limit(
    backend: str, tmp_path: Path, redis_url: str, run_id: str
) -> None:
    url = f"diskcache://{tmp_path}/limits" if backend == "diskcache" else redis_url
    user, capacity = f"hammer-{run_id}", 37
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    processes = [ctx.Process(target=_hammer, args=(url, user, 25, capacity, queue)) for _ in range(4)]
    for p in processes:
        p.start()
    thread_results: list[Any] = []

    class ListQueue:
        def put(self, value: int) -> None:
            thread_results.append(value)

    threads = [threading.Thread(target=_hammer, args=(url, user, 25, capacity, ListQueue())) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    results = [queue.get(timeout=60) for _ in processes] + thread_results
    for p in processes:
        p.join(timeout=60)
    assert sum(results) == capacity  # 200 attempts, exactly 37 admitted: no overshoot, no lost update


def test_usage_command_shows_and_resets_a_user(server: FakeLLMServer, redis_url: str, run_id: str) -> None:
    from click.testing import CliRunner

    from guardfn.cli import main as cli

    user = f"cli-{run_id}"
    ask = _fn(server, limits={"requests_per_minute": 5, "tokens_per_day": 10_000}, store=redis_url)
    server.reply("x", usage=(10, 5))
    ask(user, "hello")
    result = CliRunner().invoke(cli, ["usage", "--user", user, "--store", redis_url, "--json"])
    assert result.exit_code == 0, result.output
    rows = {r["limit"]: r for r in json.loads(result.output)}
    assert rows["requests_per_minute"]["used"] == 1
    assert rows["tokens_per_day"]["used"] == 15
    assert 0 < rows["requests_per_minute"]["frees_in_s"] <= 60.5  # a window and at most one bucket
    assert CliRunner().invoke(cli, ["usage", "--user", user, "--store", redis_url, "--reset"]).exit_code == 0
    again = CliRunner().invoke(cli, ["usage", "--user", user, "--store", redis_url, "--json"])
    assert json.loads(again.output) == []


# --- regressions and the rest of the contract ----------------------------------------------------


def test_parsed_limits_never_leak_between_settings_objects() -> None:
    from guardfn.settings import Settings

    for capacity in range(1, 400):  # freed settings objects get their ids reused
        assert limits_stage.specs_for(Settings.model_validate({"limits": {"requests_per_minute": capacity}}))[0].capacity == capacity


def test_reconfiguring_limits_takes_effect(server: FakeLLMServer, clock: Clock) -> None:
    guardfn.configure(limits={"requests_per_minute": 1}, store=f"memory://{uuid.uuid4()}")
    ask = _fn(server)
    ask("u-1", "a")
    with pytest.raises(RateLimitExceeded):
        ask("u-1", "b")
    guardfn.configure(limits={"requests_per_minute": 3})
    ask("u-1", "c")
    ask("u-1", "d")
    with pytest.raises(RateLimitExceeded):
        ask("u-1", "e")


def test_streams_settle_to_the_usage_reported_at_the_end(server: FakeLLMServer, clock: Clock) -> None:
    url = f"memory://{uuid.uuid4()}"

    @guarded_llm(model="gpt-4o-mini", stream=True, base_url=server.openai_base_url, api_key=lambda: KEY,
                 max_tokens=300, limits={"tokens_per_day": 10_000}, store=url)
    def ask(user_id: str, q: str) -> str:
        return q

    server.reply("Hello there.", chunks=["Hello", " there."], usage=(21, 9))
    assert "".join(ask("u-1", "hi")) == "Hello there."
    spec = parse_limits({"tokens_per_day": 10_000})[0]
    assert open_store(url).used(counter_key("u-1", spec), 86400, clock.now) == 30.0


def test_user_function_scope_and_usage_cli(server: FakeLLMServer, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from guardfn.cli import main as cli

    url = f"diskcache://{tmp_path}/limits"

    @guarded_llm(model="gpt-4o-mini", base_url=server.openai_base_url, api_key=lambda: KEY,
                 limits={"requests_per_minute": 1}, limit_scope="user+function", store=url)
    def first(user_id: str, q: str) -> str:
        return q

    @guarded_llm(model="gpt-4o-mini", base_url=server.openai_base_url, api_key=lambda: KEY,
                 limits={"requests_per_minute": 1}, limit_scope="user+function", store=url)
    def second(user_id: str, q: str) -> str:
        return q

    first("a*", "x")
    second("a*", "x")  # its own allowance
    first("ab", "x")  # "a*" is not a pattern: another user
    with pytest.raises(RateLimitExceeded):
        first("a*", "again")
    rows = json.loads(CliRunner().invoke(cli, ["usage", "--user", "a*", "--store", url, "--json"]).output)
    assert sorted(r["scope"].rpartition(".")[2] for r in rows) == ["first", "second"]
    assert CliRunner().invoke(cli, ["usage", "--user", "a*", "--store", url, "--reset"]).output.startswith("reset 2 ")
    first("a*", "after reset")
    with pytest.raises(RateLimitExceeded):
        first("ab", "untouched by the reset")


async def test_async_tokens_follow_usage_and_failures_release(
    server: FakeLLMServer, redis_url: str, run_id: str, clock: Clock
) -> None:
    @guarded_llm(model="gpt-4o-mini", base_url=server.openai_base_url, api_key=lambda: KEY, retries=0,
                 max_tokens=200, limits={"tokens_per_day": 5000, "requests_per_day": 10}, store=redis_url)
    async def ask(user_id: str, q: str) -> str:
        return q

    user = f"atok-{run_id}"
    server.reply("x", usage=(40, 2))
    await ask(user, "hi")
    server.fail(500)
    with pytest.raises(ProviderError):
        await ask(user, "boom")
    store = open_store(redis_url)
    tokens, requests = parse_limits({"tokens_per_day": 5000, "requests_per_day": 10})
    assert store.used(counter_key(user, tokens), 86400, clock.now) == 42.0
    assert store.used(counter_key(user, requests), 86400, clock.now) == 1  # the failure was released
