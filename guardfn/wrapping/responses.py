"""``client.responses.create`` of a wrapped ``OpenAI`` / ``AsyncOpenAI`` client.

Reads ``input`` (a string, or message, ``function_call`` and ``function_call_output``
items), ``instructions`` (a system message), ``model``, ``max_output_tokens``, ``stream``,
``tools`` (function tools, handed back to the caller) and ``user`` / ``safety_identifier``
(the user id for limits, also sent as given). The whole conversation must be in the
request: ``previous_response_id`` and ``conversation`` are refused. Responses are not
stored at OpenAI unless ``store=True`` is passed. Returns a ``Response`` (or a stream of
``ResponseStreamEvent`` s) carrying the guarded text.
"""

from __future__ import annotations

import functools
from typing import Any

from guardfn.call import Call
from guardfn.errors import InvalidPrompt
from guardfn.prompt import to_messages
from guardfn.settings import Settings
from guardfn.wrapping.answers import (
    REFUSAL_WITHHELD,
    arguments_json,
    final_text,
    handed_back,
    raw_answer,
    tool_arguments,
)
from guardfn.wrapping.endpoint import Endpoint
from guardfn.wrapping.frames import Frames
from guardfn.wrapping.requests import Policy, Request, max_tokens_of, model_of, plain, schema_tools, stream_of

NAME = "responses.create"
_HISTORY_ELSEWHERE = "the conversation stored at OpenAI is not in the request, so guardfn cannot screen it; send it in input="
_READABLE_ITEMS = frozenset({"message", "function_call", "function_call_output"})


def _falsy(why: str) -> Any:
    return lambda value: why if value else None


def _no_logprobs_included(value: Any) -> str | None:
    if any("logprobs" in str(entry) for entry in value or ()):
        return "log probabilities carry the answer's tokens past the output controls"
    return None


def _no_summary(value: Any) -> str | None:
    reasoning = plain(value)
    if isinstance(reasoning, dict) and (reasoning.get("summary") or reasoning.get("generate_summary")):
        return "reasoning summaries are model text that the output controls do not check"
    return None


POLICY = Policy(
    endpoint=NAME,
    owned=frozenset({"model", "input", "instructions", "max_output_tokens", "stream", "tools"}),
    passed=frozenset(
        {
            "access_programs", "image", "max_tool_calls", "metadata", "moderation", "parallel_tool_calls",
            "prompt_cache_key", "prompt_cache_options", "prompt_cache_retention", "safety_identifier",
            "service_tier", "store", "stream_options", "temperature", "text", "tool_choice", "top_p",
            "truncation", "user",
        }
    ),
    refused={
        "previous_response_id": _HISTORY_ELSEWHERE,
        "conversation": _HISTORY_ELSEWHERE,
        "prompt": "a stored prompt's text and variables reach the model without screening",
        "background_options": "a background response is fetched later, outside guardfn",
        "context_management": "server-side compaction rewrites the conversation outside guardfn",
    },
    checked={
        "background": _falsy("a background response is fetched later, outside guardfn"),
        "include": _no_logprobs_included,
        "top_logprobs": _falsy("log probabilities carry the answer's tokens past the output controls"),
        "reasoning": _no_summary,
    },
)


def _read_tool(tool: dict[str, Any]) -> tuple[str, str | None, Any] | str:
    if tool.get("type") != "function" or not isinstance(tool.get("name"), str):
        return f"a tool of type {tool.get('type')!r}: hosted tools run outside guardfn; only function tools can be checked"
    return tool["name"], tool.get("description"), tool.get("parameters")


def _prompt(owned: dict[str, Any]) -> list[Any]:
    given = owned.get("input")
    if given is None:
        raise InvalidPrompt(f"{NAME}() needs input=", hint="pass the conversation, as the SDK requires")
    items = [{"role": "user", "content": given}] if isinstance(given, str) else plain(list(given))
    for index, item in enumerate(items):
        kind = item.get("type", "message") if isinstance(item, dict) else None
        if kind not in _READABLE_ITEMS:
            raise InvalidPrompt(
                f"input item {index} of type {kind!r} cannot be screened",
                hint="send messages, function_call and function_call_output items; guardfn.wrap refuses the rest",
            )
    instructions = owned.get("instructions")
    return ([{"role": "system", "content": instructions}] if instructions else []) + items


def parse(kwargs: dict[str, Any], settings: Settings) -> Request:
    """Sort one ``create()`` call's keywords (refusing what cannot be guarded)."""
    owned, extra = POLICY.sort(kwargs)
    tools = schema_tools(NAME, owned.get("tools"), _read_tool)
    if tools:
        extra["tools"] = plain(owned["tools"])  # the caller's own definitions, as given
    user = extra.get("user") or extra.get("safety_identifier")
    return Request(
        messages=to_messages(_prompt(owned), settings.system),
        model=model_of(NAME, owned),
        max_tokens=max_tokens_of(NAME, settings, owned, ("max_output_tokens",)),
        stream=stream_of(owned),
        tools=tools,
        user_id=str(user) if user else None,
        extra=extra,
    )


