"""A minimal Redis client for the limits' hot path: one socket per thread, scripts and little else.

The limits stage sends one command per operation (an ``EVALSHA`` of a script the store
owns). redis-py costs 60-120 ms to import (its asyncio client, and the OpenTelemetry
SDK when that is installed), which a serverless cold start pays, and about 10 us to
pack a 20-argument command, which every call pays. This module speaks just enough
RESP2 for that one command: it packs the arguments into one buffer, sends it, and
parses integer, bulk, array, status and error replies. Connecting sends ``AUTH`` and
``SELECT`` as the URL asks; a script unknown to the server (``NOSCRIPT``, after a
restart or ``SCRIPT FLUSH``) is loaded and the call sent again.

Used for plain ``redis://`` URLs in synchronous calls. TLS (``rediss://``), Redis
Cluster and async calls go through redis-py, as do the store's reads for
``guardfn usage``. A connection that failed is closed and made again on the next call;
a call whose connection turned out to be closed before any reply byte arrived (the
server dropped an idle connection) is sent once more on a fresh one.
"""

from __future__ import annotations

import contextlib
import hashlib
import socket
from typing import Any
from urllib.parse import unquote, urlsplit


class ReplyError(Exception):
    """An error reply from the server (``-ERR ...``, ``-NOSCRIPT ...``)."""


class Closed(ConnectionError):
    """The server closed the connection before answering."""


class Script:
    """A Lua script and its SHA1, as ``EVALSHA`` names it."""

    def __init__(self, body: str) -> None:
        self.body = body
        self.sha = hashlib.sha1(body.encode()).hexdigest()


def pack(args: tuple[Any, ...] | list[Any]) -> bytes:
    """One command in RESP: an array of bulk strings (``str()`` of each argument)."""
    parts = [f"*{len(args)}\r\n"]
    for arg in args:
        text = arg if isinstance(arg, str) else str(arg)
        if not text.isascii():
            size = len(text.encode())
            parts.append(f"${size}\r\n{text}\r\n")
        else:
            parts.append(f"${len(text)}\r\n{text}\r\n")
    return "".join(parts).encode()


class Connection:
    """One socket to one Redis server (not thread-safe: one per thread)."""

    def __init__(self, url: str, timeout: float = 5.0) -> None:
        parts = urlsplit(url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 6379
        self.username = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        db = parts.path.strip("/")
        self.db = int(db) if db else 0
        self.timeout = timeout
        self._sock: socket.socket | None = None
        self._file: Any = None

    def _connect(self) -> None:
        sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._sock, self._file = sock, sock.makefile("rb")
        try:
            if self.password is not None:
                auth = ("AUTH", self.username, self.password) if self.username else ("AUTH", self.password)
                self._send_and_read([auth])
            if self.db:
                self._send_and_read([("SELECT", self.db)])
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Close the socket (the next call connects again)."""
        sock, file = self._sock, self._file
        self._sock = self._file = None
        for closable in (file, sock):
            if closable is not None:
                with contextlib.suppress(OSError):
                    closable.close()

    def call(self, *args: Any) -> Any:
        """Send one command and return its reply (an error reply raises :class:`ReplyError`)."""
        return self.pipeline([args])[0]

    def pipeline(self, commands: list[tuple[Any, ...]]) -> list[Any]:
        """Send several commands in one write, then read their replies in order."""
        if not commands:
            return []
        reused = self._sock is not None
        if not reused:
            self._connect()
        try:
            return self._send_and_read(commands)
        except Closed:
            self.close()
            if not reused:
                raise
        except BaseException:
            self.close()
            raise
        self._connect()  # the server had dropped the idle connection before this command
        try:
            return self._send_and_read(commands)
        except BaseException:
            self.close()
            raise

    def _send_and_read(self, commands: list[tuple[Any, ...]]) -> list[Any]:
        assert self._sock is not None
        self._sock.sendall(b"".join(pack(command) for command in commands))
        first = self._file.readline()
        if not first:
            raise Closed("the Redis server closed the connection")
        replies = [self._parse(first)]
        for _ in commands[1:]:
            replies.append(self._reply())
        errors = [r for r in replies if isinstance(r, ReplyError)]
        if errors and len(commands) == 1:
            raise errors[0]
        return replies

    def _reply(self) -> Any:
        line = self._file.readline()
        if not line:
            raise ConnectionError("the Redis server closed the connection")
        return self._parse(line)

    def _parse(self, line: bytes) -> Any:
        kind, rest = line[:1], line[1:-2]
        if kind == b":":
            return int(rest)
        if kind == b"$":
            size = int(rest)
            if size < 0:
                return None
            data = self._file.read(size + 2)
            if len(data) != size + 2:
                raise ConnectionError("the Redis server closed the connection")
            return data[:-2]
        if kind == b"*":
            size = int(rest)
            return None if size < 0 else [self._reply() for _ in range(size)]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            return ReplyError(rest.decode(errors="replace"))
        raise ConnectionError(f"unexpected reply from the Redis server: {line[:20]!r}")

    def evalsha(self, script: Script, keys: list[str], args: list[Any]) -> Any:
        """Run ``script`` (loading it first if the server does not know it)."""
        command = ("EVALSHA", script.sha, len(keys), *keys, *args)
        try:
            return self.call(*command)
        except ReplyError as exc:
            if not str(exc).startswith("NOSCRIPT"):
                raise
        self.call("SCRIPT", "LOAD", script.body)
        return self.call(*command)
