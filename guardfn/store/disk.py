"""``diskcache:///path``: counters in an embedded SQLite database, safe across processes.

The directory of the URL holds ``limits.sqlite3`` (WAL journal, ``synchronous=NORMAL``,
as diskcache configures its own database). One small table holds the bucketed logs of
:mod:`guardfn.limits`::

    counts(key, slot, amount, oldest, newest, window)

A log is its buckets (``slot`` = the bucket number, at most 121 live rows) and one
total row (``slot = -1``: the running total in ``amount``, and the oldest and newest
bucket present).

A reservation is one SQL statement: it adds the call's amount to one bucket and to
the total of every limit, on the condition that no limit would go over its capacity
and none has a bucket that left the window (an ``INSERT ... SELECT ... WHERE NOT
EXISTS ... ON CONFLICT DO UPDATE``; SQLite runs it as one write transaction, so
processes and threads never over-admit or lose an update). When the condition fails,
a ``BEGIN IMMEDIATE`` transaction drops the buckets that left (recomputing the total
from the rest: each bucket is dropped once), checks again, and adds or refuses with
``retry_after``. Settling and releasing are one ``UPDATE ... RETURNING`` of the
reservation's buckets and totals, the usage afterwards coming back with it.

Logs whose newest bucket left the window are swept a few at a time (every
:data:`SWEEP_EVERY` reservations, the next :data:`SWEEP_ROWS` logs in key order), so no
sweep scans the whole table. One connection per thread (and per process after a
fork). SQLite older than 3.35 (no ``RETURNING``) takes the transaction path every time.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
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
TOTAL = -1
"""The slot of a log's total row."""
ONE_STATEMENT = sqlite3.sqlite_version_info >= (3, 35, 0)
"""Whether this SQLite has ``RETURNING`` and ``UPDATE ... FROM`` (the one-statement paths)."""

SCHEMA = """
CREATE TABLE IF NOT EXISTS counts (
    key TEXT NOT NULL, slot INTEGER NOT NULL, amount REAL NOT NULL,
    oldest INTEGER, newest INTEGER, window REAL,
    PRIMARY KEY (key, slot)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS notes (key TEXT PRIMARY KEY, value TEXT NOT NULL, until REAL NOT NULL) WITHOUT ROWID;
"""

Row = tuple[float, int, int]
"""A log's total row: ``(total, oldest bucket, newest bucket)``."""

_UPSERT = (
    " ON CONFLICT (key, slot) DO UPDATE SET amount = amount + excluded.amount,"
    " oldest = min(oldest, excluded.oldest), newest = max(newest, excluded.newest)"
)


def _path(url: str) -> str:
    parts = urlsplit(url)
    return os.path.expanduser(unquote(parts.netloc + parts.path))


class _Sql:
    """The statements of ``n`` limits at once (built once per ``n``; sqlite3 caches the prepared form)."""

    def __init__(self, n: int) -> None:
        rows = ", ".join(["(?, ?, ?, NULL, NULL, NULL), (?, -1, ?, ?, ?, ?)"] * n)
        checks = ", ".join(["(?, ?, ?, ?)"] * n)
        self.select = f"SELECT key, amount, oldest, newest FROM counts WHERE slot = -1 AND key IN ({', '.join('?' * n)})"
        self.add = f"INSERT INTO counts (key, slot, amount, oldest, newest, window) VALUES {rows}{_UPSERT}"
        # adds only if no limit goes over and none has a bucket that left the window
        self.add_if_room = (
            f"INSERT INTO counts (key, slot, amount, oldest, newest, window) SELECT * FROM (VALUES {rows})"
            f" WHERE NOT EXISTS (SELECT 1 FROM (VALUES {checks}) AS c JOIN counts AS t"
            " ON t.key = c.column1 AND t.slot = -1 WHERE t.oldest < c.column2 OR t.amount + c.column4 > c.column3)"
            f"{_UPSERT}"
        )
        self.adjust = (
            f"UPDATE counts SET amount = counts.amount + c.column3 FROM (VALUES {', '.join(['(?, ?, ?)'] * n)}) AS c"
            " WHERE counts.key = c.column1 AND counts.slot IN (c.column2, -1)"
            " AND EXISTS (SELECT 1 FROM counts AS b WHERE b.key = c.column1 AND b.slot = c.column2)"
            " RETURNING counts.key, counts.slot, counts.amount, counts.oldest"
        )


_SQL: dict[int, _Sql] = {}


def _sql(n: int) -> _Sql:
    sql = _SQL.get(n)
    if sql is None:
        sql = _SQL[n] = _Sql(n)
    return sql


