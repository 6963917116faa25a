"""Anthropic Messages through the official ``anthropic`` SDK (sync, async, streaming).

System messages become the ``system`` parameter; ``max_tokens`` is always sent. When a
stage asked for structured output with a forced tool (``call.extra_request`` holds
``tools`` and ``tool_choice``), the tool call's input comes back as JSON text.
``base_url=`` or the SDK's own ``ANTHROPIC_BASE_URL`` choose the endpoint.
"""

from __future__ import annotations

import json
from typing import Any

from guardfn.call import Call, Response, StreamResponse, Usage
from guardfn.hookspecs import hookimpl
from guardfn.providers.base import cached_client, send_request

NAME = "anthropic"


def _sdk() -> Any:
    import anthropic

    return anthropic


def build_params(call: Call) -> dict[str, Any]:
    """The keyword arguments for ``messages.create``."""
    system = [m["content"] for m in call.messages if m["role"] == "system"]
    params: dict[str, Any] = {
        "model": call.model,
        "max_tokens": call.max_tokens,
        "messages": [{"role": m["role"], "content": m["content"]} for m in call.messages if m["role"] != "system"],
    }
    if system:
        params["system"] = "\n\n".join(system)
    if call.settings.temperature is not None:
        params["temperature"] = min(call.settings.temperature, 1.0)
    if call.stream:
        params["stream"] = True
    params.update(call.extra_request)
    return params


def _client(call: Call, api_key: str) -> Any:
    anthropic = _sdk()
    settings = call.settings
    cls = anthropic.AsyncAnthropic if call.is_async else anthropic.Anthropic

    def make() -> Any:
        return cls(api_key=api_key, base_url=settings.base_url, timeout=settings.timeout, max_retries=0)

    return cached_client(NAME, settings, api_key, call.is_async, make)


def to_response(message: Any) -> Response:
    """A :class:`Response` from a ``Message``: text blocks joined, a tool call's input as JSON."""
    parts: list[str] = []
    for block in message.content or []:
        if block.type == "text":
            parts.append(block.text)
        elif block.type == "tool_use":
            parts.append(json.dumps(block.input))
    usage = message.usage
    return Response(
        text="".join(parts),
        model=message.model or "",
        finish_reason=message.stop_reason,
        usage=Usage(getattr(usage, "input_tokens", 0) or 0, getattr(usage, "output_tokens", 0) or 0),
        raw=message,
    )


def _absorb(event: Any, out: StreamResponse) -> str | None:
    kind = event.type
    if kind == "message_start":
        out.model = event.message.model or out.model
        out.usage.prompt_tokens = event.message.usage.input_tokens or 0
        out.usage.completion_tokens = event.message.usage.output_tokens or 0
    elif kind == "content_block_delta":
        delta = event.delta
        text = getattr(delta, "text", None) if delta.type == "text_delta" else getattr(delta, "partial_json", None)
        if text:
            out.text += text
            return str(text)
    elif kind == "message_delta":
        out.finish_reason = event.delta.stop_reason or out.finish_reason
        if event.usage is not None and event.usage.output_tokens is not None:
            out.usage.completion_tokens = event.usage.output_tokens
    return None


@hookimpl
def guardfn_call_model(call: Call, api_key: str) -> Any:
    """Runs for each model request whose provider is ``anthropic``; returns ``None`` otherwise."""
    if call.provider != NAME:
        return None
    client = _client(call, api_key)
    params = build_params(call)
    return send_request(
        NAME, call, api_key, lambda: client.messages.create(**params), to_response, _absorb, _sdk().APIError
    )
