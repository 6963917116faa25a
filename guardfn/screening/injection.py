"""Prompt-injection screening: ``screen(text)`` -> risk, score and the ids of the rules
that matched (never the matched text).

How a text is screened, in time linear in its length:

1. :func:`guardfn.screening.normalize.views` builds the views to match: the base
   lower-cased view, then (when they differ) the view with confusable letters folded
   and the view with spaced letters joined and leetspeak folded; plus the
   case-preserving ``plain`` view and the NFKC-only ``raw`` view.
2. Each view is matched once against an RE2 *set* of every rule for it (one pass
   for all rules; RE2 never backtracks).
3. Encoded payloads are decoded and screened again (up to two levels deep): base64
   runs, hex runs (``69676e6f7265``, ``\\x69\\x67``, ``69 67 6e``), percent-encoding,
   text hidden in Unicode tag characters, and the whole text read as ROT13.
4. A rule that matched only after de-obfuscation adds ``evasion.obfuscated``; one that
   matched only inside a decoded payload adds ``encoding.<kind>``.
5. The weights of the distinct rules combine as a noisy-OR into ``score``; ``risk`` is
   ``high`` from 0.8, ``medium`` from 0.5, otherwise ``low``.
"""

from __future__ import annotations

import base64
import binascii
import functools
import math
import urllib.parse
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

import re2

from guardfn.screening.normalize import ROT13, views
from guardfn.screening.patterns import RULES, Rule

Risk = Literal["low", "medium", "high"]
RISK_LEVELS: tuple[Risk, ...] = ("low", "medium", "high")
MEDIUM_AT = 0.5
"""The score from which the risk is ``medium``."""
HIGH_AT = 0.8
"""The score from which the risk is ``high``."""
MAX_DEPTH = 2
"""How many levels of encoded payloads are decoded (base64 inside base64 is two)."""
MAX_CANDIDATES = 256
"""At most this many encoded runs are decoded per text (the longest first)."""

_NEVER = r"[^\x00-\x{10FFFF}]"  # synthetic rules are set by the screener, never matched

OBFUSCATED = Rule(
    "evasion.obfuscated",
    "an injection rule matched only after undoing confusables, spaced letters or leetspeak",
    0.6,
    _NEVER,
)
ENCODED: dict[str, Rule] = {
    kind: Rule(f"encoding.{kind}", f"an injection rule matched inside a {label} payload", 0.6, _NEVER)
    for kind, label in (
        ("base64", "base64-encoded"),
        ("hex", "hex-encoded"),
        ("percent", "percent-encoded"),
        ("rot13", "ROT13"),
        ("tags", "Unicode-tag-character"),
    )
}
SYNTHETIC: dict[str, Rule] = {OBFUSCATED.id: OBFUSCATED, **{r.id: r for r in ENCODED.values()}}

_BASE64 = re2.compile(r"[A-Za-z0-9+/]{16,}={0,2}|[A-Za-z0-9_-]{16,}={0,2}")
_HEX = re2.compile(
    r"(?:\\x[0-9A-Fa-f]{2}){6,}|(?:0x)?(?:[0-9A-Fa-f]{2}){8,}|[0-9A-Fa-f]{2}(?:[ ,:-][0-9A-Fa-f]{2}){7,}"
)
_HEX_DIGITS = re2.compile(r"\\x|0x|[^0-9A-Fa-f]")
_UNPRINTABLE = re2.compile(r"[^\PC\n\r\t ]+")
_NON_LETTERS = re2.compile(r"\PL+")
_PERCENT = re2.compile(r"(?:%[0-9A-Fa-f]{2}[^%\s]{0,3}){6,}")


def risk_for(score: float) -> Risk:
    """The risk level of a score."""
    if score >= HIGH_AT:
        return "high"
    if score >= MEDIUM_AT:
        return "medium"
    return "low"


def risk_at_least(risk: str, level: str) -> bool:
    """Whether ``risk`` is at or above ``level`` (``"low" < "medium" < "high"``)."""
    return RISK_LEVELS.index(risk) >= RISK_LEVELS.index(level)  # type: ignore[arg-type]


