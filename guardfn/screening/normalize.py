"""Text hygiene and the normalised *views* of a text that the screeners match against.

Two jobs, kept apart:

* :func:`clean_for_sdk` changes what is sent: it removes NUL bytes and other C0/C1
  control characters (tab, newline and carriage return stay) and replaces lone
  surrogates with U+FFFD, so an SDK never fails deep inside ``json``/``httpx``.
* :func:`views` never changes what is sent: it builds lower-cased copies of a text
  with evasions undone, for pattern matching only. In order: Unicode NFKC
  (full-width, mathematical and circled letters become ASCII), zero-width, bidi and
  other format characters removed (``ig\\u200bnore`` -> ``ignore``), accents dropped
  from Latin, Greek and Cyrillic letters, case folded, then optionally confusable
  letters mapped to ASCII (Cyrillic ``о`` -> ``o``, from Unicode's confusables data in
  ``confusable-homoglyphs``), spaced or punctuated letters joined (``i g n o r e``,
  ``i.g.n.o.r.e`` -> ``ignore``) and leetspeak folded (``1gn0r3`` -> ``ignore``).

Everything here runs in time linear in the input: ``str`` built-ins, ``unicodedata``
and RE2 (which never backtracks).
"""

from __future__ import annotations

import functools
import json
import re
import unicodedata
import warnings
from dataclasses import dataclass, field
from importlib import resources

import re2

from guardfn.screening.gates import presence_test

# --- cleaning what is sent --------------------------------------------------------

# One character class: linear in the stdlib engine (no nesting, nothing to backtrack into).
_CONTROLS = re.compile(r"[\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F]+")


@dataclass(frozen=True)
class CleanResult:
    """A cleaned text and how many characters of each kind were removed or replaced."""

    text: str
    nul: int = 0
    controls: int = 0
    surrogates: int = 0

    @property
    def changed(self) -> int:
        """Total characters removed or replaced."""
        return self.nul + self.controls + self.surrogates


def clean_for_sdk(text: str) -> CleanResult:
    """Remove NUL and control characters and replace lone surrogates with U+FFFD.

    Tab, newline and carriage return are kept. The result always encodes as UTF-8,
    so no SDK or HTTP client fails on it.
    """
    surrogates = 0
    try:
        if not text.isascii():  # an ASCII text has no surrogates: skip the encoding test
            text.encode("utf-8")
    except UnicodeEncodeError:
        # Through UTF-16, a high+low pair written as two code points joins into one
        # character and every unpaired surrogate becomes exactly one U+FFFD.
        before = text.count("\ufffd")
        text = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
        surrogates = text.count("\ufffd") - before
    if not _CONTROLS.search(text):
        return CleanResult(text, surrogates=surrogates)
    nul = text.count("\x00")
    removed = sum(len(m.group(0)) for m in _CONTROLS.finditer(text))
    return CleanResult(_CONTROLS.sub("", text), nul=nul, controls=removed - nul, surrogates=surrogates)


# --- views for matching -------------------------------------------------------------

# Zero-width, bidi and other invisible format characters, fillers and variation
# selectors (deleted by str.translate; the table is built once, on first use).
_INVISIBLE_RANGES = (
    (0x00AD, 0x00AD), (0x034F, 0x034F), (0x061C, 0x061C), (0x115F, 0x1160), (0x17B4, 0x17B5), (0x180B, 0x180F),
    (0x200B, 0x200F), (0x202A, 0x202E), (0x2060, 0x206F), (0x3164, 0x3164), (0xFE00, 0xFE0F), (0xFEFF, 0xFEFF),
    (0xFFA0, 0xFFA0), (0xFFF9, 0xFFFB), (0x1BCA0, 0x1BCA3), (0x1D173, 0x1D17A), (0xE0000, 0xE007F),
    (0xE0100, 0xE01EF),
)
# Combining marks used on Latin, Greek and Cyrillic letters (accents), deleted after NFD.
_ACCENT_RANGES = ((0x0300, 0x036F), (0x0483, 0x0489), (0x1AB0, 0x1AFF), (0x1DC0, 0x1DFF), (0x20D0, 0x20FF),
                  (0xFE20, 0xFE2F))


