"""Apply output rules to a streamed answer as it arrives.

:class:`StreamGuard` keeps a small window: the last :data:`CONTEXT` characters already
released (back to the start of a URL they cut into), as received (so a rule sees what comes before, e.g. for whole-word checks,
exactly as it would in the whole answer), and the text received but not yet released.
On each chunk it asks the rules how much of the end must be held back (``pending``),
releases everything before that, and acts on the violations in what it releases:
refuse (``raise``), replace (``redact``) or only count (``flag``). A prohibited term split
across two chunks, or a URL still being typed, is held back until it is complete, and
never more than a rule needs. The result is the same as checking the whole answer at
once (a property the tests check over arbitrary chunkings); work per chunk is bounded
by the window, not by the length of the answer.

:func:`guard_stream` / :func:`aguard_stream` wrap a call's chunk iterator (sync or
async) with the rules configured for it; they compose with other wrappers, such as the
PII restorer, because each consumes and yields plain text chunks. The pipeline chains
them through the ``guardfn_wrap_stream`` hook.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterable, Iterator
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Literal

from guardfn.errors import GuardrailViolation
from guardfn.output.rules import DEFAULT_REDACTION, URL_BREAK, Violation, redact

if TYPE_CHECKING:
    from guardfn.call import Call

__all__ = ["CONTEXT", "StreamGuard", "aguard_stream", "guard_async", "guard_stream", "guard_sync", "violation_error"]

CONTEXT = 64
"""Characters of already-released text (as received, before redaction) a rule sees before the new text."""
MAX_CONTEXT = 4096
"""The context reaches back further, up to this many characters, to the start of a word or URL it
cuts into: a URL longer than :data:`CONTEXT` must be seen whole to be judged as the whole answer
would judge it (its host is at its start)."""
_LAST_BREAK = re.compile("(?s).*" + URL_BREAK)
"""Matches up to the last character that cannot be inside a URL."""


def context_start(released: str) -> int:
    """Where the context kept from ``released`` starts: the last :data:`CONTEXT` characters,
    widened to the start of the word or URL they begin inside (at most :data:`MAX_CONTEXT`)."""
    cut = len(released) - CONTEXT
    if cut <= 0:
        return 0
    floor = max(0, len(released) - MAX_CONTEXT)
    last_break = _LAST_BREAK.match(released, floor, cut + 1)
    return last_break.end() - 1 if last_break else floor

Mode = Literal["raise", "redact", "flag"]


def violation_error(rule_ids: Iterable[str], stage: str = "output_rules") -> GuardrailViolation:
    """The :class:`GuardrailViolation` for these rule ids (sorted, unique; no text)."""
    ids = sorted(set(rule_ids))
    return GuardrailViolation(
        f"the answer broke output rule(s): {', '.join(ids)}",
        rules=ids,
        stage=stage,
        hint="adjust the prompt, or use on_violation='redact' or 'flag'",
    )


class StreamGuard:
    """Incremental rule checking: ``feed(chunk)`` returns what may be emitted now,
    ``flush()`` the rest at the end of the stream.

    In ``"raise"`` mode a confirmed violation raises :class:`GuardrailViolation` before
    any of its text is emitted. ``counts`` holds the violations seen per rule id.
    ``stopped`` turns true when a rule ends the answer (``max_chars`` when redacting):
    the caller should stop reading.
    """

    def __init__(self, rules: Iterable[Any], mode: Mode = "raise", redaction: str = DEFAULT_REDACTION) -> None:
        self.rules = list(rules)
        self.mode = mode
        self.redaction = redaction
        self.counts: Counter[str] = Counter()
        self.stopped = False
        self._ctx = ""
        self._tail = ""
        self._consumed = 0
        self._flagged_stops: set[str] = set()
        self._checks: list[tuple[Any, bool]] = [
            (rule.check_at, True) if hasattr(rule, "check_at") else (rule.check, False) for rule in self.rules
        ]
        self._positional = [(check, positional) for check, positional in self._checks if positional]
        ordered = sorted(self.rules, key=lambda rule: not getattr(rule, "pending_first", False))
        self._pendings = [getattr(rule, "pending", None) for rule in ordered]

    def _pending(self, window: str, base: int) -> int:
        """Where the held-back part of ``window`` starts (never before ``base``)."""
        safe = len(window)
        for pending in self._pendings:
            if pending is None:
                return base
            safe = min(safe, pending(window))
            if safe <= base:
                return base  # nothing can be released: the other rules need not be asked
        return safe

    def feed(self, chunk: str) -> str:
        """Add a chunk; return the text that is safe to emit now (possibly empty)."""
        if self.stopped or not chunk:
            return ""
        self._tail += chunk
        return self._release(final=False)

    def flush(self) -> str:
        """End of stream: judge and return everything still held back."""
        if self.stopped or not self._tail:
            return ""
        out = self._release(final=True)
        self._tail = ""
        return out

    def _release(self, final: bool, truncated: bool = False) -> str:
        window = self._ctx + self._tail
        base = len(self._ctx)
        safe = len(window) if final else self._pending(window, base)
        # Nothing can be released yet: only a rule that ends the answer (max_chars) can
        # act now; the others will see this text again with the next chunk.
        checks = self._checks if safe > base else self._positional
        offset = self._consumed - base
        found: list[Violation] = []
        for v in [v for check, positional in checks for v in (check(window, offset) if positional else check(window))]:
            if v.end <= base:
                continue  # already released (and already judged)
            if v.start < base:
                v = replace(v, start=base)
            if v.stop and (truncated or v.rule in self._flagged_stops):
                continue
            found.append(v)
        stops = [v for v in found if v.stop]
        if stops:
            first = min(stops, key=lambda v: v.start)
            if self.mode == "raise":
                self._count(stops)
                raise violation_error(v.rule for v in stops)
            if self.mode == "redact":
                # The answer ends here: judge what is kept as the end of the stream.
                self._count([first])
                self._tail = window[base : first.start]
                piece = self._release(final=True, truncated=True)
                self.stopped = True
                self._tail = ""
                return piece + (self.redaction if first.replacement is None else first.replacement)
            for v in stops:
                if v.rule not in self._flagged_stops:
                    self._flagged_stops.add(v.rule)
                    self._count([v])
            found = [v for v in found if not v.stop]
        while True:  # never release part of a violation that is not complete yet
            straddling = [v.start for v in found if v.start < safe < v.end]
            if not straddling:
                break
            safe = min(straddling)
        confirmed = [v for v in found if v.end <= safe]
        if confirmed:
            self._count(confirmed)
            if self.mode == "raise":
                raise violation_error(v.rule for v in confirmed)
        piece = window[base:safe]
        if confirmed and self.mode == "redact":
            piece = redact(piece, [v.shifted(-base) for v in confirmed], self.redaction)
        self._tail = window[safe:]
        released = self._ctx + window[base:safe]
        self._ctx = released[context_start(released) :]  # rules see the original text
        self._consumed += safe - base
        return piece

    def _count(self, violations: Iterable[Violation]) -> None:
        for v in violations:
            self.counts[v.rule] += 1


def guard_sync(guard: StreamGuard, chunks: Iterator[str], on_end: Callable[[], None] | None = None) -> Iterator[str]:
    """Yield ``chunks`` through ``guard``; closes ``chunks`` when done, stopped, refused or
    closed early, then calls ``on_end`` (if given)."""
    try:
        for chunk in chunks:
            out = guard.feed(chunk)
            if out:
                yield out
            if guard.stopped:
                return
        tail = guard.flush()
        if tail:
            yield tail
    finally:
        try:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
        finally:
            if on_end is not None:
                on_end()


async def guard_async(
    guard: StreamGuard, chunks: AsyncIterator[str], on_end: Callable[[], None] | None = None
) -> AsyncGenerator[str, None]:
    """The async twin of :func:`guard_sync`."""
    try:
        async for chunk in chunks:
            out = guard.feed(chunk)
            if out:
                yield out
            if guard.stopped:
                return
        tail = guard.flush()
        if tail:
            yield tail
    finally:
        try:
            aclose = getattr(chunks, "aclose", None)
            if aclose is not None:
                await aclose()
        finally:
            if on_end is not None:
                on_end()


def guard_stream(call: Call, chunks: Iterator[str]) -> Iterator[str]:
    """Wrap a sync chunk iterator with the output rules configured for ``call``.

    Violations are recorded as findings on ``call`` when the stream ends, is closed, or
    is refused. Returns ``chunks`` unchanged when no rule applies.
    """
    from guardfn.stages.output_rules import record_counts, stream_guard_for

    guard = stream_guard_for(call)
    if guard is None:
        return chunks
    return guard_sync(guard, chunks, lambda: record_counts(call, guard.counts, guard.mode))


def aguard_stream(call: Call, chunks: AsyncIterator[str]) -> AsyncIterator[str]:
    """The async twin of :func:`guard_stream`."""
    from guardfn.stages.output_rules import record_counts, stream_guard_for

    guard = stream_guard_for(call)
    if guard is None:
        return chunks
    return guard_async(guard, chunks, lambda: record_counts(call, guard.counts, guard.mode))
