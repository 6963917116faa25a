"""The ``alerts`` stage: the default alert reaction, and the detectors that raise alerts.

``guardfn_alert``: the built-in reaction logs one warning on ``guardfn.alerts`` (kind,
request id, the details' numbers; never text). Register your own ``guardfn_alert``
implementation to page someone; disable this stage (``disable=["alerts"]``) to silence it.

``guardfn_record``: after every call it feeds injection blocks to the burst detector
(``"injection_burst"``) and, when the call spent tokens or money under token or USD
budgets, checks whether it pushed one of them across ``budget_alert_ratio``
(``"budget"``). The ``"cost"`` alert for one expensive request comes from the
``pricing`` stage. See :mod:`guardfn.observability.alerts`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from guardfn.call import Call
from guardfn.errors import InjectionDetected
from guardfn.hookspecs import hookimpl
from guardfn.observability.alerts import budget_crossings, fire, injection_bursts, log_alert
from guardfn.observability.facts import facts_of, hash_user_id

NAME = "alerts"
log = logging.getLogger("guardfn.alerts")


@hookimpl
def guardfn_alert(kind: str, call: Call | None, details: dict[str, Any]) -> None:
    """Runs when any stage raises an alert: logs a warning with its kind, request id and numbers."""
    log_alert(kind, call, details)


@hookimpl
def guardfn_record(call: Call, outcome: str) -> Any:
    """Runs once per finished call: raises injection-burst and budget-threshold alerts.

    Reads the limits store (in a worker thread for async calls on Redis); never raises.
    """
    settings = call.settings
    if outcome == "blocked" and _is_injection(call):
        details = injection_bursts.add(
            time.time(), hash_user_id(call.user_id), settings.injection_burst, settings.injection_burst_window
        )
        if details is not None:
            fire("injection_burst", call, details)
    if not _spent_under_budgets(call):
        return None
    from guardfn.store import open_store

    try:
        store = open_store(settings.store)
    except Exception as exc:
        log.debug("guardfn: budget alert check skipped: %s", type(exc).__name__)
        return None
    if call.is_async and hasattr(store, "areserve"):
        return _check_budgets_async(call, store)
    _check_budgets(call, store)
    return None


def _is_injection(call: Call) -> bool:
    if isinstance(call.error, InjectionDetected):
        return True
    return facts_of(call, "blocked").stage == "injection"


def _spent_under_budgets(call: Call) -> bool:
    settings = call.settings
    if not settings.limits or "limits" in settings.disable:
        return False
    if call.usage.total_tokens <= 0 and call.cost_usd <= 0:
        return False
    from guardfn.stages.limits import specs_for

    return any(spec.kind != "requests" for spec in specs_for(settings))


def _check_budgets(call: Call, store: Any) -> None:
    from guardfn.stages import limits

    try:
        crossings = budget_crossings(call, store, limits.clock())
    except Exception as exc:  # a store outage must not turn into a failed call
        log.debug("guardfn: budget alert check failed: %s", type(exc).__name__)
        return
    for details in crossings:
        fire("budget", call, details)


async def _check_budgets_async(call: Call, store: Any) -> None:
    await asyncio.to_thread(_check_budgets, call, store)
