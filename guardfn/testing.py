"""A loopback server that speaks the OpenAI Chat Completions and Anthropic Messages APIs.

Tests (and ``guardfn demo``) point the real SDKs at it, so every guarded call goes through
the real client code and a real socket. Replies are scripted (text, usage, chunks, delays,
errors with ``Retry-After``, broken JSON); without a script it echoes the last user message,
which shows exactly what reached the "provider". Every request is recorded.

    with FakeLLMServer() as server:
        server.reply("hello", usage=(12, 3))
        client = openai.OpenAI(base_url=server.openai_base_url, api_key="sk-test")
"""

from __future__ import annotations

import json
import math
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["FakeLLMServer", "RecordedRequest", "Reply"]


@dataclass
class RecordedRequest:
    """One request the server received: method, path, lower-case headers, parsed JSON body."""

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


def _tokens(text: str) -> int:
    return max(1, math.ceil(len(text) / 4)) if text else 0


def _prompt_text(body: dict[str, Any]) -> str:
    parts: list[str] = []
    system = body.get("system")
    if isinstance(system, str):
        parts.append(system)
    for message in body.get("messages") or []:
        content = message.get("content")
        if isinstance(content, str):
            parts.append(content)
        elif isinstance(content, list):
            parts.extend(str(block.get("text", "")) for block in content if isinstance(block, dict))
    return "\n".join(parts)


def _last_user_text(body: dict[str, Any]) -> str:
    for message in reversed(body.get("messages") or []):
        if message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, str):
                return content
            if isinstance(content, list):
                return "".join(str(b.get("text", "")) for b in content if isinstance(b, dict))
    return ""


def echo(request: RecordedRequest) -> Reply:
    """The default responder: ``"echo: "`` and the last user message."""
    return Reply(text="echo: " + _last_user_text(request.body or {}))


