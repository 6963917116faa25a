"""The ``metrics`` stage: DogStatsD metrics of every call (``metrics="datadog"``).

See :mod:`guardfn.observability.metrics` for the metric names, tags and configuration
(Datadog's ``DD_*`` environment variables). Off by default.
"""

from __future__ import annotations

from typing import Any

from guardfn import extras
from guardfn.call import Call
from guardfn.hookspecs import hookimpl
from guardfn.observability import metrics
from guardfn.observability.facts import facts_of
from guardfn.settings import Settings

NAME = "metrics"


def active(settings: Settings) -> bool:
    """Whether this stage runs for a function with these settings (``metrics="datadog"``)."""
    return settings.metrics == "datadog"


@hookimpl
def guardfn_configure(settings: Settings) -> None:
    """Runs when settings are built: refuses ``metrics="datadog"`` without the ``datadog`` package."""
    if settings.metrics == "datadog":
        extras.require("datadog", "metrics='datadog'", NAME)


@hookimpl
def guardfn_record(call: Call, outcome: str) -> None:
    """Runs once per finished call: hands its metrics to the client's buffer (never blocks or raises)."""
    if call.settings.metrics == "datadog":
        metrics.emit(facts_of(call, outcome), call.settings)


@hookimpl
def guardfn_alert(kind: str, call: Call | None, details: dict[str, Any]) -> None:
    """Runs when an alert is raised during a call: counts it as ``llm.alerts`` (tag ``kind``)."""
    if call is not None and call.settings.metrics == "datadog":
        metrics.emit_alert(kind, call.model, call.function)
