"""Metrics to DogStatsD through the ``datadog`` package's :class:`~datadog.dogstatsd.DogStatsd`.

Configured the Datadog way, by the agent's own environment variables:
``DD_AGENT_HOST`` / ``DD_DOGSTATSD_PORT`` (UDP, default ``localhost:8125``),
``DD_DOGSTATSD_URL`` (``udp://host:port`` or ``unix:///path``), ``DD_DOGSTATSD_SOCKET``
(a Unix socket path), and ``DD_ENV`` / ``DD_SERVICE`` / ``DD_VERSION`` as constant
``env:`` / ``service:`` / ``version:`` tags. Switched on with ``metrics="datadog"``
(``GUARDFN_METRICS=datadog``).

Per call (tags ``model``, ``provider``, ``function`` on every metric):

=========================  ============  ==========================================
``llm.requests``           count         ``outcome:ok|blocked|failed``
``llm.tokens.prompt``      count         prompt tokens the provider reported
``llm.tokens.completion``  count         completion tokens
``llm.cost_usd``           count         USD (sum it for spend)
``llm.latency_ms``         distribution  whole call, ``outcome`` tag
``llm.blocked``            count         ``stage``, ``reason`` (a short code)
``llm.failed``             count         ``stage``, ``reason`` (``http_429`` ...)
``llm.retries``            count         provider retries
``llm.reasks``             count         schema and tool-argument re-asks
``llm.tool_calls``         count         one per tool run: ``tool``, ``outcome:ok|error``
``llm.findings``           count         ``stage``, ``kind``, ``rule``
``llm.alerts``             count         ``kind`` (from ``guardfn_alert``)
=========================  ============  ==========================================

A ``user`` tag is added only with ``metrics_user_tag=True``, and then as a keyed hash
(:func:`guardfn.observability.facts.hash_user_id`): a raw user id is personal data and a
cardinality bomb. Sending never blocks or raises into a call: the client buffers and
aggregates in memory, a background thread sends (its queue is bounded and drops when
full), and any error is logged once at debug level.
"""

from __future__ import annotations

import atexit
import functools
import importlib.util
import logging
import os
import re
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from guardfn.observability.facts import CallFacts
    from guardfn.settings import Settings

log = logging.getLogger("guardfn.metrics")

SOCKET_ENV = "DD_DOGSTATSD_SOCKET"
FLUSH_INTERVAL = 0.3
"""Seconds between the client's background flushes of its buffer and aggregates."""
SENDER_QUEUE_SIZE = 4096
"""Packets the background sender holds before new ones are dropped (never waited for)."""

_TAG_VALUE = re.compile(r"[^A-Za-z0-9_\-./]+")
_lock = threading.Lock()
_client: Any = None
_broken = False
_warned: set[str] = set()


def available() -> bool:
    """Whether the ``datadog`` package is installed (without importing it)."""
    return importlib.util.find_spec("datadog") is not None


@functools.lru_cache(maxsize=4096)
def tag(name: str, value: object) -> str:
    """``name:value`` with the value reduced to characters DogStatsD tags keep (max 200)."""
    text = _TAG_VALUE.sub("_", str(value)) or "none"
    return f"{name}:{text}"[:200]


def client() -> Any:
    """The process-wide DogStatsd client, created on first use; ``None`` if it cannot be."""
    global _client, _broken
    if _client is not None or _broken:
        return _client
    with _lock:
        if _client is None and not _broken:
            try:
                _client = _create()
            except Exception as exc:  # a bad DD_* value must not break calls
                _broken = True
                log.warning("guardfn: DogStatsD client unavailable (%s); metrics are off", type(exc).__name__)
    return _client


def _create() -> Any:
    from datadog.dogstatsd import DogStatsd

    return DogStatsd(
        socket_path=os.environ.get(SOCKET_ENV) or None,
        disable_buffering=False,
        disable_aggregation=False,
        flush_interval=FLUSH_INTERVAL,
        disable_background_sender=False,
        sender_queue_size=SENDER_QUEUE_SIZE,
        sender_queue_timeout=0,
    )


