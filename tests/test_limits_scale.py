"""Limits that stay cheap: one store operation each way, no tokenizer for budgets, prices and
idle stages resolved once per engine, global limits on a real Redis Cluster."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import guardfn
from guardfn import BudgetExceeded, RateLimitExceeded, guarded_llm
from guardfn.limits import counter_key, parse_limits
from guardfn.store import open_store
from guardfn.testing import FakeLLMServer
from tests._redis import redis_url

KEY = "sk-test-scale-000000000000"
REDIS = redis_url(12)


@pytest.fixture
def run_id() -> Iterator[str]:
    """A token in every user id of the test; its Redis keys are removed afterwards."""
    token = uuid.uuid4().hex
    yield token
    import redis

    client = redis.Redis.from_url(REDIS)
    for key in client.scan_iter(match=f"guardfn:*{token}*"):
        client.delete(key)


def _fn(server: FakeLLMServer, **options: Any) -> Any:
    @guarded_llm(model="gpt-4o-mini", base_url=server.openai_base_url, api_key=lambda: KEY, **options)
    def ask(user_id: str, q: str) -> str:
        return q

    return ask


# --- one store operation each way ---------------------------------------------------------------


class Commands:
    """Counts what a Redis store sends: round trips of its script connection, commands of redis-py's client."""

    def __init__(self, store: Any) -> None:
        self.sent: list[str] = []
        connection, client = store.connection(), store.client
        pipeline, execute = connection.pipeline, client.execute_command

        def round_trip(commands: list[tuple[Any, ...]]) -> Any:
            self.sent.append("+".join(str(c[0]) for c in commands))
            return pipeline(commands)

        def command(*args: Any, **kwargs: Any) -> Any:
            self.sent.append(str(args[0]))
            return execute(*args, **kwargs)

        connection.pipeline, client.execute_command = round_trip, command


@pytest.mark.parametrize(
    ("limits", "expected"),
    [
        ({"requests_per_minute": 100}, ["EVALSHA"]),  # request limits need no settle
        ({"requests_per_minute": 100, "tokens_per_day": 10_000}, ["EVALSHA", "EVALSHA"]),
        ({"tokens_per_day": 10_000, "usd_per_day": 5, "global": {"tokens_per_day": 10**6}}, ["EVALSHA", "EVALSHA"]),
    ],
)
def test_a_guarded_call_makes_one_redis_round_trip_each_way(
    server: FakeLLMServer, run_id: str, limits: dict[str, Any], expected: list[str]
) -> None:
    ask = _fn(server, limits=limits, store=REDIS, budget_alert_ratio=0.01)  # the alert fires on every call
    ask(f"warm-{run_id}", "hi")  # scripts loaded, connection open
    store: Any = open_store(REDIS)
    commands = Commands(store)
    server.reply("x", usage=(40, 10))
    ask(f"u-{run_id}", "hi")
    assert commands.sent == expected  # the budget alert read nothing: settle answered it


def test_a_failed_request_releases_in_one_round_trip(server: FakeLLMServer, run_id: str) -> None:
    ask = _fn(server, limits={"requests_per_minute": 100, "tokens_per_day": 10_000}, store=REDIS, retries=0)
    ask(f"warm-{run_id}", "hi")
    store: Any = open_store(REDIS)
    commands = Commands(store)
    server.fail(500)
    with pytest.raises(guardfn.ProviderError):
        ask(f"u-{run_id}", "hi")
    assert commands.sent == ["EVALSHA", "EVALSHA"]
    spec = parse_limits({"requests_per_minute": 100})[0]
    assert store.used(counter_key(f"u-{run_id}", spec), 60.0, time.time()) == 0


