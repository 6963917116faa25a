"""``diskcache:///path``: counters in an embedded SQLite database, safe across processes.

All logs of one subject (``guardfn:{u:alice}``, or ``{global}``) live in one cache record.
A reservation reads, checks, updates and writes that record inside one diskcache
transaction (SQLite ``BEGIN IMMEDIATE``), so processes and threads on one machine never
over-admit or lose an update, and a check of three limits costs one read and one write.

Each log is stored as packed arrays sorted by time: timestamps (``float64``), 64-bit ids
of the reservations (BLAKE2b of the id) and, for token and USD budgets, amounts. Pruning
is a binary search and a slice, and (de)serializing is a memory copy, so a user whose log
holds thousands of entries costs tens of microseconds, not milliseconds: 16 bytes per
request-log entry and 24 per budget entry on disk.

Records expire with their newest entry. The cache is opened without culling on every
write (``cull_limit=0``, which halves the cost of a write) and swept with
``Cache.expire()`` every :data:`SWEEP_EVERY` reservations instead. Values stay inside
SQLite (no side files) whatever their size.
"""

from __future__ import annotations

import bisect
import hashlib
import math
import os
import pickle
from array import array
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import unquote, urlsplit

from guardfn.errors import StoreUnavailable
from guardfn.store import Claim, Denied, clamp_retry, is_request_log, record_of, redacted_url

SWEEP_EVERY = 1024
"""Reservations (per process) between two sweeps of expired records."""
GRACE = 60.0
"""Seconds a record outlives its newest entry's window."""

Packed = tuple[bytes, bytes, "bytes | None"]


def _path(url: str) -> str:
    parts = urlsplit(url)
    return os.path.expanduser(unquote(parts.netloc + parts.path))


def _rid(rid: str) -> int:
    return int.from_bytes(hashlib.blake2b(rid.encode(), digest_size=8).digest(), "little", signed=True)


class _Log:
    """One sliding log: parallel arrays sorted by timestamp (amounts only for budgets)."""

    __slots__ = ("amounts", "ids", "ts")

    def __init__(self, weighted: bool, packed: Packed | None = None) -> None:
        self.ts = array("d")
        self.ids = array("q")
        self.amounts: array[float] | None = array("d") if weighted else None
        if packed is not None:
            self.ts.frombytes(packed[0])
            self.ids.frombytes(packed[1])
            if self.amounts is not None and packed[2] is not None:
                self.amounts.frombytes(packed[2])

    def pack(self) -> Packed:
        return self.ts.tobytes(), self.ids.tobytes(), None if self.amounts is None else self.amounts.tobytes()

    def prune(self, edge: float) -> None:
        """Drop entries with a timestamp at or before ``edge``."""
        k = bisect.bisect_right(self.ts, edge)
        if k:
            del self.ts[:k], self.ids[:k]
            if self.amounts is not None:
                del self.amounts[:k]

    def used(self) -> float:
        return float(len(self.ts)) if self.amounts is None else math.fsum(self.amounts)

    def amount(self, i: int) -> float:
        return 1.0 if self.amounts is None else self.amounts[i]

    def add(self, now: float, rid: int, amount: float) -> None:
        j = bisect.bisect_right(self.ts, now)
        self.ts.insert(j, now)
        self.ids.insert(j, rid)
        if self.amounts is not None:
            self.amounts.insert(j, amount)

    def find(self, rid: int) -> int | None:
        try:
            return self.ids.index(rid)
        except ValueError:
            return None

    def remove(self, i: int) -> None:
        del self.ts[i], self.ids[i]
        if self.amounts is not None:
            del self.amounts[i]

    def retry_after(self, used: float, claim: Claim, now: float) -> float:
        """Seconds until the oldest entries free room for ``claim.amount`` (inf: never)."""
        if claim.amount > claim.capacity + 1e-9:
            return math.inf
        need = used + claim.amount - claim.capacity
        freed = 0.0
        for i, ts in enumerate(self.ts):
            freed += self.amount(i)
            if freed >= need - 1e-9:
                return clamp_retry(ts + claim.window - now)
        return claim.window


class _Record:
    """Every log of one subject, as stored: ``{field: packed log}`` and ``{field: window}``."""

    def __init__(self, value: Any) -> None:
        self.packed: dict[str, Packed] = {}
        self.windows: dict[str, float] = {}
        if value is not None:
            self.packed, self.windows = pickle.loads(value)
        self.logs: dict[str, _Log] = {}

    def log(self, field: str) -> _Log:
        log = self.logs.get(field)
        if log is None:
            log = self.logs[field] = _Log(not is_request_log(field), self.packed.get(field))
        return log

    def dump(self) -> tuple[bytes, float] | None:
        """The stored form and its newest ``timestamp + window``; ``None`` when every log is empty."""
        for field, log in self.logs.items():
            self.packed[field] = log.pack()
        until = -math.inf
        for field, (ts, _, _) in list(self.packed.items()):
            if not ts:
                del self.packed[field]
                self.windows.pop(field, None)
                continue
            newest = array("d", ts[-8:])[0]
            until = max(until, newest + self.windows.get(field, 0.0))
        if not self.packed:
            return None
        return pickle.dumps((self.packed, self.windows), pickle.HIGHEST_PROTOCOL), until


