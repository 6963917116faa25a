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
import unicodedata
from dataclasses import dataclass, field
from importlib import resources

import re2

# --- cleaning what is sent --------------------------------------------------------

_CONTROLS = re2.compile(r"[\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F]+")


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

# Format characters (\p{Cf}: zero-width space/joiners, bidi controls, BOM, soft hyphen,
# tag characters) and other invisible fillers and variation selectors.
_INVISIBLE = re2.compile(
    r"[\p{Cf}\x{034F}\x{115F}\x{1160}\x{17B4}\x{17B5}\x{180B}-\x{180F}\x{3164}"
    r"\x{FE00}-\x{FE0F}\x{FFA0}\x{E0100}-\x{E01EF}]+"
)
_TAGS = re2.compile(r"[\x{E0020}-\x{E007E}]+")
_MARKS_AFTER_LETTER = re2.compile(r"([\p{Latin}\p{Greek}\p{Cyrillic}])\p{Mn}+")
_SPACE = re2.compile(r"[\s\x{85}\x{2028}\x{2029}]+")
# Three or more single letters or digits, each followed by one separator character:
# "i g n o r e", "i.g.n.o.r.e", "i-g-n-o-r-e". Two spaces (a word gap) end a run.
_SPACED = re2.compile(r"\b(?:[a-z0-9@$][ .\-_*/+~,:'\"^|•·]){2,}[a-z0-9@$]\b")
_SEPARATORS = str.maketrans("", "", " .-_*/+~,:'\"^|•·")
_LEET_WORD = re2.compile(r"[a-z][0-9@$|]+[a-z]|(?:^|[^a-z0-9])[0-9@$][a-z]{2,}|[a-z]{2,}[0-9@$|](?:[^a-z0-9]|$)")
LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b", "9": "g", "@": "a", "$": "s", "|": "l"})
"""The leetspeak folding table (digits and symbols to the letters they stand for)."""

ROT13 = str.maketrans(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
    "nopqrstuvwxyzabcdefghijklmNOPQRSTUVWXYZabcdefghijklm",
)
"""The ROT13 table."""


@functools.lru_cache(maxsize=1)
def confusables_table() -> dict[int, str]:
    """Map every non-ASCII character that Unicode lists as confusable with an ASCII
    letter or digit to that (lower-case) character. Built once, on first use."""
    data = json.loads(resources.files("confusable_homoglyphs").joinpath("confusables.json").read_text("utf-8"))
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
    return _SPACE.sub(" ", text).strip()


def plain(text: str) -> str:
    """NFKC with invisible characters removed and accents dropped from Latin, Greek and
    Cyrillic letters; case is kept."""
    return _plain_nfkc(unicodedata.normalize("NFKC", text))


def _plain_nfkc(text: str) -> str:
    if text.isascii():
        return text
    text = _INVISIBLE.sub("", text)
    decomposed = unicodedata.normalize("NFD", text)
    stripped = _MARKS_AFTER_LETTER.sub(r"\1", decomposed)
    return unicodedata.normalize("NFC", stripped)


def fold(text: str) -> str:
    """The base matching view: :func:`plain`, case-folded, every whitespace run (newlines
    too) collapsed to one space."""
    return _collapse(plain(text).casefold())


def deobfuscate(folded: str) -> str:
    """Join spaced or punctuated letters and fold leetspeak in an already folded text."""
    text = folded
    if _SPACED.search(text):
        text = _SPACED.sub(lambda m: m.group(0).translate(_SEPARATORS), text)
    if _LEET_WORD.search(text):
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
