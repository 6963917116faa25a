"""The AWS Secrets Manager key source, against moto's Secrets Manager API on loopback.

Every guarded call goes through the real openai SDK to the fake LLM server; every key
fetch goes through boto3 over a real socket to ``moto.server.ThreadedMotoServer``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from guardfn import ConfigurationError, ProviderAuthenticationError, guarded_llm
from guardfn.stages import aws_secrets
from guardfn.testing import FakeLLMServer, RecordedRequest, Reply, echo

REGION = "eu-west-1"


def fake_key(tag: str) -> str:
    """A key shaped like a real OpenAI project key, built at run time (never a literal in source)."""
    return "sk-proj-" + (tag + uuid.uuid4().hex + uuid.uuid4().hex)[:48]


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def aws(moto_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    """AWS settings pointing boto3 at moto; returns a Secrets Manager client for set-up."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "GUARDFN_ENV", "GUARDFN_KEY_SOURCE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", moto_url)
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return boto3.client(
        "secretsmanager", region_name=REGION, endpoint_url=moto_url, aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


@pytest.fixture
def fetches(aws: Any) -> Iterator[list[int]]:
    """The thread id of every GetSecretValue request guardfn's own client sends."""
    seen: list[int] = []
    client = aws_secrets.secrets_client()

    def record(**_: Any) -> None:
        seen.append(threading.get_ident())

    client.meta.events.register("before-send.secrets-manager.GetSecretValue", record)
    yield seen
    client.meta.events.unregister("before-send.secrets-manager.GetSecretValue", record)


def secret(aws: Any, value: str | bytes, prefix: str = "svc") -> str:
    name = f"{prefix}/{uuid.uuid4().hex[:8]}/openai/api-key"
    if isinstance(value, bytes):
        aws.create_secret(Name=name, SecretBinary=value)
    else:
        aws.create_secret(Name=name, SecretString=value)
    return name


def bearer(request: RecordedRequest) -> str:
    return request.headers["authorization"].removeprefix("Bearer ")


# --- resolution -------------------------------------------------------------------------


def test_key_comes_from_the_secret_named_in_the_provider_variable(
    aws: Any, server: FakeLLMServer, monkeypatch: pytest.MonkeyPatch, fetches: list[int]
) -> None:
    key = fake_key("a")
    monkeypatch.setenv("GUARDFN_OPENAI_KEY_SOURCE", f"aws-secretsmanager:{secret(aws, key)}")
    monkeypatch.setenv("OPENAI_API_KEY", fake_key("env"))  # the secret manager wins over the environment

    @guarded_llm(model="gpt-4o-mini", base_url=server.openai_base_url)
    def ask(q: str) -> str:
        return q

    assert ask("hi") == "echo: hi"
    assert ask("again") == "echo: again"
    assert [bearer(r) for r in server.requests] == [key, key]
    assert len(fetches) == 1  # the second call reused the in-memory cache
    assert fetches == [threading.get_ident()]  # sync call: fetched on the caller's thread


def test_json_field_and_binary_secrets(aws: Any, server: FakeLLMServer) -> None:
    key_a, key_b = fake_key("json"), fake_key("bin")
    doc = secret(aws, json.dumps({"openai": key_a, "anthropic": "other", "n": 1}))
    binary = secret(aws, key_b.encode() + b"\n")

    @guarded_llm(model="gpt-4o-mini", base_url=server.openai_base_url, key_source=f"aws-secretsmanager:{doc}#openai")
    def from_json(q: str) -> str:
        return q

    @guarded_llm(model="gpt-4o-mini", base_url=server.openai_base_url, key_source=f"aws-secretsmanager:{binary}")
    def from_binary(q: str) -> str:
        return q

    from_json("a")
    from_binary("b")
    assert [bearer(r) for r in server.requests] == [key_a, key_b]


def test_per_environment_and_per_service_keys(aws: Any, server: FakeLLMServer, monkeypatch: pytest.MonkeyPatch) -> None:
    tag = uuid.uuid4().hex[:8]
    keys = {}
    for env in ("staging", "prod"):
        for service in ("billing", "search"):
            keys[env, service] = fake_key(env + service)
            aws.create_secret(Name=f"{env}/{tag}/{service}/openai", SecretString=keys[env, service])

    source = "aws-secretsmanager:{env}/" + tag + "/{service}/{provider}"

    def service_fn(service: str) -> Any:
        @guarded_llm(model="gpt-4o-mini", base_url=server.openai_base_url, key_source=source.replace("{service}", service))
        def ask(q: str) -> str:
            return q

        return ask

    for env in ("staging", "prod"):
        monkeypatch.setenv("GUARDFN_ENV", env)
        for service in ("billing", "search"):
            service_fn(service)("hi")
    assert [bearer(r) for r in server.requests] == [
        keys["staging", "billing"], keys["staging", "search"], keys["prod", "billing"], keys["prod", "search"],
    ]


def test_explicit_api_key_wins_over_the_secret(aws: Any, server: FakeLLMServer, monkeypatch: pytest.MonkeyPatch) -> None:
    explicit = fake_key("explicit")
    monkeypatch.setenv("GUARDFN_OPENAI_KEY_SOURCE", f"aws-secretsmanager:{secret(aws, fake_key('aws'))}")

    @guarded_llm(model="gpt-4o-mini", base_url=server.openai_base_url, api_key=lambda: explicit)
    def ask(q: str) -> str:
        return q

    ask("hi")
    assert bearer(server.requests[0]) == explicit


def test_region_comes_from_an_arn(aws: Any, server: FakeLLMServer, monkeypatch: pytest.MonkeyPatch) -> None:
    key = fake_key("arn")
    arn = aws.create_secret(Name=f"arn-test/{uuid.uuid4().hex[:8]}", SecretString=key)["ARN"]
    monkeypatch.delenv("AWS_REGION")
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)

    @guarded_llm(model="gpt-4o-mini", base_url=server.openai_base_url, key_source=f"aws-secretsmanager:{arn}")
    def ask(q: str) -> str:
        return q

    ask("hi")
    assert bearer(server.requests[0]) == key

    @guarded_llm(model="gpt-4o-mini", base_url=server.openai_base_url, key_source="aws-secretsmanager:no/region")
    def no_region(q: str) -> str:
        return q

    with pytest.raises(ConfigurationError, match="no AWS region") as info:
        no_region("hi")
    assert "AWS_REGION" in (info.value.hint or "")


