"""Metrics for Prometheus through ``prometheus-client`` (``metrics="prometheus"``).

The same metrics as DogStatsD (:mod:`guardfn.observability.metrics`), named the Prometheus
way and registered in ``prometheus_client``'s default registry the first time a call is
recorded, so whatever already exposes that registry (``prometheus_client.start_http_server``,
``make_asgi_app``, a framework's ``/metrics``) exposes them too:

===============================  =========  =====================================================
``llm_requests_total``           counter    ``outcome``
``llm_tokens_total``             counter    ``kind``: ``prompt`` / ``completion``
``llm_cost_usd_total``           counter    USD
``llm_latency_seconds``          histogram  whole call, ``outcome``
``llm_refusals_total``           counter    ``outcome`` (``blocked`` / ``failed``), ``stage``, ``reason``
``llm_retries_total``            counter    provider retries
``llm_reasks_total``             counter    schema and tool-argument re-asks
``llm_tool_calls_total``         counter    ``tool``, ``outcome``
``llm_findings_total``           counter    ``stage``, ``kind``, ``rule``
``llm_alerts_total``             counter    ``kind``
===============================  =========  =====================================================

Every metric also carries ``model``, ``provider`` and ``function``. Label sets stay bounded:
there is never a user label (a user id is personal data and a cardinality bomb), values are
reduced to short codes, and a label that has seen :data:`MAX_VALUES` distinct values maps
every further one to ``"other"``. Recording never raises into a call.
"""

from __future__ import annotations

import logging
import re
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from guardfn.observability.facts import CallFacts

log = logging.getLogger("guardfn.prometheus")
MAX_VALUES = 200
"""Distinct values a label keeps before further ones become ``"other"``."""
BASE = ("model", "provider", "function")
_VALUE = re.compile(r"[^A-Za-z0-9_.:/\-]")

_lock = threading.Lock()
_metrics: dict[str, Any] | None = None
_seen: dict[str, set[str]] = {}


def code(value: object) -> str:
    """``value`` as a label value: unusual characters replaced, the last 120 kept."""
    return _VALUE.sub("_", str(value))[-120:] or "none"


def _label(name: str, value: object) -> str:
    """``value`` as a code; ``"other"`` once the label has :data:`MAX_VALUES` distinct values."""
    text = code(value)
    seen = _seen.setdefault(name, set())
    if text in seen:
        return text
    with _lock:
        if len(seen) >= MAX_VALUES:
            return "other"
        seen.add(text)
    return text


def _create() -> dict[str, Any]:
    from prometheus_client import Counter, Histogram

    def counter(name: str, doc: str, *labels: str) -> Any:
        return Counter(name, doc, [*BASE, *labels])

    return {
        "requests": counter("llm_requests", "Guarded LLM calls.", "outcome"),
        "tokens": counter("llm_tokens", "Tokens the provider reported.", "kind"),
        "cost": counter("llm_cost_usd", "Cost in USD."),
        "latency": Histogram(
            "llm_latency_seconds", "Whole guarded call.", [*BASE, "outcome"],
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
        ),
        "refusals": counter("llm_refusals", "Refused (blocked) or failed calls.", "outcome", "stage", "reason"),
        "retries": counter("llm_retries", "Provider retries."),
        "reasks": counter("llm_reasks", "Schema and tool-argument re-asks."),
        "tool_calls": counter("llm_tool_calls", "Tool runs.", "tool", "outcome"),
        "findings": counter("llm_findings", "Findings of the controls.", "stage", "kind", "rule"),
        "alerts": counter("llm_alerts", "Alerts raised.", "kind"),
    }


def metrics() -> dict[str, Any]:
    """The metric objects, created (and registered) on first use."""
    global _metrics
    if _metrics is None:
        with _lock:
            if _metrics is None:
                _metrics = _create()
    return _metrics


def emit(facts: CallFacts) -> None:
    """Record one finished call; never raises."""
    try:
        _emit(metrics(), facts)
    except Exception as exc:  # a metrics failure must never fail a call
        log.debug("guardfn: Prometheus metrics failed: %s", type(exc).__name__)


def _emit(m: dict[str, Any], facts: CallFacts) -> None:
    base = {"model": _label("model", facts.model), "provider": _label("provider", facts.provider),
            "function": _label("function", facts.function)}  # fmt: skip
    outcome = facts.outcome
    m["requests"].labels(**base, outcome=outcome).inc()
    m["latency"].labels(**base, outcome=outcome).observe(facts.duration_ms / 1000.0)
    if facts.prompt_tokens:
        m["tokens"].labels(**base, kind="prompt").inc(facts.prompt_tokens)
    if facts.completion_tokens:
        m["tokens"].labels(**base, kind="completion").inc(facts.completion_tokens)
    if facts.cost_usd:
        m["cost"].labels(**base).inc(facts.cost_usd)
    if outcome in ("blocked", "failed"):
        stage, reason = _label("stage", facts.stage or "unknown"), _label("reason", facts.reason_code or "unknown")
        m["refusals"].labels(**base, outcome=outcome, stage=stage, reason=reason).inc()
    if facts.retries:
        m["retries"].labels(**base).inc(facts.retries)
    if facts.reasks:
        m["reasks"].labels(**base).inc(facts.reasks)
    for run in facts.tool_runs:
        m["tool_calls"].labels(**base, tool=_label("tool", run.name), outcome=run.outcome).inc()
    for finding in facts.findings:
        m["findings"].labels(
            **base, stage=_label("stage", finding.stage), kind=_label("kind", finding.kind),
            rule=_label("rule", finding.rule or "none"),
        ).inc(finding.count)  # fmt: skip


def emit_alert(kind: str, model: str, provider: str, function: str) -> None:
    """Count one alert; never raises."""
    try:
        metrics()["alerts"].labels(
            model=_label("model", model), provider=_label("provider", provider),
            function=_label("function", function), kind=_label("alert", kind),
        ).inc()  # fmt: skip
    except Exception as exc:
        log.debug("guardfn: Prometheus metrics failed: %s", type(exc).__name__)
