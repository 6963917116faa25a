"""Google Gemini through the official ``google-genai`` SDK: sync, async and streaming.

Registered through the entry point ``gemini`` in the group ``guardfn``. Models whose name
starts with ``gemini`` are routed here (``provider="gemini"`` picks it for any model).

* The key comes from ``api_key=``, then ``GEMINI_API_KEY`` (guardfn's ``<PROVIDER>_API_KEY``
  convention, also read from ``.env``), then ``GOOGLE_API_KEY``.
* ``max_tokens`` is always sent, as ``max_output_tokens``. System messages become the
  ``system_instruction``; ``assistant`` turns are sent with Gemini's role ``model``.
* ``base_url=`` or ``GEMINI_BASE_URL`` choose the endpoint (a proxy, a local fake).
* The SDK's own retries are switched off; guardfn retries 408/429/5xx, timeouts and
  connection errors with backoff (``retries=``), honouring ``Retry-After`` and the
  ``RetryInfo.retryDelay`` Google puts in 429 bodies. Failures raise
  :class:`guardfn.ProviderError` with keys scrubbed; a rejected key
  (``API_KEY_INVALID``, 401, 403) raises :class:`guardfn.ProviderAuthenticationError`.
* :data:`PRICES` gives ``usd_per_day`` budgets and cost metrics Gemini's prices.
* Finish reasons use guardfn's (OpenAI's) words: ``STOP`` -> ``"stop"``,
  ``MAX_TOKENS`` -> ``"length"``, the safety reasons -> ``"content_filter"``.

``google.genai`` is imported on the first Gemini call only: importing this module is cheap.
"""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any, TypeVar

from guardfn.call import Call, Response, StreamResponse, Usage
from guardfn.errors import ConfigurationError, InvalidPrompt, ProviderAuthenticationError, ProviderError
from guardfn.hookspecs import hookimpl
from guardfn.providers.base import cached_client, with_retries, with_retries_async, wrap_error
from guardfn.settings import Settings

NAME = "gemini"
"""The provider name: ``provider="gemini"``, ``call.provider``, the error's ``stage``."""

ENV_KEY = "GEMINI_API_KEY"
FALLBACK_ENV_KEY = "GOOGLE_API_KEY"
ROLES = {"user": "user", "assistant": "model"}
FINISH_REASONS = {
    "STOP": "stop",
    "MAX_TOKENS": "length",
    "SAFETY": "content_filter",
    "RECITATION": "content_filter",
    "BLOCKLIST": "content_filter",
    "PROHIBITED_CONTENT": "content_filter",
    "SPII": "content_filter",
}
PRICES: dict[str, tuple[float, float]] = {
    # USD per million input / output tokens, paid tier, prompts up to 200k tokens (longest prefix wins).
    "gemini-3-pro": (2.00, 12.00),
    "gemini-2.5-pro": (1.25, 10.00),
    "gemini-2.5-flash-lite": (0.10, 0.40),
    "gemini-2.5-flash": (0.30, 2.50),
    "gemini-2.0-flash-lite": (0.075, 0.30),
    "gemini-2.0-flash": (0.10, 0.40),
    "gemini-1.5-pro": (1.25, 5.00),
    "gemini-1.5-flash": (0.075, 0.30),
}
"""Prices for budgets and cost metrics; a model not listed gets guardfn's conservative fallback."""
_DELAY = re.compile(r"^\s*(\d+(?:\.\d+)?)s\s*$")
T = TypeVar("T")


# --- errors: the SDK's exceptions as objects guardfn.providers.base understands ------------


class GeminiHTTPError(Exception):
    """An HTTP error from the Gemini API, shaped for :mod:`guardfn.providers.base`.

    ``status_code`` drives retry decisions, ``response.headers`` carries ``retry-after``
    (from the header, or from the body's ``RetryInfo.retryDelay``), ``body`` the message.
    """

    def __init__(self, status_code: int, status: str | None, message: str, reason: str | None, retry_after: str | None):
        self.status_code = status_code
        self.status = status
        self.reason = reason
        self.body = {"error": {"message": " ".join(p for p in (status, reason, message) if p)}}
        self.response = _Headers({"retry-after": retry_after} if retry_after is not None else {})
        super().__init__(self.body["error"]["message"])


