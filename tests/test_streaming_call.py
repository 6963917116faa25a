"""Streamed calls (``stream=True``) through both SDKs: chunks, usage at the end, early close."""

from __future__ import annotations

from typing import Any

import pytest

import guardfn
from guardfn import ProviderError, guarded_llm, hookimpl
from guardfn.call import Call
from guardfn.testing import FakeLLMServer

KEYS = {"gpt-4o-mini": "sk-test-stream-0000000000", "claude-sonnet-4-6": "sk-ant-test-stream-00000000"}


def _base_url(server: FakeLLMServer, model: str) -> str:
    return server.anthropic_base_url if model.startswith("claude") else server.openai_base_url


@pytest.fixture
def finished() -> list[Call]:
    calls: list[Call] = []

    class Rec:
        @hookimpl
        def guardfn_record(self, call: Call, outcome: str) -> None:
            calls.append(call)

    guardfn.register(Rec(), name="rec")
    return calls


@pytest.mark.parametrize("model", list(KEYS))
def test_sync_stream_yields_chunks_and_settles_usage(server: FakeLLMServer, finished: list[Call], model: str) -> None:
    server.reply("Hello there, friend.", chunks=["Hel", "lo there", ", friend."], usage=(11, 4))

    @guarded_llm(model=model, stream=True, base_url=_base_url(server, model), api_key=lambda: KEYS[model])
    def ask(q: str) -> str:
        return q

    stream = ask("hi")
    assert finished == []  # nothing recorded until the stream ends
    assert list(stream) == ["Hel", "lo there", ", friend."]
    (call,) = finished
    assert call.outcome == "ok"
    assert (call.usage.prompt_tokens, call.usage.completion_tokens) == (11, 4)
    assert server.requests[-1].body["stream"] is True


@pytest.mark.parametrize("model", list(KEYS))
async def test_async_stream(server: FakeLLMServer, finished: list[Call], model: str) -> None:
    server.reply("abc def", chunks=["abc", " def"], usage=(3, 2))

    @guarded_llm(model=model, stream=True, base_url=_base_url(server, model), api_key=lambda: KEYS[model])
    async def ask(q: str) -> str:
        return q

    chunks = [c async for c in await ask("hi")]
    assert chunks == ["abc", " def"]
    assert finished[-1].usage.completion_tokens == 2


def test_closing_a_stream_early_records_the_call(server: FakeLLMServer, finished: list[Call]) -> None:
    server.reply("one two three four", chunks=["one", " two", " three", " four"])

    @guarded_llm(model="gpt-4o-mini", stream=True, base_url=server.openai_base_url, api_key=lambda: KEYS["gpt-4o-mini"])
    def ask(q: str) -> str:
        return q

    stream: Any = ask("hi")
    assert next(stream) == "one"
    stream.close()
    assert [c.outcome for c in finished] == ["ok"]


def test_stream_refused_before_start_raises_at_call_time(server: FakeLLMServer) -> None:
    server.fail(400)

    @guarded_llm(model="gpt-4o-mini", stream=True, base_url=server.openai_base_url, api_key=lambda: KEYS["gpt-4o-mini"])
    def ask(q: str) -> str:
        return q

    with pytest.raises(ProviderError):
        ask("hi")


@pytest.mark.parametrize("is_async", [False, True])
async def test_a_stream_closed_before_its_first_chunk_is_recorded_settled_and_closed(
    server: FakeLLMServer, is_async: bool
) -> None:
    from guardfn import hookimpl, register

    outcomes: list[str] = []

    class Keep:
        @hookimpl
        def guardfn_record(self, call: Any, outcome: str) -> None:
            outcomes.append(outcome)

    register(Keep(), name="keep_outcomes")
    options = {"model": "gpt-4o-mini", "base_url": server.openai_base_url, "api_key": lambda: "sk-test-000000000000",
               "stream": True, "limits": {"requests_per_minute": 1}, "store": f"memory://closed-{is_async}"}  # fmt: skip
    if is_async:

        @guarded_llm(**options)
        async def answer_async(user_id: str, q: str) -> str:
            return q

        stream = await answer_async("u-1", "hello there")
        await stream.aclose()
    else:

        @guarded_llm(**options)
        def answer(user_id: str, q: str) -> str:
            return q

        stream = answer("u-1", "hello there")
        stream.close()
    assert outcomes == ["ok"]  # recorded once, as soon as it was closed
