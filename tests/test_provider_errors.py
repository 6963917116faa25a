"""What a provider failure shows: status, type and code, never the key, prompt text or PII it echoed."""

from __future__ import annotations

import logging
from typing import Any

import anthropic
import pytest

from guardfn import ConfigurationError, ProviderAuthenticationError, ProviderError, guarded_llm
from guardfn.keys import scrub
from guardfn.testing import FakeLLMServer

KEY = "sk-test-provider-errors-00000000"
AZURE_KEY = "3f9a1c0b7d2e4f6a8b0c1d2e3f4a5b6c"  # 32 hex characters: no provider key shape
EMAIL = "jane.doe@example.org"
SECRET_WORDS = "saffron-periwinkle-marmalade"


def _ask(server: FakeLLMServer, provider: str = "openai", **options: Any) -> Any:
    base = server.openai_base_url if provider == "openai" else server.anthropic_base_url
    model = "gpt-4o-mini" if provider == "openai" else "claude-haiku-4-5"
    options.setdefault("api_key", lambda: KEY)
    options.setdefault("retries", 0)

    @guarded_llm(model=model, base_url=base, **options)
    def ask(user_id: str, q: str) -> str:
        return q

    return ask


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_an_echoed_email_and_prompt_text_never_reach_the_message(server: FakeLLMServer, provider: str) -> None:
    echoed = f"'{EMAIL}' is not allowed in \"{SECRET_WORDS} and more\"; call 212 555 0199"
    server.fail(400, message=echoed)
    with pytest.raises(ProviderError) as info:
        _ask(server, provider)("u-1", f"{SECRET_WORDS} {EMAIL}")
    err = info.value
    shown = str(err) + repr(err) + err.reason + str(err.to_dict())
    assert EMAIL not in shown and SECRET_WORDS not in shown and "0199" not in shown
    assert err.status_code == 400 and err.error_type == "invalid_request_error"
    assert "HTTP 400" in err.reason and "invalid_request_error" in err.reason
    assert "is not allowed" in err.reason  # what went wrong stays readable
    assert err.provider_message == echoed  # kept raw only on the attribute documented as unsafe


def test_openai_error_code_and_param_are_kept(server: FakeLLMServer) -> None:
    server.fail(429, message="Rate limit reached for requests")
    with pytest.raises(ProviderError) as info:
        _ask(server)("u-1", "hi")
    assert info.value.error_code == "rate_limit_exceeded"
    assert "code rate_limit_exceeded" in info.value.reason


def test_a_key_of_any_shape_is_masked_when_a_provider_echoes_it(server: FakeLLMServer) -> None:
    server.fail(401, message=f"Access denied due to invalid subscription key {AZURE_KEY}.")
    with pytest.raises(ProviderAuthenticationError) as info:
        _ask(server, api_key=lambda: AZURE_KEY)("u-1", "hi")
    shown = str(info.value)
    assert AZURE_KEY not in shown and AZURE_KEY[:-4] not in shown
    assert scrub(f"key {AZURE_KEY} refused", [AZURE_KEY]) == f"key ****{AZURE_KEY[-4:]} refused"


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_bad_json_from_provider_is_a_retryable_provider_error(server: FakeLLMServer, provider: str) -> None:
    server.bad_json(times=2)
    server.reply("fine")
    assert _ask(server, provider, retries=2, retry_backoff=0)("u-1", "hi") == "fine"  # retried like a 5xx
    server.bad_json(times=1)
    with pytest.raises(ProviderError) as info:
        _ask(server, provider)("u-1", "hi")
    assert type(info.value) is ProviderError and info.value.retryable
    assert info.value.error_type == "invalid_response_body"


# --- keys ---------------------------------------------------------------------------------------


def test_a_key_read_from_a_file_with_a_trailing_newline_is_stripped(
    server: FakeLLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", f"  {KEY}\n")
    assert _ask(server, api_key=None)("u-1", "hi") == "echo: hi"
    assert server.requests[-1].headers["authorization"] == f"Bearer {KEY}"


@pytest.mark.parametrize("bad", [f"{KEY[:10]} {KEY[10:]}", f"{KEY}\x00x", f"{KEY[:12]}é{KEY[12:]}", f"{KEY}\nX-Evil: 1"])
def test_a_key_that_cannot_go_in_a_header_is_refused_masked(
    server: FakeLLMServer, caplog: pytest.LogCaptureFixture, bad: str
) -> None:
    caplog.set_level(logging.DEBUG)
    with pytest.raises(ConfigurationError) as info:
        _ask(server, api_key=lambda: bad)("u-1", "hi")
    assert info.value.stage == "api_key" and "HTTP header" in info.value.reason
    assert KEY[:-4] not in str(info.value) and KEY[:-4] not in caplog.text
    assert server.requests == []


# --- the SDKs' DEBUG logs ---------------------------------------------------------------------


def test_sdk_debug_logs_carry_no_prompt_text_during_a_guarded_call(
    server: FakeLLMServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    # the control: the Anthropic SDK on its own logs the request body at DEBUG
    raw = anthropic.Anthropic(api_key=KEY, base_url=server.anthropic_base_url, max_retries=0)
    raw.messages.create(model="claude-haiku-4-5", max_tokens=5, messages=[{"role": "user", "content": SECRET_WORDS}])
    assert SECRET_WORDS in caplog.text
    caplog.clear()
    for provider in ("anthropic", "openai"):
        _ask(server, provider)("u-1", f"tell me about {SECRET_WORDS}")
        _ask(server, provider, stream=True)("u-1", f"stream {SECRET_WORDS}")
    server.bad_json()
    with pytest.raises(ProviderError):
        _ask(server, "anthropic")("u-1", SECRET_WORDS)
    assert "Request options" in caplog.text  # the SDK's lines stay, their content does not
    assert SECRET_WORDS not in caplog.text
