"""OpenAI through the official ``openai`` SDK: Chat Completions (default) or, with
``api="responses"``, the Responses API (:mod:`guardfn.providers.openai_responses`).

Works with any OpenAI-compatible server (vLLM, Ollama, LM Studio) through ``base_url=`` or
the SDK's own ``OPENAI_BASE_URL``. ``max_tokens`` is always sent: as
``max_completion_tokens`` for reasoning models (o1, o3, o4, gpt-5), which refuse the old
name. guardfn's canonical messages become Chat Completions messages here: image parts
``image_url`` parts, assistant tool calls ``tool_calls``, tool results ``tool`` messages.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from guardfn.call import Call, Message, OutputSchema, Response, StreamResponse, TextPart, ToolCall, Usage
from guardfn.hookspecs import hookimpl
from guardfn.providers.base import Api, ToolCallAssembler, cached_client, send_request

NAME = "openai"
_REASONING_MODELS = re.compile(r"^(o\d|gpt-5)")


def _sdk() -> Any:
    import openai

    return openai


@functools.lru_cache(maxsize=256)
def token_param(model: str) -> str:
    """The name the output-token limit goes under for ``model`` (remembered per model name)."""
    return "max_completion_tokens" if _REASONING_MODELS.match(model) else "max_tokens"


def _user_content(message: Message) -> str | list[dict[str, Any]]:
    """A plain string for one text part (what most requests are), else a list of parts."""
    content = message.content
    if len(content) == 1 and isinstance(content[0], TextPart):
        return content[0].text
    parts: list[dict[str, Any]] = []
    for part in content:
        if isinstance(part, TextPart):
            parts.append({"type": "text", "text": part.text})
        else:
            image: dict[str, Any] = {"url": part.url}
            if part.detail:
                image["detail"] = part.detail
            parts.append({"type": "image_url", "image_url": image})
    return parts


def chat_messages(messages: list[Message]) -> list[dict[str, Any]]:
    """Canonical messages as Chat Completions messages."""
    out: list[dict[str, Any]] = []
    for m in messages:
        if m.role == "user":
            out.append({"role": "user", "content": _user_content(m)})
        elif m.role == "assistant" and m.tool_calls:
            message: dict[str, Any] = {"role": "assistant"}
            if m.content:  # no "content": null: the SDK's own request building pays ~60 us for it
                message["content"] = m.text
            message["tool_calls"] = [
                {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments_json()}}
                for c in m.tool_calls
            ]
            out.append(message)
        elif m.role == "tool":
            out.append({"role": "tool", "tool_call_id": m.tool_call_id, "content": m.text})
        else:
            out.append({"role": m.role, "content": m.text})
    return out


def response_format(schema: OutputSchema) -> dict[str, Any]:
    """``response_format`` for a JSON schema answer (strict where the schema allows it)."""
    strict = schema.strict_schema is not None
    return {
        "type": "json_schema",
        "json_schema": {"name": schema.name, "schema": schema.strict_schema or schema.schema, "strict": strict},
    }


def build_params(call: Call) -> dict[str, Any]:
    """The keyword arguments for ``chat.completions.create``."""
    settings = call.settings
    params: dict[str, Any] = {"model": call.model, "messages": chat_messages(call.messages)}
    params[token_param(call.model)] = call.max_tokens
    if settings.temperature is not None:
        params["temperature"] = settings.temperature
    if call.tools:
        params["tools"] = [
            {"type": "function", "function": {"name": t.name, "description": t.description, "parameters": t.parameters}}
            for t in call.tools
        ]
    if call.output_schema is not None:
        params["response_format"] = response_format(call.output_schema)
    if settings.params:
        params.update(settings.params)
    if call.stream:
        params["stream"] = True
        params["stream_options"] = {"include_usage": True}
    if call.extra_request:
        params.update(call.extra_request)
    return params


def client_for(call: Call, api_key: str) -> Any:
    """The (cached) ``OpenAI`` / ``AsyncOpenAI`` client for this call's endpoint and key."""
    openai = _sdk()
    settings = call.settings
    cls = openai.AsyncOpenAI if call.is_async else openai.OpenAI

    def make() -> Any:
        return cls(api_key=api_key, base_url=settings.base_url, timeout=settings.timeout, max_retries=0)

    return cached_client(NAME, settings, api_key, call.is_async, make)


def to_response(completion: Any) -> Response:
    """A :class:`Response` from a ``ChatCompletion`` (its text and tool calls)."""
    choice = completion.choices[0] if completion.choices else None
    message = getattr(choice, "message", None)
    text = getattr(message, "content", None) or ""
    tool_calls = [
        ToolCall.from_json(c.id, c.function.name, c.function.arguments or "")
        for c in getattr(message, "tool_calls", None) or []
        if getattr(c, "function", None) is not None
    ]
    usage = completion.usage
    return Response(
        text=text,
        model=completion.model or "",
        finish_reason=getattr(choice, "finish_reason", None),
        usage=Usage(getattr(usage, "prompt_tokens", 0) or 0, getattr(usage, "completion_tokens", 0) or 0),
        raw=completion,
        tool_calls=tool_calls,
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
    delta = choice.delta
    if delta is None:
        return None
    for piece in delta.tool_calls or ():
        if out.partial is None:
            out.partial = ToolCallAssembler()
        function = piece.function
        out.partial.add(
            piece.index,
            id=piece.id,
            name=function.name if function is not None else None,
            arguments=function.arguments if function is not None else None,
        )
    text = delta.content
    if text:
        out.text += text
    return text or None


def _sdk_error() -> type[BaseException]:
    return _sdk().APIError


CHAT = Api(NAME, to_response, _absorb, _sdk_error)


@hookimpl
def guardfn_call_model(call: Call, api_key: str) -> Any:
    """Runs for each model request whose provider is ``openai``; returns ``None`` otherwise."""
    if call.provider != NAME:
        return None
    client = call.client or client_for(call, api_key)
    if call.settings.api == "responses":
        from guardfn.providers.openai_responses import RESPONSES
        from guardfn.providers.openai_responses import build_params as responses_params

        params = responses_params(call)
        api = RESPONSES
        create = lambda: client.responses.create(**params)  # noqa: E731
    else:
        params = build_params(call)
        api = CHAT
        create = lambda: client.chat.completions.create(**params)  # noqa: E731
    return send_request(api, call, api_key, create)
