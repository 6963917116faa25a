"""A loopback server that speaks OpenAI Chat Completions and Responses and Anthropic Messages.

Tests (and ``guardfn demo``) point the real SDKs at it, so every guarded call goes through
the real client code and a real socket. Replies are scripted (text, tool calls, usage,
chunks, delays, errors with ``Retry-After``, broken JSON); without a script it echoes the
last user message or tool result, which shows exactly what reached the "provider". Every
request is recorded; image parts and tool results are accepted in every API's shape.

    with FakeLLMServer() as server:
        server.reply("hello", usage=(12, 3))
        server.reply(tool_calls=[("get_weather", {"city": "Paris"})])   # the model calls a tool
        client = openai.OpenAI(base_url=server.openai_base_url, api_key="sk-test")

Routes: ``POST /v1/chat/completions`` and ``POST /v1/responses`` (OpenAI), ``POST
/v1/messages`` (Anthropic) and ``GET /v1/models`` (Anthropic's list shape when the request
carries ``x-api-key`` or ``anthropic-version``, OpenAI's otherwise). ``"stream": true``
answers with server-sent events in each API's format. Run ``python -m guardfn.testing`` to
serve from a shell (it prints the URL), or :func:`serve_in_subprocess` to serve from a
child process.
"""

from __future__ import annotations

import contextlib
import json
import math
import subprocess
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["FakeLLMServer", "RecordedRequest", "Reply", "echo", "require_plugin", "serve_in_subprocess", "tool_loop"]

OPENAI_PATH = "/v1/chat/completions"
RESPONSES_PATH = "/v1/responses"
ANTHROPIC_PATH = "/v1/messages"
MODELS_PATH = "/v1/models"

# finish reasons given in either provider's vocabulary, translated to the one being answered
_TO_ANTHROPIC = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use", "content_filter": "refusal"}
_TO_OPENAI = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}
_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    529: "overloaded_error",
}


@dataclass
class RecordedRequest:
    """One request the server received: method, path (no query), lower-case headers, parsed JSON body, raw bytes."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any
    raw: bytes = b""


@dataclass
class Reply:
    """A scripted answer. ``status`` other than 200 answers with the provider's error shape."""

    text: str = "OK"
    usage: tuple[int, int] | None = None
    finish_reason: str | None = None
    delay: float = 0.0
    chunks: list[str] | None = None
    status: int = 200
    retry_after: float | None = None
    message: str = "scripted error"
    bad_json: bool = False
    extra: dict[str, Any] = field(default_factory=dict)
    tool_calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    """Tool calls the model makes, ``(name, arguments)``; ids are made up per reply."""


def _tokens(text: str) -> int:
    return max(1, math.ceil(len(text) / 4)) if text else 0