def test_diskcache_does_one_statement_each_way(server: FakeLLMServer, tmp_path: Path) -> None:
    url = f"diskcache://{tmp_path}/limits"
    ask = _fn(server, limits={"requests_per_minute": 100, "tokens_per_day": 10_000}, store=url)
    ask("warm", "hi")
    store: Any = open_store(url)
    statements: list[str] = []
    store._con().set_trace_callback(statements.append)
    try:
        server.reply("x", usage=(40, 10))
        ask("u-1", "hi")
    finally:
        store._con().set_trace_callback(None)
    # reserve: one INSERT (adds only if every limit has room); settle: one UPDATE ... RETURNING
    assert [s.split()[0] for s in statements] == ["INSERT", "UPDATE"]


def test_the_log_state_does_not_grow_with_traffic(tmp_path: Path) -> None:
    url = f"diskcache://{tmp_path}/limits"
    store: Any = open_store(url)
    from guardfn.store import Claim

    claim = Claim("guardfn:b:{global}:tokens_per_day", "global.tokens_per_day", 86400.0, 1e12, 500.0)
    for i in range(5000):  # 5,000 calls over a day
        assert store.reserve([claim], 1_763_000_000.0 + i * 17.28) is None
    rows = store._con().execute("SELECT count(*) FROM counts WHERE slot >= 0").fetchone()[0]
    assert rows <= 121  # the buckets of one day, whatever the calls
    for i in range(5000, 20000):  # two more days: the buckets that left are dropped as the window moves on
        assert store.reserve([claim], 1_763_000_000.0 + i * 17.28) is None
    rows = store._con().execute("SELECT count(*) FROM counts WHERE slot >= 0").fetchone()[0]
    assert rows <= 121


# --- no tokenizer for budgets ---------------------------------------------------------------------


