"""Key sources: ``<scheme>:<secret>[#field]``, ``{env}`` / ``{provider}``, and where they are configured."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from guardfn import ConfigurationError, guarded_llm
from guardfn.keys import key_source_for, key_source_var, parse_key_source
from guardfn.settings import build_settings
from guardfn.stages import env_keys
from guardfn.testing import FakeLLMServer


@pytest.fixture(autouse=True)
def _no_key_source_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("GUARDFN_ENV", "GUARDFN_KEY_SOURCE", "GUARDFN_OPENAI_KEY_SOURCE", "GUARDFN_ANTHROPIC_KEY_SOURCE"):
        monkeypatch.delenv(name, raising=False)


def test_parse_expands_env_and_provider_and_splits_the_field() -> None:
    source = parse_key_source("aws-secretsmanager:{env}/{provider}/keys#api_key", provider="openai", env="prod")
    assert (source.scheme, source.ref, source.field) == ("aws-secretsmanager", "prod/openai/keys", "api_key")
    assert source.describe() == "aws-secretsmanager:prod/openai/keys#api_key"
    arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/openai-AbCdEf"
    assert parse_key_source(f"aws-secretsmanager:{arn}", provider="openai", env=None).ref == arn


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("prod/openai/api-key", "is not '<scheme>:<secret>"),
        ("aws-secretsmanager:", "is not '<scheme>:<secret>"),
        ("aws-secretsmanager:#field", "names no secret"),
        ("aws-secretsmanager:prod/key#", "names no secret"),
        ("aws-secretsmanager:{env}/openai", "uses {env} but no environment is set"),
        ("aws-secretsmanager:{region}/openai", "unknown placeholder {region}"),
    ],
)
def test_malformed_sources_are_refused_with_the_reason(text: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message.replace("{", r"\{").replace("}", r"\}")) as info:
        parse_key_source(text, provider="openai", env=None, origin="GUARDFN_OPENAI_KEY_SOURCE")
    assert "GUARDFN_OPENAI_KEY_SOURCE" in info.value.reason


_ID = st.text(st.sampled_from("abcdefghijklmnopqrstuvwxyzABCDEFGHIJ0123456789/_+=.@-:"), min_size=1, max_size=60)


@given(ref=_ID.filter(lambda t: t.strip() == t), field=st.none() | _ID.filter(lambda t: t.strip() == t))
def test_any_secret_id_and_field_round_trip(ref: str, field: str | None) -> None:
    text = f"aws-secretsmanager:{ref}" + (f"#{field}" if field else "")
    source = parse_key_source(text, provider="openai", env=None)
    assert (source.ref, source.field) == (ref, field)
    assert source.describe() == text


@given(env=_ID.filter(lambda t: t.strip() == t), provider=st.sampled_from(["openai", "anthropic", "my-llm"]))
def test_placeholders_expand_everywhere(env: str, provider: str) -> None:
    source = parse_key_source("vault:{env}/{provider}#{provider}", provider=provider, env=env)
    assert (source.scheme, source.ref, source.field) == ("vault", f"{env}/{provider}", provider)


def test_where_a_source_is_configured(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    settings = build_settings({}, {})
    assert key_source_for("openai", settings) is None
    assert key_source_var("my-llm") == "GUARDFN_MY_LLM_KEY_SOURCE"

    # .env, then the environment, then the key_source= option: the most specific wins
    (tmp_path / ".env").write_text("GUARDFN_OPENAI_KEY_SOURCE=aws-secretsmanager:from-dotenv\nGUARDFN_ENV=staging\n")
    monkeypatch.chdir(tmp_path)
    env_keys.dotenv_values.cache_clear()
    settings = build_settings({}, {})
    assert settings.env == "staging"  # GUARDFN_ENV is read from .env as well
    source = key_source_for("openai", settings)
    assert source is not None and (source.ref, source.origin) == ("from-dotenv", "GUARDFN_OPENAI_KEY_SOURCE")
    assert key_source_for("anthropic", settings) is None

    monkeypatch.setenv("GUARDFN_OPENAI_KEY_SOURCE", "aws-secretsmanager:{env}/from-env")
    source = key_source_for("openai", build_settings({}, {}))
    assert source is not None and source.ref == "staging/from-env"

    settings = build_settings({}, {"key_source": "aws-secretsmanager:{env}/{provider}/svc", "env": "prod"})
    source = key_source_for("anthropic", settings)
    assert source is not None and (source.ref, source.origin) == ("prod/anthropic/svc", "key_source")


def test_a_malformed_key_source_fails_when_decorated_before_any_request() -> None:
    with FakeLLMServer() as server:
        with pytest.raises(ConfigurationError, match="GUARDFN_ENV"):

            @guarded_llm(model="gpt-4o-mini", base_url=server.openai_base_url, key_source="aws-secretsmanager:{env}/x")
            def ask(q: str) -> str:
                return q

        assert server.requests == []