class APIConnectionError(Exception):
    """The connection to the Gemini API failed (retried as transient by guardfn)."""


class APITimeoutError(APIConnectionError):
    """The Gemini API did not answer within ``timeout=`` (retried as transient by guardfn)."""


class GeminiResponseError(Exception):
    """The SDK could not read the API's answer (not JSON, an unexpected shape); not retried."""


class _Headers:
    """The one attribute of an HTTP response that ``retry_after_seconds`` reads."""

    def __init__(self, headers: dict[str, str]) -> None:
        self.headers = headers


SDK_ERRORS = (GeminiHTTPError, APIConnectionError, GeminiResponseError)
"""What :func:`translate` turns the SDK's failures into; ``with_retries`` decides which to retry."""


def _transport_errors() -> tuple[tuple[type[BaseException], ...], tuple[type[BaseException], ...]]:
    """(timeouts, other transport errors) of httpx and of httpx2 when installed."""
    timeouts: list[type[BaseException]] = []
    transport: list[type[BaseException]] = []
    for module_name in ("httpx", "httpx2"):
        try:
            module = __import__(module_name)
        except ImportError:
            continue
        timeouts.append(module.TimeoutException)
        transport.append(module.TransportError)
    return tuple(timeouts), tuple(transport)


def translate(exc: BaseException) -> BaseException:
    """The exception guardfn should see for an error the SDK (or its HTTP client) raised."""
    from google.genai import errors

    if isinstance(exc, errors.APIError):
        return _http_error(exc)
    timeouts, transport = _transport_errors()
    if isinstance(exc, timeouts):
        return APITimeoutError(type(exc).__name__)
    if isinstance(exc, transport):
        return APIConnectionError(type(exc).__name__)
    return GeminiResponseError(type(exc).__name__)


def _http_error(exc: Any) -> GeminiHTTPError:
    details = exc.details if isinstance(exc.details, dict) else {}
    inner = details.get("error", details)
    extra = inner.get("details") if isinstance(inner, dict) else None
    reason: str | None = None
    retry_after: str | None = None
    for item in extra if isinstance(extra, list) else []:
        if not isinstance(item, dict):
            continue
        reason = reason or (item.get("reason") if isinstance(item.get("reason"), str) else None)
        match = _DELAY.match(str(item.get("retryDelay", "")))
        if match:
            retry_after = match.group(1)
    headers = getattr(getattr(exc, "response", None), "headers", None)
    if headers is not None and headers.get("retry-after") is not None:
        retry_after = str(headers.get("retry-after"))
    message = str(exc.message or "")[:300]
    return GeminiHTTPError(int(exc.code or 0), exc.status, message, reason, retry_after)


def _authentication(err: ProviderError) -> ProviderError:
    """Google answers a bad key with 400 ``API_KEY_INVALID``: report it as an auth failure."""
    if isinstance(err, ProviderAuthenticationError) or "API_KEY_INVALID" not in err.reason:
        return err
    upgraded = ProviderAuthenticationError(
        err.reason, stage=err.stage, status_code=err.status_code, hint="check the API key and its permissions"
    )
    upgraded.retry_after = None  # type: ignore[attr-defined]
    return upgraded


def _translated(fn: Callable[[], T]) -> T:
    """Run one SDK request, raising only :data:`SDK_ERRORS`."""
    try:
        return fn()
    except Exception as exc:
        raise translate(exc) from None


async def _translated_async(fn: Callable[[], Awaitable[T]]) -> T:
    """The async twin of :func:`_translated`."""
    try:
        return await fn()
    except Exception as exc:
        raise translate(exc) from None


# --- hooks ---------------------------------------------------------------------------------


@hookimpl
def guardfn_select_provider(model: str, settings: Settings) -> str | None:
    """Runs when settings are built without ``provider=``: claims models named ``gemini*``."""
    return NAME if model.lower().startswith("gemini") else None