# --- failures: clear errors before any request, never the value ---------------------------


@pytest.mark.parametrize(
    ("stored", "suffix", "expected"),
    [
        (None, "", "ResourceNotFoundException"),
        ("not json at all, just text", "#openai", "not JSON"),
        (json.dumps({"anthropic": "x"}), "#openai", "no text field 'openai'"),
        ("   ", "", "is empty"),
    ],
)
def test_unreadable_secrets_refuse_the_call_before_any_request(
    aws: Any, server: FakeLLMServer, monkeypatch: pytest.MonkeyPatch, stored: str | None, suffix: str, expected: str
) -> None:
    name = secret(aws, stored) if stored is not None else f"missing/{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("GUARDFN_OPENAI_KEY_SOURCE", f"aws-secretsmanager:{name}{suffix}")

    @guarded_llm(model="gpt-4o-mini", base_url=server.openai_base_url)
    def ask(q: str) -> str:
        return q

    with pytest.raises(ConfigurationError, match=expected) as info:
        ask("hi")
    assert info.value.stage == "aws_secrets"
    assert name in info.value.reason and "GUARDFN_OPENAI_KEY_SOURCE" in info.value.reason
    assert server.requests == []
    if stored and stored.strip():
        assert stored not in str(info.value) and info.value.__cause__ is None and info.value.__context__ is None


def test_unreachable_endpoint_and_missing_credentials(aws: Any, server: FakeLLMServer, monkeypatch: pytest.MonkeyPatch) -> None:
    @guarded_llm(model="gpt-4o-mini", base_url=server.openai_base_url, key_source="aws-secretsmanager:any/secret")
    def ask(q: str) -> str:
        return q

    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    with pytest.raises(ConfigurationError, match="no AWS credentials"):
        ask("hi")

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", "http://127.0.0.1:9")  # discard port: refused
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")  # no backoff between retries in this test
    with pytest.raises(ConfigurationError, match="could not be reached"):
        ask("hi")
    assert server.requests == []


