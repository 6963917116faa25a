"""Alerts: the default reaction (one warning) and the detectors that raise them.

Three kinds reach the ``guardfn_alert`` hook, each with ``details`` made of numbers,
names and hashed ids only:

* ``"cost"``: one request cost more than ``alert_usd`` (raised by the ``pricing`` stage);
* ``"budget"``: a user's token or USD budget usage crossed ``budget_alert_ratio``
  (default 80%) of the budget with this call (:func:`budget_crossings`);
* ``"injection_burst"``: ``injection_burst`` injection blocks (default 10) within
  ``injection_burst_window`` seconds (default 60) in this process (:class:`BurstDetector`);
  one alert per burst, then the count starts again.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
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


def budget_crossings(call: Call, store: Any, now: float) -> list[dict[str, Any]]:
    """Budgets (tokens, USD) of the call's user and the global ones that this call pushed across
    ``budget_alert_ratio`` of their capacity.

    Reads each budget's live usage from the limits store (after this call settled) and
    reports a budget when usage is at or above the threshold now and was below it
    without this call's tokens or cost: each crossing is reported by the call that made it.
    """
    from guardfn.limits import counter_key, subject
    from guardfn.observability.facts import hash_user_id
    from guardfn.stages.limits import specs_for

    settings = call.settings
    spent = {"tokens": float(call.usage.total_tokens), "usd": float(call.cost_usd)}
    who = subject(call.user_id, call.function, settings.limit_scope)
    crossings = []
    for spec in specs_for(settings):
        amount = spent.get(spec.kind, 0.0)
        if amount <= 0:
            continue
        used = store.used(counter_key(who, spec), spec.window, now)
        threshold = settings.budget_alert_ratio * spec.capacity
        if used >= threshold > used - amount:
            details: dict[str, Any] = {
                "limit": spec.name,
                "scope": spec.scope,
                "used": round(used, 6),
                "capacity": spec.capacity,
                "ratio": round(used / spec.capacity, 4),
            }
            if spec.scope == "user":
                details["user"] = hash_user_id(call.user_id)
            crossings.append(details)
    return crossings
