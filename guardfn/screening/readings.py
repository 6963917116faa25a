"""What the learned screen reads of a text: its normalised views, decoded payloads
(nested ones too), spaced-out letters joined, and the whole text read as ROT13 or
backwards when that is what makes it readable.

The model (:mod:`guardfn.screening.model`) scores every reading and keeps the highest
probability, so an attack hidden by an encoding is scored as the attack it decodes to.
Training (:mod:`guardfn.screening.train`) builds the same readings, so the model learns
what it is later shown.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from itertools import repeat

from guardfn.screening.normalize import ROT13, Views, views

_PUNCTUATION = ".,:;!?'\"()[]{}<>*-"
_GAPS = re.compile(r"\s{2,}")  # one character class, linear
MAX_PAYLOADS = 8
"""At most this many decoded payloads are read (the longest first)."""
MIN_PAYLOAD_CHARS = 12
"""Decoded payloads shorter than this are not read (too short to say anything)."""
STOPWORDS = frozenset(
    ["a", "an", "the", "and", "or", "but", "if", "then", "of", "to", "in", "on", "at", "by", "for", "with", "from", "as", "is", "are", "was", "were", "be", "been", "am", "do", "does", "did", "you", "your", "yours", "me", "my", "i", "we", "our", "it", "its", "this", "that", "these", "those", "not", "no", "all", "any", "what", "who", "how", "why", "when", "where", "please", "can", "could", "would", "will", "should", "must", "now", "just", "only", "say", "tell", "print", "write", "give", "show"]
)
"""Common English words: a text with few of them that has many once read as ROT13 or
backwards was written that way to hide it."""


def _hits(words: list[str]) -> int:
    """How many of ``words`` (punctuation at either end stripped) are common English words."""
    return sum(map(STOPWORDS.__contains__, map(str.strip, words, repeat(_PUNCTUATION))))


def _hiding_candidate(base: str) -> tuple[int, int] | None:
    """``(words, common words)`` of ``base`` when it could be hiding English (three or more
    words, fewer than one in five common); None for ordinary text."""
    words = base.split()
    if len(words) < 3:
        return None
    plain = _hits(words)
    return None if plain * 5 >= len(words) else (len(words), plain)


def hidden_flags(readings: Iterable[str], base: str) -> tuple[bool, ...]:
    """For each of ``readings`` (``base`` read as ROT13 or backwards): whether it reads as
    English clearly better than ``base`` does, that is ``base`` was written that way to hide it."""
    return _flags(readings, _hiding_candidate(base))


def _flags(readings: Iterable[str], candidate: tuple[int, int] | None) -> tuple[bool, ...]:
    if candidate is None:
        return tuple(False for _ in readings)
    words, plain = candidate
    flags = []
    for reading in readings:
        hits = _hits(reading.split())
        flags.append(hits >= 2 and hits * 6 >= words and hits > 2 * plain)
    return tuple(flags)


def hidden_readings(base: str) -> list[str]:
    """The ROT13 and reversed readings of ``base`` (a folded view) that read as English
    clearly better than ``base`` does (none for ordinary text, which is not even decoded)."""
    candidate = _hiding_candidate(base)
    if candidate is None:
        return []
    readings = (base.translate(ROT13), base[::-1])
    return [r for r, hidden in zip(readings, _flags(readings, candidate), strict=True) if hidden]


def despaced(plain: str) -> str | None:
    """``plain`` with letters spaced out ("i g n o r e  a l l") joined into words (two or
    more spaces between words), when most of its tokens are single characters; else None.
    Catches what joining runs of spaced letters misses (two-letter words, punctuation)."""
    if len(plain) < 16 or plain.count(" ") * 3 < len(plain):
        return None
    tokens = plain.split()
    if sum(1 for t in tokens if len(t) == 1) < 0.7 * len(tokens):
        return None
    words = [w.replace(" ", "").replace("\n", "") for w in _GAPS.split(plain.strip())]
    return " ".join(w for w in words if w)


def readings_of(v: Views, payloads: Iterable[str]) -> list[str]:
    """The distinct texts the model scores for one input: the base folded view, the most
    de-obfuscated view, decoded payloads and de-spaced text (both views of each) and
    hidden readings (see :func:`hidden_readings`)."""
    out = [v.texts[0]]
    if v.texts[-1] != v.texts[0]:
        out.append(v.texts[-1])
    decoded = sorted({p for p in payloads if len(p) >= MIN_PAYLOAD_CHARS}, key=lambda p: (-len(p), p))
    for payload in decoded[:MAX_PAYLOADS]:
        inner = views(payload).texts
        for reading in {inner[0], inner[-1]}:
            if reading not in out:
                out.append(reading)
    for reading in hidden_readings(v.texts[-1]):
        if reading not in out:
            out.append(reading)
    return out


__all__ = ["MAX_PAYLOADS", "STOPWORDS", "despaced", "hidden_flags", "hidden_readings", "readings_of"]