def put_answer(response: Any, text: str, arguments: dict[str, dict[str, Any]]) -> Any:
    """Write the guarded answer into a Responses ``Response`` (in place; returned): the text in
    the first ``output_text`` part (the other text parts dropped), restored tool-call
    arguments, refusals withheld, reasoning summaries emptied."""
    placed = False
    for item in response.output or []:
        kind = getattr(item, "type", None)
        if kind == "message":
            parts = []
            for part in item.content or []:
                part_type = getattr(part, "type", None)
                if part_type == "output_text":
                    if placed:
                        continue
                    if part.text != text:
                        part.annotations = []
                    part.text = text
                    part.logprobs = None
                    placed = True
                elif part_type == "refusal":
                    part.refusal = REFUSAL_WITHHELD
                parts.append(part)
            item.content = parts
        elif kind == "function_call" and item.call_id in arguments:
            item.arguments = arguments_json(arguments[item.call_id])
        elif kind == "reasoning":
            item.summary = []
            if getattr(item, "content", None):
                item.content = None
    return response


def result(call: Call) -> Any:
    """The ``Response``, copied, with the guarded text and the restored tool-call arguments."""
    return put_answer(raw_answer(call), final_text(call), tool_arguments(call))


class Stream:
    """The Responses stream events around the guarded text: ``response.created``, the message
    item and its ``output_text`` deltas, the function calls handed back, ``response.completed``
    (its response carrying the guarded answer); numbered afresh."""

    def __init__(self, call: Call, request: Request, frames: Frames) -> None:
        self.call = call
        self.frames = frames
        self.sequence = 0
        self.text_so_far = ""
        self.item_id = "msg_guardfn"
        self.output_index = 0
        self.started = False

    def _event(self, payload: dict[str, Any]) -> Any:
        event = _events().validate_python({**payload, "sequence_number": self.sequence})
        self.sequence += 1
        return event

    def opening(self) -> list[Any]:
        """``response.created`` as the provider sent it (before any output)."""
        created = self.frames.get("response.created")
        if created is None:
            return []
        response = created.response.model_copy(update={"output": []})
        return [self._event({"type": "response.created", "response": response})]

    def text(self, delta: str) -> list[Any]:
        """One piece of guarded text (after the message item and its text part are announced)."""
        events = []
        if not self.started:
            self.started = True
            added = self.frames.get("response.output_item.added:message")
            if added is not None:
                self.item_id, self.output_index = added.item.id, added.output_index
                item = added.item.model_copy(update={"content": []})
                events.append(self._event({"type": "response.output_item.added", "output_index": self.output_index, "item": item}))
            events.append(self._event({**self._place(), "type": "response.content_part.added", "part": _text_part("")}))
        self.text_so_far += delta
        events.append(self._event({**self._place(), "type": "response.output_text.delta", "delta": delta, "logprobs": []}))
        return events

    def _place(self) -> dict[str, Any]:
        return {"item_id": self.item_id, "output_index": self.output_index, "content_index": 0}

    def closing(self) -> list[Any]:
        """The text and message done, the function calls, then ``response.completed``."""
        events = []
        final = self._final()
        if self.started:
            text = self.text_so_far
            events.append(self._event({**self._place(), "type": "response.output_text.done", "text": text, "logprobs": []}))
            events.append(self._event({**self._place(), "type": "response.content_part.done", "part": _text_part(text)}))
            message = next((i for i in getattr(final, "output", None) or [] if getattr(i, "type", None) == "message"), None)
            if message is not None:
                events.append(self._event({"type": "response.output_item.done", "output_index": self.output_index, "item": message}))
        output = list(getattr(final, "output", None) or [])
        items = {getattr(item, "call_id", None): (index, item) for index, item in enumerate(output)}
        for call_id, name, arguments in handed_back(self.call):
            index, item = items.get(call_id, (len(output), None))
            text = arguments_json(arguments)
            done = plain(item) if item is not None else {"type": "function_call", "call_id": call_id, "name": name}
            done.update(arguments=text, status="completed")
            where = {"item_id": done.get("id") or call_id, "output_index": index}
            started = {**done, "arguments": "", "status": "in_progress"}
            events.append(self._event({"type": "response.output_item.added", "output_index": index, "item": started}))
            events.append(self._event({**where, "type": "response.function_call_arguments.delta", "delta": text}))
            events.append(self._event({**where, "type": "response.function_call_arguments.done", "arguments": text, "name": name}))
            events.append(self._event({"type": "response.output_item.done", "output_index": index, "item": done}))
        if final is not None:
            kind = "response.incomplete" if getattr(final, "status", None) == "incomplete" else "response.completed"
            events.append(self._event({"type": kind, "response": final}))
        return events

    def _final(self) -> Any:
        """The finished response as the provider sent it, carrying the guarded answer instead."""
        done = self.frames.get("response.completed") or self.frames.get("response.incomplete")
        if done is None:
            return None
        return put_answer(done.response.model_copy(deep=True), self.text_so_far, tool_arguments(self.call))


@functools.lru_cache(maxsize=1)
def _events() -> Any:
    """A validator of the SDK's ``ResponseStreamEvent`` union (built once)."""
    from openai.types.responses import ResponseStreamEvent
    from pydantic import TypeAdapter

    return TypeAdapter(ResponseStreamEvent)


def _text_part(text: str) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": []}


ENDPOINT = Endpoint(NAME, "openai", "responses", ("responses",), parse, result, Stream)
