"""The guarded call through the real SDKs over a real loopback socket (issue 2)."""

from __future__ import annotations

import asyncio
import inspect
import uuid
import warnings
from typing import Any

import pytest

import guardfn
from guardfn import (
    ConfigurationError,
    GuardError,
    HardcodedKeyWarning,
    InvalidPrompt,
    ProviderAuthenticationError,
    ProviderError,
    guarded_llm,
    hookimpl,
)
from guardfn.call import Call
from guardfn.testing import FakeLLMServer

KEY = "sk-test-abcdefghijklmnop1234"
ANT_KEY = "sk-ant-test-abcdefghijklmnop5678"


class Recorder:
    """Captures every finished call (the record hook runs once per call)."""

    def __init__(self) -> None:
        self.calls: list[Call] = []

    @hookimpl
    def guardfn_record(self, call: Call, outcome: str) -> None:
        self.calls.append(call)


@pytest.fixture
def recorder() -> Recorder:
    rec = Recorder()
    guardfn.register(rec, name="test_recorder")
    return rec


def test_sync_openai_call_returns_text_and_sends_bounded_request(server: FakeLLMServer) -> None:
    server.reply("Use the reset link.", usage=(20, 5))

    @guarded_llm(
        model="gpt-4o-mini",
        max_tokens=256,
        system="You are a support assistant.",
        base_url=server.openai_base_url,
        api_key=lambda: KEY,
    )
    def answer(user_id: str, question: str) -> str:
        return f"Answer briefly: {question}"

    assert answer("u-1", "How do I reset my password?") == "Use the reset link."
    (request,) = server.requests
    assert request.path == "/v1/chat/completions"
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.body["model"] == "gpt-4o-mini"
    assert request.body["max_tokens"] == 256
    assert request.body["messages"] == [
        {"role": "system", "content": "You are a support assistant."},
        {"role": "user", "content": "Answer briefly: How do I reset my password?"},
    ]


def test_default_max_tokens_is_always_sent(server: FakeLLMServer) -> None:
    @guarded_llm(model="gpt-4o-mini", base_url=server.openai_base_url, api_key=lambda: KEY)
    def ask(q: str) -> str:
        return q

    ask("hi")
    assert server.requests[-1].body["max_tokens"] == guardfn.settings.DEFAULT_MAX_TOKENS


def test_reasoning_models_get_max_completion_tokens(server: FakeLLMServer) -> None:
    @guarded_llm(model="o3-mini", max_tokens=300, base_url=server.openai_base_url, api_key=lambda: KEY)
    def ask(q: str) -> str:
        return q

    ask("hi")
    body = server.requests[-1].body
    assert body["max_completion_tokens"] == 300
    assert "max_tokens" not in body


def test_max_tokens_above_ceiling_is_refused_at_decoration_time() -> None:
    with pytest.raises(ConfigurationError, match="max_tokens_limit"):

        @guarded_llm(model="gpt-4o-mini", max_tokens=100_000)
        def ask(q: str) -> str:
            return q

    guardfn.configure(max_tokens_limit=200_000)

    @guarded_llm(model="gpt-4o-mini", max_tokens=100_000)
    def ask_more(q: str) -> str:
        return q

    assert ask_more.guard.engine.settings.max_tokens == 100_000


def test_anthropic_by_model_prefix_with_system_param(server: FakeLLMServer) -> None:
    server.reply("Bonjour", usage=(9, 2))

    @guarded_llm(
        model="claude-sonnet-4-6",
        max_tokens=128,
        system="Be terse.",
        base_url=server.anthropic_base_url,
        api_key=lambda: ANT_KEY,
    )
    def greet(name: str) -> str:
        return f"Greet {name} in French"

    assert greet("Ann") == "Bonjour"
    (request,) = server.requests
    assert request.path == "/v1/messages"
    assert ANT_KEY in (request.headers.get("x-api-key"), request.headers.get("authorization", "").removeprefix("Bearer "))
    assert request.body["max_tokens"] == 128
    assert request.body["system"] == "Be terse."
    assert request.body["messages"] == [{"role": "user", "content": "Greet Ann in French"}]


def test_provider_option_overrides_model_prefix(server: FakeLLMServer) -> None:
    @guarded_llm(
        model="claude-compatible-local", provider="openai", base_url=server.openai_base_url, api_key=lambda: KEY
    )
    def ask(q: str) -> str:
        return q

    ask("hi")
    assert server.requests[-1].path == "/v1/chat/completions"


