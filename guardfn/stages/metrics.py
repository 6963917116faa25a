"""The ``metrics`` stage: metrics of every call, to DogStatsD (``metrics="datadog"``) or
Prometheus (``metrics="prometheus"``).

See :mod:`guardfn.observability.metrics` (names, tags, Datadog's ``DD_*`` variables) and
:mod:`guardfn.observability.prometheus` (names, bounded labels). Off by default.
"""

from __future__ import annotations

from typing import Any

from guardfn import extras
from guardfn.call import Call
from guardfn.hookspecs import hookimpl
from guardfn.observability import metrics, prometheus
from guardfn.observability.facts import facts_of
from guardfn.settings import Settings

NAME = "metrics"


def active(settings: Settings) -> bool:
    """Whether this stage runs for a function with these settings (``metrics="datadog"`` or ``"prometheus"``)."""
    return settings.metrics != "off"


@hookimpl
def guardfn_configure(settings: Settings) -> None:
    """Runs when settings are built: refuses ``metrics="datadog"`` without the ``datadog`` package."""
    if settings.metrics == "datadog":
        extras.require("datadog", "metrics='datadog'", NAME)
    elif settings.metrics == "prometheus":
        extras.require("prometheus", "metrics='prometheus'", NAME)


@hookimpl
def guardfn_record(call: Call, outcome: str) -> None:
    """Runs once per finished call: hands its metrics to the client's buffer (never blocks or raises)."""
    if call.settings.metrics == "datadog":
        metrics.emit(facts_of(call, outcome), call.settings)
    elif call.settings.metrics == "prometheus":
        prometheus.emit(facts_of(call, outcome))


@hookimpl
def guardfn_alert(kind: str, call: Call | None, details: dict[str, Any]) -> None:
    """Runs when an alert is raised during a call: counts it as ``llm.alerts`` (tag ``kind``)."""
    if call is not None and call.settings.metrics == "datadog":
        metrics.emit_alert(kind, call.model, call.function)
    elif call is not None and call.settings.metrics == "prometheus":
        prometheus.emit_alert(kind, call.model, call.provider, call.function)
