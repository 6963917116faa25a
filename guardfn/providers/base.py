"""What the provider modules share: SDK client caching, retries with backoff, error wrapping.

The SDKs' own retries are switched off (``max_retries=0``) so that guardfn counts every
retry (``call.retries``), bounds them with ``retries=`` and honours ``Retry-After``.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import hashlib
import os
import random
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any, TypeVar, cast

from guardfn.call import Call, Response, StreamResponse
from guardfn.errors import ProviderAuthenticationError, ProviderError
from guardfn.keys import scrub
from guardfn.loops import loop_bound
from guardfn.settings import Settings

T = TypeVar("T")
RETRYABLE_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504, 529})

_clients: dict[tuple[Any, ...], Any] = {}
_clients_lock = threading.Lock()


def cached_client(provider: str, settings: Settings, api_key: str, is_async: bool, factory: Callable[[], T]) -> T:
    """One SDK client per provider, mode, endpoint, timeout and key (by digest) per process.

    The endpoint is ``base_url=`` or, when unset, the SDK's ``<PROVIDER>_BASE_URL``. An
    async client belongs to the running event loop and is closed when that loop shuts
    down (:mod:`guardfn.loops`), so ``asyncio.run`` per request leaks no client or socket.
    """
    digest = _key_digest(api_key)
    base_url = settings.base_url or os.environ.get(f"{provider.upper()}_BASE_URL")
    key: tuple[Any, ...] = (provider, is_async, base_url, settings.timeout, digest)
    if is_async:
        return loop_bound(key, factory, lambda client: cast(Any, client).close())
    client = _clients.get(key)
    if client is None:
        with _clients_lock:
            client = _clients.get(key)
            if client is None:
                client = factory()
                _clients[key] = client
    return client


_last_digest: tuple[str, str] = ("", hashlib.sha256(b"").hexdigest())


def _key_digest(api_key: str) -> str:
    """SHA-256 of the key, remembered for the last key seen (the key cache hands out the
    same string object on every call, so the usual case is one identity check)."""
    global _last_digest
    last = _last_digest
    if last[0] is api_key or last[0] == api_key:
        return last[1]
    digest = hashlib.sha256(api_key.encode()).hexdigest()
    _last_digest = (api_key, digest)
    return digest


def retry_after_seconds(exc: BaseException) -> float | None:
    """The delay a provider asked for in ``retry-after-ms`` / ``retry-after``, if any."""
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    if headers is None:
        return None
    value = headers.get("retry-after-ms")
    if value is not None:
        try:
            return float(value) / 1000.0
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value) if value else None
        return max(0.0, parsed.timestamp() - time.time()) if parsed else None


def status_of(exc: BaseException) -> int | None:
    """The HTTP status of an SDK error, if it has one."""
    status = getattr(exc, "status_code", None)
    return status if isinstance(status, int) else None


def is_transient(exc: BaseException) -> bool:
    """Timeouts, connection errors, 408/409/429/5xx are worth retrying."""
    status = status_of(exc)
    if status is not None:
        return status in RETRYABLE_STATUS
    name = type(exc).__name__
    return name in {"APITimeoutError", "APIConnectionError"}


def backoff_delay(settings: Settings, retry: int, exc: BaseException) -> float | None:
    """Seconds to wait before retry number ``retry`` (0-based); ``None`` means give up.

    Exponential backoff with jitter, or the provider's ``Retry-After`` when it gave one;
    a ``Retry-After`` longer than ``retry_max_delay`` is not waited for.
    """
    asked = retry_after_seconds(exc)
    if asked is not None:
        return asked if asked <= settings.retry_max_delay else None
    base = min(settings.retry_max_delay, settings.retry_backoff * (2**retry))
    return base * random.uniform(0.5, 1.0)


def wrap_error(provider: str, exc: BaseException, api_key: str, call: Call) -> ProviderError:
    """A :class:`ProviderError` naming the provider and status, with keys scrubbed."""
    status = status_of(exc)
    detail = scrub(_sdk_message(exc), [api_key])
    retries = f" after {call.retries} retr{'y' if call.retries == 1 else 'ies'}" if call.retries else ""
    what = f"HTTP {status}" if status is not None else type(exc).__name__
    reason = f"{provider} request failed{retries}: {what}: {detail}"
    cls = ProviderAuthenticationError if status in (401, 403) else ProviderError
    hint = "check the API key and its permissions" if cls is ProviderAuthenticationError else None
    err = cls(reason, stage=provider, status_code=status, retryable=is_transient(exc), hint=hint)
    err.retry_after = retry_after_seconds(exc)  # type: ignore[attr-defined]
    return err


def _sdk_message(exc: BaseException) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and isinstance(inner.get("message"), str):
            return str(inner["message"])[:300]
    return (str(exc) or type(exc).__name__)[:300]


@contextlib.contextmanager
def stream_errors(provider: str, call: Call, api_key: str, sdk_error: type[BaseException]) -> Iterator[None]:
    """Turn an SDK error raised while a stream is read into a scrubbed :class:`ProviderError`."""
    try:
        yield
    except sdk_error as exc:
        raise wrap_error(provider, exc, api_key, call) from None


def with_retries(
    provider: str, call: Call, api_key: str, send: Callable[[], T], sdk_errors: tuple[type[BaseException], ...]
) -> T:
    """Call ``send`` until it succeeds, retrying transient SDK errors with backoff."""
    settings = call.settings
    while True:
        try:
            return send()
        except sdk_errors as exc:
            delay = backoff_delay(settings, call.retries, exc) if is_transient(exc) else None
            if delay is None or call.retries >= settings.retries:
                raise wrap_error(provider, exc, api_key, call) from None
            call.retries += 1
            time.sleep(delay)


async def with_retries_async(
    provider: str,
    call: Call,
    api_key: str,
    send: Callable[[], Awaitable[T]],
    sdk_errors: tuple[type[BaseException], ...],
) -> T:
    """The async twin of :func:`with_retries` (sleeps with ``asyncio.sleep``)."""
    settings = call.settings
    while True:
        try:
            return await send()
        except sdk_errors as exc:
            delay = backoff_delay(settings, call.retries, exc) if is_transient(exc) else None
            if delay is None or call.retries >= settings.retries:
                raise wrap_error(provider, exc, api_key, call) from None
            call.retries += 1
            await asyncio.sleep(delay)


Absorb = Callable[[Any, StreamResponse], "str | None"]


def _stream(
    name: str, raw: Any, call: Call, api_key: str, absorb: Absorb, sdk_error: type[BaseException]
) -> StreamResponse:
    out = StreamResponse(chunks=iter(()), closer=raw.close)

    def chunks() -> Iterator[str]:
        with stream_errors(name, call, api_key, sdk_error):
            for event in raw:
                text = absorb(event, out)
                if text:
                    yield text

    out.chunks = chunks()
    return out


def _astream(
    name: str, raw: Any, call: Call, api_key: str, absorb: Absorb, sdk_error: type[BaseException]
) -> StreamResponse:
    out = StreamResponse(chunks=iter(()), closer=raw.close)

    async def chunks() -> AsyncIterator[str]:
        with stream_errors(name, call, api_key, sdk_error):
            async for event in raw:
                text = absorb(event, out)
                if text:
                    yield text

    out.chunks = chunks()
    return out


def send_request(
    name: str,
    call: Call,
    api_key: str,
    create: Callable[[], Any],
    to_response: Callable[[Any], Response],
    absorb: Absorb,
    sdk_error: type[BaseException],
) -> Any:
    """The body every provider's ``guardfn_call_model`` shares.

    ``create()`` sends the request with the SDK (returning an awaitable in async mode);
    the answer becomes a :class:`Response`, or a :class:`StreamResponse` whose events
    ``absorb`` turns into text deltas and usage. Retries and error wrapping included.
    """
    if call.is_async:

        async def send_async() -> Any:
            raw = await create()
            return _astream(name, raw, call, api_key, absorb, sdk_error) if call.stream else to_response(raw)

        return with_retries_async(name, call, api_key, send_async, (sdk_error,))

    def send() -> Any:
        raw = create()
        return _stream(name, raw, call, api_key, absorb, sdk_error) if call.stream else to_response(raw)

    return with_retries(name, call, api_key, send, (sdk_error,))
