"""Counter stores behind one interface, chosen by URL (``store=`` or ``GUARDFN_STORE``).

* ``diskcache:///path`` (default: ``diskcache://`` = the user's cache directory, see
  :func:`default_url`): an embedded SQLite database in that directory, correct across
  processes on one machine (each operation is one SQL statement over a few small rows,
  or one short ``BEGIN IMMEDIATE`` transaction when buckets must leave the window);
* ``redis://`` / ``rediss://``: many machines and serverless; one round trip per
  operation (a Lua script called by EVALSHA), ``redis.asyncio`` for async calls;
  ``redis+cluster://`` / ``rediss+cluster://`` for Redis Cluster (hash tags keep one
  subject's keys on one slot);
* ``memory://`` (optionally ``memory://name``): one process (tests, scripts).

Every store keeps, per limit, a bucketed log with a running total (see
:mod:`guardfn.limits`). ``reserve`` checks all claims and adds them all, or adds nothing
and returns the first :class:`Denied`; ``settle`` replaces reserved amounts with actual
ones and returns each limit's usage afterwards (what the budget alert needs);
``release`` takes a reservation back; ``recall`` / ``remember`` keep short notes with a
time to live (the injection judge caches its verdicts there). A reservation is identified by the time it was
made (``at``): settle and release act on the bucket of that time, if it is still
counted, and must each be called at most once per reservation (the limits stage does).
Time is passed in (``now``), never read by a store, so tests step across window edges
with a fake clock; on Redis that is the client's clock, so machines sharing a Redis
should run NTP.

Async: the Redis store has ``areserve`` / ``asettle`` / ``arelease`` on
``redis.asyncio`` (one client per event loop). The memory and diskcache stores are
local and take tens of microseconds, so async calls run them inline rather than paying
a thread hop.

Stores are cached per URL per process (:func:`open_store`). Failures raise
:class:`~guardfn.errors.StoreUnavailable` naming the store with any password removed.
"""

from __future__ import annotations

import math
import threading
from typing import Any, NamedTuple, Protocol
from urllib.parse import urlsplit, urlunsplit

from guardfn.errors import ConfigurationError


class Claim(NamedTuple):
    """One limit's share of a reservation: ``amount`` against ``capacity`` in ``window`` seconds."""

    key: str
    name: str
    window: float
    capacity: float
    amount: float


class Denied(NamedTuple):
    """Why a reservation was refused: which limit, its usage now, and when it would pass."""

    name: str
    usage: float
    capacity: float
    retry_after: float


class Store(Protocol):
    """What a counter store does. ``now`` and ``at`` are seconds since the epoch (injectable for tests)."""

    url: str

    def reserve(self, claims: list[Claim], now: float, usage: list[float] | None = None) -> Denied | None:
        """Check every claim and add them all, or add nothing and say which failed.

        When the reservation succeeds and ``usage`` is a list, it receives each claim's
        usage in its window just before this reservation.
        """

    def settle(self, claims: list[Claim], at: float, actual: list[float], now: float) -> list[float]:
        """Replace the amounts reserved at ``at`` (``claims``) by ``actual``; each limit's usage afterwards."""

    def release(self, claims: list[Claim], at: float, now: float) -> None:
        """Take back the amounts reserved at ``at`` (a failed request)."""

    def recall(self, key: str, now: float) -> str | None:
        """A note kept with :meth:`remember` (a cached verdict), ``None`` when absent or expired."""

    def remember(self, key: str, value: str, ttl: float, now: float) -> None:
        """Keep a short note under ``key`` for ``ttl`` seconds (the judge's verdict cache)."""

    def buckets(self, key: str, window: float, now: float) -> list[tuple[float, float]]:
        """The live buckets of one log, oldest first, as ``(time it stops counting, amount)``."""

    def used(self, key: str, window: float, now: float) -> float:
        """The live total of one log."""

    def keys(self, prefix: str) -> list[str]:
        """Every log key starting with ``prefix``."""

    def delete(self, keys: list[str]) -> None:
        """Remove these logs entirely."""


MIN_RETRY = 1e-6
"""The smallest ``retry_after`` of a refusal (a refused call never hears "retry in 0 s")."""
EPSILON = 1e-9
"""Tolerance of the capacity check (amounts are floats: USD)."""