_HAS_INVISIBLE = presence_test(
    "[\\p{Cf}" + "".join(f"\\x{{{lo:X}}}-\\x{{{hi:X}}}" for lo, hi in _INVISIBLE_RANGES) + "]"
)
_HAS_ACCENT = presence_test("[" + "".join(f"\\x{{{lo:X}}}-\\x{{{hi:X}}}" for lo, hi in _ACCENT_RANGES) + "]")


@functools.lru_cache(maxsize=1)
def _invisible_table() -> dict[int, None]:
    table: dict[int, None] = dict.fromkeys(c for lo, hi in _INVISIBLE_RANGES for c in range(lo, hi + 1))
    table.update(dict.fromkeys(c for c in range(0x10000) if unicodedata.category(chr(c)) == "Cf"))
    return table


@functools.lru_cache(maxsize=1)
def _accent_table() -> dict[int, None]:
    return dict.fromkeys(c for lo, hi in _ACCENT_RANGES for c in range(lo, hi + 1))


_TAGS = re2.compile(r"[\x{E0020}-\x{E007E}]+")
# Three or more single letters or digits, each followed by one separator character:
# "i g n o r e", "i.g.n.o.r.e", "i-g-n-o-r-e". Two spaces (a word gap) end a run.
# Linear in the stdlib engine: the repeated unit is two characters from disjoint
# classes, so an attempt either extends the run or fails within two characters.
_SPACED = re.compile(r"(?:[a-z0-9@$][ .\-_*/+~,:'\"^|•·]){2,}[a-z0-9@$]")
# Hyphens, underscores and the like inside a word ("i-nstruction", "sys_tem"); linear
# (a character class between two single characters, nothing to backtrack into).
_INNER_PUNCT = re.compile(r"(?<=[a-z])[-_*~^]+(?=[a-z])")
_SEPARATORS = str.maketrans("", "", " .-_*/+~,:'\"^|•·")
_LEET_WORD = presence_test(r"[a-z][0-9@$|]+[a-z]|(?:^|[^a-z0-9])[0-9@$][a-z]{2,}|[a-z]{2,}[0-9@$|](?:[^a-z0-9]|$)")
LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b", "9": "g", "@": "a", "$": "s", "|": "l"})
"""The leetspeak folding table (digits and symbols to the letters they stand for)."""

ROT13 = str.maketrans(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
    "nopqrstuvwxyzabcdefghijklmNOPQRSTUVWXYZabcdefghijklm",
)
"""The ROT13 table."""


# Used only when the confusable-homoglyphs data is not installed: the common Cyrillic,
# Greek and Armenian look-alikes of Latin letters.
_FALLBACK_CONFUSABLES = {
    "а": "a", "е": "e", "о": "o", "р": "p", "с": "c", "у": "y", "х": "x", "і": "i", "ј": "j", "ѕ": "s", "ԁ": "d",
    "ԛ": "q", "ԝ": "w", "һ": "h", "ү": "y", "ɡ": "g", "α": "a", "ι": "i", "ν": "v", "ο": "o", "ρ": "p", "υ": "u",
    "օ": "o", "ս": "u", "ց": "g", "հ": "h", "ո": "n", "ı": "i",
}


@functools.lru_cache(maxsize=1)
def confusables_table() -> dict[int, str]:
    """Map every non-ASCII character that Unicode lists as confusable with an ASCII
    letter or digit to that (lower-case) character. Built once, on first use.

    The data comes from the ``confusable-homoglyphs`` package; without it a built-in
    table of the common Cyrillic, Greek and Armenian look-alikes is used (with a
    one-line warning).
    """
    try:
        source = resources.files("confusable_homoglyphs").joinpath("confusables.json").read_text("utf-8")
    except (ModuleNotFoundError, FileNotFoundError):
        from guardfn.errors import OfflineFallbackWarning

        warnings.warn(
            "confusable-homoglyphs is not installed: injection screening folds only common look-alike letters; "
            "pip install confusable-homoglyphs for Unicode's full confusables data",
            OfflineFallbackWarning,
            stacklevel=2,
        )
        return {ord(k): v for k, v in _FALLBACK_CONFUSABLES.items()}
    data = json.loads(source)
    table: dict[int, str] = {}
    rank: dict[int, int] = {}
    for key, entries in data.items():
        if len(key) != 1 or not key.isascii() or not key.isalnum():
            continue
        # prefer lower-case letters, then upper-case letters, then digits
        priority = 0 if key.islower() else 1 if key.isalpha() else 2
        for entry in entries:
            char = entry.get("c", "")
            if len(char) != 1 or char.isascii():
                continue
            code = ord(char)
            if code not in rank or priority < rank[code]:
                table[code] = key.lower()
                rank[code] = priority
    return table


