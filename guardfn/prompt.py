"""What a prompt function may return, turned into guardfn's canonical messages.

A prompt is a ``str`` (one user message) or a list of messages in any of the vocabularies
people already write, mixed freely:

* OpenAI Chat Completions: ``{"role": "system" | "developer" | "user" | "assistant" | "tool",
  "content": str | [parts]}``, parts ``{"type": "text", "text"}`` and ``{"type": "image_url",
  "image_url": {"url", "detail"}}``; assistant ``tool_calls``
  (``{"id", "function": {"name", "arguments"}}``); tool messages with ``tool_call_id``;
* Anthropic Messages: content blocks ``text``, ``image`` (``source`` ``url`` or ``base64``),
  ``tool_use`` in assistant turns, ``tool_result`` in user turns;
* OpenAI Responses: ``input_text`` / ``input_image`` / ``output_text`` parts and the
  ``function_call`` / ``function_call_output`` items;
* :class:`guardfn.call.Message` objects.

A message or a text part with ``"untrusted": True`` is data rather than the user's request
(a retrieved document), screened for instructions addressed to the assistant;
:func:`untrusted` builds one. Images must be ``https://`` or ``data:image/...;base64,``
URLs. Anything else raises :class:`guardfn.InvalidPrompt` naming the message and what is
wrong, before any request.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from guardfn.call import ImagePart, Message, Part, TextPart, ToolCall, text_message
from guardfn.errors import InvalidPrompt

__all__ = ["to_messages", "untrusted"]

_ROLES = {"system": "system", "developer": "system", "user": "user", "assistant": "assistant", "tool": "tool"}
_HINT = "return a str, or a list of {'role': ..., 'content': ...} messages (see README: the guarded call)"


def untrusted(text: str, *, role: str = "user") -> dict[str, Any]:
    """A message holding ``text`` as data (a retrieved document, a web page): it is screened
    for instructions addressed to the assistant with the untrusted-content profile."""
    return {"role": role, "content": [{"type": "text", "text": text}], "untrusted": True}


def _bad(index: int, what: str) -> InvalidPrompt:
    return InvalidPrompt(f"message {index}: {what}", hint=_HINT)


def _image(index: int, url: Any, detail: Any = None) -> ImagePart:
    if not isinstance(url, str) or not (url.startswith("https://") or url.startswith("data:image/")):
        raise _bad(index, "an image must be an https:// URL or a data:image/...;base64, URL")
    if url.startswith("data:") and ";base64," not in url[:100]:
        raise _bad(index, "a data: image URL must be base64 (data:image/png;base64,...)")
    if detail is not None and detail not in ("auto", "low", "high"):
        raise _bad(index, "image detail must be 'auto', 'low' or 'high'")
    return ImagePart(url, detail)


def _tool_call(index: int, id: Any, name: Any, arguments: Any) -> ToolCall:
    """A tool call whose arguments are given as an object or as JSON text."""
    if isinstance(arguments, dict):
        return ToolCall(str(id or ""), str(name or ""), copy.deepcopy(arguments), json.dumps(arguments))
    if isinstance(arguments, str):
        return ToolCall.from_json(str(id or ""), str(name or ""), arguments)
    raise _bad(index, "tool call arguments must be a JSON object or its text")


def _tool_result_text(index: int, content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = [b.get("text") for b in content if isinstance(b, dict) and b.get("type") in ("text", "input_text")]
        if all(isinstance(t, str) for t in texts) and len(texts) == len(content):
            return "\n\n".join(texts)  # type: ignore[arg-type]
    raise _bad(index, "a tool result must be text (a str or text blocks)")


class _Builder:
    """Accumulates canonical messages; Anthropic tool_result blocks and Responses items
    become their own messages, consecutive function_call items one assistant message."""

    def __init__(self) -> None:
        self.messages: list[Message] = []

    def add(self, index: int, item: Any) -> None:
        if isinstance(item, Message):
            self.messages.append(copy.deepcopy(item))  # stages edit messages: never the caller's own
            return
        if not isinstance(item, dict):
            raise _bad(index, f"is a {type(item).__name__}, not a dict")
        kind = item.get("type")
        if "role" not in item and kind in ("function_call", "function_call_output"):
            self._responses_item(index, item)
            return
        role = _ROLES.get(item.get("role"))  # type: ignore[arg-type]
        if role is None:
            raise _bad(index, "role must be system, developer, user, assistant or tool")
        flag = bool(item.get("untrusted", False))
        if role == "tool":
            call_id = item.get("tool_call_id")
            if not isinstance(call_id, str) or not call_id:
                raise _bad(index, "a tool message needs its tool_call_id")
            name = item.get("name") if isinstance(item.get("name"), str) else None
            self.messages.append(
                text_message("tool", _tool_result_text(index, item.get("content")), tool_call_id=call_id, name=name)
            )
            return
        if item.get("content") is None and role in ("system", "user"):
            raise _bad(index, f"a {role} message needs its content")
        parts, tool_calls, results = self._content(index, role, item.get("content"))
        for raw in item.get("tool_calls") or []:
            tool_calls.append(self._openai_tool_call(index, raw))
        if tool_calls and role != "assistant":
            raise _bad(index, "only assistant messages carry tool calls")
        if parts or tool_calls or not results:
            self.messages.append(Message(role=role, content=parts, tool_calls=tool_calls, untrusted=flag))  # type: ignore[arg-type]
        self.messages.extend(results)

    def _content(self, index: int, role: str, content: Any) -> tuple[list[Part], list[ToolCall], list[Message]]:
        if content is None:
            return [], [], []
        if isinstance(content, str):
            return [TextPart(content)], [], []
        if not isinstance(content, list):
            raise _bad(index, "content must be a str or a list of parts")
        parts: list[Part] = []
        tool_calls: list[ToolCall] = []
        results: list[Message] = []
        for block in content:
            if isinstance(block, str):
                parts.append(TextPart(block))
                continue
            if not isinstance(block, dict):
                raise _bad(index, "a content part must be a dict")
            kind = block.get("type")
            if kind in ("text", "input_text", "output_text"):
                if not isinstance(block.get("text"), str):
                    raise _bad(index, "a text part needs its text")
                parts.append(TextPart(block["text"], bool(block.get("untrusted", False))))
            elif kind == "image_url":
                image = block.get("image_url")
                url, detail = (image.get("url"), image.get("detail")) if isinstance(image, dict) else (image, None)
                parts.append(_image(index, url, detail))
            elif kind == "input_image":
                parts.append(_image(index, block.get("image_url"), block.get("detail")))
            elif kind == "image":
                parts.append(_image(index, _anthropic_image_url(index, block.get("source"))))
            elif kind == "tool_use" and role == "assistant":
                tool_calls.append(_tool_call(index, block.get("id"), block.get("name"), block.get("input", {})))
            elif kind == "tool_result" and role == "user":
                text = _tool_result_text(index, block.get("content", ""))
                results.append(text_message("tool", text, tool_call_id=str(block.get("tool_use_id") or "")))
            else:
                raise _bad(index, f"a part of type {kind!r} is not supported in a {role} message")
        return parts, tool_calls, results

    def _openai_tool_call(self, index: int, raw: Any) -> ToolCall:
        function = raw.get("function") if isinstance(raw, dict) else None
        if not isinstance(function, dict) or not isinstance(function.get("name"), str):
            raise _bad(index, "a tool call needs an id and a function with a name and arguments")
        return _tool_call(index, raw.get("id"), function["name"], function.get("arguments", "{}"))

    def _responses_item(self, index: int, item: dict[str, Any]) -> None:
        call_id = item.get("call_id")
        if not isinstance(call_id, str) or not call_id:
            raise _bad(index, f"a {item['type']} item needs its call_id")
        if item["type"] == "function_call_output":
            output = item.get("output")
            self.messages.append(text_message("tool", _tool_result_text(index, output), tool_call_id=call_id))
            return
        tool_call = _tool_call(index, call_id, item.get("name"), item.get("arguments", "{}"))
        last = self.messages[-1] if self.messages else None
        if last is not None and last.role == "assistant" and (last.tool_calls or not last.content):
            last.tool_calls.append(tool_call)
        else:
            self.messages.append(Message(role="assistant", tool_calls=[tool_call]))


def _anthropic_image_url(index: int, source: Any) -> str:
    if isinstance(source, dict) and source.get("type") == "url":
        return str(source.get("url"))
    if isinstance(source, dict) and source.get("type") == "base64":
        return f"data:{source.get('media_type')};base64,{source.get('data')}"
    raise _bad(index, "an image block needs a url or base64 source")


def _check_tool_flow(messages: list[Message]) -> None:
    """Every tool call has an id and a name, and every tool result answers an earlier call."""
    asked: set[str] = set()
    for index, message in enumerate(messages):
        for tool_call in message.tool_calls:
            if not tool_call.id or not tool_call.name:
                raise _bad(index, "a tool call needs an id and a name")
            asked.add(tool_call.id)
        if message.role == "tool" and message.tool_call_id not in asked:
            raise _bad(index, "a tool result answers no earlier tool call (tool_call_id not found)")


def to_messages(prompt: Any, system: str | None) -> list[Message]:
    """Normalise what the prompt function returned into a fresh list of canonical messages."""
    if isinstance(prompt, str):
        messages = [text_message("user", prompt)]
    elif isinstance(prompt, (list, tuple)):
        builder = _Builder()
        for index, item in enumerate(prompt):
            builder.add(index, item)
        messages = builder.messages
    else:
        raise InvalidPrompt(
            f"the prompt function returned {type(prompt).__name__}, not a str or a list of messages", hint=_HINT
        )
    if not any(m.role != "system" for m in messages):
        raise InvalidPrompt("the prompt has no user message", hint=_HINT)
    _check_tool_flow(messages)
    if system:
        messages.insert(0, text_message("system", system))
    return messages
