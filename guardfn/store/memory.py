"""``memory://``: counters in this process only (tests, scripts, one-process services).

One lock guards every log, so a reservation checks and adds all its claims atomically
across threads. Logs of idle users are swept every :data:`SWEEP_EVERY` reservations, so
memory stays bounded by the entries still inside their windows.
"""

from __future__ import annotations

import math
import threading

from guardfn.store import Claim, Denied, retry_after

SWEEP_EVERY = 4096
"""Reservations between two sweeps of expired logs."""


class MemoryStore:
    """Sliding logs in a dict (``key -> {rid: (timestamp, amount)}``), guarded by one lock."""

    def __init__(self, url: str = "memory://") -> None:
        self.url = url
        self._logs: dict[str, dict[str, tuple[float, float]]] = {}
        self._windows: dict[str, float] = {}
        self._lock = threading.Lock()
        self._since_sweep = 0

    def _live(self, key: str, window: float, now: float) -> dict[str, tuple[float, float]]:
        log = self._logs.setdefault(key, {})
        expired = [rid for rid, (ts, _) in log.items() if ts <= now - window]
        for rid in expired:
            del log[rid]
        return log

    def _sweep(self, now: float) -> None:
        for key, window in list(self._windows.items()):
            if not self._live(key, window, now):
                del self._logs[key], self._windows[key]

    def reserve(self, claims: list[Claim], rid: str, now: float, usage: list[float] | None = None) -> Denied | None:
        """Check every claim and add them all, or nothing (one lock)."""
        with self._lock:
            before = []
            for claim in claims:
                log = self._live(claim.key, claim.window, now)
                used = sum(a for _, a in log.values())
                if used + claim.amount > claim.capacity + 1e-9:
                    wait = retry_after(list(log.values()), claim.amount, claim.capacity, claim.window, now)
                    return Denied(claim.name, used, claim.capacity, wait)
                before.append(used)
            if usage is not None:
                usage[:] = before
            for claim in claims:
                self._logs[claim.key][rid] = (now, claim.amount)
                self._windows[claim.key] = max(claim.window, self._windows.get(claim.key, 0.0))
            self._since_sweep += 1
            if self._since_sweep >= SWEEP_EVERY:
                self._since_sweep = 0
                self._sweep(now)
        return None

    def settle(self, claims: list[Claim], rid: str) -> None:
        """Set the actual amounts of ``rid`` (no-op for entries already gone)."""
        with self._lock:
            for claim in claims:
                log = self._logs.get(claim.key, {})
                if rid in log:
                    log[rid] = (log[rid][0], claim.amount)

    def release(self, keys: list[str], rid: str) -> None:
        """Remove ``rid`` from these logs."""
        with self._lock:
            for key in keys:
                self._logs.get(key, {}).pop(rid, None)

    def entries(self, key: str, window: float, now: float) -> list[tuple[float, float]]:
        """Live entries, oldest first."""
        with self._lock:
            if key not in self._logs:
                return []
            return sorted(self._live(key, window, now).values())

    def used(self, key: str, window: float, now: float) -> float:
        """The live total of one log."""
        return math.fsum(amount for _, amount in self.entries(key, window, now))

    def keys(self, prefix: str) -> list[str]:
        """Log keys with this prefix."""
        with self._lock:
            return [k for k, log in self._logs.items() if k.startswith(prefix) and log]

    def delete(self, keys: list[str]) -> None:
        """Drop these logs."""
        with self._lock:
            for key in keys:
                self._logs.pop(key, None)
                self._windows.pop(key, None)