def _content_text(content: Any) -> str:
    """The text of a message's content in any API's shape (image parts contribute nothing)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = []
        for block in content:
            if not isinstance(block, dict):
                continue
            if block.get("type") == "tool_result":
                texts.append(_content_text(block.get("content")))
            elif isinstance(block.get("text"), str):
                texts.append(block["text"])
        return "".join(texts)
    return ""


def _turns(body: dict[str, Any]) -> list[tuple[str, str]]:
    """``(role, text)`` of every turn of a request in any of the three APIs; tool results
    have role ``tool``."""
    turns: list[tuple[str, str]] = []
    if isinstance(body.get("system"), (str, list)):
        turns.append(("system", _content_text(body["system"])))
    if isinstance(body.get("instructions"), str):
        turns.append(("system", body["instructions"]))
    items = body.get("messages") or body.get("input") or []
    if isinstance(items, str):
        items = [{"role": "user", "content": items}]
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict):
            continue
        if item.get("type") == "function_call_output":
            turns.append(("tool", str(item.get("output") or "")))
            continue
        content = item.get("content")
        is_result = isinstance(content, list) and any(
            isinstance(b, dict) and b.get("type") == "tool_result" for b in content
        )
        turns.append(("tool" if is_result else str(item.get("role") or ""), _content_text(content)))
    return turns


def _prompt_text(body: dict[str, Any]) -> str:
    return "\n".join(text for _, text in _turns(body) if text)


def _last_user_text(body: dict[str, Any]) -> str:
    """The text of the last user message or tool result."""
    for role, text in reversed(_turns(body)):
        if role in ("user", "tool"):
            return text
    return ""


def echo(request: RecordedRequest) -> Reply:
    """The default responder: ``"echo: "`` and the last user message (or tool result)."""
    return Reply(text="echo: " + _last_user_text(request.body if isinstance(request.body, dict) else {}))


def chunked_echo(size: int) -> Callable[[RecordedRequest], Reply]:
    """A responder like :func:`echo` whose streamed answer comes in ``size``-character chunks."""
    if size < 1:
        raise ValueError("chunk size must be at least 1")

    def respond(request: RecordedRequest) -> Reply:
        text = echo(request).text
        return Reply(text=text, chunks=[text[i : i + size] for i in range(0, len(text), size)])

    return respond


def tool_loop(requests: int, tool: str = "get_weather", arguments: dict[str, Any] | None = None) -> Callable[[RecordedRequest], Reply]:
    """A responder that plays an agent: it calls ``tool`` until the conversation holds
    ``requests - 1`` tool results, then answers like :func:`echo` (``requests`` model
    requests in all)."""
    if requests < 1:
        raise ValueError("a tool loop makes at least one request")
    call = (tool, dict(arguments or {"city": "Paris"}))

    def respond(request: RecordedRequest) -> Reply:
        body = request.body if isinstance(request.body, dict) else {}
        results = sum(1 for role, _ in _turns(body) if role == "tool")
        return echo(request) if results >= requests - 1 else Reply(text="", tool_calls=[call])

    return respond


def _split(text: str, parts: int = 3) -> list[str]:
    if not text:
        return []
    size = max(1, math.ceil(len(text) / parts))
    return [text[i : i + size] for i in range(0, len(text), size)]


def _dumps(payload: Any) -> str:
    return json.dumps(payload, separators=(",", ":"))


class _Handler(BaseHTTPRequestHandler):
    """Keep-alive HTTP/1.1, Nagle off, one ``send`` per JSON response."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the stdlib's per-request logging."""

    def _record(self) -> RecordedRequest:
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        request = RecordedRequest(
            self.command, self.path.split("?", 1)[0], {k.lower(): v for k, v in self.headers.items()}, body, raw
        )
        self.server.owner._append(request)
        return request

    def _scripted(self, request: RecordedRequest) -> Reply | None:
        """The next reply, after its delay; None (and nothing sent) when the server stopped meanwhile."""
        owner = self.server.owner
        try:
            reply = owner._next_reply(request)
        except Exception as exc:  # a broken custom responder shows up as a 500, not a dropped socket
            reply = Reply(status=500, message=f"responder failed: {type(exc).__name__}")
        if reply.delay and owner._stopping.wait(reply.delay):
            self.close_connection = True
            return None
        return reply

    def do_GET(self) -> None:
        """``GET /v1/models``; anything else is a 404."""
        request = self._record()
        if request.path.rstrip("/") != MODELS_PATH:
            return self._error(request, Reply(status=404, message=f"no route for GET {request.path}"))
        reply = self._scripted(request)
        if reply is None:
            return None
        if reply.status != 200:
            return self._error(request, reply)
        ids = list(self.server.owner.model_ids)
        if _is_anthropic(request):
            data = [{"type": "model", "id": m, "display_name": m, "created_at": "2025-01-01T00:00:00Z"} for m in ids]
            return self._json(
                200,
                {
                    "data": data,
                    "has_more": False,
                    "first_id": ids[0] if ids else None,
                    "last_id": ids[-1] if ids else None,
                },
            )
        models = [{"id": m, "object": "model", "created": 1700000000, "owned_by": "guardfn-fake"} for m in ids]
        return self._json(200, {"object": "list", "data": models})

    def do_POST(self) -> None:
        """Chat Completions or Messages, JSON or server-sent events."""
        request = self._record()
        if request.path not in (OPENAI_PATH, RESPONSES_PATH, ANTHROPIC_PATH):
            return self._error(request, Reply(status=404, message=f"no route for POST {request.path}"))
        if not isinstance(request.body, dict):
            return self._error(request, Reply(status=400, message="request body is not a JSON object"))
        reply = self._scripted(request)
        if reply is None:
            return None
        if reply.status != 200:
            return self._error(request, reply)
        body = request.body
        if reply.bad_json:
            if body.get("stream"):  # Anthropic's SDK ignores events it does not know, so name one
                name = "event: message_start\n" if request.path == ANTHROPIC_PATH else ""
                return self._sse([name + "data: {this is not json\n\n"])
            return self._send(200, b"{this is not json", "application/json")
        if request.path == OPENAI_PATH:
            return self._openai(body, reply)
        if request.path == RESPONSES_PATH:
            return self._responses(body, reply)
        return self._anthropic(body, reply)

    # --- responses ---------------------------------------------------------------------

    def _send(self, status: int, data: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
        self.send_response_only(status)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self._headers_buffer.append(b"\r\n" + data)  # type: ignore[attr-defined]  # headers + body in one send
        self.flush_headers()

    def _json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        self._send(status, _dumps(payload).encode(), "application/json", headers)

    def _error(self, request: RecordedRequest, reply: Reply) -> None:
        headers: dict[str, str] = {}
        if reply.retry_after is not None:
            headers["retry-after"] = f"{reply.retry_after:g}"
        kind = _ERROR_TYPES.get(reply.status, "api_error")
        if request.path == ANTHROPIC_PATH or (
            request.path not in (OPENAI_PATH, RESPONSES_PATH) and _is_anthropic(request)
        ):
            payload: dict[str, Any] = {"type": "error", "error": {"type": kind, "message": reply.message}}
        else:
            code = "rate_limit_exceeded" if reply.status == 429 else kind
            payload = {"error": {"message": reply.message, "type": kind, "param": None, "code": code}}
        self._json(reply.status, payload, headers)

    def _sse(self, events: Iterable[str]) -> None:
        self.send_response_only(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("cache-control", "no-cache")
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        write = self.wfile.write
        for event in events:
            data = event.encode()
            write(b"%x\r\n%s\r\n" % (len(data), data))
        write(b"0\r\n\r\n")

    def _openai(self, body: dict[str, Any], reply: Reply) -> None:
        model = body.get("model", "fake-model")
        text = reply.text
        prompt_tokens, completion_tokens = reply.usage or (_tokens(_prompt_text(body)), _tokens(text))
        finish = _TO_OPENAI.get(reply.finish_reason or "stop", reply.finish_reason or "stop")
        ident = f"chatcmpl-{uuid.uuid4().hex[:16]}"
        created = int(time.time())
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        }
        calls = [(f"call_{uuid.uuid4().hex[:12]}", name, _dumps(args)) for name, args in reply.tool_calls]
        if calls and not reply.finish_reason:
            finish = "tool_calls"
        if not body.get("stream"):
            message: dict[str, Any] = {"role": "assistant", "content": text or (None if calls else ""), "refusal": None}
            if calls:
                message["tool_calls"] = [
                    {"id": i, "type": "function", "function": {"name": n, "arguments": a}} for i, n, a in calls
                ]
            return self._json(
                200,
                {
                    "id": ident,
                    "object": "chat.completion",
                    "created": created,
                    "model": model,
                    "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}],
                    "usage": usage,
                    **reply.extra,
                },
            )
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        head = _dumps({"id": ident, "object": "chat.completion.chunk", "created": created, "model": model})[:-1]

        def chunk(choices: list[dict[str, Any]], **more: Any) -> str:
            return "data: " + head + "," + _dumps({"choices": choices, **more})[1:] + "\n\n"

        events = [chunk([{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}])]
        pieces = reply.chunks if reply.chunks is not None else _split(text)
        events.extend(chunk([{"index": 0, "delta": {"content": p}, "finish_reason": None}]) for p in pieces)
        for n, (call_id, name, arguments) in enumerate(calls):
            start = {"index": n, "id": call_id, "type": "function", "function": {"name": name, "arguments": ""}}
            events.append(chunk([{"index": 0, "delta": {"tool_calls": [start]}, "finish_reason": None}]))
            events.extend(
                chunk(
                    [
                        {
                            "index": 0,
                            "delta": {"tool_calls": [{"index": n, "function": {"arguments": a}}]},
                            "finish_reason": None,
                        }
                    ]
                )
                for a in _split(arguments)
            )
        events.append(chunk([{"index": 0, "delta": {}, "finish_reason": finish}]))
        if include_usage:
            events.append(chunk([], usage=usage))
        events.append("data: [DONE]\n\n")
        self._sse(events)

    def _responses(self, body: dict[str, Any], reply: Reply) -> None:
        if body.get("stream"):
            return self._sse(_responses_events(body, reply))
        return self._json(200, _responses_payload(body, reply))

    def _anthropic(self, body: dict[str, Any], reply: Reply) -> None:
        model = body.get("model", "fake-model")
        text = reply.text
        prompt_tokens, completion_tokens = reply.usage or (_tokens(_prompt_text(body)), _tokens(text))
        ident = f"msg_{uuid.uuid4().hex[:16]}"
        content: dict[str, Any] = {"type": "text", "text": text}
        uses = [
            {"type": "tool_use", "id": f"toolu_{uuid.uuid4().hex[:16]}", "name": name, "input": args}
            for name, args in reply.tool_calls
        ]
        stop = reply.finish_reason or ("tool_use" if uses else "end_turn")
        choice = body.get("tool_choice") or {}
        if body.get("tools") and isinstance(choice, dict) and choice.get("type") == "tool":
            try:
                content = {
                    "type": "tool_use",
                    "id": f"toolu_{uuid.uuid4().hex[:16]}",
                    "name": choice.get("name"),
                    "input": json.loads(text),
                }
                stop = reply.finish_reason or "tool_use"
            except ValueError:
                pass  # not JSON: answer with text so the caller's validation can fail
        stop = _TO_ANTHROPIC.get(stop, stop)
        usage = {"input_tokens": prompt_tokens, "output_tokens": completion_tokens}
        if not body.get("stream"):
            return self._json(
                200,
                {
                    "id": ident,
                    "type": "message",
                    "role": "assistant",
                    "model": model,
                    "content": ([content] if text or not uses else []) + uses,
                    "stop_reason": stop,
                    "stop_sequence": None,
                    "usage": usage,
                    **reply.extra,
                },
            )

        def event(name: str, payload: dict[str, Any]) -> str:
            return f"event: {name}\ndata: {_dumps({'type': name, **payload})}\n\n"

        events = [
            event(
                "message_start",
                {
                    "message": {
                        "id": ident,
                        "type": "message",
                        "role": "assistant",
                        "model": model,
                        "content": [],
                        "stop_reason": None,
                        "stop_sequence": None,
                        "usage": {"input_tokens": prompt_tokens, "output_tokens": 1},
                    }
                },
            )
        ]
        if content["type"] == "tool_use":
            block = {"type": "tool_use", "id": content["id"], "name": content["name"], "input": {}}
            events.append(event("content_block_start", {"index": 0, "content_block": block}))
            pieces = reply.chunks if reply.chunks is not None else _split(_dumps(content["input"]))
            events.extend(
                event("content_block_delta", {"index": 0, "delta": {"type": "input_json_delta", "partial_json": p}})
                for p in pieces
            )
            events.append(event("content_block_stop", {"index": 0}))
        else:
            blocks = 0
            if text or not uses:
                events.append(event("content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}}))
                pieces = reply.chunks if reply.chunks is not None else _split(text)
                events.extend(
                    event("content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": p}})
                    for p in pieces
                )
                events.append(event("content_block_stop", {"index": 0}))
                blocks = 1
            for n, use in enumerate(uses, start=blocks):
                events.append(event("content_block_start", {"index": n, "content_block": {**use, "input": {}}}))
                events.extend(
                    event("content_block_delta", {"index": n, "delta": {"type": "input_json_delta", "partial_json": p}})
                    for p in _split(_dumps(use["input"]))
                )
                events.append(event("content_block_stop", {"index": n}))
        events.append(
            event(
                "message_delta",
                {"delta": {"stop_reason": stop, "stop_sequence": None}, "usage": {"output_tokens": completion_tokens}},
            )
        )
        events.append(event("message_stop", {}))
        self._sse(events)


def _responses_payload(body: dict[str, Any], reply: Reply, status: str = "completed") -> dict[str, Any]:
    """A Responses API ``Response`` object for ``reply`` (its output items and usage)."""
    text = reply.text
    prompt_tokens, completion_tokens = reply.usage or (_tokens(_prompt_text(body)), _tokens(text))
    output: list[dict[str, Any]] = []
    if text or not reply.tool_calls:
        output.append(
            {
                "type": "message",
                "id": f"msg_{uuid.uuid4().hex[:16]}",
                "status": "completed",
                "role": "assistant",
                "content": [{"type": "output_text", "text": text, "annotations": []}],
            }
        )
    output.extend(
        {
            "type": "function_call",
            "id": f"fc_{uuid.uuid4().hex[:16]}",
            "call_id": f"call_{uuid.uuid4().hex[:12]}",
            "name": name,
            "arguments": _dumps(args),
            "status": "completed",
        }
        for name, args in reply.tool_calls
    )
    truncated = reply.finish_reason in ("length", "max_tokens")
    return {
        "id": f"resp_{uuid.uuid4().hex[:16]}",
        "object": "response",
        "created_at": time.time(),
        "model": body.get("model", "fake-model"),
        "status": "incomplete" if truncated else status,
        "incomplete_details": {"reason": "max_output_tokens"} if truncated else None,
        "error": None,
        "output": output,
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "usage": {
            "input_tokens": prompt_tokens,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": completion_tokens,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": prompt_tokens + completion_tokens,
        },
        **reply.extra,
    }


def _responses_events(body: dict[str, Any], reply: Reply) -> list[str]:
    """The server-sent events of a streamed Responses API answer."""
    final = _responses_payload(body, reply)
    events: list[dict[str, Any]] = [
        {"type": "response.created", "response": {**final, "status": "in_progress", "output": []}}
    ]
    for index, item in enumerate(final["output"]):
        if item["type"] == "message":
            events.append(
                {"type": "response.output_item.added", "output_index": index, "item": {**item, "content": []}}
            )
            part = {"type": "output_text", "text": "", "annotations": []}
            events.append({"type": "response.content_part.added", "item_id": item["id"], "output_index": index,
                           "content_index": 0, "part": part})  # fmt: skip
            text = item["content"][0]["text"]
            pieces = reply.chunks if reply.chunks is not None else _split(text)
            events.extend(
                {
                    "type": "response.output_text.delta",
                    "item_id": item["id"],
                    "output_index": index,
                    "content_index": 0,
                    "delta": piece,
                    "logprobs": [],
                }
                for piece in pieces
            )
            events.append({"type": "response.output_text.done", "item_id": item["id"], "output_index": index,
                           "content_index": 0, "text": text, "logprobs": []})  # fmt: skip
        else:
            events.append(
                {"type": "response.output_item.added", "output_index": index, "item": {**item, "arguments": ""}}
            )
            events.extend(
                {
                    "type": "response.function_call_arguments.delta",
                    "item_id": item["id"],
                    "output_index": index,
                    "delta": piece,
                }
                for piece in _split(item["arguments"])
            )
            events.append({"type": "response.function_call_arguments.done", "item_id": item["id"],
                           "output_index": index, "arguments": item["arguments"], "name": item["name"]})  # fmt: skip
        events.append({"type": "response.output_item.done", "output_index": index, "item": item})
    done = "response.incomplete" if final["status"] == "incomplete" else "response.completed"
    events.append({"type": done, "response": final})
    return [f"event: {e['type']}\ndata: {_dumps({**e, 'sequence_number': n})}\n\n" for n, e in enumerate(events)]


def _is_anthropic(request: RecordedRequest) -> bool:
    headers = request.headers
    return "x-api-key" in headers or "anthropic-version" in headers


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # a handler sleeping on a delay never holds up stop() or interpreter exit
    allow_reuse_address = True
    request_queue_size = 256  # many concurrent clients in benchmarks
    owner: FakeLLMServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hung up (a timeout test) is not an error worth printing."""
        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError, ConnectionAbortedError)):
            super().handle_error(request, client_address)


class FakeLLMServer:
    """A fake OpenAI + Anthropic API on 127.0.0.1 for tests, demos and benchmarks.

    Scripted replies (:meth:`reply`, :meth:`fail`, :meth:`bad_json`) are answered in order, one
    per chat/messages request, whatever the provider; when none is queued, ``responder``
    (default :func:`echo`) answers. ``requests`` records every request received, in order.
    """

    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, responder: Callable[[RecordedRequest], Reply] | None = None
    ) -> None:
        self.host = host
        self.port = port
        self.responder: Callable[[RecordedRequest], Reply] = responder or echo
        self.requests: list[RecordedRequest] = []
        self.model_ids: list[str] = ["gpt-4o-mini", "gpt-4o", "claude-sonnet-4-6", "claude-haiku-4-5"]
        self._script: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ---------------------------------------------------------------------

    def start(self) -> FakeLLMServer:
        """Start serving in a daemon thread (no-op if already serving); returns self."""
        if self._server is not None:
            return self
        self._stopping.clear()
        server = _Server((self.host, self.port), _Handler)
        server.owner = self
        self._server = server
        self.port = server.server_address[1]
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name=f"FakeLLMServer:{self.port}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; handlers sleeping on a ``delay`` wake up and close their connection without answering."""
        self._stopping.set()
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FakeLLMServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://{self.host}:{self.port}"

    @property
    def openai_base_url(self) -> str:
        """The ``base_url`` for the OpenAI SDK (``url + "/v1"``)."""
        return self.url + "/v1"

    @property
    def anthropic_base_url(self) -> str:
        """The ``base_url`` for the Anthropic SDK (it appends ``/v1/messages``)."""
        return self.url

    # --- scripting ---------------------------------------------------------------------

    def reply(
        self,
        text: str | None = None,
        *,
        tool_calls: list[tuple[str, dict[str, Any]]] | None = None,
        usage: tuple[int, int] | None = None,
        finish_reason: str | None = None,
        delay: float = 0.0,
        chunks: list[str] | None = None,
        times: int = 1,
    ) -> None:
        """Queue ``times`` successful replies.

        ``text`` is the answer (default ``"OK"``, or nothing when the reply calls tools);
        ``tool_calls`` the tools the model calls, as ``(name, arguments)`` (each API's own
        shape: Chat Completions ``tool_calls``, Responses ``function_call`` items, Anthropic
        ``tool_use`` blocks, streamed in pieces when the request streams). ``usage`` is
        ``(prompt_tokens, completion_tokens)`` (default: about one token per four
        characters); ``finish_reason`` may use either provider's words ("length" /
        "max_tokens"); ``chunks`` are the exact streamed text deltas (default: the text in
        about three pieces); ``delay`` seconds pass before the answer. For an Anthropic
        request that forces a tool, ``text`` that is JSON becomes the ``tool_use`` input.
        """
        calls = list(tool_calls or [])
        body = ("" if calls else "OK") if text is None else text
        for _ in range(times):
            self._queue(
                Reply(text=body, usage=usage, finish_reason=finish_reason, delay=delay, chunks=chunks, tool_calls=calls)
            )

    def fail(
        self,
        status: int,
        *,
        retry_after: float | None = None,
        message: str = "scripted error",
        times: int = 1,
        delay: float = 0.0,
    ) -> None:
        """Queue ``times`` error replies: the provider's error JSON, and ``Retry-After`` when given."""
        for _ in range(times):
            self._queue(Reply(status=status, retry_after=retry_after, message=message, delay=delay))

    def bad_json(self, times: int = 1) -> None:
        """Queue ``times`` 200 replies whose body is not JSON (a broken event for streaming requests)."""
        for _ in range(times):
            self._queue(Reply(bad_json=True))

    def clear(self) -> None:
        """Forget queued replies and recorded requests."""
        with self._lock:
            self._script.clear()
            self.requests.clear()

    @property
    def pending(self) -> int:
        """How many scripted replies are still queued."""
        return len(self._script)

    def _queue(self, reply: Reply) -> None:
        with self._lock:
            self._script.append(reply)

    def _append(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def _next_reply(self, request: RecordedRequest) -> Reply:
        with self._lock:
            if self._script and (request.method != "GET" or self._script[0].status != 200):
                return self._script.popleft()  # a GET takes a scripted error, never a scripted answer
        if request.method == "GET":
            return Reply()
        return self.responder(request)


def require_plugin(*modules: str, install: str) -> None:
    """Skip the tests of a plugin that is not installed; under ``CI=true`` fail instead.

    Call it at the top of a plugin's ``tests/conftest.py``: a developer without the plugin
    sees one skip naming the ``install`` line, while CI, which must run every test it was
    given, stops with a collection error rather than passing without them.
    """
    import importlib.util
    import os

    import pytest

    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if not missing:
        return
    message = f"{', '.join(missing)} not installed, so these tests cannot run: {install}"
    if os.environ.get("CI", "").strip().lower() in ("1", "true", "yes"):
        pytest.fail(f"{message} (CI is set: every test must run)", pytrace=False)
    pytest.skip(message, allow_module_level=True)


def serve_in_subprocess(
    host: str = "127.0.0.1", port: int = 0, chunk_chars: int | None = None, tool_rounds: int | None = None
) -> tuple[subprocess.Popen[str], str]:
    """Start ``python -m guardfn.testing`` in a child process; returns the process and its URL.

    The child shares no GIL with the caller (benchmarks). Stop it with ``process.terminate()``
    and ``process.wait()``. It answers with the default echo responder, streamed in
    ``chunk_chars``-character chunks when given (:func:`chunked_echo`), or as an agent that
    needs ``tool_rounds`` requests (:func:`tool_loop`).
    """
    extra = ["--chunk-chars", str(chunk_chars)] if chunk_chars else []
    extra += ["--tool-rounds", str(tool_rounds)] if tool_rounds else []
    process = subprocess.Popen(
        [sys.executable, "-m", "guardfn.testing", "--host", host, "--port", str(port), *extra],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    url = process.stdout.readline().strip()
    if not url.startswith("http://"):
        process.kill()
        process.wait()
        raise RuntimeError("the fake LLM server child process did not start")
    return process, url


def _main(argv: list[str] | None = None) -> None:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m guardfn.testing", description="Serve the fake LLM API.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--chunk-chars", type=int, default=0, help="stream answers in chunks of this many characters")
    parser.add_argument("--tool-rounds", type=int, default=0, help="act as an agent needing this many requests")
    args = parser.parse_args(argv)
    responder = chunked_echo(args.chunk_chars) if args.chunk_chars else None
    if args.tool_rounds:
        responder = tool_loop(args.tool_rounds)
    with FakeLLMServer(args.host, args.port, responder=responder) as server:
        print(server.url, flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()


if __name__ == "__main__":
    _main()
