"""One bucketed log in Python: the memory store's data structure (see :mod:`guardfn.limits`).

A log is two parallel lists sorted by bucket number (at most ``BUCKETS + 1`` live ones)
and a running total. Adding to the newest bucket is an append or an in-place add;
buckets that left the window are dropped from the front, and the total is then
recomputed from the few that remain, so rounding never accumulates.
"""

from __future__ import annotations

import bisect
import math

from guardfn.limits import leaves_at
from guardfn.store import EPSILON, Claim, Denied, retry_after


class BucketLog:
    """The live buckets of one limit: ``slots`` (bucket numbers, ascending), ``amounts``, ``total``."""

    __slots__ = ("amounts", "slots", "total", "window")

    def __init__(self, window: float) -> None:
        self.window = window
        self.slots: list[int] = []
        self.amounts: list[float] = []
        self.total = 0.0

    def prune(self, oldest: int) -> None:
        """Drop the buckets older than ``oldest`` (they left the window)."""
        slots = self.slots
        if slots and slots[0] < oldest:
            k = bisect.bisect_left(slots, oldest)
            del slots[:k], self.amounts[:k]
            self.total = math.fsum(self.amounts)

    def check(self, claim: Claim, now: float) -> Denied | None:
        """``None`` when ``claim`` fits beside the live total, else why not (the log must be pruned)."""
        used = max(self.total, 0.0)
        if used + claim.amount <= claim.capacity + EPSILON:
            return None
        wait = retry_after(list(zip(self.slots, self.amounts, strict=True)), used, claim, now)
        return Denied(claim.name, used, claim.capacity, wait)

    def add(self, slot: int, amount: float) -> None:
        """Add ``amount`` to bucket ``slot`` (created when missing)."""
        slots = self.slots
        if slots and slots[-1] == slot:
            self.amounts[-1] += amount
        else:
            i = bisect.bisect_left(slots, slot)
            if i < len(slots) and slots[i] == slot:
                self.amounts[i] += amount
            else:
                slots.insert(i, slot)
                self.amounts.insert(i, amount)
        self.total += amount

    def adjust(self, slot: int, delta: float) -> None:
        """Add ``delta`` to bucket ``slot`` if it is still live (settle, release)."""
        i = bisect.bisect_left(self.slots, slot)
        if i < len(self.slots) and self.slots[i] == slot:
            self.amounts[i] += delta
            self.total += delta

    def live(self, oldest: int) -> list[tuple[float, float]]:
        """``(time it stops counting, amount)`` of each bucket from ``oldest`` on, oldest first."""
        return [
            (leaves_at(s, self.window), a) for s, a in zip(self.slots, self.amounts, strict=True) if s >= oldest and a > EPSILON
        ]

    def ends(self) -> float:
        """When the newest bucket stops counting (``-inf`` when empty)."""
        return leaves_at(self.slots[-1], self.window) if self.slots else -math.inf
