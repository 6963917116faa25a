"""An upstream for the anchors that is not guardfn's own fake: a canned OpenAI / Anthropic server.

``guardfn.testing`` echoes prompts and is built to exercise guardfn; the anchors should
not run against guardfn's own code. This is a separate, minimal HTTP/1.1 keep-alive
server on asyncio streams, in a child process (it shares no GIL with the measured
client), answering every request with the same canned body:

* ``POST /v1/chat/completions``: a ``chat.completion`` (or, with ``"stream": true``, the
  answer as server-sent events of ``--chunk-chars`` characters, then a usage chunk);
* ``POST /v1/messages``: an Anthropic ``message``.

It reads only ``model`` and ``stream`` from the request. ``python -m benchmarks.upstream``
prints its URL on the first line of stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import subprocess
import sys
import time
from collections.abc import Iterator

ANSWER = "To reset your password, open Settings, choose Security, then Reset password, and follow the email."
USAGE = (32, 22)


def _completion(model: str) -> bytes:
    return json.dumps(
        {
            "id": "chatcmpl-upstream",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": ANSWER}, "finish_reason": "stop", "logprobs": None}
            ],
            "usage": {"prompt_tokens": USAGE[0], "completion_tokens": USAGE[1], "total_tokens": sum(USAGE)},
        }
    ).encode()


def _message(model: str) -> bytes:
    return json.dumps(
        {
            "id": "msg_upstream",
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [{"type": "text", "text": ANSWER}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {"input_tokens": USAGE[0], "output_tokens": USAGE[1]},
        }
    ).encode()


def _stream(model: str, chunk_chars: int) -> bytes:
    head = {"id": "chatcmpl-upstream", "object": "chat.completion.chunk", "created": int(time.time()), "model": model}
    events = []
    for i in range(0, len(ANSWER), chunk_chars):
        delta = {"content": ANSWER[i : i + chunk_chars]}
        events.append({**head, "choices": [{"index": 0, "delta": delta, "finish_reason": None}], "usage": None})
    events.append({**head, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}], "usage": None})
    usage = {"prompt_tokens": USAGE[0], "completion_tokens": USAGE[1], "total_tokens": sum(USAGE)}
    events.append({**head, "choices": [], "usage": usage})
    return b"".join(b"data: " + json.dumps(e).encode() + b"\n\n" for e in events) + b"data: [DONE]\n\n"


def _response(body: bytes, content_type: bytes) -> bytes:
    return (
        b"HTTP/1.1 200 OK\r\ncontent-type: " + content_type + b"\r\ncontent-length: "
        + str(len(body)).encode() + b"\r\nconnection: keep-alive\r\n\r\n" + body
    )  # fmt: skip


async def _serve_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, chunk_chars: int) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            request_line, *headers = head.decode("latin-1").split("\r\n")
            length = 0
            for line in headers:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value)
            body = json.loads(await reader.readexactly(length)) if length else {}
            model = str(body.get("model", ""))
            if "/messages" in request_line:
                writer.write(_response(_message(model), b"application/json"))
            elif body.get("stream"):
                writer.write(_response(_stream(model, chunk_chars), b"text/event-stream"))
            else:
                writer.write(_response(_completion(model), b"application/json"))
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def _main(host: str, port: int, chunk_chars: int) -> None:
    server = await asyncio.start_server(lambda r, w: _serve_connection(r, w, chunk_chars), host, port)
    address = server.sockets[0].getsockname()
    print(f"http://{address[0]}:{address[1]}", flush=True)
    async with server:
        await server.serve_forever()


@contextlib.contextmanager
def upstream(chunk_chars: int = 4) -> Iterator[str]:
    """Run the canned upstream in a child process; yields its base URL (``<url>/v1`` for OpenAI)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.upstream", "--chunk-chars", str(chunk_chars)], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    url = process.stdout.readline().strip()
    try:
        if not url.startswith("http://"):
            raise RuntimeError("the upstream child process did not start")
        yield url
    finally:
        process.terminate()
        process.wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m benchmarks.upstream", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--chunk-chars", type=int, default=4)
    options = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_main(options.host, options.port, options.chunk_chars))