def _tokenizer_loaded(option: str) -> bool:
    code = textwrap.dedent(
        f"""
        import sys
        from guardfn import guarded_llm
        from guardfn.testing import FakeLLMServer
        with FakeLLMServer() as server:
            @guarded_llm(model="gpt-4o-mini", base_url=server.openai_base_url, api_key=lambda: "sk-x-0000000000",
                         store="memory://t", {option})
            def ask(user_id, q):
                return q
            ask("u", "How do I reset my password?")
        print("bpe_openai" in sys.modules)
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    return done.stdout.strip().splitlines()[-1] == "True"


def test_a_token_budget_does_not_load_the_tokenizer_but_max_input_tokens_does() -> None:
    assert not _tokenizer_loaded('limits={"tokens_per_day": 50_000, "usd_per_day": 5}')
    assert _tokenizer_loaded("max_input_tokens=1000")


@settings(max_examples=200, deadline=None)
@given(texts=st.lists(st.text(max_size=200), min_size=1, max_size=4))
def test_the_reserved_prompt_bound_is_never_below_the_exact_count(texts: list[str]) -> None:
    from guardfn import tokens
    from guardfn.call import text_message

    messages = [text_message("user", t) for t in texts]
    for model in ("gpt-4o", "gpt-4", "gpt-4o-mini"):
        assert tokens.prompt_bound(messages, model) >= tokens.count_tokens(messages, model)


def test_a_budget_refusal_comes_from_the_bound_and_settling_corrects_it(server: FakeLLMServer) -> None:
    url = f"memory://{uuid.uuid4()}"
    ask = _fn(server, limits={"tokens_per_day": 300}, store=url, max_tokens=100)
    server.reply("x", usage=(20, 10))
    ask("u-1", "x" * 150)  # reserved 150 + 4 + 100 = 254; settled to 30
    spec = parse_limits({"tokens_per_day": 300})[0]
    assert open_store(url).used(counter_key("u-1", spec), 86400.0, time.time()) == 30
    with pytest.raises(BudgetExceeded):
        ask("u-1", "x" * 180)  # 30 + 284 > 300, though the provider would have counted fewer


# --- resolved once per engine -------------------------------------------------------------------


def test_the_price_is_resolved_once_per_function_not_per_request(server: FakeLLMServer) -> None:
    asked: list[str] = []

    class Prices:
        @guardfn.hookimpl
        def guardfn_model_price(self, provider: str, model: str) -> Any:
            asked.append(model)
            return (1.0, 2.0)

    guardfn.register(Prices(), name="prices")
    ask = _fn(server, limits={"usd_per_day": 5}, store=f"memory://{uuid.uuid4()}")
    for _ in range(3):
        ask("u-1", "hi")
    assert asked == ["gpt-4o-mini"]
    guardfn.register(Prices(), name="prices-2")  # the plugins changed: resolved again
    ask("u-1", "hi")
    assert asked == ["gpt-4o-mini", "gpt-4o-mini"]


def test_stages_of_controls_that_are_off_are_left_out_of_the_engine(server: FakeLLMServer) -> None:
    configured: list[str] = []

    class Idle:
        def active(self, settings: Any) -> bool:
            return bool(settings.canary)

        @guardfn.hookimpl
        def guardfn_configure(self, settings: Any) -> None:
            configured.append("configure")

        @guardfn.hookimpl
        def guardfn_screen_input(self, call: Any) -> None:
            raise AssertionError("an idle plugin ran")

    guardfn.register(Idle(), name="idle")
    plain = _fn(server)
    plain("u-1", "hi")  # the idle plugin's screen_input is not called
    assert configured == ["configure"]  # but it was configured
    names = {impl.plugin_name for step, impls in plain.guard.engine.impls.items() if step != "guardfn_configure"
             for impl in impls}  # fmt: skip
    assert names.isdisjoint({"idle", "limits", "schema", "html", "content_log", "metrics"})
    busy = _fn(server, limits={"requests_per_minute": 5}, store="memory://busy", canary=True)
    names = {impl.plugin_name for step, impls in busy.guard.engine.impls.items() if step != "guardfn_configure"
             for impl in impls}  # fmt: skip
    assert {"idle", "limits", "output_rules"} <= names


# --- global limits on a real Redis Cluster ---------------------------------------------------------


def test_per_user_and_global_limits_on_a_redis_cluster(server: FakeLLMServer, redis_cluster: str) -> None:
    run = uuid.uuid4().hex
    ask = _fn(server, limits={"requests_per_minute": 2, "global": {"requests_per_minute": 3}}, store=redis_cluster)
    ask(f"a-{run}", "1")
    ask(f"a-{run}", "2")
    with pytest.raises(RateLimitExceeded) as user_limit:
        ask(f"a-{run}", "3")
    assert user_limit.value.limit == "requests_per_minute"
    ask(f"b-{run}", "4")
    with pytest.raises(RateLimitExceeded) as global_limit:
        ask(f"c-{run}", "5")
    assert global_limit.value.limit == "global.requests_per_minute"
    store = open_store(redis_cluster)
    spec = parse_limits({"requests_per_minute": 2})[0]
    now = time.time()
    assert store.used(counter_key(f"c-{run}", spec), 60.0, now) == 0  # the global refusal released the user's
    store.delete(store.keys("guardfn:b:{global}") + store.keys(f"guardfn:b:{{u:a-{run}"))


async def test_async_budgets_on_a_redis_cluster(server: FakeLLMServer, redis_cluster: str) -> None:
    run = uuid.uuid4().hex

    @guarded_llm(model="gpt-4o-mini", base_url=server.openai_base_url, api_key=lambda: KEY, max_tokens=10,
                 limits={"tokens_per_day": 1000, "global": {"tokens_per_day": 10_000}}, store=redis_cluster)
    async def ask(user_id: str, q: str) -> str:
        return q

    server.reply("x", usage=(12, 3))
    await ask(f"a-{run}", "hi")
    store = open_store(redis_cluster)
    user, everyone = parse_limits({"tokens_per_day": 1000, "global": {"tokens_per_day": 10_000}})
    now = time.time()
    assert store.used(counter_key(f"a-{run}", user), 86400.0, now) == 15
    assert store.used(counter_key(f"a-{run}", everyone), 86400.0, now) >= 15
    store.delete(store.keys(f"guardfn:b:{{u:a-{run}"))
