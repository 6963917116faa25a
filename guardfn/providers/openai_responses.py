"""OpenAI's Responses API (``api="responses"``), through the official ``openai`` SDK.

System messages become ``instructions``; user and assistant messages become input messages
(``input_text`` / ``input_image`` parts); assistant tool calls ``function_call`` items and
tool results ``function_call_output`` items. ``max_tokens`` is sent as
``max_output_tokens``, a schema as ``text.format``, tools as function tools (``strict:
false``: guardfn validates the arguments itself). Responses are not stored on OpenAI's side
(``store: false``) unless ``params={"store": True}`` says so. The client, retries and error
handling are the ones Chat Completions uses (:mod:`guardfn.providers.openai`).
"""

from __future__ import annotations

from typing import Any

from guardfn.call import Call, Message, Response, StreamResponse, TextPart, ToolCall, Usage
from guardfn.providers.base import Api, ToolCallAssembler

NAME = "openai"
_INCOMPLETE = {"max_output_tokens": "length", "content_filter": "content_filter"}


def _content(message: Message) -> str | list[dict[str, Any]]:
    content = message.content
    if len(content) == 1 and isinstance(content[0], TextPart):
        return content[0].text
    parts: list[dict[str, Any]] = []
    for part in content:
        if isinstance(part, TextPart):
            parts.append({"type": "input_text", "text": part.text})
        else:
            parts.append({"type": "input_image", "image_url": part.url, "detail": part.detail or "auto"})
    return parts


def input_items(messages: list[Message]) -> list[dict[str, Any]]:
    """Canonical messages (system excepted) as Responses input items."""
    items: list[dict[str, Any]] = []
    for m in messages:
        if m.role == "system":
            continue
        if m.role == "tool":
            items.append({"type": "function_call_output", "call_id": m.tool_call_id, "output": m.text})
            continue
        if m.content:
            items.append({"role": m.role, "content": _content(m) if m.role == "user" else m.text})
        items.extend(
            {"type": "function_call", "call_id": c.id, "name": c.name, "arguments": c.arguments_json()}
            for c in m.tool_calls
        )
    return items


def build_params(call: Call) -> dict[str, Any]:
    """The keyword arguments for ``responses.create``."""
    settings = call.settings
    params: dict[str, Any] = {
        "model": call.model,
        "input": input_items(call.messages),
        "max_output_tokens": call.max_tokens,
        "store": False,
    }
    system = [m.text for m in call.messages if m.role == "system"]
    if system:
        params["instructions"] = "\n\n".join(system)
    if settings.temperature is not None:
        params["temperature"] = settings.temperature
    if call.tools:
        params["tools"] = [
            {
                "type": "function",
                "name": t.name,
                "description": t.description,
                "parameters": t.parameters,
                "strict": False,
            }
            for t in call.tools
        ]
    if settings.params:
        params.update(settings.params)
    schema = call.output_schema
    if schema is not None:
        text = dict(params.get("text") or {})
        text["format"] = {
            "type": "json_schema",
            "name": schema.name,
            "schema": schema.strict_schema or schema.schema,
            "strict": schema.strict_schema is not None,
        }
        params["text"] = text
    if call.stream:
        params["stream"] = True
    if call.extra_request:
        params.update(call.extra_request)
    return params


def _finish_reason(response: Any, has_tools: bool) -> str | None:
    if has_tools:
        return "tool_calls"
    details = getattr(response, "incomplete_details", None)
    reason = getattr(details, "reason", None)
    if reason:
        return _INCOMPLETE.get(reason, reason)
    return "stop" if getattr(response, "status", None) == "completed" else getattr(response, "status", None)


def _usage(usage: Any) -> Usage:
    return Usage(getattr(usage, "input_tokens", 0) or 0, getattr(usage, "output_tokens", 0) or 0)


def to_response(response: Any) -> Response:
    """A :class:`Response` from a Responses API ``Response`` (its output text and function calls)."""
    texts: list[str] = []
    tool_calls: list[ToolCall] = []
    for item in response.output or []:
        kind = getattr(item, "type", None)
        if kind == "message":
            texts.extend(part.text for part in item.content or [] if getattr(part, "type", None) == "output_text")
        elif kind == "function_call":
            tool_calls.append(ToolCall.from_json(item.call_id, item.name, item.arguments or ""))
    return Response(
        text="".join(texts),
        model=response.model or "",
        finish_reason=_finish_reason(response, bool(tool_calls)),
        usage=_usage(response.usage),
        raw=response,
        tool_calls=tool_calls,
    )


def _absorb(event: Any, out: StreamResponse) -> str | None:
    kind = event.type
    if kind == "response.output_text.delta":
        out.text += event.delta
        return str(event.delta) or None
    if kind == "response.output_item.added" and getattr(event.item, "type", None) == "function_call":
        if out.partial is None:
            out.partial = ToolCallAssembler()
        out.partial.add(event.output_index, id=event.item.call_id, name=event.item.name)
    elif kind == "response.function_call_arguments.delta":
        if out.partial is None:
            out.partial = ToolCallAssembler()
        out.partial.add(event.output_index, arguments=event.delta)
    elif kind in ("response.completed", "response.incomplete"):
        response = event.response
        out.model = response.model or out.model
        out.usage = _usage(response.usage)
        out.finish_reason = _finish_reason(response, out.partial is not None)
    return None


def _sdk_error() -> type[BaseException]:
    import openai

    return openai.APIError


RESPONSES = Api(NAME, to_response, _absorb, _sdk_error)