@hookimpl(trylast=True)
def guardfn_resolve_api_key(provider: str, settings: Settings) -> str | None:
    """Runs when a Gemini key is needed, after ``api_key=``: falls back to ``GOOGLE_API_KEY``.

    ``GEMINI_API_KEY`` (environment, then ``.env``) is left to guardfn's built-in
    ``env_keys`` stage; this only answers when it is set nowhere.
    """
    if provider != NAME:
        return None
    from guardfn.stages.env_keys import dotenv_values

    dotenv = dotenv_values()
    if os.environ.get(ENV_KEY) or dotenv.get(ENV_KEY):
        return None
    return os.environ.get(FALLBACK_ENV_KEY) or dotenv.get(FALLBACK_ENV_KEY) or None


@hookimpl
def guardfn_model_price(provider: str, model: str) -> Any:
    """Runs when a Gemini request's cost is estimated or settled: the price from :data:`PRICES`."""
    if provider != NAME:
        return None
    best = max((prefix for prefix in PRICES if model.startswith(prefix)), key=len, default=None)
    if best is None:
        return None
    from guardfn.pricing import Price

    return Price(*PRICES[best])


@hookimpl
def guardfn_call_model(call: Call, api_key: str) -> Any:
    """Runs for each model request whose provider is ``gemini``; returns ``None`` otherwise.

    Returns a :class:`Response`, a :class:`StreamResponse` when ``call.stream``, or (in
    async mode) an awaitable of one.
    """
    if call.provider != NAME:
        return None
    if call.is_async:
        return _call_async(call, api_key)
    client = _client(call, api_key)
    request = build_request(call)
    if call.stream:

        def open_stream() -> tuple[Any, Any]:
            raw = client.models.generate_content_stream(**request)
            return raw, next(raw, None)  # the first chunk: HTTP errors surface here, inside the retry loop

        raw, first = _retrying(call, api_key, lambda: _translated(open_stream))
        return _stream(raw, first, call, api_key)
    reply = _retrying(call, api_key, lambda: _translated(lambda: client.models.generate_content(**request)))
    return to_response(reply, call.model)


async def _call_async(call: Call, api_key: str) -> Response | StreamResponse:
    client = _client(call, api_key)
    request = build_request(call)
    if call.stream:

        async def open_stream() -> tuple[Any, Any]:
            raw = await client.aio.models.generate_content_stream(**request)
            return raw, await anext(aiter(raw), None)

        raw, first = await _retrying_async(call, api_key, lambda: _translated_async(open_stream))
        return _astream(raw, first, call, api_key)
    reply = await _retrying_async(
        call, api_key, lambda: _translated_async(lambda: client.aio.models.generate_content(**request))
    )
    return to_response(reply, call.model)


def _retrying(call: Call, api_key: str, send: Callable[[], T]) -> T:
    try:
        return with_retries(NAME, call, api_key, send, SDK_ERRORS)
    except ProviderError as err:
        raise _authentication(err) from None


async def _retrying_async(call: Call, api_key: str, send: Callable[[], Awaitable[T]]) -> T:
    try:
        return await with_retries_async(NAME, call, api_key, send, SDK_ERRORS)
    except ProviderError as err:
        raise _authentication(err) from None


# --- request and response ------------------------------------------------------------------


def build_request(call: Call) -> dict[str, Any]:
    """The keyword arguments for ``models.generate_content`` (and its streaming twin).

    ``call.extra_request`` keys that name ``GenerateContentConfig`` fields (such as
    ``response_mime_type`` and ``response_schema``) go into the config; others are for
    other providers and are left out.
    """
    from google.genai import types

    for index, m in enumerate(call.messages):
        if m.role == "tool" or m.tool_calls or m.images:
            raise InvalidPrompt(
                f"message {index}: guardfn-gemini sends text messages only (no images, tool calls or tool results)",
                stage=NAME,
                hint="send this conversation to an OpenAI or Anthropic model",
            )
    if call.settings.tools:
        raise ConfigurationError("guardfn-gemini does not offer tools= yet", stage=NAME)
    system = [m.text for m in call.messages if m.role == "system"]
    contents = [
        types.Content(role=ROLES[m.role], parts=[types.Part(text=m.text)]) for m in call.messages if m.role != "system"
    ]
    options: dict[str, Any] = {"max_output_tokens": call.max_tokens}
    if system:
        options["system_instruction"] = "\n\n".join(system)
    if call.settings.temperature is not None:
        options["temperature"] = call.settings.temperature
    fields = types.GenerateContentConfig.model_fields
    options.update({k: v for k, v in call.extra_request.items() if k in fields})
    return {"model": call.model, "contents": contents, "config": types.GenerateContentConfig(**options)}


