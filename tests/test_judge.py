"""The LLM judge over the fake provider: output policies in words, its own guarded call, the cache."""

from __future__ import annotations

import json
from typing import Any

import pytest

from guardfn import ConfigurationError, GuardrailViolation, guarded_llm, hookimpl, register
from guardfn.call import Call
from guardfn.testing import FakeLLMServer, RecordedRequest, Reply

KEY = "sk-test-judge-0000000000000000"
POLICY = "Never give medical dosages."


def judged(request: RecordedRequest) -> bool:
    """Whether a request is the judge's (its system prompt says so)."""
    return "compliance checker" in json.dumps(request.body) or "security classifier" in json.dumps(request.body)


@pytest.fixture
def calls() -> list[Call]:
    seen: list[Call] = []

    class Keep:
        @hookimpl
        def guardfn_record(self, call: Call, outcome: str) -> None:
            seen.append(call)

    register(Keep(), name="keep_judge_calls")
    return seen


def ask(server: FakeLLMServer, **options: Any) -> Any:
    options.setdefault("store", "memory://judge-tests")

    @guarded_llm(model="gpt-4o-mini", base_url=server.openai_base_url, api_key=lambda: KEY,
                 output_policy=POLICY, **options)  # fmt: skip
    def doctor(user_id: str, question: str) -> str:
        return question

    return doctor


@pytest.mark.parametrize("is_async", [False, True])
async def test_an_answer_that_breaks_the_policy_is_refused(
    server: FakeLLMServer, calls: list[Call], is_async: bool
) -> None:
    server.reply("Take 800 mg of ibuprofen every 4 hours.")
    server.reply('{"violates": true, "confidence": 0.95}')
    if is_async:

        @guarded_llm(model="gpt-4o-mini", base_url=server.openai_base_url, api_key=lambda: KEY,
                     output_policy=POLICY, store="memory://judge-tests-async")  # fmt: skip
        async def doctor_async(user_id: str, question: str) -> str:
            return question

        with pytest.raises(GuardrailViolation) as info:
            await doctor_async("u-1", "how much ibuprofen?")
    else:
        with pytest.raises(GuardrailViolation) as info:
            ask(server)("u-1", "how much ibuprofen?")
    assert info.value.rules == ["output_policy"] and "800" not in str(info.value)
    judge_request = server.requests[1]
    assert judged(judge_request) and judge_request.body["response_format"]["json_schema"]["name"] == "PolicyVerdict"
    sent = json.dumps(judge_request.body)
    assert POLICY in sent and "800 mg" in sent  # the answer travels fenced as data
    functions = [c.function for c in calls]
    assert any(f.endswith(".output_policy") for f in functions)  # the judge is a call of its own


def test_an_answer_within_the_policy_passes_and_the_verdict_is_cached(server: FakeLLMServer) -> None:
    server.reply("Please ask your pharmacist.")
    server.reply('{"violates": false, "confidence": 0.9}')
    server.reply("Please ask your pharmacist.")
    doctor = ask(server)
    assert doctor("u-1", "how much?") == "Please ask your pharmacist."
    assert doctor("u-1", "how much?") == "Please ask your pharmacist."
    assert sum(judged(r) for r in server.requests) == 1  # the second verdict came from the cache


def test_the_judge_sees_redacted_text_only(server: FakeLLMServer) -> None:
    server.reply("Mail jane.doe@example.org about the dosage.")
    server.reply('{"violates": false, "confidence": 0.8}')
    ask(server, pii="redact")("u-1", "q")
    (judge_request,) = [r for r in server.requests if judged(r)]
    assert "jane.doe@example.org" not in json.dumps(judge_request.body)


def test_the_judges_tokens_count_against_the_users_limits(server: FakeLLMServer) -> None:
    server.reply("fine")
    server.reply('{"violates": false, "confidence": 0.8}')
    doctor = ask(server, limits={"requests_per_minute": 2}, store="memory://judge-limits")
    doctor("u-9", "q")
    with pytest.raises(Exception) as info:
        doctor("u-9", "another")
    assert type(info.value).__name__ == "RateLimitExceeded"  # the answer and the judge used both requests


def test_flag_records_and_keeps_the_answer(server: FakeLLMServer, calls: list[Call]) -> None:
    server.reply("Take two tablets.")
    server.reply('{"violates": true, "confidence": 0.7}')
    assert ask(server, on_violation="flag", store="memory://judge-flag")("u-1", "q") == "Take two tablets."
    finding = next(f for c in calls for f in c.findings if f.kind == "output_policy")
    assert finding.detail["violates"] is True and not finding.blocked


def test_a_policy_cannot_judge_a_stream() -> None:
    with pytest.raises(ConfigurationError, match="stream"):
        ask(FakeLLMServer(), stream=True)


def test_a_judge_that_cannot_answer_in_shape_is_reasked_then_refuses(server: FakeLLMServer) -> None:
    server.reply("ok")
    server.responder = lambda request: Reply(text="I think it is fine")  # never JSON
    with pytest.raises(Exception) as info:
        ask(server, store="memory://judge-bad")("u-1", "q")
    assert type(info.value).__name__ == "OutputValidationError"
