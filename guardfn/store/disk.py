"""``diskcache:///path``: counters in an embedded SQLite database, safe across processes.

Each reservation runs in one diskcache transaction (SQLite ``BEGIN IMMEDIATE``), so
processes on one machine never over-admit or lose an update.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from guardfn.errors import StoreUnavailable
from guardfn.store import Claim, Denied, redacted_url, retry_after

Log = dict[str, tuple[float, float]]


class DiskStore:
    """Sliding logs as pickled dicts in a :class:`diskcache.Cache`."""

    def __init__(self, url: str) -> None:
        import diskcache

        self.url = url
        path = urlsplit(url).path or None
        try:
            self.cache = diskcache.Cache(path, timeout=10)
        except Exception as exc:
            raise StoreUnavailable(f"diskcache store {redacted_url(url)} cannot be opened: {type(exc).__name__}") from None

    def _fail(self, exc: Exception) -> StoreUnavailable:
        return StoreUnavailable(f"diskcache store {redacted_url(self.url)} failed: {type(exc).__name__}")

    def _live(self, key: str, window: float, now: float) -> Log:
        log: Log = self.cache.get(key) or {}
        return {rid: e for rid, e in log.items() if e[0] > now - window}

    def reserve(self, claims: list[Claim], rid: str, now: float) -> Denied | None:
        """Check every claim and add them all, or nothing, in one transaction."""
        try:
            with self.cache.transact():
                logs: dict[str, Log] = {}
                for claim in claims:
                    log = self._live(claim.key, claim.window, now)
                    used = sum(a for _, a in log.values())
                    if used + claim.amount > claim.capacity + 1e-9:
                        wait = retry_after(list(log.values()), claim.amount, claim.capacity, claim.window, now)
                        return Denied(claim.name, used, claim.capacity, wait)
                    logs[claim.key] = log
                for claim in claims:
                    logs[claim.key][rid] = (now, claim.amount)
                    self.cache.set(claim.key, logs[claim.key], expire=claim.window + 60)
        except StoreUnavailable:
            raise
        except Exception as exc:
            raise self._fail(exc) from None
        return None

    def settle(self, claims: list[Claim], rid: str) -> None:
        """Set the actual amounts of ``rid``."""
        self._update([c.key for c in claims], rid, {c.key: c.amount for c in claims})

    def release(self, keys: list[str], rid: str) -> None:
        """Remove ``rid`` from these logs."""
        self._update(keys, rid, None)

    def _update(self, keys: list[str], rid: str, amounts: dict[str, float] | None) -> None:
        try:
            with self.cache.transact():
                for key in keys:
                    log: Log | None = self.cache.get(key)
                    if not log or rid not in log:
                        continue
                    if amounts is None:
                        del log[rid]
                    else:
                        log[rid] = (log[rid][0], amounts[key])
                    self.cache.set(key, log, expire=self._ttl(key))
        except Exception as exc:
            raise self._fail(exc) from None

    def _ttl(self, key: str) -> float | None:
        expire_time: Any = self.cache.get(key, expire_time=True)[1]
        if expire_time is None:
            return None
        import time

        return max(1.0, float(expire_time) - time.time())

    def entries(self, key: str, window: float, now: float) -> list[tuple[float, float]]:
        """Live entries, oldest first."""
        return sorted(self._live(key, window, now).values())

    def keys(self, prefix: str) -> list[str]:
        """Log keys with this prefix."""
        return [k for k in self.cache.iterkeys() if isinstance(k, str) and k.startswith(prefix)]

    def delete(self, keys: list[str]) -> None:
        """Drop these logs."""
        for key in keys:
            self.cache.delete(key)