def test_a_scheme_no_plugin_handles_is_refused_not_ignored(server: FakeLLMServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", fake_key("env"))
    monkeypatch.setenv("GUARDFN_OPENAI_KEY_SOURCE", "vault:secret/data/openai#key")

    @guarded_llm(model="gpt-4o-mini", base_url=server.openai_base_url)
    def ask(q: str) -> str:
        return q

    with pytest.raises(ConfigurationError, match="'vault', which no plugin handles"):
        ask("hi")
    assert server.requests == []


def test_other_backends_are_plugins_of_the_same_hook(server: FakeLLMServer, monkeypatch: pytest.MonkeyPatch) -> None:
    import guardfn
    from guardfn.keys import key_source_for

    vault = {"secret/data/prod/openai": {"key": fake_key("vault")}}

    class VaultPlugin:
        @guardfn.hookimpl
        def guardfn_resolve_api_key(self, provider: str, settings: guardfn.Settings) -> str | None:
            source = key_source_for(provider, settings)
            if source is None or source.scheme != "vault":
                return None
            return vault[source.ref][source.field or "value"]

    guardfn.register(VaultPlugin(), name="vault")
    monkeypatch.setenv("GUARDFN_ENV", "prod")
    monkeypatch.setenv("GUARDFN_OPENAI_KEY_SOURCE", "vault:secret/data/{env}/openai#key")

    @guarded_llm(model="gpt-4o-mini", base_url=server.openai_base_url)
    def ask(q: str) -> str:
        return q

    ask("hi")
    assert bearer(server.requests[0]) == vault["secret/data/prod/openai"]["key"]


# --- rotation -----------------------------------------------------------------------------


class RotatingProvider:
    """A responder that accepts only the current key: a 401 (echoing the key, as OpenAI does) otherwise."""

    def __init__(self, key: str) -> None:
        self.valid = key

    def __call__(self, request: RecordedRequest) -> Reply:
        if bearer(request) != self.valid:
            return Reply(status=401, message=f"Incorrect API key provided: {bearer(request)}.")
        return echo(request)


def test_rotation_in_the_middle_of_a_run_is_picked_up_without_a_restart(
    aws: Any, server: FakeLLMServer, monkeypatch: pytest.MonkeyPatch, fetches: list[int],
    caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str],
) -> None:
    old, new = fake_key("old"), fake_key("new")
    name = secret(aws, old)
    caplog.set_level(logging.DEBUG)  # after the test's own set-up, whose boto3 client logs what it sends
    provider = RotatingProvider(old)
    server.responder = provider
    monkeypatch.setenv("GUARDFN_OPENAI_KEY_SOURCE", f"aws-secretsmanager:{name}")

    @guarded_llm(model="gpt-4o-mini", base_url=server.openai_base_url)
    def ask(q: str) -> str:
        return q

    answers = [ask(f"q{i}") for i in range(3)]
    with caplog.at_level(logging.WARNING):  # the test's own boto3 client logs what it sends
        aws.put_secret_value(SecretId=name, SecretString=new)  # the operator rotates the key ...
    provider.valid = new  # ... and the provider revokes the old one
    answers += [ask(f"q{i}") for i in range(3, 6)]

    assert answers == [f"echo: q{i}" for i in range(6)]
    assert [bearer(r) for r in server.requests] == [old, old, old, old, new, new, new]
    assert len(fetches) == 2  # once at start, once after the 401; the cache serves the rest
    logged = caplog.text + "".join(capsys.readouterr())
    assert old not in logged and new not in logged


