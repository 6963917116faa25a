"""Input limits and text hygiene end to end: bounded, clean text or a clear error before any request."""

from __future__ import annotations

from typing import Any

import pytest

from guardfn import InputRejected, InputTooLong, guarded_llm
from guardfn.call import text_message
from guardfn.stages.input_limits import count_tokens
from guardfn.testing import FakeLLMServer

KEY = "sk-test-limits-000000"


def _ask(server: FakeLLMServer, model: str = "gpt-4o-mini", **options: Any) -> Any:
    base = server.anthropic_base_url if model.startswith("claude") else server.openai_base_url

    @guarded_llm(model=model, base_url=base, api_key=lambda: KEY, **options)
    def ask(q: str) -> str:
        return q

    return ask


def test_a_user_message_over_max_input_chars_is_refused_with_length_and_limit(server: FakeLLMServer) -> None:
    with pytest.raises(InputTooLong) as info:
        _ask(server, max_input_chars=100)("x" * 101)
    err = info.value
    assert (err.length, err.limit, err.unit, err.stage) == (101, 100, "chars", "input_limits")
    assert isinstance(err, InputRejected)
    assert server.requests == []
    assert _ask(server, max_input_chars=100)("x" * 100) == "echo: " + "x" * 100


def test_the_whole_context_is_bounded(server: FakeLLMServer) -> None:
    @guarded_llm(model="gpt-4o-mini", base_url=server.openai_base_url, api_key=lambda: KEY,
                 max_input_chars=50, max_context_chars=120, system="s" * 40)
    def chat(turns: list[dict[str, str]]) -> list[dict[str, str]]:
        return turns

    turns = [{"role": "user", "content": "a" * 45}, {"role": "assistant", "content": "b" * 30}]
    with pytest.raises(InputTooLong) as info:
        chat([*turns, {"role": "user", "content": "c" * 10}])
    assert (info.value.length, info.value.limit) == (125, 120)
    assert server.requests == []


def test_max_input_tokens_is_counted_offline(server: FakeLLMServer) -> None:
    text = "word " * 400
    tokens = count_tokens([text_message("user", text.strip())], "gpt-4o-mini")
    assert tokens > 100
    with pytest.raises(InputTooLong) as info:
        _ask(server, max_input_tokens=100)(text)
    assert info.value.unit == "tokens" and info.value.limit == 100 and info.value.length == tokens
    assert server.requests == []


@pytest.mark.parametrize("model", ["gpt-4o-mini", "claude-haiku-4-5"])
def test_text_that_would_crash_an_sdk_is_cleaned(server: FakeLLMServer, model: str) -> None:
    _ask(server, model)("  he\x00llo\x07 \ud800world\udfff\n ")
    body = server.requests[-1].body
    sent = body["messages"][-1]["content"]
    if isinstance(sent, list):
        sent = sent[0]["text"]
    assert sent == "hello \ufffdworld\ufffd"


def test_inputs_are_stripped_and_empty_messages_refused(server: FakeLLMServer) -> None:
    _ask(server)("\n\n  What time is it?  \t")
    assert server.requests[-1].body["messages"][-1]["content"] == "What time is it?"
    with pytest.raises(InputRejected) as info:
        _ask(server)("  \x00 \n ")
    assert "empty" in info.value.reason and info.value.stage == "input_limits"
    assert len(server.requests) == 1


def test_defaults_are_documented_values() -> None:
    from guardfn.settings import build_settings

    s = build_settings({}, {})
    assert (s.max_input_chars, s.max_context_chars, s.max_input_tokens) == (20_000, 100_000, None)
    assert (s.injection, s.injection_block_at, s.secrets) == ("block", "medium", "redact")