@dataclass(frozen=True)
class Views:
    """The texts the screeners look at, built from one input by :func:`views`.

    ``plain`` keeps case (NFKC, invisible characters removed) for decoding encoded
    payloads and case-sensitive rules; ``raw`` is NFKC only (invisible characters
    still there) for rules about evasion itself; ``texts`` are the lower-case views,
    every whitespace run collapsed to one space, for matching, first the base view then the de-obfuscated ones; ``tags`` is text
    hidden in Unicode tag characters (ASCII smuggling), if any.
    """

    raw: str
    plain: str
    texts: tuple[str, ...]
    tags: str = ""
    signals: dict[str, int] = field(default_factory=dict)


def _collapse(text: str) -> str:
    return " ".join(text.split())


def plain(text: str) -> str:
    """NFKC with invisible characters removed and accents dropped from Latin, Greek and
    Cyrillic letters; case is kept."""
    return _plain_nfkc(unicodedata.normalize("NFKC", text))


def _plain_nfkc(text: str) -> str:
    if text.isascii():
        return text
    if _HAS_INVISIBLE(text):
        text = text.translate(_invisible_table())
    decomposed = unicodedata.normalize("NFD", text)
    if decomposed.isascii() or not _HAS_ACCENT(decomposed):
        return text
    return unicodedata.normalize("NFC", decomposed.translate(_accent_table()))


def fold(text: str) -> str:
    """The base matching view: :func:`plain`, case-folded, every whitespace run (newlines
    too) collapsed to one space."""
    return _collapse(plain(text).casefold())


def _join_spaced(m: re.Match[str]) -> str:
    run = m.group(0)
    head = tail = ""
    start, end = m.span()
    if start and m.string[start - 1].isalnum():
        # the run starts with the last letter of a longer word ("please i g n o r e")
        head, run = run[:2], run[2:]
    if end < len(m.string) and m.string[end].isalnum() and len(run) > 2:
        # the run ends with the first letter of a longer word ("i g n o r e all")
        run, tail = run[:-2], run[-2:]
    return head + run.translate(_SEPARATORS) + tail


def deobfuscate(folded: str) -> str:
    """Join spaced or punctuated letters, drop hyphens inside words and fold leetspeak in
    an already folded text."""
    text = folded
    if _SPACED.search(text):
        text = _SPACED.sub(_join_spaced, text)
    # _INNER_PUNCT needs one of its punctuation characters: test for them first (cheap)
    if ("-" in text or "_" in text or "*" in text or "~" in text or "^" in text) and _INNER_PUNCT.search(text):
        text = _INNER_PUNCT.sub("", text)
    if _LEET_WORD(text):
        text = text.translate(LEET)
    return text


def views(text: str) -> Views:
    """Build every view of ``text`` (see the module docstring); linear time."""
    raw = unicodedata.normalize("NFKC", text)
    signals: dict[str, int] = {}
    tags = ""
    if raw.isascii():
        base_plain = raw
    else:
        tag_runs = [m.group(0) for m in _TAGS.finditer(raw)]
        if tag_runs:
            tags = "\n".join("".join(chr(ord(ch) - 0xE0000) for ch in run) for run in tag_runs)
        base_plain = _plain_nfkc(raw)
    lowered = base_plain.casefold()
    base = _collapse(lowered)
    texts = [base]
    # confusables and de-obfuscation work on the uncollapsed text so that two spaces
    # still separate the words of "i g n o r e  a l l".
    confused = lowered
    if not lowered.isascii():
        confused = lowered.translate(confusables_table())
        if confused != lowered:
            signals["confusables"] = 1
            texts.append(_collapse(confused))
    deob = deobfuscate(confused)
    if deob != confused:
        signals["deobfuscated"] = 1
        collapsed = _collapse(deob)
        if collapsed not in texts:
            texts.append(collapsed)
    return Views(raw=raw, plain=base_plain, texts=tuple(texts), tags=tags, signals=signals)


__all__ = [
    "LEET",
    "ROT13",
    "CleanResult",
    "Views",
    "clean_for_sdk",
    "confusables_table",
    "deobfuscate",
    "fold",
    "plain",
    "views",
]