async def test_async_calls_fetch_in_a_worker_thread_and_rotate(
    aws: Any, server: FakeLLMServer, monkeypatch: pytest.MonkeyPatch, fetches: list[int]
) -> None:
    old, new = fake_key("old"), fake_key("new")
    name = secret(aws, old)
    provider = RotatingProvider(old)
    server.responder = provider
    monkeypatch.setenv("GUARDFN_OPENAI_KEY_SOURCE", f"aws-secretsmanager:{name}")

    @guarded_llm(model="gpt-4o-mini", base_url=server.openai_base_url)
    async def ask(q: str) -> str:
        return q

    loop_thread = threading.get_ident()
    assert await asyncio.gather(ask("a"), ask("b")) == ["echo: a", "echo: b"]
    aws.put_secret_value(SecretId=name, SecretString=new)
    provider.valid = new
    assert await ask("c") == "echo: c"
    assert bearer(server.requests[-1]) == new
    assert fetches and loop_thread not in fetches  # never on the event loop's thread

    # a sync guarded call made afterwards in the same context fetches synchronously again
    @guarded_llm(model="gpt-4o-mini", base_url=server.openai_base_url)
    def ask_sync(q: str) -> str:
        return q

    assert await asyncio.to_thread(ask_sync, "d") == "echo: d"


def test_a_key_refused_after_rotation_fails_once_with_the_key_scrubbed(
    aws: Any, server: FakeLLMServer, monkeypatch: pytest.MonkeyPatch, fetches: list[int],
    caplog: pytest.LogCaptureFixture,
) -> None:
    old, new = fake_key("old"), fake_key("new")
    name = secret(aws, old)
    caplog.set_level(logging.DEBUG)
    server.responder = RotatingProvider(fake_key("neither"))
    monkeypatch.setenv("GUARDFN_OPENAI_KEY_SOURCE", f"aws-secretsmanager:{name}")

    @guarded_llm(model="gpt-4o-mini", base_url=server.openai_base_url)
    def ask(q: str) -> str:
        return q

    with pytest.raises(ProviderAuthenticationError) as info:
        ask("hi")
    assert len(server.requests) == 1 and len(fetches) == 2  # resolved again once; same key, so no retry
    with caplog.at_level(logging.WARNING):
        aws.put_secret_value(SecretId=name, SecretString=new)
    with pytest.raises(ProviderAuthenticationError) as info2:
        ask("hi")
    # the cached key is refused, the rotated one is fetched and tried once, and refused too
    assert [bearer(r) for r in server.requests[1:]] == [old, new] and len(fetches) == 3
    for err in (info.value, info2.value):
        assert old not in str(err) and new not in str(err)
        assert old not in repr(err.__dict__) and new not in repr(err.__dict__)
    assert old not in caplog.text and new not in caplog.text


def test_botocore_debug_logging_never_shows_the_secret(
    aws: Any, server: FakeLLMServer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    key = fake_key("debug")
    monkeypatch.setenv("GUARDFN_OPENAI_KEY_SOURCE", f"aws-secretsmanager:{secret(aws, json.dumps({'k': key}))}#k")
    caplog.set_level(logging.DEBUG)  # everything, botocore's wire logging included

    @guarded_llm(model="gpt-4o-mini", base_url=server.openai_base_url)
    def ask(q: str) -> str:
        return q

    ask("hi")
    assert any(r.name.startswith("botocore") for r in caplog.records)  # botocore did log at DEBUG
    assert key not in caplog.text
    assert key[8:24] not in caplog.text


def test_the_key_is_never_written_to_disk(aws: Any, server: FakeLLMServer, monkeypatch: pytest.MonkeyPatch) -> None:
    import platformdirs

    key = fake_key("disk")
    monkeypatch.setenv("GUARDFN_OPENAI_KEY_SOURCE", f"aws-secretsmanager:{secret(aws, key)}")

    @guarded_llm(model="gpt-4o-mini", base_url=server.openai_base_url)
    def ask(q: str) -> str:
        return q

    ask("hi")
    roots = [Path.cwd(), Path(platformdirs.user_cache_dir("guardfn")), Path.home() / ".aws"]
    for root in roots:
        if root.is_dir():
            for path in root.rglob("*"):
                if path.is_file() and path.stat().st_size < 50_000_000:
                    assert key.encode() not in path.read_bytes(), path