def test_sdk_base_url_environment_variables_are_honoured(
    server: FakeLLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", server.openai_base_url)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", server.anthropic_base_url)
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setenv("ANTHROPIC_API_KEY", ANT_KEY)

    @guarded_llm(model="gpt-4o-mini")
    def a(q: str) -> str:
        return q

    @guarded_llm(model="claude-haiku-4-5")
    def b(q: str) -> str:
        return q

    a("one")
    b("two")
    assert [r.path for r in server.requests] == ["/v1/chat/completions", "/v1/messages"]


def test_messages_prompt_is_sent_as_given(server: FakeLLMServer) -> None:
    @guarded_llm(model="gpt-4o-mini", base_url=server.openai_base_url, api_key=lambda: KEY)
    def chat(history: list[dict[str, str]]) -> list[dict[str, str]]:
        return history

    history = [
        {"role": "system", "content": "S"},
        {"role": "user", "content": "U1"},
        {"role": "assistant", "content": "A1"},
        {"role": "user", "content": "U2"},
    ]
    assert chat(history) == "echo: U2"
    assert server.requests[-1].body["messages"] == history


@pytest.mark.parametrize(
    "bad", [42, [{"role": "wizard", "content": "x"}], [{"role": "user"}], [{"role": "system", "content": "only"}]]
)
def test_invalid_prompt_is_refused_before_any_request(server: FakeLLMServer, bad: Any) -> None:
    @guarded_llm(model="gpt-4o-mini", base_url=server.openai_base_url, api_key=lambda: KEY)
    def broken() -> Any:
        return bad

    with pytest.raises(InvalidPrompt):
        broken()
    assert server.requests == []


def test_wraps_keeps_name_doc_and_signature() -> None:
    def answer(user_id: str, question: str, *, tone: str = "kind") -> str:
        """Answer a support question."""
        return question

    wrapped = guarded_llm(model="gpt-4o-mini")(answer)
    assert wrapped.__name__ == "answer"
    assert wrapped.__doc__ == "Answer a support question."
    assert inspect.signature(wrapped) == inspect.signature(answer)


async def test_async_openai_and_anthropic(server: FakeLLMServer) -> None:
    @guarded_llm(model="gpt-4o-mini", base_url=server.openai_base_url, api_key=lambda: KEY)
    async def a(q: str) -> str:
        return q

    @guarded_llm(model="claude-sonnet-4-6", base_url=server.anthropic_base_url, api_key=lambda: ANT_KEY)
    async def b(q: str) -> str:
        return q

    assert inspect.iscoroutinefunction(a)
    assert await a("x") == "echo: x"
    assert await b("y") == "echo: y"


async def test_async_calls_run_concurrently_without_blocking_the_loop(server: FakeLLMServer) -> None:
    for _ in range(4):
        server.reply("slow", delay=0.3)

    @guarded_llm(model="gpt-4o-mini", base_url=server.openai_base_url, api_key=lambda: KEY)
    async def ask(q: str) -> str:
        return q

    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    tick_task = asyncio.create_task(ticker())
    results = await asyncio.gather(*(ask(str(i)) for i in range(4)))
    tick_task.cancel()
    assert results == ["slow"] * 4
    # The loop kept running while four slow requests were in flight: if any call blocked
    # it, the ticker could not have advanced during the 0.3 s waits.
    assert ticks >= 10


# --- keys -----------------------------------------------------------------------------


def test_missing_key_names_the_variable_before_any_request(server: FakeLLMServer) -> None:
    @guarded_llm(model="gpt-4o-mini", base_url=server.openai_base_url)
    def ask(q: str) -> str:
        return q

    with pytest.raises(ConfigurationError, match="OPENAI_API_KEY"):
        ask("hi")

    @guarded_llm(model="claude-sonnet-4-6", base_url=server.anthropic_base_url)
    def ask_claude(q: str) -> str:
        return q

    with pytest.raises(ConfigurationError, match="ANTHROPIC_API_KEY"):
        ask_claude("hi")
    assert server.requests == []