class DiskStore:
    """Sliding logs in a :class:`diskcache.Cache`, one record per subject."""

    def __init__(self, url: str) -> None:
        import diskcache

        self.url = url
        self._since_sweep = 0
        try:
            self.cache = diskcache.Cache(
                _path(url), timeout=10, cull_limit=0, eviction_policy="none", disk_min_file_size=2**40
            )
        except Exception as exc:
            raise StoreUnavailable(
                f"diskcache store {redacted_url(url)} cannot be opened: {type(exc).__name__}"
            ) from None

    @contextmanager
    def _guard(self) -> Iterator[None]:
        try:
            yield
        except StoreUnavailable:
            raise
        except Exception as exc:
            raise StoreUnavailable(f"diskcache store {redacted_url(self.url)} failed: {type(exc).__name__}") from None

    def _read(self, record_key: str) -> _Record:
        return _Record(self.cache.get(record_key))

    def _write(self, record_key: str, record: _Record, now: float) -> None:
        dumped = record.dump()
        if dumped is None:
            self.cache.delete(record_key)
            return
        blob, until = dumped
        self.cache.set(record_key, blob, expire=max(until + GRACE - now, GRACE))

    def reserve(self, claims: list[Claim], rid: str, now: float, usage: list[float] | None = None) -> Denied | None:
        """Check every claim and add them all, or nothing, in one transaction."""
        placed = [(claim, *record_of(claim.key)) for claim in claims]
        before: list[float] = []
        with self._guard(), self.cache.transact():
            records = {record_key: self._read(record_key) for _, record_key, _ in placed}
            logs = []
            for claim, record_key, field in placed:
                log = records[record_key].log(field)
                log.prune(now - claim.window)
                used = log.used()
                if used + claim.amount > claim.capacity + 1e-9:
                    return Denied(claim.name, used, claim.capacity, log.retry_after(used, claim, now))
                before.append(used)
                logs.append(log)
            rid_id = _rid(rid)
            for (claim, record_key, field), log in zip(placed, logs, strict=True):
                log.add(now, rid_id, claim.amount)
                windows = records[record_key].windows
                windows[field] = max(claim.window, windows.get(field, 0.0))
            for record_key, record in records.items():
                self._write(record_key, record, now)
        if usage is not None:
            usage[:] = before
        self._since_sweep += 1
        if self._since_sweep >= SWEEP_EVERY:
            self._since_sweep = 0
            try:  # housekeeping only: a busy database must not fail a granted reservation
                self.cache.expire()
            except Exception:
                self._since_sweep = SWEEP_EVERY // 2
        return None

    def settle(self, claims: list[Claim], rid: str) -> None:
        """Set the actual amounts of ``rid`` (no-op for entries already gone)."""
        self._update([c.key for c in claims], rid, {c.key: c.amount for c in claims})

    def release(self, keys: list[str], rid: str) -> None:
        """Remove ``rid`` from these logs."""
        self._update(keys, rid, None)

    def _update(self, keys: list[str], rid: str, amounts: dict[str, float] | None) -> None:
        by_record: dict[str, list[str]] = {}
        for key in keys:
            by_record.setdefault(record_of(key)[0], []).append(key)
        rid_id = _rid(rid)
        with self._guard(), self.cache.transact():
            for record_key, group in by_record.items():
                record = self._read(record_key)
                changed = False
                newest = 0.0
                for key in group:
                    field = record_of(key)[1]
                    if field not in record.packed:
                        continue
                    log = record.log(field)
                    i = log.find(rid_id)
                    if i is None:
                        continue
                    changed = True
                    newest = max(newest, log.ts[i])
                    if amounts is None:
                        log.remove(i)
                    elif log.amounts is not None:
                        log.amounts[i] = amounts[key]
                if changed:
                    self._write(record_key, record, newest)

    def entries(self, key: str, window: float, now: float) -> list[tuple[float, float]]:
        """Live entries, oldest first."""
        record_key, field = record_of(key)
        with self._guard():
            record = self._read(record_key)
        if field not in record.packed:
            return []
        log = record.log(field)
        return [(ts, log.amount(i)) for i, ts in enumerate(log.ts) if ts > now - window]

    def used(self, key: str, window: float, now: float) -> float:
        """The live total of one log: a bisect and a sum over the packed array."""
        record_key, field = record_of(key)
        with self._guard():
            record = self._read(record_key)
        if field not in record.packed:
            return 0.0
        log = record.log(field)
        k = bisect.bisect_right(log.ts, now - window)
        return float(len(log.ts) - k) if log.amounts is None else math.fsum(log.amounts[k:])

    def keys(self, prefix: str) -> list[str]:
        """Log keys with this prefix."""
        found = []
        with self._guard():
            for record_key in self.cache.iterkeys():
                if not isinstance(record_key, str):
                    continue
                for field in self._read(record_key).packed:
                    key = f"{record_key}:{field}" if field else record_key
                    if key.startswith(prefix):
                        found.append(key)
        return found

    def delete(self, keys: list[str]) -> None:
        """Drop these logs."""
        with self._guard(), self.cache.transact():
            for key in keys:
                record_key, field = record_of(key)
                record = self._read(record_key)
                if record.packed.pop(field, None) is not None:
                    record.windows.pop(field, None)
                    expire_time: Any = self.cache.get(record_key, expire_time=True)[1]
                    if record.packed:
                        self.cache.set(
                            record_key,
                            pickle.dumps((record.packed, record.windows), pickle.HIGHEST_PROTOCOL),
                            expire=None if expire_time is None else max(1.0, float(expire_time) - _time()),
                        )
                    else:
                        self.cache.delete(record_key)


def _time() -> float:
    import time

    return time.time()
