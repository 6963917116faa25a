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

Algorithm: an exact sliding log. Each limit keeps ``(timestamp, reservation id,
amount)`` for every admission younger than its window W; a call is admitted when the
live amounts plus its own stay within the capacity N. An admission at ``t`` therefore
counts at every instant of ``[t, t + W)``, so no window of length W, aligned or not,
ever holds more than N (a fixed-bucket counter can admit 2N across a boundary, and
GCRA N + 1). Refused calls add nothing. ``retry_after`` is exact: the time until enough
of the oldest entries leave the window.

Memory per user and limit: one entry per admission still inside the window, so at most
N entries for a request limit; a token or USD budget holds one entry per admitted
request of the window. On Redis an entry costs about 60-100 bytes (sorted-set member
plus an amount for budgets); on diskcache and in memory about the same in a pickled
dict. A user idle for longer than the window costs nothing (keys expire).

Atomicity: one store operation checks and reserves every per-user limit of a call
(one Lua script on Redis, one SQLite transaction on diskcache, one lock in memory).
Global limits live under their own key (``{global}``, one Redis Cluster slot) and
are reserved in a second operation only after the per-user one passed; when the
global one refuses, the per-user reservation is released again, so a refused call
consumes nothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import quote, unquote

from guardfn.errors import ConfigurationError

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


def _quote(part: str) -> str:
    """Percent-encode a user id or function name so keys stay unambiguous (no ``|``, ``}``, globs)."""
    return quote(part, safe="")


def subject(user_id: str, function: str, scope: str) -> str:
    """The counter subject of a user under ``limit_scope`` (``"user"`` or ``"user+function"``)."""
    if scope == "user+function":
        return f"{_quote(user_id)}|fn:{_quote(function)}"
    return _quote(user_id)


def counter_key(subject_id: str, spec: LimitSpec) -> str:
    """The store key of one limit's log; the ``{...}`` hash tag keeps a subject on one Redis Cluster slot."""
    tag = "global" if spec.scope == "global" else f"u:{subject_id}"
    return f"guardfn:{{{tag}}}:{spec.name}"


def user_key_prefixes(user_id: str) -> tuple[str, str]:
    """Key prefixes of every counter of one user, in any ``limit_scope``."""
    who = _quote(user_id)
    return f"guardfn:{{u:{who}}}:", f"guardfn:{{u:{who}|"


def describe_key(key: str) -> tuple[str, str]:
    """``(scope, limit name)`` of a counter key: ``("user", "requests_per_day")``, ``("fn:ask", ...)``."""
    tag, _, name = key.partition("}:")
    scope = "user"
    if "|fn:" in tag:
        scope = "fn:" + unquote(tag.rpartition("|fn:")[2])
    elif tag.endswith("{global"):
        scope = "global"
    return scope, name
