"""Fold text for matching, keeping a map back to the original offsets.

:func:`fold` turns a text into the form output rules match against, so that look-alike
spellings of a term do not slip through:

* Unicode NFKC (full-width, mathematical, circled and ligature letters become plain);
* accents and other combining marks dropped (``é`` -> ``e``);
* invisible characters removed (zero-width spaces and joiners, bidi controls, soft
  hyphens, variation selectors, tag characters, Hangul fillers);
* case folded (``ß`` -> ``ss``);
* letters that Unicode lists as confusable with an ASCII letter or digit mapped to it
  (Cyrillic ``о`` -> ``o``; the table is ``confusable-homoglyphs``' data, shared with
  the input screeners);
* every run of whitespace collapsed to one space.

The result carries, for every folded character, the offset of the original character it
came from, so a match in the folded text maps back to a span of the original (to
redact it). ASCII text without whitespace runs takes a fast path: lower-casing only,
offsets unchanged. Folding is linear in the length of the text.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass

__all__ = ["Folded", "fold", "fold_term"]

# What needs per-character work: runs of non-ASCII characters (widened to the whitespace
# around them, so "a \u200b b" collapses to "a b") and runs of two or more whitespace
# characters. Each pattern starts with a character class, so the scan is fast.
_NON_ASCII = re.compile(r"[^\x00-\x7f]+")
_WS_RUN = re.compile(r"\s{2,}")
_OTHER_SPACE = re.compile(r"[\t\n\r\x0b\x0c\x1c-\x1f]")
_ASCII_SPACES = str.maketrans("\t\n\r\x0b\x0c\x1c\x1d\x1e\x1f", " " * 9)
_DROP_CATEGORIES = frozenset({"Mn", "Me", "Cf", "Cc", "Cs", "Co"})
# Invisible characters that are not format (Cf) or marks: Hangul fillers, Khmer vowels
# inherent, the combining grapheme joiner, the Mongolian vowel separator.
_INVISIBLE = frozenset({0x115F, 0x1160, 0x17B4, 0x17B5, 0x034F, 0x180E, 0x3164, 0xFFA0})


@dataclass(frozen=True)
class Folded:
    """A folded text and, per folded character, the offset of its original character.

    ``origin`` is ``None`` when offsets are unchanged (the ASCII fast path).
    """

    text: str
    original_length: int
    origin: list[int] | None = None

    def start(self, index: int) -> int:
        """The original offset where the folded character at ``index`` starts."""
        if self.origin is None:
            return min(index, self.original_length)
        if index >= len(self.origin):
            return self.original_length
        return self.origin[index]

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The original span covering folded ``text[start:end]`` (characters that fold to
        nothing, such as trailing combining marks, go with the span they follow)."""
        if self.origin is None:
            return start, end
        first = self.start(start)
        last = self.start(end) if end < len(self.origin) else self.original_length
        if last <= first:  # an expansion ("ﬁ" -> "fi") matched only in part
            last = self.origin[end - 1] + 1
        return first, last


@functools.lru_cache(maxsize=1)
def _confusables() -> dict[int, str]:
    from guardfn.screening.normalize import confusables_table

    return confusables_table()


@functools.lru_cache(maxsize=65536)
def _fold_char(char: str) -> str:
    if char.isspace():
        return " "
    if ord(char) in _INVISIBLE:
        return ""
    text = unicodedata.normalize("NFD", unicodedata.normalize("NFKC", char))
    kept = "".join(c for c in text if ord(c) not in _INVISIBLE and unicodedata.category(c) not in _DROP_CATEGORIES)
    kept = unicodedata.normalize("NFKC", kept).casefold().translate(_confusables())
    return " ".join(kept.split()) if any(c.isspace() for c in kept) else kept


_last: list[tuple[str, Folded]] = [("", Folded("", 0))]


def fold(text: str) -> Folded:
    """Fold ``text`` for matching (see the module docstring).

    The last result is kept, so several rules checking the same text fold it once.
    """
    last = _last[0]
    if last[0] is text:
        return last[1]
    folded = _fold(text)
    _last[0] = (text, folded)
    return folded


def _special_spans(text: str, ascii_only: bool) -> list[tuple[int, int]]:
    spans = [m.span() for m in _WS_RUN.finditer(text)]
    if not ascii_only:
        for m in _NON_ASCII.finditer(text):
            start, end = m.span()
            while start > 0 and text[start - 1].isspace():
                start -= 1
            while end < len(text) and text[end].isspace():
                end += 1
            spans.append((start, end))
        spans.sort()
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _ascii_lower(text: str) -> str:
    """Lower-case ASCII text with every whitespace character made a space (1:1)."""
    text = text.lower()
    return text.translate(_ASCII_SPACES) if _OTHER_SPACE.search(text) else text


def _has_ws_run(text: str) -> bool:
    if "  " in text:
        return True
    if _OTHER_SPACE.search(text) is None:
        return False  # only single spaces: no run (cheaper than the run regex)
    return _WS_RUN.search(text) is not None


def _fold(text: str) -> Folded:
    ascii_only = text.isascii()
    if ascii_only and not _has_ws_run(text):
        return Folded(_ascii_lower(text), len(text))
    out: list[str] = []
    origin: list[int] = []
    last = ""
    pos = 0
    for start, end in _special_spans(text, ascii_only):
        if start > pos:
            plain = _ascii_lower(text[pos:start])
            out.append(plain)
            origin.extend(range(pos, start))
            last = plain[-1]
        for index in range(start, end):
            for char in _fold_char(text[index]):
                if char == " " and last == " ":
                    continue
                out.append(char)
                origin.append(index)
                last = char
        pos = end
    if pos < len(text):
        out.append(_ascii_lower(text[pos:]))
        origin.extend(range(pos, len(text)))
    return Folded("".join(out), len(text), origin)


def fold_term(term: str) -> str:
    """A term folded the way :func:`fold` folds text, without leading or trailing space."""
    return fold(term).text.strip()
