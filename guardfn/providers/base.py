"""What the provider modules share: SDK client caching, retries with backoff, error wrapping.

The SDKs' own retries are switched off (``max_retries=0``) so that guardfn counts every
retry (``call.retries``), bounds them with ``retries=`` and honours ``Retry-After``.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import hashlib
import json
import os
import random
import re
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple, TypeVar, cast

from guardfn.call import Call, Response, StreamResponse, ToolCall
from guardfn.errors import ConfigurationError, ProviderAuthenticationError, ProviderError
from guardfn.keys import scrub
from guardfn.loops import loop_bound
from guardfn.providers import sdk_logs
from guardfn.scrub import scrub_untrusted
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
    sdk_logs.install()
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


BAD_BODY: tuple[type[BaseException], ...] = (json.JSONDecodeError,)
"""What the SDKs let through when a 200 response's body is not JSON: a provider failure,
retried like a 5xx (a proxy or load balancer answering with an HTML page)."""


def is_transient(exc: BaseException) -> bool:
    """Timeouts, connection errors, 408/409/429/5xx and unreadable bodies are worth retrying."""
    status = status_of(exc)
    if status is not None:
        return status in RETRYABLE_STATUS
    return isinstance(exc, BAD_BODY) or type(exc).__name__ in {"APITimeoutError", "APIConnectionError"}


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


class ErrorDetails(NamedTuple):
    """What a provider said about a failure: status, its error type and code, the parameter
    it blames, and its message (raw: may quote prompt text, never log it unscrubbed)."""

    status: int | None
    error_type: str | None
    code: str | None
    param: str | None
    message: str

    def describe(self, known_keys: Iterable[str] = ()) -> str:
        """``HTTP 400 invalid_request_error (code x, param y): <scrubbed message>``, safe to log."""
        what = f"HTTP {self.status}" if self.status is not None else "no HTTP status"
        labels = [f"code {self.code}"] if self.code else []
        if self.param:
            labels.append(f"param {self.param}")
        head = " ".join(p for p in (what, self.error_type) if p) + (f" ({', '.join(labels)})" if labels else "")
        detail = scrub_untrusted(self.message, known_keys) if self.message else ""
        return f"{head}: {detail}" if detail else head


def _short(value: Any) -> str | None:
    """A provider's type / code / param value if it is a short plain token, else ``None``."""
    if isinstance(value, (str, int)) and re.fullmatch(r"[\w.\-\[\]]{1,64}", str(value)):
        return str(value)
    return None


def error_details(exc: BaseException) -> ErrorDetails:
    """The :class:`ErrorDetails` of an SDK error (OpenAI's and Anthropic's error bodies)."""
    if isinstance(exc, BAD_BODY):
        return ErrorDetails(None, "invalid_response_body", None, None, "the response body is not valid JSON")
    body = getattr(exc, "body", None)
    inner = body.get("error", body) if isinstance(body, dict) else None
    if isinstance(inner, dict):
        message = inner.get("message")
        return ErrorDetails(
            status_of(exc),
            _short(inner.get("type")),
            _short(inner.get("code")),
            _short(inner.get("param")),
            message if isinstance(message, str) else "",
        )
    return ErrorDetails(status_of(exc), type(exc).__name__, None, None, str(exc))


def wrap_error(provider: str, exc: BaseException, api_key: str, call: Call) -> ProviderError:
    """A :class:`ProviderError` naming the provider, status, error type and code; the provider's
    message scrubbed in ``.reason`` and kept raw only in ``.provider_message``."""
    details = error_details(exc)
    retries = f" after {call.retries} retr{'y' if call.retries == 1 else 'ies'}" if call.retries else ""
    reason = f"{provider} request failed{retries}: {details.describe([api_key])}"
    cls = ProviderAuthenticationError if details.status in (401, 403) else ProviderError
    hint = "check the API key and its permissions" if cls is ProviderAuthenticationError else None
    err = cls(
        reason,
        stage=provider,
        status_code=details.status,
        retryable=is_transient(exc),
        hint=hint,
        error_type=details.error_type,
        error_code=details.code,
        param=details.param,
        provider_message=scrub(details.message, [api_key]) or None,  # keys never, even here
    )
    err.retry_after = retry_after_seconds(exc)  # type: ignore[attr-defined]
    return err


@contextlib.contextmanager
def stream_errors(provider: str, call: Call, api_key: str, sdk_error: type[BaseException]) -> Iterator[None]:
    """Turn an SDK error raised while a stream is read into a scrubbed :class:`ProviderError`."""
    try:
        yield
    except (sdk_error, *BAD_BODY) as exc:
        raise wrap_error(provider, exc, api_key, call) from None