def test_dotenv_is_read_but_never_overrides_the_environment(
    server: FakeLLMServer, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".env").write_text(
        "OPENAI_API_KEY=sk-from-dotenv-000000001111\nANTHROPIC_API_KEY=sk-ant-dotenv-00002222\n"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-from-env-00003333")
    from guardfn.stages.env_keys import dotenv_values

    dotenv_values.cache_clear()

    @guarded_llm(model="gpt-4o-mini", base_url=server.openai_base_url)
    def a(q: str) -> str:
        return q

    @guarded_llm(model="claude-sonnet-4-6", base_url=server.anthropic_base_url)
    def b(q: str) -> str:
        return q

    a("x")
    b("y")
    assert server.requests[0].headers["authorization"] == "Bearer sk-from-dotenv-000000001111"
    assert "sk-ant-from-env-00003333" in str(server.requests[1].headers)
    assert "dotenv" not in str(server.requests[1].headers)
    import os

    assert "OPENAI_API_KEY" not in os.environ


def test_literal_key_warns_and_never_shows_in_repr(server: FakeLLMServer) -> None:
    with pytest.warns(HardcodedKeyWarning):

        @guarded_llm(model="gpt-4o-mini", base_url=server.openai_base_url, api_key=KEY)
        def ask(q: str) -> str:
            return q

    assert ask("hi") == "echo: hi"
    settings = ask.guard.engine.settings
    assert KEY not in repr(settings)
    assert KEY not in str(settings.model_dump())


def test_callable_key_does_not_warn(server: FakeLLMServer) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", HardcodedKeyWarning)

        @guarded_llm(model="gpt-4o-mini", base_url=server.openai_base_url, api_key=lambda: KEY)
        def ask(q: str) -> str:
            return q

    ask("hi")


def test_auth_error_is_wrapped_with_the_key_scrubbed(server: FakeLLMServer, caplog: pytest.LogCaptureFixture) -> None:
    server.fail(401, message=f"Incorrect API key provided: {KEY}. You can find your API key at ...")

    @guarded_llm(model="gpt-4o-mini", base_url=server.openai_base_url, api_key=lambda: KEY)
    def ask(q: str) -> str:
        return q

    with pytest.raises(ProviderAuthenticationError) as info:
        ask("hi")
    err = info.value
    assert err.status_code == 401
    assert err.stage == "openai"
    text = str(err) + repr(err) + caplog.text
    assert KEY not in text
    assert KEY[:-4] not in text
    assert "****" + KEY[-4:] in str(err)
    assert err.__cause__ is None and err.__suppress_context__


# --- retries and timeouts ------------------------------------------------------------------


def test_transient_429_is_retried_honouring_retry_after(server: FakeLLMServer, recorder: Recorder) -> None:
    server.fail(429, retry_after=0.05)
    server.reply("finally")

    @guarded_llm(model="gpt-4o-mini", base_url=server.openai_base_url, api_key=lambda: KEY, retries=2)
    def ask(q: str) -> str:
        return q

    assert ask("hi") == "finally"
    assert len(server.requests) == 2
    assert recorder.calls[-1].retries == 1


def test_retries_are_bounded(server: FakeLLMServer) -> None:
    server.fail(500, times=5)

    @guarded_llm(
        model="gpt-4o-mini", base_url=server.openai_base_url, api_key=lambda: KEY, retries=2, retry_backoff=0.001
    )
    def ask(q: str) -> str:
        return q

    with pytest.raises(ProviderError) as info:
        ask("hi")
    assert len(server.requests) == 3
    assert info.value.status_code == 500
    assert info.value.retryable


def test_retry_after_longer_than_the_cap_is_not_waited_for(server: FakeLLMServer) -> None:
    server.fail(429, retry_after=120)

    @guarded_llm(
        model="gpt-4o-mini", base_url=server.openai_base_url, api_key=lambda: KEY, retries=3, retry_max_delay=5
    )
    def ask(q: str) -> str:
        return q

    with pytest.raises(ProviderError) as info:
        ask("hi")
    assert len(server.requests) == 1
    assert info.value.retry_after == 120  # type: ignore[attr-defined]


def test_client_errors_are_not_retried(server: FakeLLMServer) -> None:
    server.fail(400, times=3)

    @guarded_llm(model="gpt-4o-mini", base_url=server.openai_base_url, api_key=lambda: KEY, retries=3)
    def ask(q: str) -> str:
        return q

    with pytest.raises(ProviderError):
        ask("hi")
    assert len(server.requests) == 1


def test_timeout_raises_provider_error(server: FakeLLMServer) -> None:
    server.reply("late", delay=2.0)

    @guarded_llm(model="gpt-4o-mini", base_url=server.openai_base_url, api_key=lambda: KEY, timeout=0.2, retries=0)
    def ask(q: str) -> str:
        return q

    with pytest.raises(ProviderError, match="Timeout"):
        ask("hi")


async def test_async_retry(server: FakeLLMServer) -> None:
    server.fail(503, retry_after=0.01)
    server.reply("ok")

    @guarded_llm(model="claude-sonnet-4-6", base_url=server.anthropic_base_url, api_key=lambda: ANT_KEY)
    async def ask(q: str) -> str:
        return q

    assert await ask("hi") == "ok"
    assert len(server.requests) == 2


def test_bad_json_from_provider_is_a_provider_error(server: FakeLLMServer) -> None:
    server.bad_json(times=3)

    @guarded_llm(model="gpt-4o-mini", base_url=server.openai_base_url, api_key=lambda: KEY, retries=0)
    def ask(q: str) -> str:
        return q

    with pytest.raises(ProviderError) as info:
        ask("hi")
    assert type(info.value) is ProviderError and info.value.retryable


# --- user id and request id ---------------------------------------------------------------


def test_user_id_sources(server: FakeLLMServer, recorder: Recorder) -> None:
    opts = {"model": "gpt-4o-mini", "base_url": server.openai_base_url, "api_key": lambda: KEY}

    @guarded_llm(**opts)
    def by_param(user_id: str, q: str) -> str:
        return q

    @guarded_llm(user="account", **opts)
    def by_named_param(account: str, q: str) -> str:
        return q

    @guarded_llm(**opts)
    def by_context(q: str) -> str:
        return q

    by_param("u-1", "a")
    by_named_param("acct-7", "b")
    with guardfn.as_user("ctx-9"):
        by_context("c")
    by_context("d")
    assert [c.user_id for c in recorder.calls] == ["u-1", "acct-7", "ctx-9", "anonymous"]
    ids = [c.request_id for c in recorder.calls]
    assert len(set(ids)) == 4
    assert all(uuid.UUID(i).version == 4 for i in ids)


def test_user_option_must_name_a_parameter() -> None:
    with pytest.raises(ConfigurationError, match="account"):

        @guarded_llm(model="gpt-4o-mini", user="account")
        def f(q: str) -> str:
            return q


def test_unknown_option_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="max_tokenz"):

        @guarded_llm(model="gpt-4o-mini", max_tokenz=5)
        def f(q: str) -> str:
            return q


