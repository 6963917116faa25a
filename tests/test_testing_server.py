"""guardfn.testing.FakeLLMServer through the real openai and anthropic SDKs over a real socket."""

from __future__ import annotations

import json
import math
import socket
import threading
from typing import Any

import anthropic
import openai
import pytest

from guardfn.testing import FakeLLMServer, RecordedRequest, Reply, serve_in_subprocess

USER = [{"role": "user", "content": "How do I reset my password?"}]
TOOL = {
    "name": "answer",
    "description": "Give the answer.",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


# clients typed as Any: the SDKs' overloads want TypedDict messages, which these plain dicts are at run time


def oa(server: FakeLLMServer, **kw: Any) -> Any:
    """A sync OpenAI client on the fake server, no SDK retries."""
    return openai.OpenAI(base_url=server.openai_base_url, api_key="sk-test-0000", max_retries=0, **kw)


def an(server: FakeLLMServer, **kw: Any) -> Any:
    """A sync Anthropic client on the fake server, no SDK retries."""
    return anthropic.Anthropic(base_url=server.anthropic_base_url, api_key="sk-ant-test-0000", max_retries=0, **kw)


def aoa(server: FakeLLMServer) -> Any:
    """An async OpenAI client on the fake server."""
    return openai.AsyncOpenAI(base_url=server.openai_base_url, api_key="sk-test-0000", max_retries=0)


def aan(server: FakeLLMServer) -> Any:
    """An async Anthropic client on the fake server."""
    return anthropic.AsyncAnthropic(base_url=server.anthropic_base_url, api_key="sk-ant-test-0000", max_retries=0)


# --- plain replies ------------------------------------------------------------------------


def test_openai_scripted_text_and_usage(server: FakeLLMServer) -> None:
    server.reply("hello", usage=(12, 3), finish_reason="length")
    result = oa(server).chat.completions.create(model="gpt-4o-mini", messages=USER, max_tokens=50)
    assert result.choices[0].message.content == "hello"
    assert result.choices[0].finish_reason == "length"
    assert result.model == "gpt-4o-mini"
    assert result.usage is not None
    assert (result.usage.prompt_tokens, result.usage.completion_tokens, result.usage.total_tokens) == (12, 3, 15)


def test_anthropic_scripted_text_and_usage(server: FakeLLMServer) -> None:
    server.reply("bonjour", usage=(9, 2), finish_reason="length")  # OpenAI's word, translated
    result = an(server).messages.create(model="claude-haiku-4-5", max_tokens=50, messages=USER)
    assert [b.type for b in result.content] == ["text"]
    assert result.content[0].text == "bonjour"
    assert result.stop_reason == "max_tokens"
    assert (result.usage.input_tokens, result.usage.output_tokens) == (9, 2)


def test_default_reply_echoes_last_user_message_with_estimated_usage(server: FakeLLMServer) -> None:
    messages = [
        {"role": "user", "content": "first"},
        {"role": "assistant", "content": "ok"},
        {"role": "user", "content": [{"type": "text", "text": "second question"}]},
    ]
    result = oa(server).chat.completions.create(model="m", messages=messages)
    assert result.choices[0].message.content == "echo: second question"
    assert result.choices[0].finish_reason == "stop"
    assert result.usage is not None
    assert result.usage.completion_tokens == math.ceil(len("echo: second question") / 4)

    msg = an(server).messages.create(model="claude-x", max_tokens=10, system="Be terse.", messages=USER)
    assert msg.content[0].text == "echo: How do I reset my password?"
    assert msg.stop_reason == "end_turn"
    # the system prompt counts towards the estimate
    prompt = "Be terse.\nHow do I reset my password?"
    assert msg.usage.input_tokens == math.ceil(len(prompt) / 4)


def test_scripted_replies_are_used_in_order_then_echo(server: FakeLLMServer) -> None:
    server.reply("one")
    server.reply("two", times=2)
    client = oa(server)
    texts = [client.chat.completions.create(model="m", messages=USER).choices[0].message.content for _ in range(4)]
    assert texts == ["one", "two", "two", "echo: How do I reset my password?"]


def test_custom_responder_sees_the_request(server: FakeLLMServer) -> None:
    def responder(request: RecordedRequest) -> Reply:
        return Reply(text=f"{request.path} {request.body['model']}", usage=(1, 1))

    with FakeLLMServer(responder=responder) as custom:
        result = oa(custom).chat.completions.create(model="gpt-x", messages=USER)
    assert result.choices[0].message.content == "/v1/chat/completions gpt-x"


def test_a_failing_responder_is_a_500_not_a_dropped_connection() -> None:
    def responder(request: RecordedRequest) -> Reply:
        raise RuntimeError("boom")

    with FakeLLMServer(responder=responder) as custom, pytest.raises(openai.InternalServerError) as info:
        oa(custom).chat.completions.create(model="m", messages=USER)
    assert "RuntimeError" in str(info.value)


async def test_async_clients(server: FakeLLMServer) -> None:
    server.reply("async openai", usage=(4, 2))
    server.reply("async anthropic", usage=(5, 3))
    async with aoa(server) as client:
        result = await client.chat.completions.create(model="m", messages=USER)
    assert result.choices[0].message.content == "async openai"
    async with aan(server) as aclient:
        msg = await aclient.messages.create(model="claude-x", max_tokens=5, messages=USER)
    assert msg.content[0].text == "async anthropic"
    assert msg.usage.output_tokens == 3


# --- streaming ----------------------------------------------------------------------------


def test_openai_stream_deltas_and_final_usage(server: FakeLLMServer) -> None:
    server.reply("Hello there.", chunks=["Hel", "lo ", "there."], usage=(11, 4))
    stream = oa(server).chat.completions.create(
        model="m",
        messages=USER,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    deltas = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    assert deltas == ["Hel", "lo ", "there."]
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["stop"]
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    assert (chunks[-1].usage.prompt_tokens, chunks[-1].usage.completion_tokens) == (11, 4)
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    assert server.requests[-1].body["stream"] is True


def test_openai_stream_without_include_usage_has_no_usage_chunk(server: FakeLLMServer) -> None:
    chunks = list(oa(server).chat.completions.create(model="m", messages=USER, stream=True))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "echo: How do I reset my password?"
    assert all(c.usage is None for c in chunks)
    assert len([c for c in chunks if c.choices and c.choices[0].delta.content]) > 1  # split into pieces


def test_anthropic_stream_events_and_usage(server: FakeLLMServer) -> None:
    server.reply("abc def", chunks=["abc", " def"], usage=(3, 2))
    with an(server).messages.stream(model="claude-x", max_tokens=10, messages=USER) as stream:
        events = list(stream)
        final = stream.get_final_message()
    names = [e.type for e in events]
    for expected in (
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ):
        assert expected in names
    deltas = [e.delta.text for e in events if e.type == "content_block_delta"]
    assert deltas == ["abc", " def"]
    assert final.content[0].text == "abc def"
    assert final.stop_reason == "end_turn"
    assert (final.usage.input_tokens, final.usage.output_tokens) == (3, 2)


async def test_async_streams_for_both_providers(server: FakeLLMServer) -> None:
    server.reply("xyz", chunks=["x", "y", "z"], usage=(1, 3))
    server.reply("uvw", chunks=["u", "vw"], usage=(2, 2))
    async with aoa(server) as client:
        stream = await client.chat.completions.create(
            model="m",
            messages=USER,
            stream=True,
            stream_options={"include_usage": True},
        )
        pieces = [c.choices[0].delta.content async for c in stream if c.choices and c.choices[0].delta.content]
    assert pieces == ["x", "y", "z"]
    async with aan(server) as aclient:
        raw = await aclient.messages.create(model="c", max_tokens=5, messages=USER, stream=True)
        texts = [e.delta.text async for e in raw if e.type == "content_block_delta"]
    assert texts == ["u", "vw"]


# --- structured output --------------------------------------------------------------------


def test_anthropic_forced_tool_gets_a_tool_use_block(server: FakeLLMServer) -> None:
    server.reply('{"city": "Paris"}', usage=(10, 5))
    msg = an(server).messages.create(
        model="claude-x",
        max_tokens=50,
        messages=USER,
        tools=[TOOL],
        tool_choice={"type": "tool", "name": "answer"},
    )
    assert msg.stop_reason == "tool_use"
    (block,) = msg.content
    assert block.type == "tool_use"
    assert block.name == "answer"
    assert block.input == {"city": "Paris"}


def test_anthropic_forced_tool_with_non_json_text_answers_text(server: FakeLLMServer) -> None:
    server.reply("not json at all")
    msg = an(server).messages.create(
        model="claude-x",
        max_tokens=50,
        messages=USER,
        tools=[TOOL],
        tool_choice={"type": "tool", "name": "answer"},
    )
    assert [b.type for b in msg.content] == ["text"]
    assert msg.content[0].text == "not json at all"


def test_anthropic_forced_tool_streams_input_json(server: FakeLLMServer) -> None:
    server.reply('{"city": "Oslo"}')
    with an(server).messages.stream(
        model="claude-x",
        max_tokens=50,
        messages=USER,
        tools=[TOOL],
        tool_choice={"type": "tool", "name": "answer"},
    ) as stream:
        final = stream.get_final_message()
    assert final.content[0].type == "tool_use"
    assert final.content[0].input == {"city": "Oslo"}


def test_openai_response_format_gets_the_text_as_given(server: FakeLLMServer) -> None:
    server.reply('{"city": "Rome"}')
    result = oa(server).chat.completions.create(
        model="m",
        messages=USER,
        response_format={"type": "json_object"},
    )
    assert json.loads(result.choices[0].message.content or "") == {"city": "Rome"}
    assert server.requests[-1].body["response_format"] == {"type": "json_object"}


# --- errors -------------------------------------------------------------------------------


def test_openai_429_with_retry_after(server: FakeLLMServer) -> None:
    server.fail(429, retry_after=7, message="slow down")
    with pytest.raises(openai.RateLimitError) as info:
        oa(server).chat.completions.create(model="m", messages=USER)
    assert info.value.status_code == 429
    assert info.value.response.headers["retry-after"] == "7"
    assert info.value.body == {
        "message": "slow down",
        "type": "rate_limit_error",
        "param": None,
        "code": "rate_limit_exceeded",
    }
    assert len(server.requests) == 1


def test_anthropic_429_with_retry_after_and_error_shape(server: FakeLLMServer) -> None:
    server.fail(429, retry_after=0.5, message="slow down")
    with pytest.raises(anthropic.RateLimitError) as info:
        an(server).messages.create(model="c", max_tokens=5, messages=USER)
    assert info.value.response.headers["retry-after"] == "0.5"
    assert info.value.body == {"type": "error", "error": {"type": "rate_limit_error", "message": "slow down"}}


@pytest.mark.parametrize(
    ("status", "openai_error", "anthropic_error"),
    [
        (500, openai.InternalServerError, anthropic.InternalServerError),
        (401, openai.AuthenticationError, anthropic.AuthenticationError),
        (400, openai.BadRequestError, anthropic.BadRequestError),
    ],
)
def test_error_statuses_map_to_sdk_errors(
    server: FakeLLMServer, status: int, openai_error: type[Exception], anthropic_error: type[Exception]
) -> None:
    server.fail(status, times=2)
    with pytest.raises(openai_error):
        oa(server).chat.completions.create(model="m", messages=USER)
    with pytest.raises(anthropic_error):
        an(server).messages.create(model="c", max_tokens=5, messages=USER)
    assert "retry-after" not in server.requests[-1].headers  # a request header, never a leak of the reply


async def test_async_429_reaches_the_async_sdk(server: FakeLLMServer) -> None:
    server.fail(429, retry_after=1)
    async with aoa(server) as client:
        with pytest.raises(openai.RateLimitError) as info:
            await client.chat.completions.create(model="m", messages=USER)
    assert info.value.response.headers["retry-after"] == "1"


def test_bad_json_is_an_error_from_both_sdks(server: FakeLLMServer) -> None:
    # the SDKs let the json.JSONDecodeError (a ValueError) through; guardfn wraps it in ProviderError
    server.bad_json(times=2)
    with pytest.raises((openai.APIError, ValueError)):
        oa(server).chat.completions.create(model="m", messages=USER)
    with pytest.raises((anthropic.APIError, ValueError)):
        an(server).messages.create(model="c", max_tokens=5, messages=USER)
    assert len(server.requests) == 2


def test_bad_json_while_streaming_is_an_error_from_both_sdks(server: FakeLLMServer) -> None:
    server.bad_json(times=2)
    with pytest.raises((openai.APIError, ValueError)):
        list(oa(server).chat.completions.create(model="m", messages=USER, stream=True))
    with pytest.raises((anthropic.APIError, ValueError)):
        list(an(server).messages.create(model="c", max_tokens=5, messages=USER, stream=True))


def test_delay_lets_a_client_time_out(server: FakeLLMServer) -> None:
    server.reply("late", delay=1.0)
    server.reply("on time")
    client = oa(server, timeout=0.1)
    with pytest.raises(openai.APITimeoutError):
        client.chat.completions.create(model="m", messages=USER)
    assert oa(server).chat.completions.create(model="m", messages=USER).choices[0].message.content == "on time"


def test_stop_does_not_wait_for_a_sleeping_handler() -> None:
    srv = FakeLLMServer().start()
    srv.reply("never", delay=30)
    errors: list[BaseException] = []

    def call() -> None:
        try:
            oa(srv, timeout=60).chat.completions.create(model="m", messages=USER)
        except BaseException as exc:
            errors.append(exc)

    worker = threading.Thread(target=call, daemon=True)
    worker.start()
    while not srv.requests:  # the handler is now sleeping on its delay
        worker.join(0.01)
    srv.stop()
    worker.join(10)
    assert not worker.is_alive()  # the client got an answer (a closed connection) instead of 30 s of silence
    assert isinstance(errors[0], openai.APIConnectionError)


def test_unknown_route_is_404(server: FakeLLMServer) -> None:
    with pytest.raises(openai.NotFoundError):
        oa(server).completions.create(model="m", prompt="hi")


# --- recording ----------------------------------------------------------------------------


def test_requests_record_what_the_sdk_sent(server: FakeLLMServer) -> None:
    oa(server).chat.completions.create(model="gpt-4o-mini", messages=USER, max_tokens=33, temperature=0)
    an(server).messages.create(model="claude-x", max_tokens=44, system="sys", messages=USER)
    first, second = server.requests
    assert (first.method, first.path) == ("POST", "/v1/chat/completions")
    assert first.body == {"model": "gpt-4o-mini", "messages": USER, "max_tokens": 33, "temperature": 0}
    assert json.loads(first.raw) == first.body
    assert first.headers["authorization"] == "Bearer sk-test-0000"
    assert all(k == k.lower() for k in first.headers)
    assert (second.method, second.path) == ("POST", "/v1/messages")
    assert second.body == {"model": "claude-x", "max_tokens": 44, "system": "sys", "messages": USER}
    # anthropic 2.x sends the key as a bearer token (1.x used x-api-key)
    assert "sk-ant-test-0000" in (second.headers.get("x-api-key"), second.headers.get("authorization", "")[7:])
    assert "anthropic-version" in second.headers


def test_clear_forgets_requests_and_script(server: FakeLLMServer) -> None:
    server.reply("scripted")
    server.fail(500)
    oa(server).models.list()  # a GET leaves scripted answers for the chat calls
    server.clear()
    assert server.requests == []
    result = oa(server).chat.completions.create(model="m", messages=USER)
    assert result.choices[0].message.content == "echo: How do I reset my password?"
    assert len(server.requests) == 1


def test_concurrent_requests_are_all_recorded(server: FakeLLMServer) -> None:
    client = oa(server)
    results: list[str] = []

    def call(i: int) -> None:
        msg = [{"role": "user", "content": f"q{i}"}]
        results.append(client.chat.completions.create(model="m", messages=msg).choices[0].message.content or "")

    threads = [threading.Thread(target=call, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == sorted(f"echo: q{i}" for i in range(16))
    assert sorted(r.body["messages"][0]["content"] for r in server.requests) == sorted(f"q{i}" for i in range(16))


# --- models -------------------------------------------------------------------------------


def test_models_endpoint_in_both_shapes(server: FakeLLMServer) -> None:
    server.model_ids = ["gpt-a", "claude-b"]
    assert [m.id for m in oa(server).models.list()] == ["gpt-a", "claude-b"]
    page = an(server).models.list()
    assert [m.id for m in page.data] == ["gpt-a", "claude-b"]
    assert page.data[0].type == "model"
    assert [r.path for r in server.requests] == ["/v1/models", "/v1/models"]


async def test_models_endpoint_async_and_errors(server: FakeLLMServer) -> None:
    server.fail(401)
    async with aoa(server) as client:
        with pytest.raises(openai.AuthenticationError):
            await client.models.list()
        assert "gpt-4o-mini" in [m.id async for m in client.models.list()]


# --- transport ----------------------------------------------------------------------------


def test_keep_alive_serves_several_requests_on_one_connection(server: FakeLLMServer) -> None:
    with socket.create_connection((server.host, server.port)) as sock:
        body = json.dumps({"model": "m", "messages": USER}).encode()
        request = (
            b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
            b"content-length: %d\r\n\r\n%s" % (len(body), body)
        )
        for _ in range(2):
            sock.sendall(request)
            head = b""
            while b"\r\n\r\n" not in head:
                head += sock.recv(65536)
            headers, rest = head.split(b"\r\n\r\n", 1)
            length = int(
                next(
                    line.split(b":")[1] for line in headers.split(b"\r\n") if line.lower().startswith(b"content-length")
                )
            )
            while len(rest) < length:
                rest += sock.recv(65536)
            assert headers.startswith(b"HTTP/1.1 200")
            assert json.loads(rest[:length])["object"] == "chat.completion"


def test_serve_in_subprocess() -> None:
    process, url = serve_in_subprocess()
    try:
        client: Any = openai.OpenAI(base_url=url + "/v1", api_key="k", max_retries=0)
        assert client.chat.completions.create(model="m", messages=USER).choices[0].message.content == (
            "echo: How do I reset my password?"
        )
    finally:
        process.terminate()
        process.wait()


def test_serve_in_subprocess_streams_in_chunks_of_the_asked_size() -> None:
    process, url = serve_in_subprocess(chunk_chars=4)
    try:
        client: Any = openai.OpenAI(base_url=url + "/v1", api_key="k", max_retries=0)
        stream = client.chat.completions.create(model="m", messages=USER, stream=True)
        pieces = [c.choices[0].delta.content for c in stream if c.choices and c.choices[0].delta.content]
        assert "".join(pieces) == "echo: How do I reset my password?"
        assert all(len(p) == 4 for p in pieces[:-1]) and 1 <= len(pieces[-1]) <= 4
    finally:
        process.terminate()
        process.wait()
