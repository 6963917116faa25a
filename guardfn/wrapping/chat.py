"""``client.chat.completions.create`` of a wrapped ``OpenAI`` / ``AsyncOpenAI`` client.

Reads ``messages``, ``model``, ``max_tokens`` / ``max_completion_tokens``, ``stream``,
``stream_options``, ``tools`` (function tools, handed back to the caller) and ``user`` /
``safety_identifier`` (the user id for limits, also sent as given). Returns a
``ChatCompletion`` (or a stream of ``ChatCompletionChunk``) carrying the guarded text.
"""

from __future__ import annotations

import time
from typing import Any

from guardfn.call import Call, StreamResponse
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
from guardfn.wrapping.requests import (
    Policy,
    Request,
    max_tokens_of,
    model_of,
    plain,
    prompt_list,
    refuse,
    schema_tools,
    stream_of,
)

NAME = "chat.completions.create"


def _one(value: Any) -> str | None:
    return None if value == 1 else "guardfn guards one answer per request; n>1 asks for several"


def _text_only(value: Any) -> str | None:
    return None if list(value) == ["text"] else "audio output is neither screened nor checked by the output rules"


def _no_logprobs(value: Any) -> str | None:
    return "log probabilities carry the answer's tokens past the output controls" if value else None


POLICY = Policy(
    endpoint=NAME,
    owned=frozenset({"model", "messages", "max_tokens", "max_completion_tokens", "stream", "stream_options", "tools"}),
    passed=frozenset(
        {
            "frequency_penalty", "presence_penalty", "logit_bias", "metadata", "moderation", "parallel_tool_calls",
            "prompt_cache_key", "prompt_cache_options", "prompt_cache_retention", "reasoning_effort",
            "response_format", "safety_identifier", "seed", "service_tier", "stop", "store", "temperature",
            "tool_choice", "top_p", "user", "verbosity",
        }
    ),
    refused={
        "audio": "audio output is neither screened nor checked by the output rules",
        "functions": "the legacy functions API is not checked; offer the functions as tools=[...]",
        "function_call": "the legacy functions API is not checked; use tool_choice=",
        "prediction": "predicted output is text sent to the provider without screening or PII redaction",
        "web_search_options": "web search brings pages into the model's context that guardfn never screens",
    },
    checked={"n": _one, "modalities": _text_only, "logprobs": _no_logprobs, "top_logprobs": _no_logprobs},
)


def _read_tool(tool: dict[str, Any]) -> tuple[str, str | None, Any] | str:
    function = tool.get("function")
    if tool.get("type") != "function" or not isinstance(function, dict) or not isinstance(function.get("name"), str):
        return f"a tool of type {tool.get('type')!r}: only function tools can be checked"
    return function["name"], function.get("description"), function.get("parameters")


def parse(kwargs: dict[str, Any], settings: Settings) -> Request:
    """Sort one ``create()`` call's keywords (refusing what cannot be guarded)."""
    owned, extra = POLICY.sort(kwargs)
    stream = stream_of(owned)
    tools = schema_tools(NAME, owned.get("tools"), _read_tool)
    if tools:
        extra["tools"] = plain(owned["tools"])  # the caller's own definitions, as given (strict, ...)
    wants_usage = False
    options = plain(owned.get("stream_options"))
    if options is not None:
        if not isinstance(options, dict):
            raise refuse(NAME, "stream_options=...", "stream_options must be a dict")
        wants_usage = bool(options.get("include_usage"))
        # guardfn always asks for the usage (limits and budgets settle on it); the caller
        # sees the usage chunk only when it asked for it
        extra["stream_options"] = {**options, "include_usage": True} if stream else options
    user = extra.get("user") or extra.get("safety_identifier")
    return Request(
        messages=to_messages(prompt_list(NAME, owned.get("messages"), "messages"), settings.system),
        model=model_of(NAME, owned),
        max_tokens=max_tokens_of(NAME, settings, owned, ("max_tokens", "max_completion_tokens")),
        stream=stream,
        tools=tools,
        user_id=str(user) if user else None,
        extra=extra,
        wants_usage=wants_usage,
    )


def result(call: Call) -> Any:
    """The ``ChatCompletion``, copied, with the guarded text and the restored tool-call arguments."""
    completion = raw_answer(call)
    if not completion.choices:
        return completion
    message = completion.choices[0].message
    text = final_text(call)
    message.content = text if (text or message.content is not None) else None
    if getattr(message, "refusal", None):
        message.refusal = REFUSAL_WITHHELD
    arguments = tool_arguments(call)
    for tool_call in message.tool_calls or []:
        function = getattr(tool_call, "function", None)
        if function is not None and tool_call.id in arguments:
            function.arguments = arguments_json(arguments[tool_call.id])
    return completion


class Stream:
    """``ChatCompletionChunk`` s: a role chunk, one per piece of guarded text, one per tool call
    handed back, the finish reason, and the usage chunk when the caller asked for it."""

    def __init__(self, call: Call, request: Request, frames: Frames) -> None:
        self.call = call
        self.request = request
        self.frames = frames

    def _chunk(self, choices: list[dict[str, Any]], usage: Any = None) -> Any:
        from openai.types.chat import ChatCompletionChunk

        first = self.frames.get("chunk")
        head: dict[str, Any] = {
            "id": getattr(first, "id", None) or "chatcmpl-guardfn",
            "created": getattr(first, "created", None) or int(time.time()),
            "model": getattr(first, "model", None) or self.call.model,
            "object": "chat.completion.chunk",
            "system_fingerprint": getattr(first, "system_fingerprint", None),
            "service_tier": getattr(first, "service_tier", None),
        }
        return ChatCompletionChunk.model_validate({**head, "choices": choices, "usage": usage})

    def _delta(self, delta: dict[str, Any], finish_reason: str | None = None) -> Any:
        return self._chunk([{"index": 0, "delta": delta, "finish_reason": finish_reason}])

    def opening(self) -> list[Any]:
        """The chunk that starts the assistant message."""
        return [self._delta({"role": "assistant", "content": ""})]

    def text(self, delta: str) -> list[Any]:
        """One piece of guarded text."""
        return [self._delta({"content": delta})]

    def closing(self) -> list[Any]:
        """The tool calls, the finish reason, and the usage when asked for."""
        chunks = [
            self._delta(
                {
                    "tool_calls": [
                        {"index": n, "id": i, "type": "function", "function": {"name": name, "arguments": arguments_json(a)}}
                    ]
                }
            )
            for n, (i, name, a) in enumerate(handed_back(self.call))
        ]
        stream = self.call.response
        assert isinstance(stream, StreamResponse)
        chunks.append(self._delta({}, stream.finish_reason or "stop"))
        if self.request.wants_usage:
            usage = self.frames.usage
            if usage is None:
                u = stream.usage
                usage = {"prompt_tokens": u.prompt_tokens, "completion_tokens": u.completion_tokens, "total_tokens": u.total_tokens}
            chunks.append(self._chunk([], usage=plain(usage)))
        return chunks


ENDPOINT = Endpoint(NAME, "openai", "chat", ("chat", "completions"), parse, result, Stream)
