"""The ``alerts`` stage: the default alert reaction, and the detectors that raise alerts.

``guardfn_alert``: the built-in reaction logs one warning on ``guardfn.alerts`` (kind,
request id, the details' numbers; never text). Register your own ``guardfn_alert``
implementation to page someone; disable this stage (``disable=["alerts"]``) to silence it.

``guardfn_record``: after every call it feeds injection blocks to the burst detector
(``"injection_burst"``). The ``"cost"`` alert for one expensive request comes from the
``pricing`` stage, and the ``"budget"`` alert (a token or USD budget crossed
``budget_alert_ratio``) from the ``limits`` stage, which learns each budget's usage
from the settle it already does. See :mod:`guardfn.observability.alerts`.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from guardfn.call import Call
from guardfn.errors import InjectionDetected
from guardfn.hookspecs import hookimpl
from guardfn.observability.alerts import fire, injection_bursts, log_alert
from guardfn.observability.facts import facts_of, hash_user_id

NAME = "alerts"
log = logging.getLogger("guardfn.alerts")


@hookimpl
def guardfn_alert(kind: str, call: Call | None, details: dict[str, Any]) -> None:
    """Runs when any stage raises an alert: logs a warning with its kind, request id and numbers."""
    log_alert(kind, call, details)


@hookimpl
def guardfn_record(call: Call, outcome: str) -> None:
    """Runs once per finished call: raises an injection-burst alert when blocks pile up; never raises."""
    if outcome == "blocked" and _is_injection(call):
        settings = call.settings
        details = injection_bursts.add(
            time.time(), hash_user_id(call.user_id), settings.injection_burst, settings.injection_burst_window
        )
        if details is not None:
            fire("injection_burst", call, details)


def _is_injection(call: Call) -> bool:
    if isinstance(call.error, InjectionDetected):
        return True
    return facts_of(call, "blocked").stage == "injection"
