"""The max_lines stage, end to end: installed through its entry point, called through the
real OpenAI SDK against guardfn's loopback fake provider (the ``fake_llm`` fixture)."""

from __future__ import annotations

import json
from typing import Any

import guardfn_template
import pytest
from click.testing import CliRunner
from guardfn_template.max_lines import DEFAULT_LIMIT, count_lines, longest_user_message
from hypothesis import given
from hypothesis import strategies as st

import guardfn
from guardfn import ConfigurationError, InputTooLong, guarded_llm, hookimpl
from guardfn.call import Call, text_message
from guardfn.cli import main as cli
from guardfn.testing import FakeLLMServer


def lines(n: int) -> str:
    return "\n".join(f"line {i}" for i in range(n))


def make_ask(**options: Any) -> Any:
    @guarded_llm(model="gpt-4o-mini", **options)
    def ask(user_id: str, text: str) -> str:
        return text

    return ask


# --- installed as a plugin ------------------------------------------------------------------


def test_the_entry_point_registers_the_stage() -> None:
    result = CliRunner().invoke(cli, ["plugins", "--json"])
    assert result.exit_code == 0, result.output
    listed = {p["name"]: p for p in json.loads(result.output)}
    assert listed["max_lines"]["source"] == "entrypoint"
    assert listed["max_lines"]["distribution"] == "guardfn-template"
    assert listed["max_lines"]["version"] == guardfn_template.__version__
    assert listed["max_lines"]["hooks"] == ["guardfn_configure", "guardfn_screen_input"]


# --- the behaviour a user relies on ---------------------------------------------------------


def test_a_message_over_the_limit_is_refused_before_any_request(fake_llm: FakeLLMServer) -> None:
    ask = make_ask(plugin_options={"max_lines": {"limit": 5}})
    with pytest.raises(InputTooLong) as info:
        ask("u-1", lines(6))
    err = info.value
    assert (err.stage, err.length, err.limit, err.unit) == ("max_lines", 6, 5, "lines")
    assert "line 0" not in str(err)  # counts only, never the text
    assert fake_llm.requests == []


def test_a_message_at_the_limit_is_sent_unchanged(fake_llm: FakeLLMServer) -> None:
    ask = make_ask(plugin_options={"max_lines": {"limit": 5}})
    assert ask("u-1", lines(5)) == "echo: " + lines(5)
    assert fake_llm.requests[0].body["messages"][-1]["content"] == lines(5)


def test_the_default_limit_applies_without_options(fake_llm: FakeLLMServer) -> None:
    ask = make_ask()
    ask("u-1", lines(DEFAULT_LIMIT))
    with pytest.raises(InputTooLong):
        ask("u-1", lines(DEFAULT_LIMIT + 1))
    assert len(fake_llm.requests) == 1


def test_the_refusal_is_recorded_as_a_finding(fake_llm: FakeLLMServer) -> None:
    seen: list[Call] = []

    class Recorder:
        @hookimpl
        def guardfn_record(self, call: Call, outcome: str) -> None:
            seen.append(call)

    guardfn.register(Recorder(), name="recorder")
    with pytest.raises(InputTooLong):
        make_ask(plugin_options={"max_lines": {"limit": 1}})("u-1", "a\nb\nc")
    (call,) = seen
    assert call.outcome == "blocked"
    (finding,) = [f for f in call.findings if f.stage == "max_lines"]
    assert (finding.kind, finding.count, finding.blocked, finding.detail) == (
        "too_many_lines", 3, True, {"limit": 1, "message": 0}
    )


def test_only_user_messages_count(fake_llm: FakeLLMServer) -> None:
    ask = make_ask(system=lines(50), plugin_options={"max_lines": {"limit": 3}})
    assert ask("u-1", "short") == "echo: short"


def test_unicode_line_breaks_count(fake_llm: FakeLLMServer) -> None:
    with pytest.raises(InputTooLong):
        make_ask(plugin_options={"max_lines": {"limit": 2}})("u-1", "a\u2028b\rc")


async def test_async_calls_are_screened_too(fake_llm: FakeLLMServer) -> None:
    @guarded_llm(model="gpt-4o-mini", plugin_options={"max_lines": {"limit": 2}})
    async def ask(text: str) -> str:
        return text

    assert await ask("a\nb") == "echo: a\nb"
    with pytest.raises(InputTooLong):
        await ask("a\nb\nc")
    assert len(fake_llm.requests) == 1


# --- configuration --------------------------------------------------------------------------


def test_global_options_and_the_environment(fake_llm: FakeLLMServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GUARDFN_PLUGIN_OPTIONS", json.dumps({"max_lines": {"limit": 2}}))
    with pytest.raises(InputTooLong) as info:
        make_ask()("u-1", lines(3))
    assert info.value.limit == 2
    guardfn.configure(plugin_options={"max_lines": {"limit": 4}})
    with pytest.raises(InputTooLong) as info:
        make_ask()("u-1", lines(5))
    assert info.value.limit == 4
    assert make_ask(plugin_options={"max_lines": {"limit": 10}})("u-1", lines(5))  # the decorator wins


@pytest.mark.parametrize("bad", [{"limit": 0}, {"limit": "many"}, {"limt": 5}])
def test_bad_options_are_a_configuration_error_before_any_request(fake_llm: FakeLLMServer, bad: dict) -> None:
    with pytest.raises(ConfigurationError) as info:
        make_ask(plugin_options={"max_lines": bad})("u-1", "hi")
    assert info.value.stage == "max_lines" and "max_lines" in str(info.value)
    assert "many" not in str(info.value)  # the value given is never echoed
    assert fake_llm.requests == []


def test_it_can_be_disabled_per_function(fake_llm: FakeLLMServer) -> None:
    ask = make_ask(plugin_options={"max_lines": {"limit": 1}}, disable=["max_lines"])
    assert ask("u-1", "a\nb") == "echo: a\nb"


# --- the pure parts, for every input --------------------------------------------------------

line_text = st.text(st.characters(blacklist_categories=["Cc", "Zl", "Zp", "Cs"], blacklist_characters="\x1c\x1d\x1e\x85"))


@given(st.lists(line_text, max_size=30), st.sampled_from(["\n", "\r\n", "\r", "\u2028"]))
def test_count_lines_counts_every_line_break(parts: list[str], newline: str) -> None:
    text = newline.join([*parts, "last"])  # a trailing line break does not start another line
    assert count_lines(text) == len(parts) + 1
    assert count_lines(text + newline) == len(parts) + 1


@given(st.lists(st.tuples(st.sampled_from(["system", "user", "assistant"]), st.integers(1, 20)), max_size=8))
def test_longest_user_message_is_the_maximum_over_user_turns(turns: list[tuple[str, int]]) -> None:
    messages = [text_message(role, lines(n)) for role, n in turns]
    user = [n for role, n in turns if role == "user"]
    found = longest_user_message(messages)
    if not user:
        assert found is None
    else:
        assert found is not None and found[1] == max(user)
        assert messages[found[0]].role == "user"