def _client(call: Call, api_key: str) -> Any:
    settings = call.settings

    def make() -> Any:
        from google import genai
        from google.genai import types

        base_url = settings.base_url or os.environ.get("GEMINI_BASE_URL")
        options = types.HttpOptions(
            base_url=base_url,
            timeout=int(settings.timeout * 1000),  # milliseconds
            retry_options=types.HttpRetryOptions(attempts=1),  # guardfn retries, and counts them
        )
        return genai.Client(api_key=api_key, vertexai=False, http_options=options)

    return cached_client(NAME, settings, api_key, call.is_async, make)


def _text(reply: Any) -> str:
    candidates = getattr(reply, "candidates", None) or []
    content = getattr(candidates[0], "content", None) if candidates else None
    parts = getattr(content, "parts", None) or []
    return "".join(p.text for p in parts if getattr(p, "text", None) and not getattr(p, "thought", False))


def _finish_reason(reply: Any) -> str | None:
    candidates = getattr(reply, "candidates", None) or []
    reason = getattr(candidates[0], "finish_reason", None) if candidates else None
    if reason is None:
        blocked = getattr(getattr(reply, "prompt_feedback", None), "block_reason", None)
        return "content_filter" if blocked is not None else None
    name = str(getattr(reason, "value", reason))
    return FINISH_REASONS.get(name, name.lower())


def _usage(reply: Any) -> Usage | None:
    meta = getattr(reply, "usage_metadata", None)
    if meta is None:
        return None
    completion = (meta.candidates_token_count or 0) + (meta.thoughts_token_count or 0)  # thinking is billed as output
    return Usage(meta.prompt_token_count or 0, completion)


def to_response(reply: Any, model: str) -> Response:
    """A :class:`Response` from a ``GenerateContentResponse``."""
    return Response(
        text=_text(reply),
        model=getattr(reply, "model_version", None) or model,
        finish_reason=_finish_reason(reply),
        usage=_usage(reply) or Usage(),
        raw=reply,
    )


def _absorb(chunk: Any, out: StreamResponse) -> str:
    usage = _usage(chunk)
    if usage is not None:
        out.usage = usage  # every chunk carries the running totals; the last one wins
    out.model = getattr(chunk, "model_version", None) or out.model
    out.finish_reason = _finish_reason(chunk) or out.finish_reason
    delta = _text(chunk)
    out.text += delta
    return delta


def _stream(raw: Any, first: Any, call: Call, api_key: str) -> StreamResponse:
    out = StreamResponse(chunks=iter(()), model=call.model, closer=raw.close)

    def chunks() -> Iterator[str]:
        if first is None:
            return
        delta = _absorb(first, out)
        if delta:
            yield delta
        try:
            for chunk in raw:
                delta = _absorb(chunk, out)
                if delta:
                    yield delta
        except Exception as exc:
            raise _stream_failure(exc, call, api_key) from None

    out.chunks = chunks()
    return out


def _astream(raw: Any, first: Any, call: Call, api_key: str) -> StreamResponse:
    out = StreamResponse(chunks=iter(()), model=call.model, closer=getattr(raw, "aclose", None))

    async def chunks() -> AsyncIterator[str]:
        if first is None:
            return
        delta = _absorb(first, out)
        if delta:
            yield delta
        try:
            async for chunk in raw:
                delta = _absorb(chunk, out)
                if delta:
                    yield delta
        except Exception as exc:
            raise _stream_failure(exc, call, api_key) from None

    out.chunks = chunks()
    return out


def _stream_failure(exc: BaseException, call: Call, api_key: str) -> ProviderError:
    """A failure while the stream is read (too late to retry) as a scrubbed ProviderError."""
    return _authentication(wrap_error(NAME, translate(exc), api_key, call))
