"""Output validation overhead: schema + rules per call, and the streaming guard per chunk.

Anchors, measured in the same run against the same loopback server (a child process,
so it shares no GIL with the measured client):

* per call: the raw ``openai`` SDK call, and the guarded call without output controls;
  the guarded call with ``schema=`` (a pydantic model, native ``response_format``) and
  ``output_rules`` (prohibited terms, allowed domains, max_chars, HTML sanitising);
* per chunk: the raw SDK stream of a long answer in small chunks, against the guarded
  stream with the same rules (time from the first chunk to the end, divided by the
  number of chunks the server sent, so time to first byte is not counted);
* the validation and rule checks alone, in-process, per answer.

Issue 6 names the anchors but no targets; the targets here are this module's proposal:
schema validation and output rules add at most 5% of the raw call's p50 (net of what
the SDK itself spends on the ``response_format`` parameter, measured with the raw SDK
sending the same one), and the streaming guard adds at most 10% of a raw chunk's time.
The guarded call without output controls is reported too: its cost is the other stages'.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import timeit
from typing import Any

from benchmarks.common import Row, main, percentile, row, scaled
from guardfn.hookspecs import hookimpl

ISSUE = 6

CALLS = scaled(600)
STREAMS = scaled(40)
CHUNK = 4  # characters per streamed chunk, about one token
KEY = "sk-bench-output-0000"

ANSWER = {
    "product_id": "boot-42",
    "reason": "Waterproof leather, see https://docs.acme.com/boots for sizes.",
    "confidence_score": 0.82,
}
RULES: dict[str, Any] = {
    "prohibited": ["competitor_name", "internal_pricing"],
    "allowed_domains": ["acme.com", "docs.acme.com"],
    "max_chars": 10_000,
    "html": "sanitize",
}
STREAM_TEXT = " ".join(
    f"Step {i}: open the settings page at https://docs.acme.com/help/{i} and choose the option you need, "
    "then save your changes and wait for the confirmation message."
    for i in range(1, 17)
)[:2000]

_SERVER = r"""
import contextlib, json, threading
from guardfn.testing import FakeLLMServer, Reply

def respond(request):
    text = request.body["messages"][-1]["content"]
    return Reply(text=text, chunks=[text[i:i + %d] for i in range(0, len(text), %d)])

