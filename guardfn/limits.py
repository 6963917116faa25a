"""Limit specifications: what ``limits={...}`` means, validated once.

Keys (per user unless nested under ``"global"``)::

    requests_per_minute, requests_per_hour, requests_per_day      admissions
    tokens_per_minute, tokens_per_hour, tokens_per_day            prompt + completion tokens
    usd_per_day, usd_per_month                                    cost (USD); a month is 30 days

``limits={"requests_per_minute": 10, "global": {"requests_per_minute": 1000}}`` limits
each user to 10 and everybody together to 1,000 a minute. ``limit_scope`` narrows the
per-user counters further: ``"user"`` (default: one allowance per user across every
guarded function), ``"user+function"`` (one per user per function) or ``"user+key"``
(one per user per API key).

The algorithm is an exact sliding log: a limit of N per window W admits a request only
if the amounts admitted in the last W seconds plus this one stay within N, so no window
of length W (aligned or not) ever holds more than N. Memory per user and limit is one
entry (timestamp, id, amount) per admission still inside the window: at most N entries
for request limits, and one per request for token and USD budgets.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Literal

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
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise ConfigurationError(f"limit {key!r} must be a positive number", stage="limits")
    return LimitSpec(key, kind, WINDOWS[unit], float(value), scope)  # type: ignore[arg-type]


def subject(user_id: str, function: str, api_key: str, scope: str) -> str:
    """The counter subject for a user under ``limit_scope`` (a key is hashed, never stored)."""
    if scope == "user+function":
        return f"{user_id}|fn:{function}"
    if scope == "user+key":
        return f"{user_id}|key:{hashlib.sha256(api_key.encode()).hexdigest()[:16]}"
    return user_id


def counter_key(subject_id: str, spec: LimitSpec) -> str:
    """The store key of one limit's log; the ``{...}`` hash tag keeps a subject on one Redis Cluster slot."""
    tag = "global" if spec.scope == "global" else f"u:{subject_id}"
    return f"guardfn:{{{tag}}}:{spec.name}"
