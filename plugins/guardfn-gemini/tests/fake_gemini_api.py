"""A loopback fake of the Gemini REST API, for testing through the real ``google-genai`` SDK.

Routes: ``POST /{version}/models/{model}:generateContent`` (JSON) and
``POST /{version}/models/{model}:streamGenerateContent?alt=sse`` (server-sent events,
``data: {GenerateContentResponse}`` per chunk, the running usage on every chunk).
Replies are scripted in order (:meth:`FakeGeminiServer.reply`, :meth:`fail`,
:meth:`fail_mid_stream`, :meth:`bad_json`); without a script it echoes the last user
turn. Errors use Google's shape (``{"error": {"code", "message", "status", "details"}}``),
with ``Retry-After`` and/or a ``RetryInfo.retryDelay`` when asked. Every request is
recorded (path, query, lower-case headers, parsed body). Nagle is off and every
non-streamed answer goes out in one ``send``.
"""

from __future__ import annotations

import json
import math
import re
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

ROUTE = re.compile(r"^/(?P<version>v1[a-z0-9]*)/models/(?P<model>[^/:]+):(?P<method>generateContent|streamGenerateContent)$")
STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
          429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED"}


@dataclass
class Recorded:
    """One request: method, path, query parameters, lower-case headers, parsed JSON body."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any

    @property
    def model(self) -> str:
        """The model named in the path."""
        match = ROUTE.match(self.path)
        return match.group("model") if match else ""


@dataclass
class Scripted:
    """One scripted answer; ``status`` other than 200 is an error in Google's shape."""

    text: str = "OK"
    usage: tuple[int, int] | None = None
    thoughts: int | None = None
    finish_reason: str = "STOP"
    chunks: list[str] | None = None
    status: int = 200
    message: str = "scripted error"
    reason: str | None = None
    retry_after: float | None = None
    retry_delay: str | None = None
    mid_stream_error: int | None = None
    bad_json: bool = False
    delay: float = 0.0
    blocked: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _tokens(text: str) -> int:
    return max(1, math.ceil(len(text) / 4)) if text else 0