with FakeLLMServer(responder=respond) as server:
    print(server.url, flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        threading.Event().wait()
"""


class _Server:
    """The fake provider in a child process: echoes the last user message, streamed in small chunks."""

    def __enter__(self) -> _Server:
        code = _SERVER % (CHUNK, CHUNK)
        self.process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        url = self.process.stdout.readline().strip()
        if not url.startswith("http://"):
            self.process.kill()
            raise RuntimeError("the fake LLM server child process did not start")
        self.openai_base_url = url + "/v1"
        return self

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        self.process.wait()


def _recommendation_model() -> Any:
    from pydantic import BaseModel, Field

    class ProductRecommendation(BaseModel):
        product_id: str
        reason: str
        confidence_score: float = Field(ge=0.0, le=1.0)

    return ProductRecommendation


def _guarded(server: _Server, **options: Any) -> Any:
    from guardfn import guarded_llm

    @guarded_llm(model="gpt-4o-mini", max_tokens=300, base_url=server.openai_base_url, api_key=lambda: KEY, **options)
    def answer(user_id: str, prompt: str) -> str:
        return prompt

    return answer


def _per_call(server: _Server) -> list[Row]:
    import openai

    client = openai.OpenAI(base_url=server.openai_base_url, api_key=KEY, max_retries=0)
    prompt = json.dumps(ANSWER)  # the server echoes it: a valid answer for the schema
    schema = _recommendation_model()
    plain = _guarded(server)
    checked = _guarded(server, schema=schema, output_rules=RULES)
    messages = [{"role": "user", "content": prompt}]
    # the same native request the schema stage sends: the SDK's own cost of it is not guardfn's
    from guardfn.output.schema import validator_for
    from guardfn.providers.openai import response_format as format_of

    response_format: Any = format_of(validator_for(schema).output_schema())  # type: ignore[arg-type]

    def raw() -> None:
        client.chat.completions.create(model="gpt-4o-mini", messages=messages, max_tokens=300)  # type: ignore[arg-type]

    def raw_rf() -> None:
        client.chat.completions.create(
            model="gpt-4o-mini",
            messages=messages,  # type: ignore[arg-type]
            max_tokens=300,
            response_format=response_format,
        )

    spans = _StageTimes().register()  # before the warm-up: registering rebuilds the engines
    assert checked("u-1", prompt) == schema(**ANSWER)
    variants = {
        "raw": raw,
        "raw_rf": raw_rf,
        "plain": lambda: plain("u-1", prompt),
        "checked": lambda: checked("u-1", prompt),
    }
    for _ in range(50):
        for fn in variants.values():
            fn()
    times: dict[str, list[float]] = {name: [] for name in variants}
    spans.calls.clear()
    for _ in range(CALLS):  # interleaved, so drift on a shared machine hits every variant
        for name, fn in variants.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    in_stages = percentile(spans.per_call(checked), 50)  # before unregistering rebuilds the engine
    spans.unregister()
    client.close()
    p50 = {name: percentile(values, 50) * 1e6 for name, values in times.items()}
    p99 = {name: percentile(values, 99) * 1e6 for name, values in times.items()}
    added = (p50["checked"] - p50["plain"]) - (p50["raw_rf"] - p50["raw"])
    return [
        row(
            "sync p50, guarded with schema + output rules",
            p50["checked"],
            "us",
            anchor="raw SDK call with the same response_format",
            anchor_value=p50["raw_rf"],
            target="report",
        ),
        row(
            "sync p99, guarded with schema + output rules",
            p99["checked"],
            "us",
            anchor="raw SDK call with the same response_format",
            anchor_value=p99["raw_rf"],
            target="report",
        ),
        row(
            "sync p50, guarded without output controls",
            p50["plain"],
            "us",
            anchor="raw SDK call",
            anchor_value=p50["raw"],
            target="report (the other stages)",
        ),
        row(
            "p50 added by schema + output rules (net of the SDK's response_format cost)",
            added,
            "us",
            anchor="raw SDK call with the same response_format",
            anchor_value=p50["raw_rf"],
            target="none in issue 6; proposed <= 0.05x the raw call",
            met=added / p50["raw_rf"] <= 0.05,
        ),
        row(
            "time inside the schema, output_rules and html stages per call (p50, call.spans)",
            in_stages,
            "us",
            anchor="raw SDK call with the same response_format",
            anchor_value=p50["raw_rf"],
            target="none in issue 6; proposed <= 0.05x the raw call",
            met=in_stages / p50["raw_rf"] <= 0.05,
        ),
    ]


class _StageTimes:
    """A plugin that sums, per finished call, the time spent in this issue's stages."""

    STAGES = frozenset({"schema", "output_rules", "html"})
    NAME = "bench_output_stage_times"

    def __init__(self) -> None:
        self.calls: list[Any] = []

    def register(self) -> _StageTimes:
        from guardfn import plugins

        plugins.register(self, name=self.NAME)
        return self

    def unregister(self) -> None:
        from guardfn import plugins

        plugins.unregister(self.NAME)

    @hookimpl
    def guardfn_record(self, call: Any, outcome: str) -> None:
        """Keep the finished call (observer)."""
        self.calls.append(call)

    def per_call(self, fn: Any) -> list[float]:
        settings = fn.guard.engine.settings
        return [
            sum(s.end_ns - s.start_ns for s in call.spans if s.plugin in self.STAGES) / 1000
            for call in self.calls
            if call.settings is settings
        ]


def _in_process() -> list[Row]:
    from guardfn.output.rules import AllowedDomains, MaxChars, ProhibitedTerms, check_rules
    from guardfn.output.schema import validator_for

    validator = validator_for(_recommendation_model())
    rules = [ProhibitedTerms(RULES["prohibited"]), AllowedDomains(RULES["allowed_domains"]), MaxChars(10_000)]
    text = json.dumps(ANSWER)
    fenced = f"Here is my recommendation:\n```json\n{text}\n```\nLet me know if you need more."
    n = 5000

    def measure(fn: Any) -> float:
        return min(timeit.repeat(fn, number=n, repeat=5)) / n * 1e6

    return [
        row("validate a JSON answer", measure(lambda: validator.validate(text)), "us", target="report"),
        row(
            "validate an answer in prose and a fence",
            measure(lambda: validator.validate(fenced)),
            "us",
            target="report",
        ),
        row(
            "check 3 rules on a 2,000-char answer",
            measure(lambda: check_rules(rules, STREAM_TEXT)),
            "us",
            target="report",
        ),
    ]


def _per_chunk(server: _Server) -> list[Row]:
    import openai

    client = openai.OpenAI(base_url=server.openai_base_url, api_key=KEY, max_retries=0)
    chunks_sent = -(-len(STREAM_TEXT) // CHUNK)
    unguarded = _guarded(server, stream=True)
    guarded = _guarded(server, stream=True, output_rules={k: v for k, v in RULES.items() if k != "html"}, canary=True)
    messages = [{"role": "user", "content": STREAM_TEXT}]

    def timed_stream(chunks: Any) -> float:
        first = None
        text = []
        for chunk in chunks:
            if first is None:
                first = time.perf_counter()
            text.append(chunk)
        assert "".join(text) == STREAM_TEXT and first is not None
        return time.perf_counter() - first

    def raw_chunks() -> Any:
        stream = client.chat.completions.create(  # type: ignore[call-overload]
            model="gpt-4o-mini", messages=messages, max_tokens=1000, stream=True, stream_options={"include_usage": True}
        )
        for event in stream:
            if event.choices and event.choices[0].delta.content:
                yield event.choices[0].delta.content

    variants = {
        "raw": raw_chunks,
        "unguarded": lambda: unguarded("u-1", STREAM_TEXT),
        "guarded": lambda: guarded("u-1", STREAM_TEXT),
    }
    for _ in range(5):
        for make in variants.values():
            timed_stream(make())
    times: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(STREAMS):
        for name, make in variants.items():
            times[name].append(timed_stream(make()))
    client.close()
    per_chunk = {name: percentile(values, 50) / chunks_sent * 1e6 for name, values in times.items()}
    added = per_chunk["guarded"] - per_chunk["unguarded"]
    return [
        row(
            f"stream time per chunk, output rules on ({chunks_sent} chunks of {CHUNK} chars)",
            per_chunk["guarded"],
            "us",
            anchor="raw openai SDK stream",
            anchor_value=per_chunk["raw"],
            target="report",
        ),
        row(
            "stream time per chunk, guarded without output rules",
            per_chunk["unguarded"],
            "us",
            anchor="raw openai SDK stream",
            anchor_value=per_chunk["raw"],
            target="report (the pipeline)",
        ),
        row(
            "stream time added per chunk by the output rules",
            added,
            "us",
            anchor="raw openai SDK stream",
            anchor_value=per_chunk["raw"],
            target="none in issue 6; proposed <= 0.10x a raw chunk",
            met=added / per_chunk["raw"] <= 0.10,
        ),
    ]


def run() -> list[Row]:
    rows: list[Row] = []
    with _Server() as server:
        rows += _per_call(server)
        rows += _per_chunk(server)
    rows += _in_process()
    return rows


if __name__ == "__main__":
    main(run)
