"""``client.messages.create`` of a wrapped ``Anthropic`` / ``AsyncAnthropic`` client.

Reads ``messages``, ``system`` (a string or text blocks), ``model``, ``max_tokens``,
``stream``, ``tools`` (custom tools with an ``input_schema``, handed back to the caller)
and ``metadata={"user_id": ...}`` (the user id for limits, also sent as given). Returns a
``Message`` (or a stream of the raw ``message_start`` ... ``message_stop`` events) carrying
the guarded text.
"""

from __future__ import annotations

from typing import Any

from guardfn.call import Call, StreamResponse
from guardfn.prompt import to_messages
from guardfn.settings import Settings
from guardfn.wrapping.answers import arguments_json, final_text, handed_back, raw_answer, tool_arguments
from guardfn.wrapping.endpoint import Endpoint
from guardfn.wrapping.frames import Frames
from guardfn.wrapping.requests import (
    Policy,
    Request,
    max_tokens_of,
    model_of,
    plain,
    prompt_list,
    schema_tools,
    stream_of,
    text_of_system,
)

NAME = "messages.create"


def _thinking_off(value: Any) -> str | None:
    config = plain(value)
    if isinstance(config, dict) and config.get("type") == "disabled":
        return None
    return "thinking blocks are model text the output controls do not check, and cannot be sent back through guardfn"


POLICY = Policy(
    endpoint=NAME,
    owned=frozenset({"model", "messages", "system", "max_tokens", "stream", "tools"}),
    passed=frozenset(
        {
            "cache_control", "diagnostics", "inference_geo", "metadata", "output_config", "service_tier",
            "speed", "stop_sequences", "temperature", "tool_choice", "top_k", "top_p", "user_profile_id",
            "workspace_id",
        }
    ),
    refused={
        "container": "a code-execution container runs tools outside guardfn",
        "mcp_servers": "MCP servers are called by the provider, outside guardfn",
    },
    checked={"thinking": _thinking_off},
)


def _read_tool(tool: dict[str, Any]) -> tuple[str, str | None, Any] | str:
    if tool.get("type") not in (None, "custom") or not isinstance(tool.get("name"), str):
        return f"a tool of type {tool.get('type')!r}: server and Anthropic-defined tools run or take input outside guardfn"
    return tool["name"], tool.get("description"), tool.get("input_schema")


def parse(kwargs: dict[str, Any], settings: Settings) -> Request:
    """Sort one ``create()`` call's keywords (refusing what cannot be guarded)."""
    owned, extra = POLICY.sort(kwargs)
    tools = schema_tools(NAME, owned.get("tools"), _read_tool)
    if tools:
        extra["tools"] = plain(owned["tools"])  # the caller's own definitions, as given (cache_control ...)
    system = text_of_system(owned.get("system"))
    prompt = ([{"role": "system", "content": system}] if system else []) + prompt_list(NAME, owned.get("messages"), "messages")
    metadata = plain(extra.get("metadata"))
    user = metadata.get("user_id") if isinstance(metadata, dict) else None
    return Request(
        messages=to_messages(prompt, settings.system),
        model=model_of(NAME, owned),
        max_tokens=max_tokens_of(NAME, settings, owned, ("max_tokens",)),
        stream=stream_of(owned),
        tools=tools,
        user_id=str(user) if user else None,
        extra=extra,
    )


def put_answer(message: Any, text: str, arguments: dict[str, dict[str, Any]]) -> Any:
    """Write the guarded answer into a ``Message`` (in place; returned): the text in the first
    text block (the other text blocks dropped), restored ``tool_use`` inputs."""
    blocks = []
    placed = False
    for block in message.content or []:
        if block.type == "text":
            if placed:
                continue
            if block.text != text:
                block.citations = None
            block.text = text
            placed = True
        elif block.type == "tool_use" and block.id in arguments:
            block.input = arguments[block.id]
        blocks.append(block)
    message.content = blocks
    return message


def result(call: Call) -> Any:
    """The ``Message``, copied, with the guarded text and the restored tool inputs."""
    return put_answer(raw_answer(call), final_text(call), tool_arguments(call))


class Stream:
    """The raw Messages stream events around the guarded text: ``message_start``, a text block
    of guarded deltas, a ``tool_use`` block per tool call handed back, ``message_delta``
    (stop reason and usage) and ``message_stop``."""

    def __init__(self, call: Call, request: Request, frames: Frames) -> None:
        self.call = call
        self.frames = frames
        self.started = False

    def opening(self) -> list[Any]:
        """``message_start`` as the provider sent it (its content is always empty)."""
        from anthropic.types import RawMessageStartEvent

        start = self.frames.get("message_start")
        if start is not None:
            return [start.model_copy(update={"message": start.message.model_copy(update={"content": []})})]
        message = {
            "id": "msg_guardfn", "type": "message", "role": "assistant", "model": self.call.model,
            "content": [], "usage": {"input_tokens": 0, "output_tokens": 0},
        }
        return [RawMessageStartEvent.model_validate({"type": "message_start", "message": message})]

    def text(self, delta: str) -> list[Any]:
        """One piece of guarded text (after the text block starts)."""
        from anthropic.types import RawContentBlockDeltaEvent, RawContentBlockStartEvent

        events: list[Any] = []
        if not self.started:
            self.started = True
            block = {"type": "text", "text": ""}
            events.append(RawContentBlockStartEvent.model_validate({"type": "content_block_start", "index": 0, "content_block": block}))
        delta_event = {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": delta}}
        events.append(RawContentBlockDeltaEvent.model_validate(delta_event))
        return events

    def closing(self) -> list[Any]:
        """The text block's end, the tool calls, ``message_delta`` and ``message_stop``."""
        from anthropic.types import (
            RawContentBlockDeltaEvent,
            RawContentBlockStartEvent,
            RawContentBlockStopEvent,
            RawMessageDeltaEvent,
            RawMessageStopEvent,
        )

        events: list[Any] = []
        if self.started:
            events.append(RawContentBlockStopEvent(type="content_block_stop", index=0))
        for index, (call_id, name, arguments) in enumerate(handed_back(self.call), start=1 if self.started else 0):
            block = {"type": "tool_use", "id": call_id, "name": name, "input": {}}
            events.append(RawContentBlockStartEvent.model_validate({"type": "content_block_start", "index": index, "content_block": block}))
            delta = {"type": "input_json_delta", "partial_json": arguments_json(arguments)}
            events.append(RawContentBlockDeltaEvent.model_validate({"type": "content_block_delta", "index": index, "delta": delta}))
            events.append(RawContentBlockStopEvent(type="content_block_stop", index=index))
        finished = self.frames.get("message_delta")
        if finished is None:
            stream = self.call.response
            assert isinstance(stream, StreamResponse)
            finished = RawMessageDeltaEvent.model_validate(
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": stream.finish_reason, "stop_sequence": None},
                    "usage": {"output_tokens": stream.usage.completion_tokens},
                }
            )
        events.append(finished)
        events.append(RawMessageStopEvent(type="message_stop"))
        return events


ENDPOINT = Endpoint(NAME, "anthropic", "chat", ("messages",), parse, result, Stream)
