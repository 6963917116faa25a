"""Anthropic Messages through the official ``anthropic`` SDK (sync, async, streaming).

System messages become the ``system`` parameter; ``max_tokens`` is always sent. Image parts
become ``image`` blocks (a URL source, or base64 for a ``data:`` URL), assistant tool calls
``tool_use`` blocks, and tool results ``tool_result`` blocks in a user turn (consecutive
results share one turn). A schema is asked for with a forced tool whose input is the answer
(when no tools of the caller's are offered); its input comes back as the answer's JSON text.
``base_url=`` or the SDK's own ``ANTHROPIC_BASE_URL`` choose the endpoint.
"""

from __future__ import annotations

import json
from typing import Any

from guardfn.call import Call, ImagePart, Message, Response, StreamResponse, TextPart, ToolCall, Usage
from guardfn.hookspecs import hookimpl
from guardfn.providers.base import Api, ToolCallAssembler, cached_client, send_request

NAME = "anthropic"
SCHEMA_TOOL_DESCRIPTION = "Give the answer as structured data matching the input schema."


def _sdk() -> Any:
    import anthropic

    return anthropic


def _image(part: ImagePart) -> dict[str, Any]:
    if part.is_data:
        head, _, data = part.url.partition(",")
        media_type = head.removeprefix("data:").split(";")[0]
        return {"type": "image", "source": {"type": "base64", "media_type": media_type, "data": data}}
    return {"type": "image", "source": {"type": "url", "url": part.url}}


def _blocks(message: Message) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = [
        {"type": "text", "text": p.text} if isinstance(p, TextPart) else _image(p) for p in message.content
    ]
    blocks.extend(
        {"type": "tool_use", "id": c.id, "name": c.name, "input": c.arguments if c.arguments is not None else {}}
        for c in message.tool_calls
    )
    return blocks


def anthropic_messages(messages: list[Message]) -> list[dict[str, Any]]:
    """Canonical messages (system excepted) as Messages API turns."""
    out: list[dict[str, Any]] = []
    for m in messages:
        if m.role == "system":
            continue
        if m.role == "tool":
            result = {"type": "tool_result", "tool_use_id": m.tool_call_id, "content": m.text}
            last = out[-1] if out else None
            if last is not None and last["role"] == "user" and isinstance(last["content"], list) and all(
                b.get("type") == "tool_result" for b in last["content"]
            ):
                last["content"].append(result)
            else:
                out.append({"role": "user", "content": [result]})
            continue
        simple = len(m.content) == 1 and isinstance(m.content[0], TextPart) and not m.tool_calls
        out.append({"role": m.role, "content": m.content[0].text if simple else _blocks(m)})  # type: ignore[union-attr]
    return out


def _forces_schema(call: Call) -> bool:
    return call.output_schema is not None and not call.tools


def build_params(call: Call) -> dict[str, Any]:
    """The keyword arguments for ``messages.create``."""
    settings = call.settings
    params: dict[str, Any] = {
        "model": call.model,
        "max_tokens": call.max_tokens,
        "messages": anthropic_messages(call.messages),
    }
    system = [m.text for m in call.messages if m.role == "system"]
    if system:
        params["system"] = "\n\n".join(system)
    if settings.temperature is not None:
        # in the body: newer SDKs no longer take temperature as a keyword
        params["extra_body"] = {"temperature": min(settings.temperature, 1.0)}
    if call.tools:
        params["tools"] = [
            {"name": t.name, "description": t.description, "input_schema": t.parameters} for t in call.tools
        ]
    schema = call.output_schema
    if schema is not None and _forces_schema(call):
        params["tools"] = [{"name": schema.name, "description": SCHEMA_TOOL_DESCRIPTION, "input_schema": schema.schema}]
        params["tool_choice"] = {"type": "tool", "name": schema.name}
    if settings.params:
        extra = {**params.get("extra_body", {}), **settings.params.get("extra_body", {})}
        params.update(settings.params)
        if extra:
            params["extra_body"] = extra
    if call.stream:
        params["stream"] = True
    if call.extra_request:
        params.update(call.extra_request)
    return params


def _client(call: Call, api_key: str) -> Any:
    anthropic = _sdk()
    settings = call.settings
    cls = anthropic.AsyncAnthropic if call.is_async else anthropic.Anthropic

    def make() -> Any:
        return cls(api_key=api_key, base_url=settings.base_url, timeout=settings.timeout, max_retries=0)

    return cached_client(NAME, settings, api_key, call.is_async, make)


def _reader(schema_tool: str | None) -> Api:
    """How answers are read: with a forced schema tool, its input is the answer's text."""

    def to_response(message: Any) -> Response:
        parts: list[str] = []
        tool_calls: list[ToolCall] = []
        for block in message.content or []:
            if block.type == "text":
                parts.append(block.text)
            elif block.type == "tool_use" and block.name == schema_tool:
                parts.append(json.dumps(block.input))
            elif block.type == "tool_use":
                tool_calls.append(ToolCall(block.id, block.name, dict(block.input or {}), json.dumps(block.input)))
        usage = message.usage
        return Response(
            text="".join(parts),
            model=message.model or "",
            finish_reason=message.stop_reason,
            usage=Usage(getattr(usage, "input_tokens", 0) or 0, getattr(usage, "output_tokens", 0) or 0),
            raw=message,
            tool_calls=tool_calls,
        )

    def absorb(event: Any, out: StreamResponse) -> str | None:
        kind = event.type
        if kind == "message_start":
            out.model = event.message.model or out.model
            out.usage.prompt_tokens = event.message.usage.input_tokens or 0
            out.usage.completion_tokens = event.message.usage.output_tokens or 0
        elif kind == "content_block_start" and event.content_block.type == "tool_use":
            if out.partial is None:
                out.partial = ToolCallAssembler()
            out.partial.add(event.index, id=event.content_block.id, name=event.content_block.name)
        elif kind == "content_block_delta":
            delta = event.delta
            if delta.type == "text_delta" and delta.text:
                out.text += delta.text
                return str(delta.text)
            if delta.type == "input_json_delta" and out.partial is not None:
                out.partial.add(event.index, arguments=delta.partial_json)
        elif kind == "message_delta":
            out.finish_reason = event.delta.stop_reason or out.finish_reason
            if event.usage is not None and event.usage.output_tokens is not None:
                out.usage.completion_tokens = event.usage.output_tokens
        return None

    return Api(NAME, to_response, absorb, lambda: _sdk().APIError)


MESSAGES = _reader(None)


@hookimpl
def guardfn_call_model(call: Call, api_key: str) -> Any:
    """Runs for each model request whose provider is ``anthropic``; returns ``None`` otherwise."""
    if call.provider != NAME:
        return None
    client = call.client or _client(call, api_key)
    params = build_params(call)
    api = _reader(call.output_schema.name) if call.output_schema is not None and _forces_schema(call) else MESSAGES
    return send_request(api, call, api_key, lambda: client.messages.create(**params))