@dataclass(frozen=True)
class ScreenResult:
    """The outcome of screening one text.

    ``rules`` are the ids of the rules that matched, heaviest first; ``counts`` how many
    times each matched (in the view where it matched most); ``encodings`` the kinds of
    encoded payload that contained a match. No matched text is kept.
    """

    risk: Risk
    score: float
    rules: tuple[str, ...] = ()
    counts: dict[str, int] = field(default_factory=dict)
    encodings: tuple[str, ...] = ()

    @property
    def matched(self) -> bool:
        """Whether any rule matched."""
        return bool(self.rules)

    def at_least(self, level: str) -> bool:
        """Whether a rule matched and the risk is at or above ``level``."""
        return self.matched and risk_at_least(self.risk, level)

    def to_dict(self) -> dict[str, object]:
        """JSON-safe form (ids and counts only)."""
        return {
            "risk": self.risk,
            "score": round(self.score, 4),
            "rules": list(self.rules),
            "counts": dict(self.counts),
            "encodings": list(self.encodings),
        }


CLEAN = ScreenResult(risk="low", score=0.0)


class _RuleSet:
    """The rules for one target view, compiled into an RE2 set plus one regex each."""

    def __init__(self, rules: list[Rule]) -> None:
        self.rules = rules
        self.regexes: list[re2._Regexp] = []
        options = re2.Options()
        options.max_mem = 256 << 20
        self.set = re2.Set.SearchSet(options) if rules else None
        for rule in rules:
            try:
                self.regexes.append(re2.compile(rule.pattern, options))
                assert self.set is not None
                self.set.Add(rule.pattern)
            except re2.error as exc:
                raise ValueError(f"injection rule {rule.id!r} has an invalid RE2 pattern: {exc}") from None
        if self.set is not None:
            self.set.Compile()

    def match(self, text: str) -> list[int]:
        if self.set is None or not text:
            return []
        return list(self.set.Match(text) or ())

    def count(self, index: int, text: str) -> int:
        return sum(1 for _ in self.regexes[index].finditer(text))


class Screener:
    """A compiled rule set. Build once (it compiles RE2 sets), screen many texts.

    ``rules`` defaults to :data:`guardfn.screening.patterns.RULES`; a later rule with
    the id of an earlier one replaces it; rules of weight 0 are dropped.
    """

    def __init__(self, rules: Iterable[Rule] | None = None) -> None:
        by_id: dict[str, Rule] = {}
        for rule in RULES if rules is None else rules:
            if not isinstance(rule, Rule):
                raise TypeError(f"injection rules must be guardfn.screening.patterns.Rule, not {type(rule).__name__}")
            if not rule.id or not 0.0 <= rule.weight <= 1.0:
                raise ValueError(f"injection rule {rule.id!r}: needs an id and a weight between 0 and 1")
            by_id[rule.id] = rule
        active = [r for r in by_id.values() if r.weight > 0]
        self.rules: dict[str, Rule] = {r.id: r for r in active}
        self._sets = {target: _RuleSet([r for r in active if r.target == target]) for target in ("text", "plain", "raw")}

    def screen(self, text: str, *, decode: bool = True) -> ScreenResult:
        """Screen ``text``: match every view, decode encoded payloads and screen them too."""
        counts = self._screen(text, depth=0 if decode else MAX_DEPTH)
        return self._result(counts)

    # -- internals -------------------------------------------------------------------

    def _result(self, counts: dict[str, int]) -> ScreenResult:
        if not counts:
            return CLEAN
        weights = {rid: (self.rules.get(rid) or SYNTHETIC[rid]).weight for rid in counts}
        score = 1.0 - math.prod(1.0 - w for w in weights.values())
        score = round(min(score, 1.0), 6)
        ordered = tuple(sorted(counts, key=lambda rid: (-weights[rid], rid)))
        encodings = tuple(kind for kind, rule in ENCODED.items() if rule.id in counts)
        return ScreenResult(risk=risk_for(score), score=score, rules=ordered, counts=dict(counts), encodings=encodings)

    def _match_texts(self, texts: Iterable[str]) -> tuple[dict[str, int], set[str]]:
        """Rule counts over the lower-case views, and the ids matched in the first view."""
        ruleset = self._sets["text"]
        counts: dict[str, int] = {}
        first: set[str] = set()
        for position, view in enumerate(texts):
            for index in ruleset.match(view):
                rid = ruleset.rules[index].id
                n = ruleset.count(index, view)
                counts[rid] = max(counts.get(rid, 0), n)
                if position == 0:
                    first.add(rid)
        return counts, first

    def _screen(self, text: str, depth: int) -> dict[str, int]:
        v = views(text)
        counts, in_base = self._match_texts(v.texts)
        if any(rid not in in_base and self.rules[rid].weight >= 0.4 for rid in counts):
            counts[OBFUSCATED.id] = 1
        for target, view in (("plain", v.plain), ("raw", v.raw)):
            ruleset = self._sets[target]
            for index in ruleset.match(view):
                rid = ruleset.rules[index].id
                counts[rid] = max(counts.get(rid, 0), ruleset.count(index, view))
        if depth >= MAX_DEPTH:
            return counts
        payloads: list[tuple[str, str]] = []
        if v.tags:
            payloads.append(("tags", v.tags))
        payloads.extend(_decoded_payloads(v.plain))
        for kind, payload in payloads:
            inner = self._screen(payload, depth + 1)
            _merge(counts, inner, ENCODED[kind].id)
        if depth == 0:
            rot = v.texts[0].translate(ROT13)
            inner, _ = self._match_texts([rot])
            # a ROT13 reading only counts for rules strong enough to matter alone
            # and only for rules the text did not already match as written
            inner = {rid: n for rid, n in inner.items() if self.rules[rid].weight >= MEDIUM_AT and rid not in counts}
            _merge(counts, inner, ENCODED["rot13"].id)
        return counts


