"""The audit log: one JSON record per call, on the logger ``guardfn.audit`` and optionally a file.

A record (one line of JSON, schema version ``"v": 1``)::

    {"v": 1, "timestamp": "2025-01-31T12:00:00.123Z", "request_id": "…", "user": "3f9a…",
     "function": "app.answer", "provider": "openai", "model": "gpt-4o-mini",
     "outcome": "ok" | "blocked" | "failed", "prompt_tokens": 12, "completion_tokens": 3,
     "cost_usd": 3.6e-06, "duration_ms": 41.2, "retries": 0, "reasks": 0, "attempts": 1,
     "stream": false, "findings": [{"stage": "pii", "kind": "EMAIL_ADDRESS", "rule": null,
     "count": 1, "blocked": false}],
     "tool_calls": [{"name": "get_weather", "round": 1, "duration_ms": 3.1, "outcome": "ok"}],
     "stage": "injection", "reason_code": "injection_detected", "reason": "…", "error": "InjectionDetected"}

``tool_calls`` appears when tools ran (name, round, duration and ``ok`` / ``error``; never
arguments or results). The last four keys (and ``status_code`` for provider errors) appear
for blocked and failed calls. Records never hold prompt or response text, PII, placeholders or keys:
they are built from :class:`~guardfn.observability.facts.CallFacts` only.

The user id is personal data: by default (``audit_user_id="hash"``) the record carries
its keyed hash (``GUARDFN_USER_HASH_KEY``, the same value as the metrics ``user`` tag);
``"raw"`` writes the id as given (when the audit store is itself protected and you need
to answer a user's access request), ``"omit"`` leaves it out.

The file (``audit_file=`` / ``GUARDFN_AUDIT_FILE``) is appended to with one ``write``
per record on an ``O_APPEND`` descriptor (whole lines, safe across processes), created
``0600``; a file moved away by logrotate is noticed and a new one is started.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from guardfn.observability.facts import CallFacts
    from guardfn.settings import Settings

LOGGER_NAME = "guardfn.audit"
SCHEMA_VERSION = 1
audit_log = logging.getLogger(LOGGER_NAME)


def record_of(facts: CallFacts, user_mode: str = "hash") -> dict[str, Any]:
    """The audit record of one call (a JSON-safe dict; see the module docstring)."""
    record: dict[str, Any] = {
        "v": SCHEMA_VERSION,
        "timestamp": facts.timestamp,
        "request_id": facts.request_id,
    }
    user = facts.audit_user(user_mode)
    if user is not None:
        record["user"] = user
    record.update(
        function=facts.function,
        provider=facts.provider,
        model=facts.model,
        outcome=facts.outcome,
        prompt_tokens=facts.prompt_tokens,
        completion_tokens=facts.completion_tokens,
        cost_usd=facts.cost_usd,
        duration_ms=facts.duration_ms,
        retries=facts.retries,
        reasks=facts.reasks,
        attempts=facts.attempts,
        stream=facts.stream,
        findings=[
            {"stage": f.stage, "kind": f.kind, "rule": f.rule, "count": f.count, "blocked": f.blocked}
            for f in facts.findings
        ],
    )
    if facts.tool_runs:
        record["tool_calls"] = [
            {"name": r.name, "round": r.round, "duration_ms": r.duration_ms, "outcome": r.outcome} for r in facts.tool_runs
        ]
    if facts.outcome != "ok":
        record.update(stage=facts.stage, reason_code=facts.reason_code, reason=facts.reason, error=facts.error)
        if facts.status_code is not None:
            record["status_code"] = facts.status_code
    return record


def write(facts: CallFacts, settings: Settings) -> dict[str, Any]:
    """Emit the record of one call to the ``guardfn.audit`` logger and ``settings.audit_file``."""
    record = record_of(facts, settings.audit_user_id)
    line = json.dumps(record, separators=(",", ":"))
    if audit_log.isEnabledFor(logging.INFO):
        audit_log.info(line, extra={"guardfn_audit": record})
    if settings.audit_file:
        writer_for(settings.audit_file).write(line)
    return record


class AuditFile:
    """Appends whole lines to one audit file, reopening it when it was moved away."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._ino: tuple[int, int] | None = None

    def _open(self) -> int:
        parent = os.path.dirname(self.path)
        if parent:
            os.makedirs(parent, mode=0o700, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        st = os.fstat(fd)
        self._fd, self._ino = fd, (st.st_dev, st.st_ino)
        return fd

    def _current(self) -> int:
        if self._fd is None:
            return self._open()
        try:
            st = os.stat(self.path)
            moved = (st.st_dev, st.st_ino) != self._ino
        except FileNotFoundError:
            moved = True
        if moved:
            self.close()
            return self._open()
        return self._fd

    def write(self, line: str) -> None:
        """Append ``line`` and a newline in one ``write`` call."""
        data = (line + "\n").encode("utf-8")
        with self._lock:
            fd = self._current()
            os.write(fd, data)

    def close(self) -> None:
        """Close the descriptor (the next write opens the file again)."""
        if self._fd is not None:
            try:
                os.close(self._fd)
            finally:
                self._fd = None


_writers: dict[str, AuditFile] = {}
_writers_lock = threading.Lock()


def writer_for(path: str) -> AuditFile:
    """The process-wide writer of the audit file at ``path``."""
    full = os.path.abspath(os.path.expanduser(path))
    writer = _writers.get(full)
    if writer is None:
        with _writers_lock:
            writer = _writers.setdefault(full, AuditFile(full))
    return writer


def close_all() -> None:
    """Close every open audit file (tests; a process about to fork)."""
    with _writers_lock:
        for writer in _writers.values():
            writer.close()
        _writers.clear()


class ReadStats:
    """Counts from reading audit files: records used and lines that were not records."""

    def __init__(self) -> None:
        self.records = 0
        self.skipped = 0


def parse_timestamp(value: str) -> float:
    """Seconds since the epoch of a record's ISO 8601 ``timestamp``."""
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def read_records(
    paths: Iterable[str], since: float | None = None, stats: ReadStats | None = None
) -> Iterator[dict[str, Any]]:
    """Audit records from these files, oldest first per file, started at or after ``since``.

    Lines that are not audit records (a torn last line, other log output) are skipped
    and counted in ``stats``.
    """
    stats = stats if stats is not None else ReadStats()
    for path in paths:
        with open(os.path.expanduser(path), encoding="utf-8", errors="replace") as handle:
            for line in handle:
                line = line.strip()
                if not line:
                    continue
                try:
                    record = json.loads(line)
                    when = parse_timestamp(record["timestamp"])
                except (ValueError, KeyError, TypeError, AttributeError):
                    stats.skipped += 1
                    continue
                if not isinstance(record, dict) or "outcome" not in record:
                    stats.skipped += 1
                    continue
                if since is not None and when < since:
                    continue
                stats.records += 1
                yield record
