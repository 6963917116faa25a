"""``diskcache:///path``: counters in an embedded SQLite database, safe across processes.

The directory of the URL holds ``limits.sqlite3`` (WAL journal, ``synchronous=NORMAL``,
as diskcache configures its own database). Two small tables hold the bucketed logs of
:mod:`guardfn.limits`::

    logs(key, window, total, oldest, newest)     one row per limit and subject: its running total
    buckets(key, slot, amount)                   at most 121 live rows per log

Every operation is one short ``BEGIN IMMEDIATE`` transaction over the rows of the
call's limits, so processes and threads on one machine never over-admit or lose an
update: a reservation reads the totals of all its limits in one statement, adds its
amounts to one bucket each and writes the totals back (five statements whatever the
traffic). Buckets that left the window are deleted when the window edge passes them
(each once), and the total is then recomputed from the remaining rows.

Logs whose newest bucket left the window are swept a few rows at a time (every
:data:`SWEEP_EVERY` reservations, the next :data:`SWEEP_ROWS` logs in key order), so no
sweep ever scans the whole table. One connection per thread (and per process after a
fork).
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any
from urllib.parse import unquote, urlsplit

from guardfn.errors import StoreUnavailable
from guardfn.limits import bucket_of, leaves_at, oldest_live
from guardfn.store import EPSILON, Claim, Denied, redacted_url, retry_after

SWEEP_EVERY = 256
"""Reservations (per process) between two sweep steps."""
SWEEP_ROWS = 64
"""Logs examined by one sweep step."""
GRACE = 60.0
"""Seconds a log outlives its newest bucket before a sweep removes it."""
FILENAME = "limits.sqlite3"

SCHEMA = """
CREATE TABLE IF NOT EXISTS logs (
    key TEXT PRIMARY KEY, window REAL NOT NULL, total REAL NOT NULL, oldest INTEGER NOT NULL, newest INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS buckets (
    key TEXT NOT NULL, slot INTEGER NOT NULL, amount REAL NOT NULL, PRIMARY KEY (key, slot)
) WITHOUT ROWID;
"""

Row = tuple[float, int, int]
"""A log's ``(total, oldest, newest)``."""


def _path(url: str) -> str:
    parts = urlsplit(url)
    return os.path.expanduser(unquote(parts.netloc + parts.path))


class _Sql:
    """The statements of ``n`` limits at once (built once per ``n``; sqlite3 caches the prepared form)."""

    def __init__(self, n: int) -> None:
        marks = ", ".join("?" * n)
        self.select = f"SELECT key, total, oldest, newest FROM logs WHERE key IN ({marks})"
        self.add = (
            "INSERT INTO buckets (key, slot, amount) VALUES "
            + ", ".join(["(?, ?, ?)"] * n)
            + " ON CONFLICT (key, slot) DO UPDATE SET amount = amount + excluded.amount"
        )
        self.write = (
            "INSERT INTO logs (key, window, total, oldest, newest) VALUES "
            + ", ".join(["(?, ?, ?, ?, ?)"] * n)
            + " ON CONFLICT (key) DO UPDATE SET total = excluded.total, oldest = excluded.oldest,"
            " newest = excluded.newest"
        )


_SQL: dict[int, _Sql] = {}


def _sql(n: int) -> _Sql:
    sql = _SQL.get(n)
    if sql is None:
        sql = _SQL[n] = _Sql(n)
    return sql


class DiskStore:
    """Bucketed logs in SQLite tables, one short transaction per operation."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.path = os.path.join(_path(url), FILENAME)
        self._local = threading.local()
        self._since_sweep = 0
        self._swept_to = ""
        self._sweep_lock = threading.Lock()
        try:
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            con = self._con()
            con.executescript(SCHEMA)
        except Exception as exc:
            raise StoreUnavailable(
                f"diskcache store {redacted_url(url)} cannot be opened: {type(exc).__name__}"
            ) from None

    def _con(self) -> sqlite3.Connection:
        local = self._local
        con: sqlite3.Connection | None = getattr(local, "con", None)
        if con is None or local.pid != os.getpid():
            con = sqlite3.connect(self.path, timeout=10, isolation_level=None, check_same_thread=False)
            con.execute("PRAGMA journal_mode=WAL")
            con.execute("PRAGMA synchronous=NORMAL")
            local.con, local.pid = con, os.getpid()
        return con

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE`` ... ``COMMIT`` (rolled back on error); any failure is :class:`StoreUnavailable`."""
        try:
            con = self._con()
            con.execute("BEGIN IMMEDIATE")
        except Exception as exc:
            raise self._fail(exc) from None
        try:
            yield con
            con.execute("COMMIT")
        except BaseException as exc:
            with suppress(Exception):
                con.execute("ROLLBACK")
            if isinstance(exc, Exception) and not isinstance(exc, StoreUnavailable):
                raise self._fail(exc) from None
            raise

    def _fail(self, exc: BaseException) -> StoreUnavailable:
        return StoreUnavailable(f"diskcache store {redacted_url(self.url)} failed: {type(exc).__name__}")

    @staticmethod
    def _rows(con: sqlite3.Connection, claims: list[Claim]) -> dict[str, Row]:
        cursor = con.execute(_sql(len(claims)).select, [c.key for c in claims])
        return {key: (total, oldest, newest) for key, total, oldest, newest in cursor}

    @staticmethod
    def _live(con: sqlite3.Connection, key: str, row: Row, oldest: int) -> Row:
        """The row after dropping the buckets older than ``oldest`` (a no-op unless the edge passed one)."""
        if row[1] >= oldest:
            return row
        con.execute("DELETE FROM buckets WHERE key = ? AND slot < ?", (key, oldest))
        total, low, high = con.execute(
            "SELECT total(amount), min(slot), max(slot) FROM buckets WHERE key = ?", (key,)
        ).fetchone()
        if low is None:
            return 0.0, oldest, oldest
        return total, low, high

    def reserve(self, claims: list[Claim], now: float, usage: list[float] | None = None) -> Denied | None:
        """Check every claim and add them all, or nothing, in one transaction."""
        if not claims:
            return None
        adds: list[Any] = []
        writes: list[Any] = []
        before: list[float] = []
        with self._transaction() as con:
            rows = self._rows(con, claims)
            for claim in claims:
                oldest = oldest_live(now, claim.window)
                slot = bucket_of(now, claim.window)
                row = rows.get(claim.key)
                total, low, high = (0.0, slot, slot) if row is None else self._live(con, claim.key, row, oldest)
                used = max(total, 0.0)
                if used + claim.amount > claim.capacity + EPSILON:
                    return self._denied(con, claim, used, oldest, now)
                before.append(used)
                adds += (claim.key, slot, claim.amount)
                writes += (claim.key, claim.window, total + claim.amount, min(low, slot), max(high, slot))
            sql = _sql(len(claims))
            con.execute(sql.add, adds)
            con.execute(sql.write, writes)
        if usage is not None:
            usage[:] = before
        self._since_sweep += 1
        if self._since_sweep >= SWEEP_EVERY:
            self._since_sweep = 0
            self._sweep_step(now)
        return None

    @staticmethod
    def _denied(con: sqlite3.Connection, claim: Claim, used: float, oldest: int, now: float) -> Denied:
        cursor = con.execute(
            "SELECT slot, amount FROM buckets WHERE key = ? AND slot >= ? ORDER BY slot", (claim.key, oldest)
        )
        return Denied(claim.name, used, claim.capacity, retry_after(cursor.fetchall(), used, claim, now))

    def settle(self, claims: list[Claim], at: float, actual: list[float], now: float) -> list[float]:
        """Move each bucket of ``at`` from the reserved amount to the actual one; usage afterwards."""
        return self._adjust(claims, at, [a - c.amount for c, a in zip(claims, actual, strict=True)], now)

    def release(self, claims: list[Claim], at: float, now: float) -> None:
        """Take the amounts reserved at ``at`` back out of their buckets."""
        self._adjust(claims, at, [-c.amount for c in claims], now)

    def _adjust(self, claims: list[Claim], at: float, deltas: list[float], now: float) -> list[float]:
        if not claims:
            return []
        totals: list[float] = []
        writes: list[Any] = []
        with self._transaction() as con:
            rows = self._rows(con, claims)
            for claim, delta in zip(claims, deltas, strict=True):
                row = rows.get(claim.key)
                if row is None:
                    totals.append(0.0)
                    continue
                total, low, high = self._live(con, claim.key, row, oldest_live(now, claim.window))
                slot = bucket_of(at, claim.window)
                if delta and slot >= low:
                    updated = con.execute(
                        "UPDATE buckets SET amount = amount + ? WHERE key = ? AND slot = ?", (delta, claim.key, slot)
                    ).rowcount
                    if updated:
                        total += delta
                totals.append(max(total, 0.0))
                if (total, low, high) != row:
                    writes.append((total, low, high, claim.key))
            if writes:
                con.executemany("UPDATE logs SET total = ?, oldest = ?, newest = ? WHERE key = ?", writes)
        return totals

    def _sweep_step(self, now: float) -> None:
        """Delete the expired logs among the next :data:`SWEEP_ROWS` (housekeeping: never fails a call)."""
        if not self._sweep_lock.acquire(blocking=False):
            return
        try:
            with self._transaction() as con:
                rows = con.execute(
                    "SELECT key, window, newest FROM logs WHERE key > ? ORDER BY key LIMIT ?",
                    (self._swept_to, SWEEP_ROWS),
                ).fetchall()
                dead = [(key,) for key, window, newest in rows if leaves_at(newest, window) + GRACE <= now]
                con.executemany("DELETE FROM buckets WHERE key = ?", dead)
                con.executemany("DELETE FROM logs WHERE key = ?", dead)
            self._swept_to = rows[-1][0] if len(rows) == SWEEP_ROWS else ""
        except StoreUnavailable:
            pass
        finally:
            self._sweep_lock.release()

    def buckets(self, key: str, window: float, now: float) -> list[tuple[float, float]]:
        """Live buckets, oldest first."""
        try:
            rows = self._con().execute(
                "SELECT slot, amount FROM buckets WHERE key = ? AND slot >= ? ORDER BY slot",
                (key, oldest_live(now, window)),
            ).fetchall()
        except Exception as exc:
            raise self._fail(exc) from None
        return [(leaves_at(slot, window), amount) for slot, amount in rows if amount > EPSILON]

    def used(self, key: str, window: float, now: float) -> float:
        """The live total of one log."""
        return max(sum(amount for _, amount in self.buckets(key, window, now)), 0.0)

    def keys(self, prefix: str) -> list[str]:
        """Log keys with this prefix (a range scan of the primary key: the prefix matches literally)."""
        upper = prefix[:-1] + chr(ord(prefix[-1]) + 1) if prefix else "\U0010ffff"
        try:
            rows = self._con().execute(
                "SELECT key FROM logs WHERE key >= ? AND key < ? ORDER BY key", (prefix, upper)
            ).fetchall()
        except Exception as exc:
            raise self._fail(exc) from None
        return [key for (key,) in rows]

    def delete(self, keys: list[str]) -> None:
        """Drop these logs."""
        with self._transaction() as con:
            con.executemany("DELETE FROM buckets WHERE key = ?", [(k,) for k in keys])
            con.executemany("DELETE FROM logs WHERE key = ?", [(k,) for k in keys])
