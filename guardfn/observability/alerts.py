"""Alerts: the default reaction (one warning) and the detectors that raise them.

Three kinds reach the ``guardfn_alert`` hook, each with ``details`` made of numbers,
names and hashed ids only:

* ``"cost"``: one request cost more than ``alert_usd`` (raised by the ``pricing`` stage);
* ``"budget"``: a user's (or a global) token or USD budget usage crossed
  ``budget_alert_ratio`` (default 80%) of the budget with this request (raised by the
  ``limits`` stage from what settling returned, :func:`budget_crossings`);
* ``"injection_burst"``: ``injection_burst`` injection blocks (default 10) within
  ``injection_burst_window`` seconds (default 60) in this process (:class:`BurstDetector`);
  one alert per burst, then the count starts again.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from guardfn.call import Call

log = logging.getLogger("guardfn.alerts")


def log_alert(kind: str, call: Call | None, details: dict[str, Any]) -> None:
    """Log one alert as a warning on ``guardfn.alerts``: kind, request id and the details' numbers."""
    request = call.request_id if call is not None else "-"
    facts = ", ".join(f"{key}={_plain(value)}" for key, value in sorted(details.items()))
    log.warning("guardfn alert %s (request %s): %s", kind, request, facts)


def _plain(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def fire(kind: str, call: Call | None, details: dict[str, Any]) -> None:
    """Call every ``guardfn_alert`` implementation not disabled for the call's function.

    An implementation that raises is logged (its exception class only), the others still run.
    """
    from guardfn.plugins import get_plugin_manager, hook_caller

    disabled = frozenset(call.settings.disable) if call is not None else frozenset()
    caller = hook_caller(get_plugin_manager(), "guardfn_alert", disabled)
    for impl in reversed(caller.get_hookimpls()):
        try:
            impl.function(**{name: {"kind": kind, "call": call, "details": details}[name] for name in impl.argnames})
        except Exception as exc:
            log.warning("guardfn: alert plugin %s failed for %s: %s", impl.plugin_name, kind, type(exc).__name__)


class BurstDetector:
    """Counts events in a sliding window and reports once when ``threshold`` is reached.

    Thread-safe; per process. After reporting, the window is emptied, so a sustained
    attack raises one alert per ``threshold`` blocks rather than one per block.
    """

    def __init__(self) -> None:
        self._events: deque[tuple[float, str]] = deque()
        self._lock = threading.Lock()

    def add(self, now: float, who: str, threshold: int, window: float) -> dict[str, Any] | None:
        """Record one event by ``who`` (a hashed user id); the alert details when the burst is reached."""
        if threshold <= 0:
            return None
        with self._lock:
            self._events.append((now, who))
            while self._events and self._events[0][0] <= now - window:
                self._events.popleft()
            if len(self._events) < threshold:
                return None
            users = len({user for _, user in self._events})
            first = self._events[0][0]
            count = len(self._events)
            self._events.clear()
        return {"blocks": count, "window_s": window, "users": users, "span_s": round(now - first, 3)}

    def clear(self) -> None:
        """Forget every event (tests)."""
        with self._lock:
            self._events.clear()


injection_bursts = BurstDetector()
"""The process-wide detector of injection-block bursts."""


def budget_crossings(call: Call, settled: Sequence[tuple[str, str, float, float, float]]) -> list[dict[str, Any]]:
    """The budgets (tokens, USD) that one settled request pushed across ``budget_alert_ratio``.

    ``settled`` holds ``(limit name, scope, capacity, usage after settling, this request's
    amount)`` for each budget, as the limits store's ``settle`` returned them (no second
    read). A budget is reported when its usage is at or above the threshold now and was
    below it without this request: each crossing is reported by the request that made it.
    """
    from guardfn.observability.facts import hash_user_id

    ratio = call.settings.budget_alert_ratio
    crossings = []
    for name, scope, capacity, used, amount in settled:
        threshold = ratio * capacity
        if amount > 0 and used >= threshold > used - amount:
            details: dict[str, Any] = {
                "limit": name,
                "scope": scope,
                "used": round(used, 6),
                "capacity": capacity,
                "ratio": round(used / capacity, 4),
            }
            if scope == "user":
                details["user"] = hash_user_id(call.user_id)
            crossings.append(details)
    return crossings
