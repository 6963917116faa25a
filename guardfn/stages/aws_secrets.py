"""Built-in key source: AWS Secrets Manager (``aws-secretsmanager:<secret-id>[#json_field]``).

Configure it per provider with ``GUARDFN_OPENAI_KEY_SOURCE=aws-secretsmanager:prod/openai/api-key``
(or in ``.env``), or per guarded function / globally with ``key_source=`` (also
``GUARDFN_KEY_SOURCE``). ``{env}`` expands to ``GUARDFN_ENV`` and ``{provider}`` to the
provider's name, so one setting serves every environment:
``aws-secretsmanager:{env}/{provider}/api-key``. ``#field`` picks one field of a JSON
secret (``aws-secretsmanager:prod/llm-keys#openai``); a secret id may be a full ARN.

boto3 (the ``guardfn[aws]`` extra) is imported only when a source is used. The region
comes from the usual AWS settings (``AWS_REGION``, ``AWS_DEFAULT_REGION``, the profile) or
from the ARN; requests time out after a few seconds and are tried ``AWS_MAX_ATTEMPTS``
times (default 3); ``AWS_ENDPOINT_URL_SECRETS_MANAGER`` / ``AWS_ENDPOINT_URL`` point it at
another endpoint (a local emulator in tests). Credentials are boto3's default chain.

The key is fetched on every resolution and kept only in the pipeline's in-memory
:class:`~guardfn.keys.KeyCache` (5 minutes; dropped on a 401/403 so a rotated secret
is picked up by the retry). Nothing is written to disk. In an async guarded call the
fetch runs in a worker thread (``asyncio.to_thread``), never on the event loop.

Other backends (Google Secret Manager, HashiCorp Vault, Doppler ...) are plugins
implementing ``guardfn_resolve_api_key`` for their own scheme with
:func:`guardfn.keys.key_source_for`; a source whose scheme no plugin answered is
refused here rather than silently falling back to the environment.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import threading
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

from guardfn import extras
from guardfn.call import Call
from guardfn.errors import ConfigurationError
from guardfn.hookspecs import hookimpl
from guardfn.keys import KeySource, key_source_for, key_source_var, parse_key_source, scrub
from guardfn.settings import Settings

NAME = "aws_secrets"
SCHEME = "aws-secretsmanager"
CONNECT_TIMEOUT = 3.0
READ_TIMEOUT = 5.0

log = logging.getLogger("guardfn.keys")

_async_call: ContextVar[bool] = ContextVar("guardfn_aws_secrets_async_call", default=False)
_clients: dict[tuple[str | None, ...], Any] = {}
_clients_lock = threading.Lock()
_fetching = threading.local()
_filter_installed = False
_NOT_JSON = object()

_HINTS = {
    "ResourceNotFoundException": "create the secret, or fix the secret id (and the region / GUARDFN_ENV)",
    "AccessDeniedException": "grant secretsmanager:GetSecretValue (and kms:Decrypt for a customer key) to this role",
    "DecryptionFailure": "the secret's KMS key cannot be used by this role: grant kms:Decrypt",
    "InvalidRequestException": "the secret is scheduled for deletion or has no current version",
    "UnrecognizedClientException": "the AWS credentials are not valid for this account / endpoint",
    "InvalidSignatureException": "the AWS credentials are not valid for this account / endpoint",
    "ExpiredTokenException": "the AWS session credentials have expired: refresh them",
}


@hookimpl
def guardfn_configure(settings: Settings) -> None:
    """Runs when a guarded function's settings are built: a malformed ``key_source=`` or a
    missing boto3 for an ``aws-secretsmanager`` source fails here, not on the first call."""
    if not settings.key_source:
        return
    source = parse_key_source(settings.key_source, provider="provider", env=settings.env)
    if source.scheme == SCHEME:
        _require_boto3()


@hookimpl
def guardfn_screen_input(call: Call) -> None:
    """Runs in every call, before the key is resolved; only notes whether the call is async
    (the resolve hook is not told), so that in async mode the fetch goes to a worker thread."""
    _async_call.set(call.is_async)


@hookimpl
def guardfn_resolve_api_key(provider: str, settings: Settings) -> Any:
    """Runs when the pipeline needs ``provider``'s key and the ``api_key=`` option gave none.

    Returns ``None`` when no key source is configured for ``provider`` (the environment
    decides); fetches the secret for an ``aws-secretsmanager`` source (an awaitable
    running in a thread during an async call); refuses a source of a scheme no plugin
    handled. Raises :class:`ConfigurationError` naming the secret, never the key.
    """
    source = key_source_for(provider, settings)
    if source is None:
        return None
    if source.scheme != SCHEME:
        raise ConfigurationError(
            f"{source.origin} uses the key source scheme {source.scheme!r}, which no plugin handles",
            stage=NAME,
            hint=f"install the plugin for {source.scheme!r}, or use {SCHEME}:<secret-id>",
        )
    if _async_call.get():
        return asyncio.to_thread(fetch_secret, source, provider)
    return fetch_secret(source, provider)


@contextlib.contextmanager
def sync_mode() -> Iterator[None]:
    """Resolve keys synchronously inside this block (``guardfn keys check``, start-up checks)."""
    token = _async_call.set(False)
    try:
        yield
    finally:
        _async_call.reset(token)


def fetch_secret(source: KeySource, provider: str = "provider") -> str:
    """The key stored in ``source`` (its JSON ``field`` when given), fetched now.

    Raises :class:`ConfigurationError` (stage ``aws_secrets``) naming the secret id and
    the AWS error code when it cannot be read; never includes the secret's value.
    """
    _require_boto3()
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError

    where = f"{source.describe()} ({source.origin})"
    try:
        client = secrets_client(region_for(source.ref))
        _fetching.active = True
        try:
            response = client.get_secret_value(SecretId=source.ref)
        finally:
            _fetching.active = False
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code") or "ClientError")
        raise ConfigurationError(
            f"AWS Secrets Manager could not return {where}: {code}",
            stage=NAME,
            hint=_HINTS.get(code, f"check the secret and this role's access to it; or unset {key_source_var(provider)}"),
        ) from None
    except NoRegionError:
        raise ConfigurationError(
            f"no AWS region for {where}", stage=NAME, hint="set AWS_REGION, or use the secret's full ARN"
        ) from None
    except NoCredentialsError:
        raise ConfigurationError(
            f"no AWS credentials to read {where}",
            stage=NAME,
            hint="give this process an IAM role, or set AWS_PROFILE / AWS_ACCESS_KEY_ID",
        ) from None
    except BotoCoreError as exc:
        raise ConfigurationError(
            f"AWS Secrets Manager could not be reached for {where}: {type(exc).__name__}",
            stage=NAME,
            hint="check the network, the region and AWS_ENDPOINT_URL_SECRETS_MANAGER",
        ) from None
    value = _secret_text(response, where)
    if source.field is not None:
        value = _json_field(value, source.field, where)
    value = value.strip()
    if not value:
        raise ConfigurationError(f"{where} is empty", stage=NAME, hint="store the API key in the secret")
    log.debug("guardfn: %s key fetched from %s", provider, scrub(source.describe()))
    return value


def _secret_text(response: dict[str, Any], where: str) -> str:
    text = response.get("SecretString")
    if isinstance(text, str):
        return text
    blob = response.get("SecretBinary")
    if isinstance(blob, (bytes, bytearray)):
        try:
            return bytes(blob).decode("utf-8")
        except UnicodeDecodeError:
            pass
    raise ConfigurationError(f"{where} holds no text", stage=NAME, hint="store the key as a SecretString")


def _json_field(value: str, field: str, where: str) -> str:
    document: Any = _NOT_JSON
    with contextlib.suppress(ValueError):
        document = json.loads(value)
    if document is _NOT_JSON:  # raised outside the handler: no __context__ holding the secret's text
        raise ConfigurationError(
            f"{where} selects field {field!r} but the secret is not JSON",
            stage=NAME,
            hint="store a JSON object, or drop the #field from the source",
        )
    selected = document.get(field) if isinstance(document, dict) else None
    if not isinstance(selected, str):
        raise ConfigurationError(
            f"{where}: the secret has no text field {field!r}",
            stage=NAME,
            hint=f"fields present: {', '.join(sorted(map(str, document))) if isinstance(document, dict) else 'none'}",
        )
    return selected


def region_for(secret_id: str) -> str | None:
    """The region of an ARN secret id (``arn:aws:secretsmanager:<region>:...``), else ``None``."""
    parts = secret_id.split(":")
    if len(parts) >= 6 and parts[0] == "arn" and parts[2] == "secretsmanager" and parts[3]:
        return parts[3]
    return None


def endpoint_url() -> str | None:
    """The endpoint override: ``AWS_ENDPOINT_URL_SECRETS_MANAGER``, then ``AWS_ENDPOINT_URL``."""
    return os.environ.get("AWS_ENDPOINT_URL_SECRETS_MANAGER") or os.environ.get("AWS_ENDPOINT_URL") or None


def secrets_client(region: str | None = None) -> Any:
    """A boto3 Secrets Manager client, one per region, endpoint and credential setting.

    boto3 clients are thread-safe; sessions are not, so each client gets its own session.
    """
    endpoint = endpoint_url()
    region = region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or None
    key = (
        region,
        endpoint,
        os.environ.get("AWS_PROFILE"),
        os.environ.get("AWS_ACCESS_KEY_ID"),
        os.environ.get("AWS_MAX_ATTEMPTS"),
    )
    client = _clients.get(key)
    if client is not None:
        return client
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            import boto3
            from botocore.config import Config

            _install_log_filter()
            config = Config(
                connect_timeout=CONNECT_TIMEOUT,
                read_timeout=READ_TIMEOUT,
                retries={"max_attempts": _max_attempts(), "mode": "standard"},
                user_agent_extra="guardfn",
            )
            client = boto3.session.Session().client(
                "secretsmanager", region_name=region, endpoint_url=endpoint, config=config
            )
            _clients[key] = client
    return client


def _max_attempts() -> int:
    """``AWS_MAX_ATTEMPTS`` when set to a positive number, else 3 (one try and two retries)."""
    try:
        return max(1, int(os.environ.get("AWS_MAX_ATTEMPTS", "3")))
    except ValueError:
        return 3


class _RedactSecretBodies(logging.Filter):
    """botocore logs response bodies at DEBUG; while this thread fetches a key, drop them."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(_fetching, "active", False):
            record.msg = "[guardfn: botocore response body withheld: it holds a secret]"
            record.args = ()
        return True


def _install_log_filter() -> None:
    global _filter_installed
    if not _filter_installed:
        logging.getLogger("botocore.parsers").addFilter(_RedactSecretBodies())
        _filter_installed = True


def _require_boto3() -> None:
    extras.require("aws", f"a {SCHEME} key source", NAME)
