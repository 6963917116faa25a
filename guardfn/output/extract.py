"""Find the JSON value in a model's answer.

Models wrap JSON in code fences, put prose before it ("Sure! Here is ...") and after
it ("Let me know if ..."). :func:`candidates` yields every JSON value it can find, in
the order a reader would pick them: the whole answer when it is JSON, then the
contents of code fences, then each top-level balanced ``{...}`` / ``[...]`` value in
the text. :func:`extract_json` returns the first. A caller with a schema tries the
candidates in order and keeps the first that validates.

Parsing uses the standard library's JSON decoder (``raw_decode`` knows where a value
ends, strings and nesting included). Work is bounded: at most ``limit`` parse attempts
per answer, and nesting deeper than the interpreter allows is a failed attempt, not a
crash.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

__all__ = ["Candidate", "NoJSONFound", "candidates", "extract_json"]

_DECODER = json.JSONDecoder()
_WS = " \t\n\r"
# ```json\n ... ``` (the language tag and anything else on the opening line are skipped).
# Lazy body up to the next fence: linear, nothing nested to backtrack into.
_FENCE = re.compile(r"```[^\n`]*\n(.*?)```", re.S)
_OPENER = re.compile(r"[\[{]")

DEFAULT_LIMIT = 32
"""Parse attempts per answer before giving up (bounds the work on hostile output)."""


class NoJSONFound(ValueError):
    """The answer contains no JSON value."""


@dataclass(frozen=True)
class Candidate:
    """A JSON value found in a text: the decoded value and its span ``text[start:end]``.

    ``source`` says where it was found: ``"text"`` (the whole answer), ``"fence"`` (a
    code fence's whole body) or ``"scan"`` (a balanced value inside other text).
    """

    value: Any
    start: int
    end: int
    source: str


def _decode_at(text: str, pos: int) -> tuple[Any, int] | None:
    try:
        return _DECODER.raw_decode(text, pos)
    except (ValueError, RecursionError):
        return None


def _whole(text: str, start: int, end: int) -> tuple[Any, int, int] | None:
    """The value when ``text[start:end]`` is exactly one JSON value (whitespace around it allowed)."""
    while start < end and text[start] in _WS:
        start += 1
    while end > start and text[end - 1] in _WS:
        end -= 1
    if start >= end:
        return None
    decoded = _decode_at(text[:end], start)
    if decoded is None or decoded[1] != end:
        return None
    return decoded[0], start, end


def candidates(text: str, limit: int = DEFAULT_LIMIT) -> Iterator[Candidate]:
    """Yield the JSON values in ``text``, most likely answer first, each span at most once.

    Order: the whole text; each code fence's body as a whole; then, scanning the text
    from the left, every top-level ``{...}`` or ``[...]`` that parses (values nested in
    one already yielded are not yielded again). At most ``limit`` parse attempts.
    """
    attempts = 0
    seen: set[tuple[int, int]] = set()

    def emit(value: Any, start: int, end: int, source: str) -> Candidate | None:
        if (start, end) in seen:
            return None
        seen.add((start, end))
        return Candidate(value, start, end, source)

    attempts += 1
    whole = _whole(text, 0, len(text))
    if whole is not None:
        yield Candidate(whole[0], whole[1], whole[2], "text")
        return
    if "```" in text:
        for fence in _FENCE.finditer(text):
            if attempts >= limit:
                return
            attempts += 1
            body = _whole(text, fence.start(1), fence.end(1))
            if body is not None:
                found = emit(body[0], body[1], body[2], "fence")
                if found is not None:
                    yield found
    pos = 0
    while attempts < limit:
        opener = _OPENER.search(text, pos)
        if opener is None:
            return
        attempts += 1
        decoded = _decode_at(text, opener.start())
        if decoded is None:
            pos = opener.start() + 1
            continue
        value, end = decoded
        found = emit(value, opener.start(), end, "scan")
        if found is not None:
            yield found
        pos = end


def extract_json(text: str, limit: int = DEFAULT_LIMIT) -> Any:
    """The first JSON value in ``text`` (see :func:`candidates`); raises :class:`NoJSONFound`."""
    for candidate in candidates(text, limit):
        return candidate.value
    raise NoJSONFound("no JSON value found in the text")
