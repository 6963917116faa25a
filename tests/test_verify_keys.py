"""``guardfn.verify.verify_keys`` and ``guardfn keys check``: real SDKs against the loopback server."""

from __future__ import annotations

import json
import logging
import re
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from guardfn import ConfigurationError, ProviderAuthenticationError, ProviderError, guarded_llm
from guardfn.cli import main
from guardfn.testing import FakeLLMServer
from guardfn.verify import model_listed, verify_keys


def fake_key(tag: str) -> str:
    return "sk-proj-" + (tag + uuid.uuid4().hex + uuid.uuid4().hex)[:48]


@pytest.fixture
def env(server: FakeLLMServer, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Both providers pointed at the fake server through the SDKs' own variables, with keys."""
    for name in ("GUARDFN_OPENAI_KEY_SOURCE", "GUARDFN_ANTHROPIC_KEY_SOURCE", "GUARDFN_KEY_SOURCE", "GUARDFN_MODEL"):
        monkeypatch.delenv(name, raising=False)
    values = {
        "OPENAI_BASE_URL": server.openai_base_url,
        "ANTHROPIC_BASE_URL": server.anthropic_base_url,
        "OPENAI_API_KEY": fake_key("oa"),
        "ANTHROPIC_API_KEY": "sk-ant-api03-" + uuid.uuid4().hex + uuid.uuid4().hex,
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


def model_requests(server: FakeLLMServer) -> list[Any]:
    return [r for r in server.requests if r.path == "/v1/models"]


# --- verify_keys ---------------------------------------------------------------------------


def test_all_well_lists_models_once_and_sends_no_completion(server: FakeLLMServer, env: dict[str, str]) -> None:
    report = verify_keys()
    assert report.ok
    (check,) = report.checks
    assert (check.provider, check.source, check.detail) == ("openai", "env_keys", "OPENAI_API_KEY")
    assert check.key == "****" + env["OPENAI_API_KEY"][-4:]
    assert check.models == ["gpt-4o-mini"] and check.missing == [] and check.listed == len(server.model_ids)
    assert [(r.method, r.path) for r in server.requests] == [("GET", "/v1/models")]  # no tokens spent
    assert server.requests[0].headers["authorization"] == f"Bearer {env['OPENAI_API_KEY']}"
    assert env["OPENAI_API_KEY"] not in json.dumps(report.to_dict())


def test_missing_key_is_a_configuration_error_before_any_request(
    server: FakeLLMServer, env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    with pytest.raises(ConfigurationError, match="ANTHROPIC_API_KEY is not set"):
        verify_keys(models=["claude-sonnet-4-6"])
    assert server.requests == []


def test_refused_key_names_only_its_suffix(
    server: FakeLLMServer, env: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    key = env["OPENAI_API_KEY"]
    server.fail(401, message=f"Incorrect API key provided: {key}. You can find your API key at ...")
    with pytest.raises(ProviderAuthenticationError) as info:
        verify_keys()
    err = info.value
    assert err.status_code == 401 and err.stage == "keys"
    assert "****" + key[-4:] in str(err) and "HTTP 401" in str(err)
    assert key not in str(err) and key[:20] not in str(err) and key not in caplog.text


def test_a_model_the_configuration_needs_must_be_listed(server: FakeLLMServer, env: dict[str, str]) -> None:
    server.model_ids = ["gpt-4o", "gpt-4o-mini"]
    with pytest.raises(ConfigurationError, match=r"model\(s\) gpt-5-nano not available to the openai key \*\*\*\*"):
        verify_keys(models=["gpt-4o", "gpt-5-nano"])
    assert len(model_requests(server)) == 1  # one key and endpoint: one request for both models


def test_anthropic_aliases_match_dated_ids(server: FakeLLMServer, env: dict[str, str]) -> None:
    server.model_ids = ["claude-sonnet-4-5-20250929", "claude-3-5-haiku-20241022"]
    report = verify_keys(
        models=["claude-sonnet-4-5", "claude-3-5-haiku-latest", "claude-sonnet-4-5-20250929", "claude-opus-4-1"],
        raise_errors=False,
    )
    (check,) = report.checks
    assert check.provider == "anthropic" and check.missing == ["claude-opus-4-1"]
    headers = model_requests(server)[0].headers
    assert env["ANTHROPIC_API_KEY"] in (headers.get("x-api-key"), headers.get("authorization", "")[7:])
    assert not model_listed("openai", "gpt-4o", {"gpt-4o-2024-08-06"})


def test_guarded_functions_are_grouped_by_provider_endpoint_and_key(server: FakeLLMServer, env: dict[str, str]) -> None:
    other = fake_key("svc")

    @guarded_llm(model="gpt-4o-mini")
    def a(q: str) -> str:
        return q

    @guarded_llm(model="gpt-4o")
    def b(q: str) -> str:
        return q

    @guarded_llm(model="gpt-4o", api_key=lambda: other)
    def c(q: str) -> str:
        return q

    @guarded_llm(model="claude-haiku-4-5")
    def d(q: str) -> str:
        return q

    report = verify_keys([a, b, c, d])
    assert report.ok
    summary = [(ch.provider, ch.source, ch.key, ch.models) for ch in report.checks]
    assert summary == [
        ("openai", "env_keys", "****" + env["OPENAI_API_KEY"][-4:], ["gpt-4o-mini", "gpt-4o"]),
        ("openai", "api_key", "****" + other[-4:], ["gpt-4o"]),
        ("anthropic", "env_keys", "****" + env["ANTHROPIC_API_KEY"][-4:], ["claude-haiku-4-5"]),
    ]
    assert len(model_requests(server)) == 3


def test_every_failure_is_reported_when_not_raising(server: FakeLLMServer, env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    report = verify_keys(models=["gpt-4o", "gpt-9", "claude-haiku-4-5"], raise_errors=False)
    assert not report.ok
    reasons = sorted(e.reason for e in report.errors)
    assert len(reasons) == 2
    assert "ANTHROPIC_API_KEY is not set" in reasons[1] and "model(s) gpt-9 not available" in reasons[0]
    assert [(c.provider, c.ok) for c in report.checks] == [("openai", False), ("anthropic", False)]
    with pytest.raises(ConfigurationError):
        report.raise_for_errors()


def test_an_unreachable_provider_is_a_provider_error(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    import guardfn

    guardfn.configure(retries=0)  # verify_keys honours retries=; no backoff in this test
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")  # discard port: refused
    with pytest.raises(ProviderError, match=re.escape("could not be reached at http://127.0.0.1:9/v1")) as info:
        verify_keys()
    assert not isinstance(info.value, ProviderAuthenticationError)


# --- guardfn keys check ---------------------------------------------------------------------


def run(*args: str) -> Any:
    return CliRunner().invoke(main, ["keys", "check", *args], catch_exceptions=False)


def test_cli_exit_0_when_all_is_well(server: FakeLLMServer, env: dict[str, str]) -> None:
    result = run("--model", "gpt-4o", "--model", "claude-sonnet-4-6")
    assert result.exit_code == 0, result.output
    assert "ok   openai" in result.output and "ok   anthropic" in result.output
    assert "****" + env["OPENAI_API_KEY"][-4:] in result.output
    assert env["OPENAI_API_KEY"] not in result.output and env["ANTHROPIC_API_KEY"] not in result.output


@pytest.mark.parametrize("failure", ["missing key", "401", "model not listed"])
def test_cli_exits_non_zero_with_a_clear_message(
    server: FakeLLMServer, env: dict[str, str], monkeypatch: pytest.MonkeyPatch, failure: str
) -> None:
    key = env["OPENAI_API_KEY"]
    if failure == "missing key":
        monkeypatch.delenv("OPENAI_API_KEY")
        expected = "no API key for provider 'openai': OPENAI_API_KEY is not set"
    elif failure == "401":
        server.fail(401, message=f"Incorrect API key provided: {key}.")
        expected = f"openai refused the key ****{key[-4:]}"
    else:
        server.model_ids = ["gpt-4o"]
        expected = "model(s) gpt-4o-mini not available"
    result = run()
    assert result.exit_code == 1
    assert "FAIL openai" in result.output and expected in result.output
    if failure == "missing key":
        assert "(no key)" in result.output and "not listed" not in result.output
    assert "1 of 1 key check(s) failed" in result.output
    assert key not in result.output


def test_cli_json_and_guarded_functions_from_a_module(
    server: FakeLLMServer, env: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    module = f"app_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{module}.py").write_text(
        textwrap.dedent(
            """
            from guardfn import guarded_llm

            @guarded_llm(model="gpt-4o")
            def summarize(text: str) -> str:
                return text

            @guarded_llm(model="claude-haiku-4-5")
            def classify(text: str) -> str:
                return text

            NOT_GUARDED = len
            """
        )
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    result = run("--function", module, "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["ok"] and [c["models"] for c in data["checks"]] == [["gpt-4o"], ["claude-haiku-4-5"]]

    result = run("--function", f"{module}:NOT_GUARDED")
    assert result.exit_code == 2 and "is not a @guarded_llm function" in result.output


# --- an AWS Secrets Manager source, checked end to end -----------------------------------------


@pytest.fixture
def moto_url(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    for name, value in {
        "AWS_ENDPOINT_URL_SECRETS_MANAGER": url, "AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing", "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": str(tmp_path / "none"), "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
    }.items():
        monkeypatch.setenv(name, value)
    yield url
    server.stop()


def test_cli_checks_a_key_kept_in_aws_secrets_manager(
    server: FakeLLMServer, env: dict[str, str], moto_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import boto3

    key = fake_key("aws")
    boto3.client("secretsmanager", endpoint_url=moto_url, region_name="us-east-1").create_secret(
        Name="prod/openai/api-key", SecretString=json.dumps({"api_key": key})
    )
    monkeypatch.setenv("GUARDFN_ENV", "prod")
    monkeypatch.setenv("GUARDFN_OPENAI_KEY_SOURCE", "aws-secretsmanager:{env}/openai/api-key#api_key")
    result = run()
    assert result.exit_code == 0, result.output
    assert f"****{key[-4:]}  aws_secrets: aws-secretsmanager:prod/openai/api-key#api_key" in result.output
    assert server.requests[-1].headers["authorization"] == f"Bearer {key}"

    monkeypatch.setenv("GUARDFN_ENV", "staging")  # no such secret there
    result = run()
    assert result.exit_code == 1
    assert "staging/openai/api-key" in result.output and "ResourceNotFoundException" in result.output
    assert key not in result.output