def with_retries(
    provider: str, call: Call, api_key: str, send: Callable[[], T], sdk_errors: tuple[type[BaseException], ...]
) -> T:
    """Call ``send`` until it succeeds, retrying transient SDK errors with backoff."""
    settings = call.settings
    while True:
        try:
            with sdk_logs.withheld():
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
            with sdk_logs.withheld():
                return await send()
        except sdk_errors as exc:
            delay = backoff_delay(settings, call.retries, exc) if is_transient(exc) else None
            if delay is None or call.retries >= settings.retries:
                raise wrap_error(provider, exc, api_key, call) from None
            call.retries += 1
            await asyncio.sleep(delay)


Absorb = Callable[[Any, StreamResponse], "str | None"]


class ToolCallAssembler:
    """Tool calls that arrive in pieces in a stream, keyed by the provider's index or block."""

    def __init__(self) -> None:
        self._calls: dict[int, list[Any]] = {}

    def add(self, key: int, *, id: str | None = None, name: str | None = None, arguments: str | None = None) -> None:
        """Record what one event says about the call at ``key`` (any of its id, name, a piece of arguments)."""
        entry = self._calls.setdefault(key, ["", "", []])
        if id:
            entry[0] = id
        if name:
            entry[1] = name
        if arguments:
            entry[2].append(arguments)

    def finish(self) -> list[ToolCall]:
        """The complete tool calls, in order."""
        return [ToolCall.from_json(i, n, "".join(a)) for _, (i, n, a) in sorted(self._calls.items())]


@dataclass(frozen=True)
class Api:
    """How one provider API's answers are read: a whole answer into a :class:`Response`
    (``to_response``), a streamed event into text and state (``absorb``), and the base class
    of its SDK's errors (``sdk_error()``, a function so the SDK is imported on first use)."""

    name: str
    to_response: Callable[[Any], Response]
    absorb: Absorb
    sdk_error: Callable[[], type[BaseException]]


def _events(raw: Any) -> Iterator[Any]:
    """The SDK stream's events, each read with its log content withheld (never across a yield,
    so the caller's own logging between chunks is untouched)."""
    events = iter(raw)
    while True:
        with sdk_logs.withheld():
            try:
                event = next(events)
            except StopIteration:
                return
        yield event


async def _aevents(raw: Any) -> AsyncIterator[Any]:
    """The async twin of :func:`_events`."""
    events = raw.__aiter__()
    while True:
        with sdk_logs.withheld():
            try:
                event = await events.__anext__()
            except StopAsyncIteration:
                return
        yield event


def _finish(out: StreamResponse) -> None:
    """The stream ended: the tool calls assembled from its pieces."""
    if isinstance(out.partial, ToolCallAssembler):
        out.tool_calls = out.partial.finish()


def _stream(api: Api, raw: Any, call: Call, api_key: str) -> StreamResponse:
    out = StreamResponse(chunks=iter(()), closer=raw.close)

    def chunks() -> Iterator[str]:
        with stream_errors(api.name, call, api_key, api.sdk_error()):
            for event in _events(raw):
                text = api.absorb(event, out)
                if text:
                    yield text
        _finish(out)

    out.chunks = chunks()
    return out


def _astream(api: Api, raw: Any, call: Call, api_key: str) -> StreamResponse:
    out = StreamResponse(chunks=iter(()), closer=raw.close)

    async def chunks() -> AsyncIterator[str]:
        with stream_errors(api.name, call, api_key, api.sdk_error()):
            async for event in _aevents(raw):
                text = api.absorb(event, out)
                if text:
                    yield text
        _finish(out)

    out.chunks = chunks()
    return out


def _unknown_param(provider: str, exc: TypeError) -> Exception:
    """An SDK method refusing a keyword (a ``params=`` key it does not know) as a
    :class:`ConfigurationError`; any other ``TypeError`` as it is."""
    found = re.search(r"unexpected keyword argument '(\w+)'", str(exc))
    if found is None:
        return exc
    return ConfigurationError(
        f"the {provider} SDK does not accept the params key {found.group(1)!r}",
        stage=provider,
        hint="check the name, or pass provider-specific fields inside params={'extra_body': {...}}",
    )


def send_request(api: Api, call: Call, api_key: str, create: Callable[[], Any]) -> Any:
    """The body every provider's ``guardfn_call_model`` shares.

    ``create()`` sends the request with the SDK (returning an awaitable in async mode); the
    answer becomes a :class:`Response`, or a :class:`StreamResponse` whose events
    ``api.absorb`` turns into text deltas, tool calls and usage. Retries and error wrapping
    included; an SDK refusing a ``params=`` key is a :class:`ConfigurationError`.
    """
    errors = (api.sdk_error(), *BAD_BODY)
    if call.is_async:

        async def send_async() -> Any:
            try:
                raw = await create()
            except TypeError as exc:
                raise _unknown_param(api.name, exc) from None
            return _astream(api, raw, call, api_key) if call.stream else api.to_response(raw)

        return with_retries_async(api.name, call, api_key, send_async, errors)

    def send() -> Any:
        try:
            raw = create()
        except TypeError as exc:
            raise _unknown_param(api.name, exc) from None
        return _stream(api, raw, call, api_key) if call.stream else api.to_response(raw)

    return with_retries(api.name, call, api_key, send, errors)
