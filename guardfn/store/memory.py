"""``memory://``: counters in this process only (tests, scripts, one-process services).

One lock guards every log, so a reservation checks and adds all its claims atomically
across threads. Each log is a :class:`~guardfn.store.buckets.BucketLog` (at most 121
buckets); logs whose newest bucket left the window are swept every
:data:`SWEEP_EVERY` reservations, so memory stays bounded by the live logs.
"""

from __future__ import annotations

import threading

from guardfn.limits import bucket_of, oldest_live
from guardfn.store import Claim, Denied
from guardfn.store.buckets import BucketLog

SWEEP_EVERY = 4096
"""Reservations between two sweeps of expired logs."""
MAX_NOTES = 10_000
"""Notes (cached verdicts) kept at most."""


class MemoryStore:
    """Bucketed logs in a dict (``key -> BucketLog``), guarded by one lock."""

    def __init__(self, url: str = "memory://") -> None:
        self.url = url
        self._logs: dict[str, BucketLog] = {}
        self._lock = threading.Lock()
        self._since_sweep = 0
        self._notes: dict[str, tuple[str, float]] = {}

    def _log(self, key: str, window: float, now: float) -> BucketLog:
        log = self._logs.get(key)
        if log is None or log.window != window:
            log = self._logs[key] = BucketLog(window)
        log.prune(oldest_live(now, window))
        return log

    def reserve(self, claims: list[Claim], now: float, usage: list[float] | None = None) -> Denied | None:
        """Check every claim and add them all, or nothing (one lock)."""
        with self._lock:
            logs = []
            for claim in claims:
                log = self._log(claim.key, claim.window, now)
                denied = log.check(claim, now)
                if denied is not None:
                    return denied
                logs.append(log)
            if usage is not None:
                usage[:] = [max(log.total, 0.0) for log in logs]
            for claim, log in zip(claims, logs, strict=True):
                log.add(bucket_of(now, claim.window), claim.amount)
            self._since_sweep += 1
            if self._since_sweep >= SWEEP_EVERY:
                self._since_sweep = 0
                self._sweep(now)
        return None

    def _sweep(self, now: float) -> None:
        for key in [k for k, log in self._logs.items() if log.ends() <= now]:
            del self._logs[key]

    def settle(self, claims: list[Claim], at: float, actual: list[float], now: float) -> list[float]:
        """Move each bucket of ``at`` from the reserved amount to the actual one; usage afterwards."""
        with self._lock:
            return [self._adjust(c, at, a - c.amount, now) for c, a in zip(claims, actual, strict=True)]

    def release(self, claims: list[Claim], at: float, now: float) -> None:
        """Take the amounts reserved at ``at`` back out of their buckets."""
        with self._lock:
            for claim in claims:
                self._adjust(claim, at, -claim.amount, now)

    def _adjust(self, claim: Claim, at: float, delta: float, now: float) -> float:
        log = self._logs.get(claim.key)
        if log is None or log.window != claim.window:
            return 0.0
        log.prune(oldest_live(now, claim.window))
        log.adjust(bucket_of(at, claim.window), delta)
        return max(log.total, 0.0)

    def buckets(self, key: str, window: float, now: float) -> list[tuple[float, float]]:
        """Live buckets, oldest first (a read: nothing is pruned)."""
        with self._lock:
            log = self._logs.get(key)
            return [] if log is None else log.live(oldest_live(now, window))

    def used(self, key: str, window: float, now: float) -> float:
        """The live total of one log."""
        return max(sum(amount for _, amount in self.buckets(key, window, now)), 0.0)

    def keys(self, prefix: str) -> list[str]:
        """Log keys with this prefix."""
        with self._lock:
            return [k for k, log in self._logs.items() if k.startswith(prefix) and log.slots]

    def delete(self, keys: list[str]) -> None:
        """Drop these logs."""
        with self._lock:
            for key in keys:
                self._logs.pop(key, None)

    def recall(self, key: str, now: float) -> str | None:
        """A live note, or ``None``."""
        note = self._notes.get(key)
        return note[0] if note is not None and note[1] > now else None

    def remember(self, key: str, value: str, ttl: float, now: float) -> None:
        """Keep a note until ``now + ttl`` (at most :data:`MAX_NOTES`; expired ones go first)."""
        with self._lock:
            if len(self._notes) >= MAX_NOTES:
                self._notes = {k: v for k, v in self._notes.items() if v[1] > now}
                if len(self._notes) >= MAX_NOTES:
                    self._notes.clear()
            self._notes[key] = (value, now + ttl)
