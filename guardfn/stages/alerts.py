"""The ``alerts`` stage: the default reaction to an alert is one warning on ``guardfn.alerts``."""

from __future__ import annotations

import logging
from typing import Any

from guardfn.call import Call
from guardfn.hookspecs import hookimpl

NAME = "alerts"
log = logging.getLogger("guardfn.alerts")


@hookimpl
def guardfn_alert(kind: str, call: Call | None, details: dict[str, Any]) -> None:
    """Runs when a stage raises an alert: logs its kind, request id and numbers (never text)."""
    request = call.request_id if call is not None else "-"
    facts = ", ".join(f"{k}={v}" for k, v in sorted(details.items()))
    log.warning("guardfn alert %s (request %s): %s", kind, request, facts)