def _split(text: str, parts: int = 3) -> list[str]:
    if not text:
        return []
    size = max(1, math.ceil(len(text) / parts))
    return [text[i : i + size] for i in range(0, len(text), size)]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        """Silence the stdlib's per-request logging."""

    def _record(self) -> RecordedRequest:
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        request = RecordedRequest(
            self.command, self.path.split("?")[0], {k.lower(): v for k, v in self.headers.items()}, body, raw
        )
        self.server.owner._append(request)
        return request

    def do_GET(self) -> None:
        request = self._record()
        if request.path.rstrip("/") != "/v1/models":
            return self._json(404, {"error": {"message": "not found", "type": "not_found"}})
        owner = self.server.owner
        reply = owner._next_reply(request)
        if reply.status != 200:
            return self._error(request, reply)
        if "anthropic-version" in request.headers:
            data = [{"type": "model", "id": m, "display_name": m, "created_at": "2025-01-01T00:00:00Z"}
                    for m in owner.model_ids]
            ids = [d["id"] for d in data]
            return self._json(200, {"data": data, "has_more": False, "first_id": ids[0] if ids else None,
                                    "last_id": ids[-1] if ids else None})
        data = [{"id": m, "object": "model", "created": 1700000000, "owned_by": "fake"} for m in owner.model_ids]
        return self._json(200, {"object": "list", "data": data})

    def do_POST(self) -> None:
        request = self._record()
        reply = self.server.owner._next_reply(request)
        if reply.delay:
            time.sleep(reply.delay)
        if reply.status != 200:
            return self._error(request, reply)
        if reply.bad_json:
            return self._send(200, b"{this is not json", "application/json")
        body = request.body if isinstance(request.body, dict) else {}
        if request.path == "/v1/chat/completions":
            return self._openai(body, reply)
        if request.path == "/v1/messages":
            return self._anthropic(body, reply)
        return self._json(404, {"error": {"message": "not found", "type": "not_found"}})

    # --- responses ---------------------------------------------------------------------

    def _send(self, status: int, data: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(payload).encode(), "application/json", headers)

    def _error(self, request: RecordedRequest, reply: Reply) -> None:
        headers = {}
        if reply.retry_after is not None:
            headers["retry-after"] = f"{reply.retry_after:g}"
        kind = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
                404: "not_found_error", 429: "rate_limit_error"}.get(reply.status, "api_error")
        if request.path == "/v1/messages" or "anthropic-version" in request.headers:
            payload: dict[str, Any] = {"type": "error", "error": {"type": kind, "message": reply.message}}
        else:
            payload = {"error": {"message": reply.message, "type": kind, "code": None, "param": None}}
        self._json(reply.status, payload, headers)

    def _usage(self, body: dict[str, Any], reply: Reply, text: str) -> tuple[int, int]:
        if reply.usage is not None:
            return reply.usage
        return _tokens(_prompt_text(body)), _tokens(text)

    def _sse(self, events: Iterator[str]) -> None:
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("cache-control", "no-cache")
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        for event in events:
            data = event.encode()
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _openai(self, body: dict[str, Any], reply: Reply) -> None:
        model = body.get("model", "fake-model")
        prompt_tokens, completion_tokens = self._usage(body, reply, reply.text)
        finish = reply.finish_reason or "stop"
        ident = f"chatcmpl-{uuid.uuid4().hex[:12]}"
        usage = {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                 "total_tokens": prompt_tokens + completion_tokens}
        if not body.get("stream"):
            return self._json(200, {
                "id": ident, "object": "chat.completion", "created": int(time.time()), "model": model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": reply.text, "refusal": None},
                             "finish_reason": finish, "logprobs": None}],
                "usage": usage,
            })
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))

        def events() -> Iterator[str]:
            base = {"id": ident, "object": "chat.completion.chunk", "created": int(time.time()), "model": model}
            first = {"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}
            yield "data: " + json.dumps(base | {"choices": [first]}) + "\n\n"
            for piece in reply.chunks if reply.chunks is not None else _split(reply.text):
                choice = {"index": 0, "delta": {"content": piece}, "finish_reason": None}
                yield "data: " + json.dumps(base | {"choices": [choice]}) + "\n\n"
            yield "data: " + json.dumps(base | {"choices": [{"index": 0, "delta": {}, "finish_reason": finish}]}) + "\n\n"
            if include_usage:
                yield "data: " + json.dumps(base | {"choices": [], "usage": usage}) + "\n\n"
            yield "data: [DONE]\n\n"

        self._sse(events())

    def _anthropic(self, body: dict[str, Any], reply: Reply) -> None:
        model = body.get("model", "fake-model")
        prompt_tokens, completion_tokens = self._usage(body, reply, reply.text)
        ident = f"msg_{uuid.uuid4().hex[:12]}"
        content: dict[str, Any] = {"type": "text", "text": reply.text}
        stop = reply.finish_reason or "end_turn"
        choice = body.get("tool_choice") or {}
        if body.get("tools") and choice.get("type") == "tool":
            try:
                content = {"type": "tool_use", "id": f"toolu_{uuid.uuid4().hex[:12]}", "name": choice["name"],
                           "input": json.loads(reply.text)}
                stop = reply.finish_reason or "tool_use"
            except ValueError:
                pass
        usage = {"input_tokens": prompt_tokens, "output_tokens": completion_tokens}
        if not body.get("stream"):
            return self._json(200, {"id": ident, "type": "message", "role": "assistant", "model": model,
                                    "content": [content], "stop_reason": stop, "stop_sequence": None,
                                    "usage": usage})

        def event(name: str, payload: dict[str, Any]) -> str:
            return f"event: {name}\ndata: {json.dumps(payload | {'type': name})}\n\n"

        def events() -> Iterator[str]:
            start_usage = {"input_tokens": prompt_tokens, "output_tokens": 1}
            yield event("message_start", {"message": {"id": ident, "type": "message", "role": "assistant",
                                                      "model": model, "content": [], "stop_reason": None,
                                                      "stop_sequence": None, "usage": start_usage}})
            if content["type"] == "tool_use":
                block = {"type": "tool_use", "id": content["id"], "name": content["name"], "input": {}}
                yield event("content_block_start", {"index": 0, "content_block": block})
                for piece in _split(json.dumps(content["input"])):
                    yield event("content_block_delta",
                                {"index": 0, "delta": {"type": "input_json_delta", "partial_json": piece}})
            else:
                yield event("content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}})
                for piece in reply.chunks if reply.chunks is not None else _split(reply.text):
                    yield event("content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": piece}})
            yield event("content_block_stop", {"index": 0})
            yield event("message_delta", {"delta": {"stop_reason": stop, "stop_sequence": None},
                                          "usage": {"output_tokens": completion_tokens}})
            yield event("message_stop", {})

        self._sse(events())


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    owner: FakeLLMServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hung up (a timeout test) is not an error worth printing."""
        import sys

        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)


class FakeLLMServer:
    """A fake OpenAI + Anthropic API on 127.0.0.1 for tests, demos and benchmarks."""

    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, responder: Callable[[RecordedRequest], Reply] | None = None
    ) -> None:
        self.host = host
        self.port = port
        self.responder = responder or echo
        self.requests: list[RecordedRequest] = []
        self.model_ids: list[str] = ["gpt-4o-mini", "gpt-4o", "claude-sonnet-4-6", "claude-haiku-4-5"]
        self._script: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ---------------------------------------------------------------------

    def start(self) -> FakeLLMServer:
        """Start serving in a daemon thread; returns self."""
        server = _Server((self.host, self.port), _Handler)
        server.owner = self
        self._server = server
        self.port = server.server_address[1]
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving (handlers still sleeping on a delay are daemon threads and are left)."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

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
        """The ``base_url`` for the OpenAI SDK."""
        return self.url + "/v1"

    @property
    def anthropic_base_url(self) -> str:
        """The ``base_url`` for the Anthropic SDK (it appends ``/v1/messages``)."""
        return self.url

    # --- scripting ---------------------------------------------------------------------

    def reply(
        self,
        text: str = "OK",
        *,
        usage: tuple[int, int] | None = None,
        finish_reason: str | None = None,
        delay: float = 0.0,
        chunks: list[str] | None = None,
        times: int = 1,
    ) -> None:
        """Queue ``times`` scripted successful replies."""
        for _ in range(times):
            self._queue(Reply(text=text, usage=usage, finish_reason=finish_reason, delay=delay, chunks=chunks))

    def fail(self, status: int, *, retry_after: float | None = None, message: str = "scripted error",
             times: int = 1) -> None:
        """Queue ``times`` error replies with the provider's error body and ``Retry-After``."""
        for _ in range(times):
            self._queue(Reply(status=status, retry_after=retry_after, message=message))

    def bad_json(self, times: int = 1) -> None:
        """Queue ``times`` 200 replies whose body is not JSON."""
        for _ in range(times):
            self._queue(Reply(bad_json=True))

    def clear(self) -> None:
        """Forget queued replies and recorded requests."""
        with self._lock:
            self._script.clear()
            self.requests.clear()

    def _queue(self, reply: Reply) -> None:
        with self._lock:
            self._script.append(reply)

    def _append(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def _next_reply(self, request: RecordedRequest) -> Reply:
        with self._lock:
            if self._script:
                return self._script.popleft()
        if request.method == "GET":
            return Reply()
        return self.responder(request)
