"""Counter stores behind one interface, chosen by URL (``store=`` or ``GUARDFN_STORE``).

* ``diskcache:///path`` (default: the user's cache directory): embedded SQLite, correct
  across processes on one machine (each reservation is one ``BEGIN IMMEDIATE`` transaction);
* ``redis://`` / ``rediss://``: many machines and serverless; one round trip per call (a Lua
  script checks and reserves every limit of a subject atomically), Cluster-safe with hash
  tags; async calls use ``redis.asyncio``;
* ``memory://``: one process (tests, scripts).

Every store keeps, per limit, a sliding log of ``(timestamp, reservation id, amount)``
(see :mod:`guardfn.limits`). ``reserve`` checks all claims and adds them all, or adds
nothing and returns the first :class:`Denied`.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

from guardfn.errors import ConfigurationError


@dataclass(frozen=True)
class Claim:
    """One limit's share of a reservation: ``amount`` against ``capacity`` in ``window`` seconds."""

    key: str
    name: str
    window: float
    capacity: float
    amount: float


@dataclass(frozen=True)
class Denied:
    """Why a reservation was refused: which limit, its usage now, and when it would pass."""

    name: str
    usage: float
    capacity: float
    retry_after: float


class Store(Protocol):
    """What a counter store does. ``now`` is seconds since the epoch (injectable for tests)."""

    url: str

    def reserve(self, claims: list[Claim], rid: str, now: float) -> Denied | None:
        """Check every claim and add them all, or add nothing and say which failed."""

    def settle(self, claims: list[Claim], rid: str) -> None:
        """Replace the reserved amounts of ``rid`` with the actual ones (claims carry them)."""

    def release(self, keys: list[str], rid: str) -> None:
        """Remove reservation ``rid`` from these logs."""

    def entries(self, key: str, window: float, now: float) -> list[tuple[float, float]]:
        """The live ``(timestamp, amount)`` entries of one log, oldest first."""

    def keys(self, prefix: str) -> list[str]:
        """Every log key starting with ``prefix``."""

    def delete(self, keys: list[str]) -> None:
        """Remove these logs entirely."""


def retry_after(entries: list[tuple[float, float]], amount: float, capacity: float, window: float, now: float) -> float:
    """Seconds until enough old entries leave the window for ``amount`` to fit."""
    if amount > capacity:
        return math.inf
    need = sum(a for _, a in entries) + amount - capacity
    freed = 0.0
    for ts, a in sorted(entries):
        freed += a
        if freed >= need - 1e-9:
            return min(window, max(0.0, ts + window - now))
    return window


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
    """``diskcache://`` in the user's cache directory."""
    import platformdirs

    return "diskcache://" + platformdirs.user_cache_dir("guardfn") + "/limits"


def open_store(url: str | None) -> Any:
    """The process-wide store for ``url`` (default diskcache), created on first use."""
    url = url or default_url()
    store = _stores.get(url)
    if store is None:
        with _lock:
            store = _stores.get(url)
            if store is None:
                store = _create(url)
                _stores[url] = store
    return store


def _create(url: str) -> Any:
    scheme = urlsplit(url).scheme
    if scheme == "memory":
        from guardfn.store.memory import MemoryStore

        return MemoryStore(url)
    if scheme == "diskcache":
        from guardfn.store.disk import DiskStore

        return DiskStore(url)
    if scheme in ("redis", "rediss"):
        from guardfn.store.redis import RedisStore

        return RedisStore(url)
    raise ConfigurationError(
        f"unknown store URL scheme {scheme!r}", stage="limits", hint="use memory://, diskcache:///path or redis://"
    )