def flush(timeout: float = 2.0) -> bool:
    """Send everything buffered and aggregated now, waiting up to ``timeout`` seconds for the sender.

    Calls never need this; tests and short-lived processes (serverless handlers) do.
    """
    current = _client
    if current is None:
        return True
    try:
        current.flush_aggregated_metrics()
        current.flush()
        wait = getattr(current, "wait_for_pending", None)
        return bool(wait(timeout)) if wait is not None else True
    except Exception as exc:
        _once("flush", exc)
        return False


def reset() -> None:
    """Stop and forget the client; the next metric creates a new one from the environment."""
    global _client, _broken
    with _lock:
        current, _client, _broken = _client, None, False
    if current is not None:
        try:
            current.stop(timeout=2.0)
        except Exception as exc:
            _once("stop", exc)
        try:
            current.close_socket()
        except Exception as exc:
            _once("close", exc)


atexit.register(flush, 1.0)


def _once(what: str, exc: BaseException) -> None:
    if what not in _warned:
        _warned.add(what)
        log.debug("guardfn: DogStatsD %s failed: %s", what, type(exc).__name__)


def base_tags(facts: CallFacts, settings: Settings) -> list[str]:
    """The tags every metric of a call carries (plus a hashed ``user`` when enabled)."""
    tags = [tag("model", facts.model), tag("provider", facts.provider), tag("function", facts.function)]
    if settings.metrics_user_tag:
        tags.append(tag("user", facts.user_hash))
    return tags


def emit(facts: CallFacts, settings: Settings) -> None:
    """Send the metrics of one finished call; never raises, never blocks on the network."""
    statsd = client()
    if statsd is None:
        return
    try:
        _emit(statsd, facts, settings)
    except Exception as exc:
        _once("emit", exc)


def _emit(statsd: Any, facts: CallFacts, settings: Settings) -> None:
    tags = base_tags(facts, settings)
    outcome = [*tags, tag("outcome", facts.outcome)]
    statsd.increment("llm.requests", 1, tags=outcome)
    statsd.distribution("llm.latency_ms", facts.duration_ms, tags=outcome)
    if facts.prompt_tokens:
        statsd.increment("llm.tokens.prompt", facts.prompt_tokens, tags=tags)
    if facts.completion_tokens:
        statsd.increment("llm.tokens.completion", facts.completion_tokens, tags=tags)
    if facts.cost_usd:
        statsd.increment("llm.cost_usd", facts.cost_usd, tags=tags)
    if facts.outcome in ("blocked", "failed"):
        why = [*tags, tag("stage", facts.stage or "unknown"), tag("reason", facts.reason_code or "unknown")]
        statsd.increment(f"llm.{facts.outcome}", 1, tags=why)
    if facts.retries:
        statsd.increment("llm.retries", facts.retries, tags=tags)
    if facts.reasks:
        statsd.increment("llm.reasks", facts.reasks, tags=tags)
    for run in facts.tool_runs:
        statsd.increment("llm.tool_calls", 1, tags=[*tags, tag("tool", run.name), tag("outcome", run.outcome)])
    for finding in facts.findings:
        ftags = [*tags, tag("stage", finding.stage), tag("kind", finding.kind)]
        if finding.rule:
            ftags.append(tag("rule", finding.rule))
        statsd.increment("llm.findings", finding.count, tags=ftags)


def emit_alert(kind: str, model: str, function: str) -> None:
    """Count one alert (``llm.alerts``, tag ``kind``); never raises."""
    statsd = client()
    if statsd is None:
        return
    try:
        statsd.increment("llm.alerts", 1, tags=[tag("kind", kind), tag("model", model), tag("function", function)])
    except Exception as exc:
        _once("emit", exc)