def _merge(counts: dict[str, int], inner: dict[str, int], marker: str) -> None:
    if not inner:
        return
    for rid, n in inner.items():
        counts[rid] = counts.get(rid, 0) + n
    counts[marker] = counts.get(marker, 0) + 1


def _printable_text(data: bytes) -> str | None:
    """``data`` as text when it is mostly readable UTF-8 with some letters, else None."""
    if len(data) < 6:
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    printable = len(text) if text.isprintable() else len(_UNPRINTABLE.sub("", text))
    letters = len(_NON_LETTERS.sub("", text))
    if printable < 0.95 * len(text) or letters < 0.5 * len(text) or " " not in text.strip():
        return None
    return text


def _decode_base64(run: str) -> str | None:
    body = run.rstrip("=")
    if len(body) % 4 == 1:
        return None
    padded = body + "=" * (-len(body) % 4)
    try:
        if "-" in body or "_" in body:
            data = base64.urlsafe_b64decode(padded)
        else:
            data = base64.b64decode(padded, validate=True)
    except (binascii.Error, ValueError):
        return None
    return _printable_text(data)


def _decode_hex(run: str) -> str | None:
    digits = _HEX_DIGITS.sub("", run)
    if len(digits) % 2:
        digits = digits[:-1]
    try:
        return _printable_text(bytes.fromhex(digits))
    except ValueError:
        return None


def _decoded_payloads(text: str) -> list[tuple[str, str]]:
    """Readable payloads hidden in base64, hex or percent-encoded runs of ``text``."""
    found: list[tuple[str, str]] = []
    candidates: list[tuple[str, str]] = []
    for m in _BASE64.finditer(text):
        run = m.group(0)
        # an all-hex run is handled as hex; a run without digits or case mix is a word
        if not any(c.isdigit() or c in "+/=" for c in run) and (run.islower() or run.isupper()):
            continue
        candidates.append(("base64", run))
    for m in _HEX.finditer(text):
        candidates.append(("hex", m.group(0)))
    if text.count("%") >= 6:
        for m in _PERCENT.finditer(text):
            candidates.append(("percent", m.group(0)))
    if len(candidates) > MAX_CANDIDATES:
        candidates = sorted(candidates, key=lambda c: -len(c[1]))[:MAX_CANDIDATES]
    for kind, run in candidates:
        if kind == "base64":
            decoded = _decode_base64(run)
        elif kind == "hex":
            decoded = _decode_hex(run)
        else:
            decoded = urllib.parse.unquote(run)
            decoded = decoded if decoded != run else None
        if decoded:
            found.append((kind, decoded))
    return found


@functools.lru_cache(maxsize=1)
def default_screener() -> Screener:
    """The screener with the built-in rules only (plugins' rules: see the injection stage)."""
    return Screener()


def screen(text: str) -> ScreenResult:
    """Screen ``text`` with the built-in rules: risk, score and matched rule ids."""
    return default_screener().screen(text)


__all__ = [
    "ENCODED",
    "HIGH_AT",
    "MEDIUM_AT",
    "OBFUSCATED",
    "RISK_LEVELS",
    "Risk",
    "ScreenResult",
    "Screener",
    "default_screener",
    "risk_at_least",
    "risk_for",
    "screen",
]