def _last_user_text(body: dict[str, Any]) -> str:
    for content in reversed(body.get("contents") or []):
        if isinstance(content, dict) and content.get("role", "user") == "user":
            return "".join(str(p.get("text", "")) for p in content.get("parts") or [] if isinstance(p, dict))
    return ""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Silence per-request logging."""

    def do_POST(self) -> None:
        """generateContent / streamGenerateContent."""
        split = urlsplit(self.path)
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        request = Recorded("POST", split.path, parse_qs(split.query), {k.lower(): v for k, v in self.headers.items()}, body)
        owner = self.server.owner
        owner._record(request)
        match = ROUTE.match(split.path)
        if match is None:
            return self._error(Scripted(status=404, message=f"no route for POST {split.path}"))
        if not isinstance(body, dict):
            return self._error(Scripted(status=400, message="request body is not a JSON object"))
        reply = owner._next(request)
        if reply.delay:
            time.sleep(reply.delay)
        if reply.status != 200:
            return self._error(reply)
        streaming = match.group("method") == "streamGenerateContent"
        if reply.bad_json:
            if streaming:
                return self._sse([b"data: {this is not json\r\n\r\n"])
            return self._send(200, b"{this is not json", "application/json")
        prompt = sum(_tokens(str(p.get("text", ""))) for c in body.get("contents") or [] for p in c.get("parts") or [])
        prompt_tokens, output_tokens = reply.usage or (prompt, _tokens(reply.text))
        model = match.group("model")
        if not streaming:
            return self._send(200, json.dumps(self._payload(reply, reply.text, model, prompt_tokens, output_tokens, True)).encode(), "application/json")
        pieces = reply.chunks if reply.chunks is not None else _split(reply.text)
        events: list[bytes] = []
        sent = ""
        for index, piece in enumerate(pieces):
            last = index == len(pieces) - 1
            sent += piece
            if reply.mid_stream_error is not None and index == 1:
                error = {"error": {"code": reply.mid_stream_error, "message": reply.message,
                                   "status": STATUS.get(reply.mid_stream_error, "UNKNOWN")}}
                events.append(b"data: " + json.dumps(error).encode() + b"\r\n\r\n")
                break
            payload = self._payload(reply, piece, model, prompt_tokens, _tokens(sent) if not last else output_tokens, last)
            events.append(b"data: " + json.dumps(payload).encode() + b"\r\n\r\n")
        return self._sse(events)

    @staticmethod
    def _payload(reply: Scripted, text: str, model: str, prompt: int, output: int, final: bool) -> dict[str, Any]:
        usage: dict[str, Any] = {"promptTokenCount": prompt, "candidatesTokenCount": output,
                                 "totalTokenCount": prompt + output + (reply.thoughts or 0)}
        if reply.thoughts:
            usage["thoughtsTokenCount"] = reply.thoughts
        if reply.blocked:
            return {"promptFeedback": {"blockReason": reply.blocked}, "usageMetadata": usage, "modelVersion": model}
        candidate: dict[str, Any] = {"content": {"role": "model", "parts": [{"text": text}]}, "index": 0}
        if final:
            candidate["finishReason"] = reply.finish_reason
        return {"candidates": [candidate], "usageMetadata": usage, "modelVersion": model, **reply.extra}

    def _send(self, status: int, data: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
        self.send_response_only(status)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self._headers_buffer.append(b"\r\n" + data)  # type: ignore[attr-defined]  # headers and body in one send
        self.flush_headers()

    def _sse(self, events: list[bytes]) -> None:
        self.send_response_only(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        for data in events:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.write(b"0\r\n\r\n")

    def _error(self, reply: Scripted) -> None:
        error: dict[str, Any] = {"code": reply.status, "message": reply.message, "status": STATUS.get(reply.status, "UNKNOWN")}
        details: list[dict[str, Any]] = []
        if reply.reason:
            details.append({"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": reply.reason,
                            "domain": "googleapis.com"})
        if reply.retry_delay:
            details.append({"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": reply.retry_delay})
        if details:
            error["details"] = details
        headers = {"retry-after": f"{reply.retry_after:g}"} if reply.retry_after is not None else {}
        self._send(reply.status, json.dumps({"error": error}).encode(), "application/json", headers)


def _split(text: str, parts: int = 3) -> list[str]:
    if not text:
        return [""]
    size = max(1, math.ceil(len(text) / parts))
    return [text[i : i + size] for i in range(0, len(text), size)]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    owner: FakeGeminiServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that gave up (a timeout test) is not an error worth printing."""
        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError, ConnectionAbortedError)):
            super().handle_error(request, client_address)


class FakeGeminiServer:
    """The fake Gemini API on 127.0.0.1; use as a context manager. ``base_url`` is for ``HttpOptions``."""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self._script: deque[Scripted] = deque()
        self._lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    def __enter__(self) -> FakeGeminiServer:
        server = _Server(("127.0.0.1", 0), _Handler)
        server.owner = self
        self._server = server
        self.port = server.server_address[1]
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT`` (the SDK adds the API version and the route)."""
        return f"http://127.0.0.1:{self.port}"

    def reply(self, text: str = "OK", **options: Any) -> None:
        """Queue one successful answer (see :class:`Scripted` for ``usage``, ``chunks`` ...)."""
        self._queue(Scripted(text=text, **options))

    def fail(self, status: int, *, times: int = 1, **options: Any) -> None:
        """Queue ``times`` errors (``message``, ``reason``, ``retry_after``, ``retry_delay``)."""
        for _ in range(times):
            self._queue(Scripted(status=status, **options))

    def fail_mid_stream(self, text: str, status: int = 500, message: str = "scripted error") -> None:
        """Queue a streamed answer that sends one chunk and then an error event."""
        self._queue(Scripted(text=text, mid_stream_error=status, message=message))

    def bad_json(self) -> None:
        """Queue one 200 answer whose body is not JSON."""
        self._queue(Scripted(bad_json=True))

    def _queue(self, reply: Scripted) -> None:
        with self._lock:
            self._script.append(reply)

    def _record(self, request: Recorded) -> None:
        with self._lock:
            self.requests.append(request)

    def _next(self, request: Recorded) -> Scripted:
        with self._lock:
            if self._script:
                return self._script.popleft()
        return Scripted(text="echo: " + _last_user_text(request.body))
