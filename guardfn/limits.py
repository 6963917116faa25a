"""Limit specifications: what ``limits={...}`` means, validated once.

Keys (per user unless nested under ``"global"``)::

    requests_per_minute, requests_per_hour, requests_per_day      admissions
    tokens_per_minute, tokens_per_hour, tokens_per_day            prompt + completion tokens
    usd_per_day, usd_per_month                                    cost (USD); a month is 30 days

``limits={"requests_per_minute": 10, "global": {"requests_per_minute": 1000}}`` limits
each user to 10 and everybody together to 1,000 a minute (the same keys work in
``guardfn.configure(limits=...)`` and ``GUARDFN_LIMITS='{"requests_per_day": 200}'``).
``limit_scope`` chooses whose allowance the per-user limits are: ``"user"`` (default:
one allowance per user id across every guarded function) or ``"user+function"`` (one
per user id per guarded function). Global limits are always shared by everybody.

Algorithm: a bucketed sliding log with running totals. Each limit's window W is cut
into :data:`BUCKETS` (120) buckets of width ``w = W / 120``, aligned to the epoch
(bucket ``s`` covers ``[s*w, (s+1)*w)``); an admission at ``t`` adds its amount to the
bucket of ``t``. A bucket stays in the count until its whole width has left the
window, i.e. until ``(s + 1) * w + W``, so an amount admitted at ``t`` counts at every
instant of ``[t, t + W)`` and at most one bucket width longer. A call is admitted when
the live total plus its own amount stays within the capacity N.

The exact guarantee: no interval of length W, aligned or not, ever holds admitted
amounts (as reserved) above N: when the last admission of such an interval was
checked, every earlier one was still counted. The price is that a call may be refused
up to one bucket width (W/120: 0.5 s for a minute, 30 s for an hour, 12 minutes for
a day, 6 hours for a 30-day month) before the exact sliding log would admit it.
``retry_after`` is the time until enough of the oldest buckets leave for the call to
fit (sound: the call fits then, if nothing else was admitted meanwhile). Refused
calls add nothing. A budget's reservation is an upper bound (the prompt's bytes plus
``max_tokens``); settling replaces it with the usage the provider reported, in the
bucket it was reserved in, so the guarantee holds for reported usage too as long as
the provider never reports more than was reserved. Machines sharing a store should
keep their clocks in sync: a clock s seconds behind sees windows s seconds late.

Cost and memory: a log is at most 121 live buckets plus a running total, whatever the
traffic. A check reads the total (O(1)) and adds to one bucket; the buckets that left
are dropped when the window edge passes them, at most once per bucket width (every
instant of one bucket has the same live buckets, :func:`oldest_live`), each bucket
once, and the total is then recomputed from the at most 121 that remain, so rounding
never accumulates. A user idle for longer than the window costs nothing (keys expire).

Atomicity: one store operation checks and reserves every limit of a call, per user
and global alike (one Lua script on Redis, one SQL statement or transaction on
diskcache, one lock in memory); settling and releasing are one operation each. On Redis Cluster the
keys of one subject share a hash tag (``{u:<user>}``, ``{global}``), so users spread
over slots; a call with per-user and global limits there makes one operation per
subject and releases the first again when the second refuses, so a refused call
consumes nothing.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import quote, unquote

from guardfn.errors import ConfigurationError

BUCKETS = 120
"""Buckets per window: a refusal comes at most ``window / BUCKETS`` early; a log holds at most ``BUCKETS + 1``."""
KEY_PREFIX = "guardfn:b"
"""Prefix of every counter key (``b``: the bucketed layout; older layouts' keys are never read)."""

Kind = Literal["requests", "tokens", "usd"]
WINDOWS = {"minute": 60.0, "hour": 3600.0, "day": 86400.0, "month": 30 * 86400.0}
KINDS: tuple[Kind, ...] = ("requests", "tokens", "usd")
ALLOWED = {
    "requests": ("minute", "hour", "day"),
    "tokens": ("minute", "hour", "day"),
    "usd": ("day", "month"),
}


@dataclass(frozen=True)
class LimitSpec:
    """One limit: its name, what it counts, its window and its capacity, per user or global."""

    name: str
    kind: Kind
    window: float
    capacity: float
    scope: Literal["user", "global"] = "user"


UNITS: dict[Kind, float] = {"requests": 1.0, "tokens": 1.0, "usd": 1e9}
"""Integer units a store may count each kind in (Redis does: whole requests and tokens, nano-USD)."""


def kind_of(name: str) -> Kind:
    """What a limit counts, from its name (``"tokens_per_day"``, ``"global.usd_per_month"``)."""
    kind = name.rpartition(".")[2].partition("_per_")[0]
    if kind not in ALLOWED:
        raise ValueError(f"not a limit name: {name!r}")
    return kind  # type: ignore[return-value]


def limit_names() -> list[str]:
    """Every accepted limit name."""
    return [f"{kind}_per_{unit}" for kind in KINDS for unit in ALLOWED[kind]]


def parse_limits(limits: dict[str, Any]) -> tuple[LimitSpec, ...]:
    """Validate ``limits={...}``; raises :class:`ConfigurationError` naming a bad key."""
    specs: list[LimitSpec] = []
    for key, value in limits.items():
        if key == "global":
            if not isinstance(value, dict):
                raise ConfigurationError("limits['global'] must be a dict of limits", stage="limits")
            specs.extend(_spec(k, v, "global") for k, v in value.items())
        else:
            specs.append(_spec(key, value, "user"))
    return tuple(specs)


def _spec(key: str, value: Any, scope: Literal["user", "global"]) -> LimitSpec:
    kind, _, unit = key.partition("_per_")
    if kind not in ALLOWED or unit not in ALLOWED[kind]:
        raise ConfigurationError(
            f"unknown limit {key!r}", stage="limits", hint=f"use one of: {', '.join(limit_names())}"
        )
    # NaN compares false with everything, so "used + amount > capacity" would never refuse:
    # a NaN (or infinite) capacity would switch the limit off.
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise ConfigurationError(f"limit {key!r} must be a positive, finite number", stage="limits")
    return LimitSpec(key, kind, WINDOWS[unit], float(value), scope)  # type: ignore[arg-type]


_UNRESERVED = re.compile(r"[A-Za-z0-9_.~-]*")


def _quote(part: str) -> str:
    """Percent-encode a user id or function name so keys stay unambiguous (no ``|``, ``}``, globs)."""
    return part if _UNRESERVED.fullmatch(part) else quote(part, safe="")


def subject(user_id: str, function: str, scope: str) -> str:
    """The counter subject of a user under ``limit_scope`` (``"user"`` or ``"user+function"``)."""
    if scope == "user+function":
        return f"{_quote(user_id)}|fn:{_quote(function)}"
    return _quote(user_id)


def counter_key(subject_id: str, spec: LimitSpec) -> str:
    """The store key of one limit's log; the ``{...}`` hash tag keeps a subject on one Redis Cluster slot."""
    tag = "global" if spec.scope == "global" else f"u:{subject_id}"
    return f"{KEY_PREFIX}:{{{tag}}}:{spec.name}"


def user_key_prefixes(user_id: str) -> tuple[str, str]:
    """Key prefixes of every counter of one user, in any ``limit_scope``."""
    who = _quote(user_id)
    return f"{KEY_PREFIX}:{{u:{who}}}:", f"{KEY_PREFIX}:{{u:{who}|"


def bucket_width(window: float) -> float:
    """The width in seconds of one bucket of a ``window``-second log."""
    return window / BUCKETS


def bucket_of(at: float, window: float) -> int:
    """The bucket an admission at ``at`` (seconds since the epoch) goes to."""
    return math.floor(at / (window / BUCKETS))


def oldest_live(now: float, window: float) -> int:
    """The oldest bucket still counted at ``now``: bucket ``s`` counts until ``(s + 1) * w + window``.

    Defined from the bucket of ``now`` (``window`` is exactly :data:`BUCKETS` widths), so
    every instant of one bucket has the same live buckets: a store prunes once per bucket.
    """
    return bucket_of(now, window) - BUCKETS


def leaves_at(bucket: int, window: float) -> float:
    """When ``bucket`` stops counting (seconds since the epoch)."""
    return (bucket + 1) * (window / BUCKETS) + window


def describe_key(key: str) -> tuple[str, str]:
    """``(scope, limit name)`` of a counter key: ``("user", "requests_per_day")``, ``("fn:ask", ...)``."""
    tag, _, name = key.partition("}:")
    scope = "user"
    if "|fn:" in tag:
        scope = "fn:" + unquote(tag.rpartition("|fn:")[2])
    elif tag.endswith("{global"):
        scope = "global"
    return scope, name
