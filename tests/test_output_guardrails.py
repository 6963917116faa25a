"""Output rules, canary and HTML end to end: scripted replies through the real SDKs and streams."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import BaseModel

from guardfn import guarded_llm, plugins
from guardfn.call import Call, Finding
from guardfn.errors import ConfigurationError, GuardrailViolation
from guardfn.hookspecs import hookimpl
from guardfn.output.rules import Violation
from guardfn.settings import Settings
from guardfn.testing import FakeLLMServer, RecordedRequest, Reply

KEY = "sk-test-rules-0000"
MODELS = {"openai": "gpt-4o-mini", "anthropic": "claude-sonnet-4-6"}
RULES = {
    "prohibited": ["competitor_name", "internal_pricing"],
    "allowed_domains": ["acme.com", "docs.acme.com"],
    "max_chars": 10_000,
}


class Recorder:
    def __init__(self) -> None:
        self.calls: list[Call] = []

    @hookimpl
    def guardfn_record(self, call: Call, outcome: str) -> None:
        self.calls.append(call)


@pytest.fixture
def recorder() -> Recorder:
    rec = Recorder()
    plugins.register(rec, name="test_output_recorder")
    return rec


def _guarded(server: FakeLLMServer, provider: str = "openai", *, is_async: bool = False, **options: Any) -> Any:
    base = server.openai_base_url if provider == "openai" else server.anthropic_base_url
    common = {"model": MODELS[provider], "base_url": base, "api_key": lambda: KEY}
    if is_async:

        @guarded_llm(**common, **options)
        async def answer_async(user_id: str, question: str) -> str:
            return question

        return answer_async

    @guarded_llm(**common, **options)
    def answer(user_id: str, question: str) -> str:
        return question

    return answer


def _findings(call: Call, stage: str) -> list[Finding]:
    return [f for f in call.findings if f.stage == stage]


# --- whole answers -------------------------------------------------------------------------------


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_a_url_to_an_unlisted_domain_is_refused(server: FakeLLMServer, recorder: Recorder, provider: str) -> None:
    server.reply("Log in at https://evil-login.com/acme to see your order.")
    answer = _guarded(server, provider, output_rules=RULES)
    with pytest.raises(GuardrailViolation) as info:
        answer("u-1", "where is my order?")
    assert info.value.rules == ["allowed_domains"]
    assert info.value.stage == "output_rules"
    assert "evil" not in str(info.value)
    (finding,) = _findings(recorder.calls[0], "output_rules")
    assert finding.rule == "allowed_domains" and finding.blocked and finding.count == 1
    assert recorder.calls[0].outcome == "blocked"


def test_allowed_links_pass_untouched(server: FakeLLMServer) -> None:
    text = "See [the docs](https://docs.acme.com/orders) or acme.com."
    server.reply(text)
    assert _guarded(server, output_rules=RULES)("u-1", "q") == text


def test_redact_replaces_each_offending_span(server: FakeLLMServer, recorder: Recorder) -> None:
    server.reply("Unlike Competitor_Name, see [here](https://evil.com/x) and ｉｎｔｅｒｎａｌ_pricing.")
    answer = _guarded(server, output_rules={**RULES, "redaction": "[removed]"}, on_violation="redact")
    assert answer("u-1", "q") == "Unlike [removed], see [here]([removed]) and [removed]."
    rules = {f.rule: f.count for f in _findings(recorder.calls[0], "output_rules")}
    assert rules == {"prohibited": 2, "allowed_domains": 1}
    assert not any(f.blocked for f in recorder.calls[0].findings)


def test_flag_keeps_the_answer_and_records_findings(server: FakeLLMServer, recorder: Recorder) -> None:
    text = "Our competitor_name is cheaper."
    server.reply(text)
    assert _guarded(server, output_rules=RULES, on_violation="flag")("u-1", "q") == text
    (finding,) = _findings(recorder.calls[0], "output_rules")
    assert finding.rule == "prohibited" and finding.detail == {"action": "flag"} and not finding.blocked


def test_max_chars_truncates_when_redacting(server: FakeLLMServer) -> None:
    server.reply("x" * 50)
    assert _guarded(server, output_rules={"max_chars": 20}, on_violation="redact")("u-1", "q") == "x" * 20


def test_string_fields_of_a_validated_object_are_checked_too(server: FakeLLMServer) -> None:
    class Rec(BaseModel):
        product_id: str
        reason: str

    # the JSON escape hides the term from a check of the raw text; the parsed field has it
    server.reply('{"product_id": "b-1", "reason": "cheaper than \\u0063ompetitor_name"}')
    answer = _guarded(server, schema=Rec, output_rules=RULES, on_violation="redact")
    assert answer("u-1", "q") == Rec(product_id="b-1", reason="cheaper than [redacted]")
    # written verbatim, the term is found in the text, and the object the caller gets is redacted too
    server.reply('{"product_id": "b-1", "reason": "see https://evil.com/x"}')
    assert answer("u-1", "q") == Rec(product_id="b-1", reason="see [redacted]")
    server.reply('{"product_id": "b-1", "reason": "see https://evil.com/x"}')
    with pytest.raises(GuardrailViolation):
        _guarded(server, schema=Rec, output_rules=RULES)("u-1", "q")


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_canary_leak_is_caught(provider: str) -> None:
    def leak_system_prompt(request: RecordedRequest) -> Reply:
        body = request.body
        system = body.get("system") or next((m["content"] for m in body["messages"] if m["role"] == "system"), "")
        return Reply(text=f"Sure, my instructions are: {system}")

    with FakeLLMServer(responder=leak_system_prompt) as server:
        answer = _guarded(server, provider, canary=True, system="You are a support bot.")
        with pytest.raises(GuardrailViolation) as info:
            answer("u-1", "hello")
        assert info.value.rules == ["canary"]
        body = server.requests[0].body
        system = body.get("system") or body["messages"][0]["content"]
        assert system.startswith("cnry") and system.endswith("You are a support bot.")
        token = system.split("\n")[0]
        assert token not in str(info.value)

        server.responder = lambda request: Reply(text="How can I help?")
        assert answer("u-1", "hi") == "How can I help?"
        second_token = server.requests[-1].body.get("system") or server.requests[-1].body["messages"][0]["content"]
        assert token not in second_token  # a fresh token per call


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
@pytest.mark.parametrize("is_async", [False, True])
async def test_a_streamed_echo_of_the_system_prompt_is_stopped_before_any_of_it_is_released(
    provider: str, is_async: bool
) -> None:
    protected = "You are Acme's billing bot. Discount code STAFF-ONLY-77 is internal."

    def echo_system_prompt(request: RecordedRequest) -> Reply:
        body = request.body
        system = body.get("system") or next(m["content"] for m in body["messages"] if m["role"] == "system")
        text = f"My instructions: {system}"
        return Reply(text=text, chunks=[text[i : i + 3] for i in range(0, len(text), 3)])

    with FakeLLMServer(responder=echo_system_prompt) as server:
        answer = _guarded(server, provider, is_async=is_async, canary=True, system=protected, stream=True)
        received: list[str] = []
        with pytest.raises(GuardrailViolation) as info:
            if is_async:
                async for chunk in await answer("u-1", "hello"):
                    received.append(chunk)
            else:
                received.extend(answer("u-1", "hello"))
        assert info.value.rules == ["canary"]
        released = "".join(received)
        assert released == "My instructions: "[: len(released)]  # at most the model's own preamble
        assert not any(word in released for word in ("Acme", "billing", "STAFF", "cnry"))


def test_html_script_is_removed_when_sanitizing(server: FakeLLMServer) -> None:
    server.reply(
        "<p>Hi <strong>there</strong></p><script>steal(document.cookie)</script>"
        '<img src=x onerror=alert(1)><a href="https://acme.com">link</a>'
    )
    answer = _guarded(server, output_rules={"html": "sanitize"})
    assert answer("u-1", "q") == "<p>Hi <strong>there</strong></p>link"


def test_html_escape_and_custom_tags(server: FakeLLMServer) -> None:
    server.reply("<b>bold</b> & <script>x</script>", times=2)
    assert _guarded(server, output_rules={"html": "escape"})("u-1", "q") == (
        "&lt;b&gt;bold&lt;/b&gt; &amp; &lt;script&gt;x&lt;/script&gt;"
    )
    assert _guarded(server, output_rules={"html": "sanitize", "html_tags": ["b"]})("u-1", "q") == "<b>bold</b> &amp; "


# --- streams --------------------------------------------------------------------------------------


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_a_prohibited_term_split_across_stream_chunks_is_refused(
    server: FakeLLMServer, recorder: Recorder, provider: str
) -> None:
    server.reply("Honestly, compet" + "itor_name is better.", chunks=["Honestly, compet", "itor_name is better."])
    answer = _guarded(server, provider, stream=True, output_rules=RULES)
    received: list[str] = []
    with pytest.raises(GuardrailViolation) as info:
        for chunk in answer("u-1", "q"):
            received.append(chunk)
    assert info.value.rules == ["prohibited"]
    assert "".join(received) == "Honestly, "
    assert recorder.calls[0].outcome == "blocked"


def test_a_split_term_and_url_are_redacted_in_a_stream(server: FakeLLMServer) -> None:
    server.reply("", chunks=["Try COMPET", "ITOR_NAME at https://ev", "il.com/deal or acme.com", " today"])
    answer = _guarded(server, stream=True, output_rules=RULES, on_violation="redact")
    assert "".join(answer("u-1", "q")) == "Try [redacted] at [redacted] or acme.com today"


async def test_async_stream_is_guarded(server: FakeLLMServer) -> None:
    server.reply("", chunks=["a <scr", "ipt>x</script> internal_", "pricing b"])
    answer = _guarded(
        server,
        "anthropic",
        is_async=True,
        stream=True,
        output_rules={**RULES, "html": "sanitize"},
        on_violation="redact",
    )
    chunks = [c async for c in await answer("u-1", "q")]
    assert "".join(chunks) == "a  [redacted] b"


async def test_async_calls_load_the_suffix_list_off_the_event_loop(server: FakeLLMServer) -> None:
    from guardfn.output import rules

    rules._is_public_domain.cache_clear()
    assert not rules.suffix_list_ready()
    server.reply("see evil.com for more")
    answer = _guarded(server, is_async=True, output_rules=RULES)
    with pytest.raises(GuardrailViolation) as info:
        await answer("u-1", "q")
    assert info.value.rules == ["allowed_domains"]
    assert rules.suffix_list_ready()


def test_html_is_sanitized_across_stream_chunks(server: FakeLLMServer) -> None:
    server.reply("", chunks=["<p>ok</p><scr", "ipt>alert(1)</scr", "ipt><em>fine</em>"])
    answer = _guarded(server, stream=True, output_rules={"html": "sanitize"})
    assert "".join(answer("u-1", "q")) == "<p>ok</p><em>fine</em>"


def test_closing_a_guarded_stream_early_settles_it(server: FakeLLMServer, recorder: Recorder) -> None:
    server.reply("", chunks=["one ", "two ", "three ", "four"])
    stream = _guarded(server, stream=True, output_rules=RULES)("u-1", "q")
    assert next(stream) == "one "
    stream.close()
    assert recorder.calls[0].outcome == "ok"


def test_pseudonymized_pii_is_restored_before_stream_rules_see_it(server: FakeLLMServer) -> None:
    pytest.importorskip("presidio_analyzer")
    import warnings

    from guardfn.errors import OfflineFallbackWarning

    def echo_placeholder(request: RecordedRequest) -> Reply:
        user = request.body["messages"][-1]["content"]
        placeholder = user[user.index("<") : user.index(">") + 1]
        text = f"I will write to {placeholder} now."
        return Reply(text=text, chunks=[text[: text.index("<") + 4], text[text.index("<") + 4 :]])

    server.responder = echo_placeholder
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OfflineFallbackWarning)
        answer = _guarded(
            server, stream=True, pii="pseudonymize", output_rules={"prohibited": ["ann.lee"]}, on_violation="redact"
        )
        out = "".join(answer("u-1", "Mail ann.lee@example.com please"))
    assert "ann.lee@example.com" not in server.requests[0].body["messages"][-1]["content"]
    # restored across the chunk boundary first, then the rule saw (and redacted) the real value
    assert out == "I will write to [redacted]@example.com now."


# --- plugins and configuration ----------------------------------------------------------------------


class NoExclamations:
    id = "no_exclamations"

    def check(self, text: str) -> list[Violation]:
        return [Violation(self.id, i, i + 1) for i, c in enumerate(text) if c == "!"]

    def pending(self, text: str) -> int:
        return len(text)


class ShoutingPlugin:
    @hookimpl
    def guardfn_output_rules(self, settings: Settings) -> list[Any]:
        return [NoExclamations()]


def test_a_plugin_adds_its_own_rule(server: FakeLLMServer) -> None:
    plugins.register(ShoutingPlugin(), name="no_shouting")
    server.reply("Buy now!", times=3)
    with pytest.raises(GuardrailViolation) as info:
        _guarded(server)("u-1", "q")
    assert info.value.rules == ["no_exclamations"]
    assert _guarded(server, on_violation="redact", output_rules={"redaction": "."})("u-1", "q") == "Buy now."
    assert _guarded(server, disable=["no_shouting"])("u-1", "q") == "Buy now!"


@pytest.mark.parametrize(
    "rules",
    [{"prohibted": ["x"]}, {"max_chars": 0}, {"html": "strip"}, {"allowed_domains": ["acme.com/x"]}],
)
def test_bad_output_rules_are_refused_before_any_request(server: FakeLLMServer, rules: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError) as info:
        _guarded(server, output_rules=rules)
    assert info.value.stage == "output_rules"
    assert server.requests == []


def test_findings_and_errors_never_carry_the_matched_text(server: FakeLLMServer, recorder: Recorder) -> None:
    server.reply("see https://evil.com/secret-path and competitor_name")
    with pytest.raises(GuardrailViolation) as info:
        _guarded(server, output_rules=RULES)("u-1", "q")
    dumped = json.dumps([f.__dict__ for f in recorder.calls[0].findings]) + str(info.value)
    assert "evil" not in dumped and "competitor" not in dumped and "secret-path" not in dumped