def retry_after(buckets: list[tuple[int, float]], used: float, claim: Claim, now: float) -> float:
    """Seconds until enough of the oldest ``(bucket, amount)`` leave for ``claim`` to fit (inf: never)."""
    from guardfn.limits import leaves_at

    if claim.amount > claim.capacity + EPSILON:
        return math.inf
    need = used + claim.amount - claim.capacity
    freed = 0.0
    for bucket, amount in sorted(buckets):
        freed += amount
        if freed >= need - EPSILON:
            return clamp_retry(leaves_at(bucket, claim.window) - now)
    return claim.window


def clamp_retry(seconds: float) -> float:
    """``seconds``, at least :data:`MIN_RETRY` (float rounding at a window edge can give 0).

    It may exceed ``window`` when a bucket lies ahead of ``now`` (another machine's clock
    runs ahead): it leaves the window only a window after its own end.
    """
    return max(MIN_RETRY, seconds)


def redacted_url(url: str) -> str:
    """The URL with any password removed (safe for messages)."""
    parts = urlsplit(url)
    if parts.password:
        host = parts.hostname or ""
        if parts.port:
            host += f":{parts.port}"
        user = f"{parts.username}:***@" if parts.username else ":***@"
        return urlunsplit((parts.scheme, user + host, parts.path, parts.query, parts.fragment))
    return url


_stores: dict[str, Any] = {}
_lock = threading.Lock()


def default_url() -> str:
    """``diskcache://<user cache dir>/guardfn/limits`` (``platformdirs.user_cache_dir``)."""
    import platformdirs

    return "diskcache://" + platformdirs.user_cache_dir("guardfn") + "/limits"


def open_store(url: str | None) -> Store:
    """The process-wide store for ``url`` (default :func:`default_url`), created on first use.

    Raises :class:`~guardfn.errors.ConfigurationError` for an unknown scheme and
    :class:`~guardfn.errors.StoreUnavailable` when a diskcache directory cannot be opened.
    """
    if not url or url.rstrip("/") == "diskcache:":
        url = default_url()
    store = _stores.get(url)
    if store is None:
        with _lock:
            store = _stores.get(url)
            if store is None:
                store = _create(url)
                _stores[url] = store
    return store


REDIS_SCHEMES = ("redis", "rediss", "redis+cluster", "rediss+cluster")
STORE_SCHEMES = ("memory", "diskcache", *REDIS_SCHEMES)
_SCHEME_HINT = "use memory://, diskcache:///path, redis://host:port/db or redis+cluster://host:port"


def check_url(url: str | None) -> None:
    """Validate a store URL without connecting: its scheme, and for Redis the host, port and db.

    Raises :class:`~guardfn.errors.ConfigurationError` (the URL shown without its password)
    when it cannot work, and when ``redis://`` is asked for without the ``redis`` extra.
    """
    if not url or url.rstrip("/") == "diskcache:":
        return
    shown = redacted_url(url)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise ConfigurationError(
            f"store URL {shown!r} has an invalid port", stage="limits", hint=_SCHEME_HINT
        ) from None
    scheme = parts.scheme
    if scheme not in STORE_SCHEMES:
        raise ConfigurationError(f"unknown store URL scheme {scheme!r}", stage="limits", hint=_SCHEME_HINT)
    if scheme not in REDIS_SCHEMES:
        return
    if port == 0:
        raise ConfigurationError(f"store URL {shown!r} has port 0", stage="limits", hint=_SCHEME_HINT)
    db = parts.path.strip("/")
    if db and not db.isdigit():
        raise ConfigurationError(
            f"store URL {shown!r} names database {db!r}, not a number", stage="limits", hint=_SCHEME_HINT
        )
    if scheme.endswith("+cluster") and db not in ("", "0"):
        raise ConfigurationError(
            f"store URL {shown!r} names database {db}: Redis Cluster has only database 0",
            stage="limits",
            hint=_SCHEME_HINT,
        )
    from guardfn import extras

    extras.require("redis", "a redis:// store", "limits")


def _create(url: str) -> Store:
    scheme = urlsplit(url).scheme
    if scheme == "memory":
        from guardfn.store.memory import MemoryStore

        return MemoryStore(url)
    if scheme == "diskcache":
        from guardfn.store.disk import DiskStore

        return DiskStore(url)
    if scheme in REDIS_SCHEMES:
        check_url(url)
        from guardfn.store.redis import RedisStore

        return RedisStore(url)
    raise ConfigurationError(f"unknown store URL scheme {scheme!r}", stage="limits", hint=_SCHEME_HINT)
