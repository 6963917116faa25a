"""Observability: what recording a call costs, beside the loopback model call it records.

Issue 7 names no figure; the targets here are ours: everything ``guardfn_record`` does
for a call (DogStatsD metrics + an audit file record + the alerts checks) stays within
5% of a loopback model call (~1 ms), and with no agent listening (every datagram
refused) the metrics cost stays what it is with one listening (sending never waits).
The encrypted content log's fsync is shown for context: it is opt-in and costs a disk
flush per call.

python -m benchmarks.bench_observability
"""

from __future__ import annotations

import os
import socket
import tempfile
import time
from collections.abc import Callable
from typing import Any

from benchmarks.common import Row, main, median, percentile, row, scaled

ISSUE = 7

CALLS = scaled(2000)


def _finished_call(settings: Any) -> Any:
    from guardfn.call import Call, Finding, Usage, text_message

    call = Call(function="app.support.answer", settings=settings, messages=[text_message("user", "hi")],
                user_id="u-42", model="gpt-4o-mini")  # fmt: skip
    call.usage = Usage(120, 40)
    call.cost_usd = 0.000042
    call.attempts = 1
    call.outcome = "ok"
    call.add_finding(Finding(stage="pii", kind="EMAIL_ADDRESS", count=1))
    return call


def _per_call(fn: Callable[[], Any], n: int = CALLS) -> list[float]:
    for _ in range(50):
        fn()
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return samples


def _fresh_calls(settings: Any) -> Callable[[], Any]:
    """A supplier of finished calls built ahead of time (building one is not what is measured)."""
    calls = [_finished_call(settings) for _ in range(CALLS + 100)]
    return calls.pop


def _record_step(settings: Any) -> Callable[[], None]:
    from guardfn.stages import alerts, audit, metrics

    next_call = _fresh_calls(settings)

    def step() -> None:
        call = next_call()
        metrics.guardfn_record(call, "ok")
        audit.guardfn_record(call, "ok")
        alerts.guardfn_record(call, "ok")

    return step


def _loopback_call() -> tuple[list[float], Any]:
    import openai

    from guardfn.testing import FakeLLMServer

    server = FakeLLMServer().start()
    client = openai.OpenAI(base_url=server.openai_base_url, api_key="sk-bench-0000", max_retries=0)

    def once() -> None:
        server.reply("ok", usage=(12, 3))
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], max_tokens=16)

    samples = _per_call(once, 500)
    client.close()
    return samples, server


def _point_statsd_at(port: int) -> None:
    from guardfn.observability import metrics

    metrics.reset()
    os.environ["DD_AGENT_HOST"] = "127.0.0.1"
    os.environ["DD_DOGSTATSD_PORT"] = str(port)


def run() -> list[Row]:
    from guardfn.observability import audit, content_log, metrics
    from guardfn.settings import build_settings

    saved = {k: os.environ.get(k) for k in ("DD_AGENT_HOST", "DD_DOGSTATSD_PORT", content_log.KEY_ENV)}
    listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    listener.bind(("127.0.0.1", 0))
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as tmp:
        try:
            loop, server = _loopback_call()
            server.stop()
            loop_p50 = median(loop)
            settings = build_settings({}, {"metrics": "datadog", "audit_file": f"{tmp}/audit.jsonl"})

            _point_statsd_at(listener.getsockname()[1])
            listening = _per_call(_record_step(settings))
            metrics.flush(5.0)
            p50 = median(listening)
            rows.append(row("record step: metrics + audit file + alerts, p50", p50 * 1e6, "us",
                            anchor="raw SDK call to loopback, p50", anchor_value=loop_p50 * 1e6,
                            target="<= 0.05x (ours)", met=p50 / loop_p50 <= 0.05))  # fmt: skip
            p99 = percentile(listening, 99)
            rows.append(row("record step, p99", p99 * 1e6, "us", anchor="raw SDK call to loopback, p99",
                            anchor_value=percentile(loop, 99) * 1e6, target="<= 0.10x (ours)",
                            met=p99 / percentile(loop, 99) <= 0.10))  # fmt: skip

            dead = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            dead.bind(("127.0.0.1", 0))
            port = dead.getsockname()[1]
            dead.close()
            _point_statsd_at(port)
            facts_settings = build_settings({}, {"metrics": "datadog"})
            from guardfn.observability.facts import facts_of

            def emit_only(next_call: Callable[[], Any]) -> Callable[[], None]:
                return lambda: metrics.emit(facts_of(next_call(), "ok"), facts_settings)

            no_agent = median(_per_call(emit_only(_fresh_calls(facts_settings))))
            metrics.flush(2.0)
            _point_statsd_at(listener.getsockname()[1])
            with_agent = median(_per_call(emit_only(_fresh_calls(facts_settings))))
            metrics.flush(5.0)
            rows.append(row("metrics emit, no agent listening, p50", no_agent * 1e6, "us",
                            anchor="metrics emit, agent listening, p50", anchor_value=with_agent * 1e6,
                            target="<= 1.5x (never waits)", met=no_agent / with_agent <= 1.5))  # fmt: skip

            os.environ[content_log.KEY_ENV] = content_log.generate_key()
            log = content_log.open_log(f"{tmp}/content")
            record = {"messages": [{"role": "user", "content": "x" * 400}], "responses": ["y" * 400], "started_at": 0}
            fsync = median(_per_call(lambda: log.append(record), 300))
            rows.append(row("content log append (encrypt + write + fsync), p50", fsync * 1e6, "us",
                            anchor="raw SDK call to loopback, p50", anchor_value=loop_p50 * 1e6,
                            target="(context: opt-in, one disk flush per call)"))  # fmt: skip
        finally:
            metrics.reset()
            audit.close_all()
            content_log.close_all()
            listener.close()
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
    return rows


if __name__ == "__main__":
    main(run)
