"""guardfn-gemini through the real google-genai SDK against a loopback fake of the Gemini API."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest
from click.testing import CliRunner
from fake_gemini_api import FakeGeminiServer

import guardfn
from guardfn import ConfigurationError, ProviderAuthenticationError, ProviderError, guarded_llm, hookimpl
from guardfn.call import Call
from guardfn.cli import main as cli
from guardfn.settings import DEFAULT_MAX_TOKENS
from guardfn.testing import FakeLLMServer

KEY = "AIzaSyTEST-gemini-key-000000000000000001"
MODEL = "gemini-2.5-flash"


class Recorder:
    """Keeps every finished call (usage, retries, outcome) for assertions."""

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


def ask(gemini: FakeGeminiServer, key: Callable[[], str] | None = lambda: KEY, **options: Any) -> Any:
    if key is not None:
        options["api_key"] = key

    @guarded_llm(model=options.pop("model", MODEL), base_url=gemini.base_url, retry_backoff=0.01, **options)
    def answer(user_id: str, question: str) -> str:
        return f"Q: {question}"

    return answer


def test_gemini_models_are_routed_to_gemini_with_max_tokens_and_system(gemini: FakeGeminiServer, recorder: Recorder) -> None:
    gemini.reply("Paris.", usage=(11, 2))
    answer = ask(gemini, max_tokens=256, system="Be brief.", temperature=0.3)
    assert answer("u-1", "Capital of France?") == "Paris."
    (request,) = gemini.requests
    assert request.model == MODEL and request.path.endswith(":generateContent")
    assert request.headers["x-goog-api-key"] == KEY
    assert request.body["generationConfig"] == {"maxOutputTokens": 256, "temperature": 0.3}
    assert request.body["systemInstruction"]["parts"] == [{"text": "Be brief."}]
    assert request.body["contents"] == [{"role": "user", "parts": [{"text": "Q: Capital of France?"}]}]
    (call,) = recorder.calls
    assert call.provider == "gemini"
    assert (call.usage.prompt_tokens, call.usage.completion_tokens) == (11, 2)
    assert call.response is not None and call.response.finish_reason == "stop"


def test_cost_uses_gemini_prices(gemini: FakeGeminiServer, recorder: Recorder) -> None:
    gemini.reply("x", usage=(1_000_000, 100_000))
    ask(gemini, model="gemini-2.5-flash-lite-preview")("u-1", "hi")
    assert recorder.calls[0].cost_usd == pytest.approx(0.10 + 0.04)


def test_usd_budgets_count_gemini_usage(gemini: FakeGeminiServer, guardfn_memory_store: str) -> None:
    gemini.reply("x", usage=(1_200_000, 0))
    answer = ask(gemini, model="gemini-2.0-flash", max_tokens=10, limits={"usd_per_day": 0.10})
    answer("u-1", "hi")  # estimated at a fraction of a cent, settled at 0.12 USD (what Gemini reported)
    with pytest.raises(guardfn.BudgetExceeded) as info:
        answer("u-1", "hi")
    assert info.value.usage == pytest.approx(0.12)
    assert len(gemini.requests) == 1


def test_max_tokens_is_sent_even_when_the_decorator_gives_none(gemini: FakeGeminiServer) -> None:
    ask(gemini)("u-1", "hi")
    assert gemini.requests[0].body["generationConfig"]["maxOutputTokens"] == DEFAULT_MAX_TOKENS


def test_assistant_turns_are_sent_as_model_turns(gemini: FakeGeminiServer) -> None:
    @guarded_llm(model=MODEL, base_url=gemini.base_url, api_key=lambda: KEY)
    def chat(user_id: str) -> list[dict[str, str]]:
        return [
            {"role": "system", "content": "S"},
            {"role": "user", "content": "one"},
            {"role": "assistant", "content": "two"},
            {"role": "user", "content": "three"},
        ]

    assert chat("u-1") == "echo: three"
    body = gemini.requests[0].body
    assert [c["role"] for c in body["contents"]] == ["user", "model", "user"]
    assert body["systemInstruction"]["parts"] == [{"text": "S"}]


def test_other_models_still_go_to_openai(gemini: FakeGeminiServer, fake_llm: FakeLLMServer) -> None:
    @guarded_llm(model="gpt-4o-mini")
    def answer(q: str) -> str:
        return q

    assert answer("hi") == "echo: hi"
    assert len(fake_llm.requests) == 1 and gemini.requests == []


def test_provider_option_sends_any_model_to_gemini(gemini: FakeGeminiServer) -> None:
    ask(gemini, model="learnlm-2.0-flash", provider="gemini")("u-1", "hi")
    assert gemini.requests[0].model == "learnlm-2.0-flash"


def test_gemini_base_url_from_the_environment(gemini: FakeGeminiServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GEMINI_BASE_URL", gemini.base_url)

    @guarded_llm(model=MODEL, api_key=lambda: KEY)
    def answer(q: str) -> str:
        return q

    assert answer("hi") == "echo: hi"
    assert len(gemini.requests) == 1


def test_key_from_gemini_api_key_then_google_api_key(gemini: FakeGeminiServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOOGLE_API_KEY", "AIza-google-fallback-key-0000000000002")
    ask(gemini, key=None)("u-1", "hi")
    assert gemini.requests[-1].headers["x-goog-api-key"] == "AIza-google-fallback-key-0000000000002"
    monkeypatch.setenv("GEMINI_API_KEY", "AIza-gemini-env-key-000000000000000003")
    ask(gemini, key=None)("u-1", "hi")
    assert gemini.requests[-1].headers["x-goog-api-key"] == "AIza-gemini-env-key-000000000000000003"


def test_key_from_a_dotenv_file(gemini: FakeGeminiServer, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from guardfn.stages.env_keys import dotenv_values

    (tmp_path / ".env").write_text("GEMINI_API_KEY=AIza-dotenv-key-0000000000000000000004\n")
    monkeypatch.chdir(tmp_path)
    dotenv_values.cache_clear()
    ask(gemini, key=None)("u-1", "hi")
    assert gemini.requests[-1].headers["x-goog-api-key"] == "AIza-dotenv-key-0000000000000000000004"


def test_a_missing_key_names_the_variable_before_any_request(gemini: FakeGeminiServer) -> None:
    with pytest.raises(ConfigurationError, match="GEMINI_API_KEY"):
        ask(gemini, key=None)("u-1", "hi")
    assert gemini.requests == []


async def test_async_call(gemini: FakeGeminiServer, recorder: Recorder) -> None:
    gemini.reply("async answer", usage=(7, 3), thoughts=5)

    @guarded_llm(model=MODEL, base_url=gemini.base_url, api_key=lambda: KEY, max_tokens=64)
    async def answer(user_id: str, question: str) -> str:
        return question

    assert await answer("u-1", "hi") == "async answer"
    assert gemini.requests[0].body["generationConfig"]["maxOutputTokens"] == 64
    (call,) = recorder.calls
    assert (call.usage.prompt_tokens, call.usage.completion_tokens) == (7, 8)  # thinking tokens bill as output


def test_streaming(gemini: FakeGeminiServer, recorder: Recorder) -> None:
    gemini.reply("Hello there", chunks=["Hel", "lo ", "there"], usage=(4, 3))
    chunks = list(ask(gemini, stream=True, max_tokens=32)("u-1", "hi"))
    assert chunks == ["Hel", "lo ", "there"]
    (request,) = gemini.requests
    assert request.path.endswith(":streamGenerateContent") and request.query["alt"] == ["sse"]
    assert request.body["generationConfig"]["maxOutputTokens"] == 32
    (call,) = recorder.calls
    assert call.outcome == "ok"
    assert (call.usage.prompt_tokens, call.usage.completion_tokens) == (4, 3)


async def test_async_streaming(gemini: FakeGeminiServer, recorder: Recorder) -> None:
    gemini.reply("abcdef", chunks=["ab", "cd", "ef"], usage=(2, 2))

    @guarded_llm(model=MODEL, base_url=gemini.base_url, api_key=lambda: KEY, stream=True)
    async def answer(user_id: str, question: str) -> str:
        return question

    stream = await answer("u-1", "hi")
    assert [chunk async for chunk in stream] == ["ab", "cd", "ef"]
    (call,) = recorder.calls
    assert call.usage.total_tokens == 4 and call.outcome == "ok"


def test_transient_errors_are_retried_with_backoff(gemini: FakeGeminiServer, recorder: Recorder) -> None:
    gemini.fail(503)
    gemini.fail(429, retry_delay="0.05s", message="quota")
    gemini.reply("finally")
    assert ask(gemini, retries=2)("u-1", "hi") == "finally"
    assert len(gemini.requests) == 3
    assert recorder.calls[0].retries == 2


def test_retry_after_longer_than_the_ceiling_is_not_waited_for(gemini: FakeGeminiServer) -> None:
    gemini.fail(429, retry_after=120, message="slow down")
    with pytest.raises(ProviderError) as info:
        ask(gemini, retries=3, retry_max_delay=1)("u-1", "hi")
    assert info.value.status_code == 429 and info.value.retryable
    assert len(gemini.requests) == 1


def test_retries_are_bounded(gemini: FakeGeminiServer) -> None:
    gemini.fail(500, times=5)
    with pytest.raises(ProviderError) as info:
        ask(gemini, retries=1)("u-1", "hi")
    assert info.value.stage == "gemini" and info.value.status_code == 500
    assert len(gemini.requests) == 2


def test_timeouts_are_retried(gemini: FakeGeminiServer) -> None:
    gemini.reply("too late", delay=1.0)
    gemini.reply("in time")
    assert ask(gemini, timeout=0.2, retries=1)("u-1", "hi") == "in time"


def test_client_errors_are_not_retried_and_keys_are_scrubbed(gemini: FakeGeminiServer) -> None:
    gemini.fail(400, message=f"contents is empty; your key {KEY} was used")
    with pytest.raises(ProviderError) as info:
        ask(gemini)("u-1", "hi")
    err = info.value
    assert err.status_code == 400 and not err.retryable
    assert KEY not in str(err) and KEY not in repr(err.to_dict())
    assert "****0001" in str(err)
    assert len(gemini.requests) == 1


def test_an_invalid_key_is_an_authentication_error_and_a_rotated_key_is_picked_up(gemini: FakeGeminiServer) -> None:
    keys = iter(["AIza-old-key-000000000000000000000005", "AIza-new-key-000000000000000000000006"])
    gemini.fail(400, message="API key not valid. Please pass a valid API key.", reason="API_KEY_INVALID")
    assert ask(gemini, key=lambda: next(keys))("u-1", "hi") == "echo: Q: hi"
    assert [r.headers["x-goog-api-key"][-4:] for r in gemini.requests] == ["0005", "0006"]


def test_a_rejected_key_raises_provider_authentication_error(gemini: FakeGeminiServer) -> None:
    gemini.fail(403, message="permission denied", times=2)
    with pytest.raises(ProviderAuthenticationError):
        ask(gemini)("u-1", "hi")


def test_an_unreadable_answer_is_a_provider_error(gemini: FakeGeminiServer) -> None:
    gemini.bad_json()
    with pytest.raises(ProviderError) as info:
        ask(gemini)("u-1", "hi")
    assert info.value.stage == "gemini"


def test_an_error_in_the_middle_of_a_stream_is_a_scrubbed_provider_error(gemini: FakeGeminiServer) -> None:
    gemini.fail_mid_stream("abcdefghi", status=500, message=f"backend crashed near {KEY}")
    stream = ask(gemini, stream=True)("u-1", "hi")
    got: list[str] = []
    with pytest.raises(ProviderError) as info:
        for chunk in stream:
            got.append(chunk)
    assert got == ["abc"]
    assert KEY not in str(info.value)


def test_finish_reasons_use_guardfn_words(gemini: FakeGeminiServer, recorder: Recorder) -> None:
    gemini.reply("cut", finish_reason="MAX_TOKENS")
    gemini.reply("", blocked="SAFETY")
    answer = ask(gemini)
    answer("u-1", "a")
    assert answer("u-1", "b") == ""
    reasons = [c.response.finish_reason for c in recorder.calls if c.response is not None]
    assert reasons == ["length", "content_filter"]


def test_plugins_command_lists_the_distribution() -> None:
    result = CliRunner().invoke(cli, ["plugins", "--json"])
    assert result.exit_code == 0, result.output
    listed = {p["name"]: p for p in json.loads(result.output)}
    gemini = listed["gemini"]
    assert gemini["source"] == "entrypoint"
    assert gemini["distribution"] == "guardfn-gemini" and gemini["version"]
    assert set(gemini["hooks"]) == {
        "guardfn_call_model", "guardfn_model_price", "guardfn_resolve_api_key", "guardfn_select_provider"
    }


def test_importing_the_plugin_does_not_import_the_sdk() -> None:
    code = "import sys, guardfn_gemini.provider; print('google.genai' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