class DiskStore:
    """Bucketed logs in one SQLite table, one statement (or one short transaction) per operation."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.path = os.path.join(_path(url), FILENAME)
        self._local = threading.local()
        self._since_sweep = 0
        self._swept_to = ""
        self._sweep_lock = threading.Lock()
        self.one_statement = ONE_STATEMENT
        """Use the one-statement paths (off: every operation is a transaction, as on SQLite before 3.35)."""
        try:
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            self._con().executescript(SCHEMA)
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

    def _fail(self, exc: BaseException) -> StoreUnavailable:
        return StoreUnavailable(f"diskcache store {redacted_url(self.url)} failed: {type(exc).__name__}")

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
            with contextlib.suppress(Exception):
                con.execute("ROLLBACK")
            if isinstance(exc, Exception) and not isinstance(exc, StoreUnavailable):
                raise self._fail(exc) from None
            raise

    # --- reserve -------------------------------------------------------------------------

    def reserve(self, claims: list[Claim], now: float, usage: list[float] | None = None) -> Denied | None:
        """Check every claim and add them all, or nothing: one statement, or one transaction when
        a bucket has to leave the window first or a limit is full."""
        if not claims:
            return None
        adds: list[Any] = []
        checks: list[Any] = []
        for claim in claims:
            slot = bucket_of(now, claim.window)
            adds += (claim.key, slot, claim.amount, claim.key, claim.amount, slot, slot, claim.window)
            checks += (claim.key, oldest_live(now, claim.window), claim.capacity + EPSILON, claim.amount)
        sql = _sql(len(claims))
        if usage is None and self.one_statement:
            try:
                added = self._con().execute(sql.add_if_room, adds + checks).rowcount
            except Exception as exc:
                raise self._fail(exc) from None
            if added > 0:
                self._housekeeping(now)
                return None
        denied = self._reserve_checked(claims, now, adds, usage)
        if denied is None:
            self._housekeeping(now)
        return denied

    def _reserve_checked(
        self, claims: list[Claim], now: float, adds: list[Any], usage: list[float] | None
    ) -> Denied | None:
        before: list[float] = []
        with self._transaction() as con:
            rows = self._rows(con, claims)
            for claim in claims:
                oldest = oldest_live(now, claim.window)
                row = rows.get(claim.key)
                total = 0.0 if row is None else self._live(con, claim.key, row, oldest)[0]
                used = max(total, 0.0)
                if used + claim.amount > claim.capacity + EPSILON:
                    cursor = con.execute(
                        "SELECT slot, amount FROM counts WHERE key = ? AND slot >= ? ORDER BY slot", (claim.key, oldest)
                    )
                    return Denied(claim.name, used, claim.capacity, retry_after(cursor.fetchall(), used, claim, now))
                before.append(used)
            con.execute(_sql(len(claims)).add, adds)
        if usage is not None:
            usage[:] = before
        return None

    @staticmethod
    def _rows(con: sqlite3.Connection, claims: list[Claim]) -> dict[str, Row]:
        cursor = con.execute(_sql(len(claims)).select, [c.key for c in claims])
        return {key: (total, oldest, newest) for key, total, oldest, newest in cursor}

    @staticmethod
    def _live(con: sqlite3.Connection, key: str, row: Row, oldest: int) -> Row:
        """The total row after dropping the buckets older than ``oldest`` (a no-op unless the edge passed one)."""
        if row[1] >= oldest:
            return row
        con.execute("DELETE FROM counts WHERE key = ? AND slot >= 0 AND slot < ?", (key, oldest))
        total, low, high = con.execute(
            "SELECT total(amount), min(slot), max(slot) FROM counts WHERE key = ? AND slot >= 0", (key,)
        ).fetchone()
        if low is None:
            con.execute("DELETE FROM counts WHERE key = ?", (key,))
            return 0.0, oldest, oldest
        con.execute("UPDATE counts SET amount = ?, oldest = ?, newest = ? WHERE key = ? AND slot = -1",
                    (total, low, high, key))  # fmt: skip
        return total, low, high

    def _housekeeping(self, now: float) -> None:
        self._since_sweep += 1
        if self._since_sweep >= SWEEP_EVERY:
            self._since_sweep = 0
            self._sweep_step(now)

    # --- settle and release --------------------------------------------------------------

    def settle(self, claims: list[Claim], at: float, actual: list[float], now: float) -> list[float]:
        """Move each bucket of ``at`` from the reserved amount to the actual one; usage afterwards."""
        return self._adjust(claims, at, [a - c.amount for c, a in zip(claims, actual, strict=True)], now)

    def release(self, claims: list[Claim], at: float, now: float) -> None:
        """Take the amounts reserved at ``at`` back out of their buckets."""
        self._adjust(claims, at, [-c.amount for c in claims], now)

    def _adjust(self, claims: list[Claim], at: float, deltas: list[float], now: float) -> list[float]:
        if not claims:
            return []
        totals: dict[str, float] = {}
        stale: list[Claim] = []
        if self.one_statement:
            params: list[Any] = []
            for claim, delta in zip(claims, deltas, strict=True):
                params += (claim.key, bucket_of(at, claim.window), delta)
            try:
                returned = self._con().execute(_sql(len(claims)).adjust, params).fetchall()
            except Exception as exc:
                raise self._fail(exc) from None
            edges = {c.key: oldest_live(now, c.window) for c in claims}
            for key, slot, amount, oldest in returned:
                if slot == TOTAL and oldest >= edges[key]:
                    totals[key] = max(amount, 0.0)
            stale = [c for c in claims if c.key not in totals]  # gone, or a bucket left the window since
        else:
            self._adjust_checked(claims, at, deltas)
            stale = list(claims)
        if stale:
            totals.update(self._totals(stale, now))
        return [totals.get(c.key, 0.0) for c in claims]

    def _adjust_checked(self, claims: list[Claim], at: float, deltas: list[float]) -> None:
        """The transaction form of the adjustment (SQLite before 3.35)."""
        with self._transaction() as con:
            for claim, delta in zip(claims, deltas, strict=True):
                slot = bucket_of(at, claim.window)
                exists = con.execute("SELECT 1 FROM counts WHERE key = ? AND slot = ?", (claim.key, slot)).fetchone()
                if delta and exists:
                    con.execute("UPDATE counts SET amount = amount + ? WHERE key = ? AND slot IN (?, -1)",
                                (delta, claim.key, slot))  # fmt: skip

    def _totals(self, claims: list[Claim], now: float) -> dict[str, float]:
        """The live totals of these logs, dropping the buckets that left the window."""
        totals = {}
        with self._transaction() as con:
            rows = self._rows(con, claims)
            for claim in claims:
                row = rows.get(claim.key)
                if row is not None:
                    totals[claim.key] = max(self._live(con, claim.key, row, oldest_live(now, claim.window))[0], 0.0)
        return totals

    # --- housekeeping and reads ------------------------------------------------------------

    def _sweep_step(self, now: float) -> None:
        """Delete the expired logs among the next :data:`SWEEP_ROWS` (housekeeping: never fails a call)."""
        if not self._sweep_lock.acquire(blocking=False):
            return
        try:
            with self._transaction() as con:
                rows = con.execute(
                    "SELECT key, window, newest FROM counts WHERE slot = -1 AND key > ? ORDER BY key LIMIT ?",
                    (self._swept_to, SWEEP_ROWS),
                ).fetchall()
                dead = [(key,) for key, window, newest in rows if leaves_at(newest, window) + GRACE <= now]
                con.executemany("DELETE FROM counts WHERE key = ?", dead)
            self._swept_to = rows[-1][0] if len(rows) == SWEEP_ROWS else ""
        except StoreUnavailable:
            pass
        finally:
            self._sweep_lock.release()

    def buckets(self, key: str, window: float, now: float) -> list[tuple[float, float]]:
        """Live buckets, oldest first."""
        try:
            rows = self._con().execute(
                "SELECT slot, amount FROM counts WHERE key = ? AND slot >= ? ORDER BY slot",
                (key, max(oldest_live(now, window), 0)),
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
                "SELECT key FROM counts WHERE slot = -1 AND key >= ? AND key < ? ORDER BY key", (prefix, upper)
            ).fetchall()
        except Exception as exc:
            raise self._fail(exc) from None
        return [key for (key,) in rows]

    def delete(self, keys: list[str]) -> None:
        """Drop these logs."""
        with self._transaction() as con:
            con.executemany("DELETE FROM counts WHERE key = ?", [(k,) for k in keys])

    def recall(self, key: str, now: float) -> str | None:
        """A live note, or ``None``."""
        try:
            row = self._con().execute("SELECT value FROM notes WHERE key = ? AND until > ?", (key, now)).fetchone()
        except Exception as exc:
            raise self._fail(exc) from None
        return None if row is None else str(row[0])

    def remember(self, key: str, value: str, ttl: float, now: float) -> None:
        """Keep a note until ``now + ttl``; expired notes are dropped now and then."""
        try:
            con = self._con()
            con.execute("INSERT OR REPLACE INTO notes (key, value, until) VALUES (?, ?, ?)", (key, value, now + ttl))
            if hash(key) % 64 == 0:
                con.execute("DELETE FROM notes WHERE until <= ?", (now,))
        except Exception as exc:
            raise self._fail(exc) from None
