"""The export-safe facts of one finished call, shared by metrics, the audit log and alerts.

:func:`facts_of` reads a :class:`~guardfn.call.Call` once, at ``guardfn_record`` time,
and keeps only what may leave the process: ids, names, counts, durations, the stage
and a short reason *code* of a refusal, finding kinds and rule ids. It never reads
``call.messages``, ``call.vault`` or the response text, and never uses ``str(error)``
of an exception that is not a :class:`~guardfn.errors.GuardError`.

User ids are personal data: :func:`hash_user_id` turns one into a short keyed hash
(HMAC-SHA256 with ``GUARDFN_USER_HASH_KEY`` when set, else a plain SHA-256), the same
value in metrics tags and audit records so the two can be joined.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from guardfn.errors import GuardError, ProviderError, RateLimitExceeded
from guardfn.keys import scrub

if TYPE_CHECKING:
    from guardfn.call import Call

HASH_KEY_ENV = "GUARDFN_USER_HASH_KEY"
"""Environment variable holding a secret for user-id hashing (recommended: without it a
guessable id, such as an e-mail address, can be found again by hashing candidates)."""

_STATE_KEY = "observability"
_CODE_CHARS = re.compile(r"[^a-z0-9_.]+")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def hash_user_id(user_id: str) -> str:
    """A 16-hex-character pseudonym of ``user_id`` (keyed with ``GUARDFN_USER_HASH_KEY`` if set)."""
    data = user_id.encode("utf-8", "surrogatepass")
    key = os.environ.get(HASH_KEY_ENV)
    if key:
        digest = hmac.new(key.encode("utf-8"), data, hashlib.sha256).hexdigest()
    else:
        digest = hashlib.sha256(b"guardfn-user:" + data).hexdigest()
    return digest[:16]


def code(text: str, limit: int = 64) -> str:
    """``text`` as a short code: lower case, ``[a-z0-9_.]`` only, at most ``limit`` characters."""
    return _CODE_CHARS.sub("_", text.lower()).strip("_")[:limit] or "unknown"


def snake(name: str) -> str:
    """``"InjectionDetected"`` -> ``"injection_detected"``."""
    return code(_CAMEL.sub("_", name))


def reason_code(error: BaseException | None) -> str | None:
    """A short, bounded code for why a call was refused or failed; never free text.

    A rate limit or budget gives its limit name (``"tokens_per_day"``), a provider error
    ``"http_429"`` (or the error class), an error carrying a ``code`` attribute that
    code, anything else its class name in snake case (``"injection_detected"``).
    """
    if error is None:
        return None
    explicit = getattr(error, "code", None)
    if isinstance(explicit, str) and explicit:
        return code(explicit)
    if isinstance(error, RateLimitExceeded) and getattr(error, "limit", None):
        return code(error.limit)
    if isinstance(error, ProviderError) and error.status_code is not None:
        return f"http_{int(error.status_code)}"
    return snake(type(error).__name__)


def safe_reason(error: BaseException | None) -> str | None:
    """The reason a person can act on, for audit records, or ``None``.

    Only a :class:`GuardError`'s ``reason`` (built from counts, ids and limits by
    contract) is used, with anything shaped like a key masked. A provider error's
    reason may quote the provider's message, which could echo the request: it is
    reduced to the provider and status.
    """
    if not isinstance(error, GuardError):
        return None
    if isinstance(error, ProviderError):
        status = f"HTTP {error.status_code}" if error.status_code is not None else type(error).__name__
        return f"{error.stage} request failed: {status}"
    return scrub(error.reason)[:300]


@dataclass(frozen=True)
class FindingCount:
    """Findings of one stage, kind and rule, summed; never the matched text."""

    stage: str
    kind: str
    rule: str | None
    count: int
    blocked: bool = False


@dataclass(frozen=True)
class ToolRunFact:
    """One tool run: the tool's name, the round, how long it took, and its outcome."""

    name: str
    round: int
    duration_ms: float
    outcome: str


@dataclass(frozen=True)
class CallFacts:
    """What may be exported about one finished call (see the module docstring)."""

    request_id: str
    started_at: float
    function: str
    provider: str
    model: str
    user_id: str
    user_hash: str
    outcome: str
    duration_ms: float
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    retries: int = 0
    reasks: int = 0
    attempts: int = 0
    stream: bool = False
    is_async: bool = False
    stage: str | None = None
    reason_code: str | None = None
    reason: str | None = None
    error: str | None = None
    status_code: int | None = None
    findings: tuple[FindingCount, ...] = field(default_factory=tuple)
    tool_runs: tuple[ToolRunFact, ...] = field(default_factory=tuple)

    @property
    def timestamp(self) -> str:
        """When the call started, UTC, ISO 8601 with milliseconds (``2025-01-31T12:00:00.123Z``)."""
        moment = datetime.fromtimestamp(self.started_at, tz=timezone.utc)
        return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")

    def audit_user(self, mode: str) -> str | None:
        """The user id as the audit record carries it: ``"hash"``, ``"raw"`` or ``"omit"``."""
        if mode == "raw":
            return self.user_id
        if mode == "omit":
            return None
        return self.user_hash


def _findings(call: Call) -> tuple[FindingCount, ...]:
    totals: dict[tuple[str, str, str | None], list[Any]] = {}
    for finding in call.findings:
        rule = code(finding.rule, 80) if finding.rule else None
        key = (code(finding.stage), code(finding.kind), rule)
        entry = totals.setdefault(key, [0, False])
        entry[0] += int(finding.count)
        entry[1] = entry[1] or bool(finding.blocked)
    return tuple(FindingCount(s, k, r, n, b) for (s, k, r), (n, b) in totals.items())


def facts_of(call: Call, outcome: str) -> CallFacts:
    """The facts of ``call`` (computed once per call and shared by every record stage)."""
    cached = call.state.get(_STATE_KEY)
    if isinstance(cached, CallFacts) and cached.outcome == outcome:
        return cached
    error = call.error if outcome != "ok" else None
    stage = None
    if isinstance(error, GuardError):
        stage = code(error.stage)
    facts = CallFacts(
        request_id=call.request_id,
        started_at=call.started_at,
        function=call.function,
        provider=call.provider,
        model=call.model,
        user_id=call.user_id,
        user_hash=hash_user_id(call.user_id),
        outcome=outcome,
        duration_ms=round(call.duration_ms, 3),
        prompt_tokens=call.usage.prompt_tokens,
        completion_tokens=call.usage.completion_tokens,
        cost_usd=round(call.cost_usd, 8),
        retries=call.retries,
        reasks=call.reasks,
        attempts=call.attempts,
        stream=call.stream,
        is_async=call.is_async,
        stage=stage,
        reason_code=reason_code(error),
        reason=safe_reason(error),
        error=type(error).__name__ if error is not None else None,
        status_code=getattr(error, "status_code", None) if isinstance(error, ProviderError) else None,
        findings=_findings(call),
        tool_runs=tuple(ToolRunFact(code(r.name), r.round, round(r.duration_ms, 3), r.outcome) for r in call.tool_runs),
    )
    call.state[_STATE_KEY] = facts
    return facts
