"""``memory://``: counters in this process only (tests, scripts)."""

from __future__ import annotations

import threading

from guardfn.store import Claim, Denied, retry_after


class MemoryStore:
    """Sliding logs in a dict, guarded by one lock."""

    def __init__(self, url: str = "memory://") -> None:
        self.url = url
        self._logs: dict[str, dict[str, tuple[float, float]]] = {}
        self._lock = threading.Lock()

    def _live(self, key: str, window: float, now: float) -> dict[str, tuple[float, float]]:
        log = self._logs.setdefault(key, {})
        expired = [rid for rid, (ts, _) in log.items() if ts <= now - window]
        for rid in expired:
            del log[rid]
        return log

    def reserve(self, claims: list[Claim], rid: str, now: float) -> Denied | None:
        """Check every claim and add them all, or nothing."""
        with self._lock:
            for claim in claims:
                log = self._live(claim.key, claim.window, now)
                used = sum(a for _, a in log.values())
                if used + claim.amount > claim.capacity + 1e-9:
                    entries = list(log.values())
                    wait = retry_after(entries, claim.amount, claim.capacity, claim.window, now)
                    return Denied(claim.name, used, claim.capacity, wait)
            for claim in claims:
                self._logs[claim.key][rid] = (now, claim.amount)
        return None

    def settle(self, claims: list[Claim], rid: str) -> None:
        """Set the actual amounts of ``rid``."""
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
            return sorted(self._live(key, window, now).values())

    def keys(self, prefix: str) -> list[str]:
        """Log keys with this prefix."""
        with self._lock:
            return [k for k, log in self._logs.items() if k.startswith(prefix) and log]

    def delete(self, keys: list[str]) -> None:
        """Drop these logs."""
        with self._lock:
            for key in keys:
                self._logs.pop(key, None)