def test_configure_sets_defaults_and_decorator_overrides(server: FakeLLMServer) -> None:
    guardfn.configure(max_tokens=99, base_url=server.openai_base_url, api_key=lambda: KEY)

    @guarded_llm(model="gpt-4o-mini")
    def a(q: str) -> str:
        return q

    @guarded_llm(model="gpt-4o-mini", max_tokens=7)
    def b(q: str) -> str:
        return q

    a("x")
    b("y")
    assert [r.body["max_tokens"] for r in server.requests] == [99, 7]
    guardfn.configure(max_tokens=55)  # functions decorated earlier pick it up
    a("z")
    assert server.requests[-1].body["max_tokens"] == 55


def test_environment_settings(server: FakeLLMServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GUARDFN_MAX_TOKENS", "77")
    monkeypatch.setenv("OPENAI_API_KEY", KEY)

    @guarded_llm(model="gpt-4o-mini", base_url=server.openai_base_url)
    def a(q: str) -> str:
        return q

    a("x")
    assert server.requests[-1].body["max_tokens"] == 77


def test_every_public_error_is_a_guard_error_with_stage_and_reason() -> None:
    names = [
        n
        for n in guardfn.__all__
        if n.endswith(("Error", "Exceeded", "Detected", "Rejected", "Unavailable", "Violation", "TooLong", "Prompt"))
    ]
    assert len(names) >= 15
    for name in names:
        cls = getattr(guardfn, name)
        assert issubclass(cls, GuardError), name
    err = guardfn.RateLimitExceeded("too many", limit="requests_per_minute", retry_after=3.0, usage=10, capacity=10)
    assert (err.stage, err.limit, err.retry_after) == ("limits", "requests_per_minute", 3.0)
    assert isinstance(
        guardfn.BudgetExceeded("x", limit="tokens_per_day", retry_after=1, usage=1, capacity=1),
        guardfn.RateLimitExceeded,
    )
