"""OpenAI Chat Completions through the official ``openai`` SDK (sync, async, streaming).

Works with any OpenAI-compatible server (vLLM, Ollama, LM Studio) through ``base_url=``
or the SDK's own ``OPENAI_BASE_URL``. ``max_tokens`` is always sent: as
``max_completion_tokens`` for reasoning models (o1, o3, o4, gpt-5), which refuse the old name.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from guardfn.call import Call, Response, StreamResponse, Usage
from guardfn.hookspecs import hookimpl
from guardfn.providers.base import cached_client, send_request

NAME = "openai"
_REASONING_MODELS = re.compile(r"^(o\d|gpt-5)")


def _sdk() -> Any:
    import openai

    return openai


@functools.lru_cache(maxsize=256)
def token_param(model: str) -> str:
    """The name the output-token limit goes under for ``model`` (remembered per model name)."""
    return "max_completion_tokens" if _REASONING_MODELS.match(model) else "max_tokens"


def build_params(call: Call) -> dict[str, Any]:
    """The keyword arguments for ``chat.completions.create``."""
    params: dict[str, Any] = {"model": call.model, "messages": call.messages}
    params[token_param(call.model)] = call.max_tokens
    if call.settings.temperature is not None:
        params["temperature"] = call.settings.temperature
    if call.stream:
        params["stream"] = True
        params["stream_options"] = {"include_usage": True}
    params.update(call.extra_request)
    return params


def _client(call: Call, api_key: str) -> Any:
    openai = _sdk()
    settings = call.settings
    cls = openai.AsyncOpenAI if call.is_async else openai.OpenAI

    def make() -> Any:
        return cls(api_key=api_key, base_url=settings.base_url, timeout=settings.timeout, max_retries=0)

    return cached_client(NAME, settings, api_key, call.is_async, make)


def to_response(completion: Any) -> Response:
    """A :class:`Response` from a ``ChatCompletion``."""
    choice = completion.choices[0] if completion.choices else None
    message = getattr(choice, "message", None)
    text = getattr(message, "content", None) or ""
    usage = completion.usage
    return Response(
        text=text,
        model=completion.model or "",
        finish_reason=getattr(choice, "finish_reason", None),
        usage=Usage(getattr(usage, "prompt_tokens", 0) or 0, getattr(usage, "completion_tokens", 0) or 0),
        raw=completion,
    )


def _absorb(chunk: Any, out: StreamResponse) -> str | None:
    if chunk.usage is not None:
        out.usage = Usage(chunk.usage.prompt_tokens or 0, chunk.usage.completion_tokens or 0)
    if chunk.model:
        out.model = chunk.model
    if not chunk.choices:
        return None
    choice = chunk.choices[0]
    if choice.finish_reason:
        out.finish_reason = choice.finish_reason
    delta = choice.delta.content if choice.delta is not None else None
    if delta:
        out.text += delta
    return delta or None


@hookimpl
def guardfn_call_model(call: Call, api_key: str) -> Any:
    """Runs for each model request whose provider is ``openai``; returns ``None`` otherwise."""
    if call.provider != NAME:
        return None
    client = _client(call, api_key)
    params = build_params(call)
    return send_request(
        NAME, call, api_key, lambda: client.chat.completions.create(**params), to_response, _absorb, _sdk().APIError
    )
