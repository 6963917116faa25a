"""Prompt-injection screening: ``screen(text)`` -> risk, score and the ids of the rules
that matched (never the matched text).

How a text is screened, in time linear in its length:

1. :func:`guardfn.screening.normalize.views` builds the views to match: the base
   lower-cased view, then (when they differ) the view with confusable letters folded
   and the view with spaced letters joined and leetspeak folded; plus the
   case-preserving ``plain`` view and the NFKC-only ``raw`` view.
2. Each view is matched once against an RE2 *set* of every rule for it (one pass
   for all rules; RE2 never backtracks). A short text first gets one pass of a *gate*
   over all its views and readings together (see :class:`Screener`): the passes the
   gate shows cannot match are skipped, so a clean message costs one RE2 call.
3. Encoded payloads are decoded and screened again (up to two levels deep): base64
   runs, hex runs (``69676e6f7265``, ``\\x69\\x67``, ``69 67 6e``), percent-encoding,
   text hidden in Unicode tag characters, and the whole text read as ROT13.
4. A rule that matched only after de-obfuscation adds ``evasion.obfuscated``; one that
   matched only inside a decoded payload adds ``encoding.<kind>``.
5. The weights of the distinct rules combine as a noisy-OR into the rules' score, but
   rules that matched only inside quoted or code-fenced text or a passage to translate,
   or that a context explains (talk *about* prompts, fiction, code and configuration),
   weigh together at most :data:`guardfn.screening.context.FACTOR`
   (:mod:`guardfn.screening.context`): context alone never reaches ``medium``.
6. The learned screen (:mod:`guardfn.screening.model`) scores every reading of the text
   (views, decoded payloads, hidden ROT13 or reversed text) and keeps the highest
   probability, which the profile's thresholds turn into the model's score (0.5 at
   the ``medium`` threshold, 0.8 at ``high``).
7. Fusion: ``score`` is the higher of the two, except that where the model is confident
   a short English request is benign (probability below the profile's ``veto``; see
   :func:`may_veto`) the rules alone cannot lift the risk above ``low``.
   ``risk`` is ``high`` from 0.8, ``medium`` from 0.5, otherwise ``low``.

Profiles (``screen(text, profile=...)``): ``"prompt"`` for what the user asks and
``"untrusted"`` for data the prompt carries (documents, tool results), where the
question is whether it holds instructions addressed to the assistant; each profile has
its own thresholds, set on calibration data kept apart from training.
"""

from __future__ import annotations

import base64
import binascii
import functools
import itertools
import math
import re
import urllib.parse
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import re2

from guardfn.screening import context
from guardfn.screening.gates import JoinedGate, presence_test
from guardfn.screening.normalize import ROT13, Views, views
from guardfn.screening.patterns import RULES, Rule
from guardfn.screening.readings import STOPWORDS, despaced, hidden_flags, readings_of

if TYPE_CHECKING:
    from guardfn.screening.model import Model, Thresholds

Risk = Literal["low", "medium", "high"]
RISK_LEVELS: tuple[Risk, ...] = ("low", "medium", "high")
MEDIUM_AT = 0.5
"""The score from which the risk is ``medium``."""
HIGH_AT = 0.8
"""The score from which the risk is ``high``."""
MAX_DEPTH = 2
"""How many levels of encoded payloads are decoded (base64 inside base64 is two)."""
MAX_COUNT = 100
"""Matches of one rule are counted up to this number (the count is for metrics)."""
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
        ("reversed", "reversed-text"),
        ("tags", "Unicode-tag-character"),
        ("base32", "base32-encoded"),
        ("base85", "base85/ascii85-encoded"),
        ("binary", "binary (0/1)"),
        ("morse", "Morse-code"),
        ("escape", "\\u/\\x-escaped"),
    )
}
MODEL_RULE = Rule(
    "model.injection",
    "the learned screen's probability is at or above the profile's medium threshold",
    0.5,
    _NEVER,
)
SYNTHETIC: dict[str, Rule] = {
    OBFUSCATED.id: OBFUSCATED,
    MODEL_RULE.id: MODEL_RULE,
    **{r.id: r for r in ENCODED.values()},
}
Profile = Literal["prompt", "untrusted"]
VETO_CAP = 0.45
"""Where the model vetoes the rules, their score is capped here (below ``medium``)."""
VETO_MAX_CHARS = 500
"""The model overrules the rules only on texts up to this long (see :func:`may_veto`)."""
ENGLISH_SHARE = 0.15
"""A text reads as English when at least this share of its words are common English words."""

_BASE64 = re2.compile(r"[A-Za-z0-9+/]{16,}={0,2}|[A-Za-z0-9_-]{16,}={0,2}")
_HEX = re2.compile(
    r"(?:\\x[0-9A-Fa-f]{2}){6,}|(?:0x)?(?:[0-9A-Fa-f]{2}){8,}|[0-9A-Fa-f]{2}(?:[ ,:-][0-9A-Fa-f]{2}){7,}"
)
_HEX_SEPARATORS = str.maketrans("", "", " ,:-\\")
_PERCENT = re2.compile(r"%[0-9A-Fa-f]{2}")
_ESCAPES = re2.compile(r"(?:\\u[0-9A-Fa-f]{4}|\\U[0-9A-Fa-f]{8}|\\x[0-9A-Fa-f]{2}|&#x?[0-9A-Fa-f]{1,6};){4,}")
_ESCAPE_UNIT = re.compile(r"\\u([0-9A-Fa-f]{4})|\\U([0-9A-Fa-f]{8})|\\x([0-9A-Fa-f]{2})|&#(x?)([0-9A-Fa-f]{1,6});")
_BASE32 = re2.compile(r"[A-Z2-7]{16,}={0,6}")
_ASCII85 = re2.compile(r"<~[!-u\s]{10,}~>")
_BASE85 = re2.compile(r"[0-9A-Za-z!#$%&()*+;<=>?@^_`{|}~-]{20,}")
_BINARY = re2.compile(r"(?:[01]{8}[ ,]?){4,}")
_MORSE = re2.compile(r"(?:[.\-]{1,7}(?: ?/ ?| {1,3})){4,}[.\-]{0,7}")
_ANY_ENCODED_PATTERN = "|".join(
    regex.pattern for regex in (_BASE64, _HEX, _ESCAPES, _BASE32, _ASCII85, _BASE85, _BINARY, _MORSE, _PERCENT)
)
_ANY_ENCODED = presence_test(_ANY_ENCODED_PATTERN)
"""One pass that tells whether a text may hold an encoded payload at all."""
TARGETS = ("text", "plain", "raw")
"""The views a rule can run on (:attr:`guardfn.screening.patterns.Rule.target`)."""
ALL_PASSES = frozenset({*TARGETS, "encoded"})
"""Every pass of :meth:`Screener._screen`: the rules of each view, and decoding payloads."""
QUICK_MAX_CHARS = 256
"""Texts up to this length (after NFKC) first go through the screener's one-pass gate
(see :meth:`Screener._gated`), which usually finds a short message clean at once. Longer
texts skip it: they more often hold some fragment a rule starts with, and then the gate
is a pass more rather than a pass saved."""
MORSE_CODE = {
    ".-": "a", "-...": "b", "-.-.": "c", "-..": "d", ".": "e", "..-.": "f", "--.": "g", "....": "h", "..": "i",
    ".---": "j", "-.-": "k", ".-..": "l", "--": "m", "-.": "n", "---": "o", ".--.": "p", "--.-": "q", ".-.": "r",
    "...": "s", "-": "t", "..-": "u", "...-": "v", ".--": "w", "-..-": "x", "-.--": "y", "--..": "z",
    "-----": "0", ".----": "1", "..---": "2", "...--": "3", "....-": "4", ".....": "5", "-....": "6", "--...": "7",
    "---..": "8", "----.": "9", ".-.-.-": ".", "--..--": ",", "..--..": "?", ".----.": "'", "-.-.--": "!",
}
"""International Morse code, for decoding Morse payloads."""


def risk_for(score: float) -> Risk:
    """The risk level of a score."""
    if score >= HIGH_AT:
        return "high"
    if score >= MEDIUM_AT:
        return "medium"
    return "low"


def risk_at_least(risk: str, level: str) -> bool:
    """Whether ``risk`` is at or above ``level`` (``"low" < "medium" < "high"``)."""
    levels: tuple[str, ...] = RISK_LEVELS
    return levels.index(risk) >= levels.index(level)


@dataclass(frozen=True)
class ScreenResult:
    """The outcome of screening one text.

    ``rules`` are the ids of the rules that matched, heaviest first (``model.injection``
    first when the learned screen alone reaches ``medium``); ``counts`` how many times
    each matched (in the view where it matched most); ``encodings`` the kinds of encoded
    payload that contained a match. ``probability`` is the learned screen's (``None``
    when it is off), ``rules_score`` the rules' score after context and veto,
    ``contexts`` what weakened rules (``quoted``, ``translation``, ``about_prompts``,
    ``fiction``), ``profile`` the profile screened for. No matched text is kept.
    """

    risk: Risk
    score: float
    rules: tuple[str, ...] = ()
    counts: dict[str, int] = field(default_factory=dict)
    encodings: tuple[str, ...] = ()
    probability: float | None = None
    rules_score: float = 0.0
    contexts: tuple[str, ...] = ()
    profile: str = "prompt"

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
            "probability": None if self.probability is None else round(self.probability, 4),
            "rules_score": round(self.rules_score, 4),
            "contexts": list(self.contexts),
            "profile": self.profile,
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
        return sum(1 for _ in itertools.islice(self.regexes[index].finditer(text), MAX_COUNT))


class Screener:
    """A compiled rule set and the learned screen. Build once (it compiles RE2 sets),
    screen many texts.

    ``rules`` defaults to :data:`guardfn.screening.patterns.RULES`; a later rule with
    the id of an earlier one replaces it; rules of weight 0 are dropped. ``model`` is
    the learned screen: ``"default"`` (the shipped model, read on first use), a
    :class:`guardfn.screening.model.Model`, or ``None`` for the rules alone.
    """

    def __init__(self, rules: Iterable[Rule] | None = None, *, model: Model | Literal["default"] | None = "default") -> None:
        by_id: dict[str, Rule] = {}
        for rule in RULES if rules is None else rules:
            if not isinstance(rule, Rule):
                raise TypeError(f"injection rules must be guardfn.screening.patterns.Rule, not {type(rule).__name__}")
            if not rule.id or not 0.0 <= rule.weight <= 1.0:
                raise ValueError(f"injection rule {rule.id!r}: needs an id and a weight between 0 and 1")
            by_id[rule.id] = rule
        active = [r for r in by_id.values() if r.weight > 0]
        self.rules: dict[str, Rule] = {r.id: r for r in active}
        self._sets = {target: _RuleSet([r for r in active if r.target == target]) for target in TARGETS}
        # the built-in "raw" rules all look for non-ASCII characters: skip them on ASCII text
        builtin = {r.id: r for r in RULES}
        self._raw_only_unicode = all(builtin.get(r.id) == r for r in self._sets["raw"].rules)
        # the gate: every rule, grouped by the view it runs on, then the encoded-payload pattern
        groups = [(target, rule.pattern) for target in TARGETS for rule in self._sets[target].rules]
        groups.append(("encoded", _ANY_ENCODED_PATTERN))
        self._gate = JoinedGate.build([pattern for _, pattern in groups], 256 << 20)
        self._gate_groups = [group for group, _ in groups]
        self._model_spec = model

    @property
    def model(self) -> Model | None:
        """The learned screen (the shipped model is read on first use), or ``None``."""
        if self._model_spec == "default":
            from guardfn.screening.model import default_model

            self._model_spec = default_model()
        return self._model_spec

    def screen(
        self, text: str, *, decode: bool = True, profile: Profile = "prompt", use_model: bool = True
    ) -> ScreenResult:
        """Screen ``text`` for ``profile`` (``"prompt"``: the user's request;
        ``"untrusted"``: data such as a document or tool result): match every view,
        decode encoded payloads and screen them too, weigh rules in context, score the
        readings with the learned screen and fuse (see the module docstring).
        ``use_model=False`` screens with the rules alone."""
        if profile not in ("prompt", "untrusted"):
            raise ValueError(f"unknown screening profile {profile!r}; choose 'prompt' or 'untrusted'")
        v, counts, payloads = self._analyse(text, decode)
        model = self.model if use_model else None
        probability = None
        if model is not None:
            probability = max(model.probability(r) for r in readings_of(v, payloads))
        damped: set[str] = set()
        contexts: tuple[str, ...] = ()
        if counts:
            damped, contexts = self._in_context(text, v, counts)
        return self._result(counts, damped, contexts, probability, profile, v)

    def readings(self, text: str) -> list[str]:
        """The texts the learned screen scores for ``text`` (see
        :func:`guardfn.screening.readings.readings_of`)."""
        v, _, payloads = self._analyse(text, True)
        return readings_of(v, payloads)

    # -- internals -------------------------------------------------------------------

    def _analyse(self, text: str, decode: bool) -> tuple[Views, dict[str, int], list[str]]:
        """The views of ``text``, the rule counts and the decoded payloads (top level)."""
        v = views(text)
        payloads: list[str] = []
        counts = self._screen(text, depth=0 if decode else MAX_DEPTH, v=v, sink=payloads)
        return v, counts, payloads

    def _in_context(self, text: str, v: Views, counts: dict[str, int]) -> tuple[set[str], tuple[str, ...]]:
        """The rules a context weakens and the contexts found (see :mod:`guardfn.screening.context`)."""
        damped: set[str] = set()
        found: list[str] = []
        stripped = context.unquoted(text)
        if stripped is not None:
            outside = self._screen(stripped, depth=MAX_DEPTH)
            inside = {rid for rid in counts if rid not in outside and rid in self.rules}
            if inside:
                damped |= inside
                found.append("translation" if context.is_translation(v.texts[0]) else "quoted")
        topics = set(context.topics(v.texts[0]))
        if context.is_code(v.plain):
            topics.add("code")
        for topic in sorted(topics):
            hit = {rid for rid in context.DAMPED[topic] if rid in counts}
            if hit:
                damped |= hit
                found.append(topic)
        return damped, tuple(found)

    def _result(
        self,
        counts: dict[str, int],
        damped: set[str] | None = None,
        contexts: tuple[str, ...] = (),
        probability: float | None = None,
        profile: str = "prompt",
        v: Views | None = None,
    ) -> ScreenResult:
        damped = damped or set()
        weights = {rid: (self.rules.get(rid) or SYNTHETIC[rid]).weight for rid in counts}
        free = 1.0 - math.prod(1.0 - w for rid, w in weights.items() if rid not in damped)
        weak = context.FACTOR * (1.0 - math.prod(1.0 - w for rid, w in weights.items() if rid in damped))
        rules_score = 1.0 - (1.0 - free) * (1.0 - weak) if counts else 0.0
        score = rules_score
        counts = dict(counts)
        if probability is not None and self.model is not None:
            thresholds = self.model.thresholds_for(profile)
            vetoable = rules_score >= MEDIUM_AT and probability < thresholds.veto
            allowed = vetoable and v is not None and may_veto(v.raw, v.texts[0])
            score, rules_score, model_score = fuse(rules_score, probability, thresholds, allowed)
            if model_score >= MEDIUM_AT:
                counts[MODEL_RULE.id] = 1
                weights[MODEL_RULE.id] = 2.0 if model_score >= rules_score else MODEL_RULE.weight
        if not counts:
            return ScreenResult(risk="low", score=round(score, 6), probability=probability, profile=profile)
        score = round(min(score, 1.0), 6)
        ordered = tuple(sorted(counts, key=lambda rid: (-weights[rid], rid)))
        encodings = tuple(kind for kind, rule in ENCODED.items() if rule.id in counts)
        return ScreenResult(
            risk=risk_for(score),
            score=score,
            rules=ordered,
            counts=counts,
            encodings=encodings,
            probability=probability,
            rules_score=round(min(rules_score, 1.0), 6),
            contexts=contexts,
            profile=profile,
        )

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

    def _gated(self, v: Views, readings: tuple[str, str]) -> frozenset[str]:
        """Which passes may find something, from one pass of the gate over every view of
        the text and its ROT13 and reversed readings: a subset of ``"text"`` (the lower-
        case views and the readings), ``"plain"``, ``"raw"`` and ``"encoded"`` (decoding
        payloads). Empty means the text is clean.

        The gate (:class:`guardfn.screening.gates.JoinedGate`) holds every rule and the
        encoded-payload pattern, so a pass left out has no match in any view. A rule
        matching in a view it does not run on only adds its pass back, at no risk.
        """
        if self._gate is None or v.tags or len(v.raw) > QUICK_MAX_CHARS:
            return ALL_PASSES
        parts = [v.plain, *v.texts, *readings]
        if not (self._raw_only_unicode and v.raw.isascii()):
            parts.append(v.raw)
        return frozenset(self._gate_groups[index] for index in self._gate.hits(parts))

    def _screen(self, text: str, depth: int, v: Views | None = None, sink: list[str] | None = None) -> dict[str, int]:
        if v is None:
            v = views(text)
        # depth 0 also screens the whole text read as ROT13 and backwards (see below)
        readings: tuple[str, str] | None = None
        joined: str | None = None
        hidden: tuple[bool, ...] = (False, False)
        if depth == 0:
            readings = (v.texts[0].translate(ROT13), v.texts[0][::-1])
            joined = despaced(v.plain)
            hidden = hidden_flags(readings, v.texts[0])
            # spaced-out or hidden text is screened in full (the gate sees neither)
            passes = ALL_PASSES if joined is not None or any(hidden) else self._gated(v, readings)
            if not passes:
                return {}
        else:
            passes = ALL_PASSES
        counts: dict[str, int] = {}
        if "text" in passes:
            counts, in_base = self._match_texts(v.texts)
            if any(rid not in in_base and self.rules[rid].weight >= 0.4 for rid in counts):
                counts[OBFUSCATED.id] = 1
        for target, view in (("plain", v.plain), ("raw", v.raw)):
            if target not in passes or (target == "raw" and self._raw_only_unicode and view.isascii()):
                continue
            ruleset = self._sets[target]
            for index in ruleset.match(view):
                rid = ruleset.rules[index].id
                counts[rid] = max(counts.get(rid, 0), ruleset.count(index, view))
        if depth >= MAX_DEPTH:
            return counts
        payloads: list[tuple[str, str]] = []
        if v.tags:
            payloads.append(("tags", v.tags))
        if "encoded" in passes and _ANY_ENCODED(v.plain):
            payloads.extend(_decoded_payloads(v.plain))
        for kind, payload in payloads:
            if sink is not None:
                sink.append(payload)
            inner = self._screen(payload, depth + 1, sink=sink)
            _merge(counts, inner, ENCODED[kind].id)
        if depth == 0 and joined is not None:
            if sink is not None:
                sink.append(joined)
            inner = self._screen(joined, depth + 1)
            _merge(counts, {r: n for r, n in inner.items() if r not in counts}, OBFUSCATED.id)
        if readings is not None and "text" in passes:
            # the whole text read as ROT13 and backwards: screened in full when the text
            # reads as English only that way (it was written so to hide it); otherwise
            # only rules strong enough to matter alone count, and only new ones
            for kind, reading, is_hidden in zip(("rot13", "reversed"), readings, hidden, strict=True):
                if is_hidden:
                    unhidden = v.plain.translate(ROT13) if kind == "rot13" else v.plain[::-1]  # case kept
                    if sink is not None:
                        sink.append(unhidden)
                    inner = self._screen(unhidden, depth + 1, sink=sink)
                else:
                    inner, _ = self._match_texts([reading])
                    inner = {r: n for r, n in inner.items() if self.rules[r].weight >= MEDIUM_AT}
                _merge(counts, {r: n for r, n in inner.items() if r not in counts}, ENCODED[kind].id)
        return counts


def _merge(counts: dict[str, int], inner: dict[str, int], marker: str) -> None:
    if not inner:
        return
    for rid, n in inner.items():
        counts[rid] = counts.get(rid, 0) + n
    counts[marker] = counts.get(marker, 0) + 1


def _printable_text(data: bytes) -> str | None:
    """``data`` as text when it is mostly readable UTF-8, half of it letters or digits, else None."""
    if len(data) < 6:
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    printable = len(text)
    if not text.isprintable():
        printable = sum(map(str.isprintable, text)) + text.count("\n") + text.count("\r") + text.count("\t")
    letters = sum(map(str.isalnum, text))
    if len(text) < 8 or printable < 0.95 * len(text) or letters < 0.5 * len(text):
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
    digits = run.replace("0x", "").replace("\\x", "").translate(_HEX_SEPARATORS)
    if len(digits) % 2:
        digits = digits[:-1]
    try:
        return _printable_text(bytes.fromhex(digits))
    except ValueError:
        return None


def _decode_base32(run: str) -> str | None:
    body = run.rstrip("=")
    try:
        return _printable_text(base64.b32decode(body + "=" * (-len(body) % 8)))
    except (binascii.Error, ValueError):
        return None


def _decode_base85(run: str) -> str | None:
    try:
        if run.startswith("<~"):
            return _printable_text(base64.a85decode(run, adobe=True))
        return _printable_text(base64.b85decode(run))
    except (binascii.Error, ValueError):
        return None


def _decode_binary(run: str) -> str | None:
    bits = run.replace(" ", "").replace(",", "")
    usable = len(bits) - len(bits) % 8
    return _printable_text(int(bits[:usable], 2).to_bytes(usable // 8, "big")) if usable else None


def _decode_morse(run: str) -> str | None:
    words = []
    for word in re.split(r" ?/ ?| {2,}", run.strip()):
        letters = [MORSE_CODE.get(code) for code in word.split()]
        if not letters or None in letters:
            return None
        words.append("".join(letters))  # type: ignore[arg-type]
    text = " ".join(words)
    return text if len(text) >= 6 and " " in text else None


def _decode_escapes(run: str) -> str | None:
    def unit(m: re.Match[str]) -> str:
        code = m.group(1) or m.group(2) or m.group(3)
        if code is not None:
            return chr(int(code, 16))
        return chr(int(m.group(5), 16 if m.group(4) else 10))

    try:
        return _printable_text(_ESCAPE_UNIT.sub(unit, run).encode("utf-8", "replace"))
    except (ValueError, OverflowError):
        return None


def _decode_percent(text: str) -> str | None:
    decoded = urllib.parse.unquote(text)
    return decoded if decoded != text else None


_DECODERS = {
    "base64": _decode_base64,
    "base32": _decode_base32,
    "base85": _decode_base85,
    "hex": _decode_hex,
    "binary": _decode_binary,
    "morse": _decode_morse,
    "escape": _decode_escapes,
    "percent": _decode_percent,
}


def _decoded_payloads(text: str) -> list[tuple[str, str]]:
    """Readable payloads hidden in encoded runs of ``text`` (base64, base32, base85,
    hex, binary, Morse, escapes, percent-encoding)."""
    candidates: list[tuple[str, str]] = []

    def add(kind: str, regex: re2._Regexp, limit: int = MAX_CANDIDATES) -> None:
        for m in itertools.islice(regex.finditer(text), limit):
            candidates.append((kind, m.group(0)))

    for m in itertools.islice(_BASE64.finditer(text), MAX_CANDIDATES * 4):
        run = m.group(0)
        # a run of one case without digits or +/= is a word, not base64
        if not any(c.isdigit() or c in "+/=" for c in run) and (run.islower() or run.isupper()):
            continue
        candidates.append(("base64", run))
        if run.isupper() or run.rstrip("=").isupper():
            candidates.append(("base32", run))
    add("hex", _HEX)
    if "~>" in text:
        add("base85", _ASCII85)
    add("binary", _BINARY)
    add("escape", _ESCAPES)
    if text.count(".-") + text.count("-.") >= 4:
        add("morse", _MORSE)
    if len(candidates) < MAX_CANDIDATES:
        for m in itertools.islice(_BASE85.finditer(text), MAX_CANDIDATES):
            run = m.group(0)
            if len(run) % 5 in (0, 2, 3, 4) and not run.isalnum() and any(c in "{}|~^`" for c in run):
                candidates.append(("base85", run))
    if len(candidates) > MAX_CANDIDATES:
        candidates = sorted(candidates, key=lambda c: -len(c[1]))[:MAX_CANDIDATES]
    if sum(1 for _ in itertools.islice(_PERCENT.finditer(text), 3)) >= 3:
        candidates.append(("percent", text))
    found: list[tuple[str, str]] = []
    for kind, run in candidates:
        decoded = _DECODERS[kind](run)
        if decoded:
            found.append((kind, decoded))
    return found


@functools.lru_cache(maxsize=1)
def default_screener() -> Screener:
    """The screener with the built-in rules only (plugins' rules: see the injection stage)."""
    return Screener()


def screen(text: str, *, profile: Profile = "prompt") -> ScreenResult:
    """Screen ``text`` with the built-in rules and the shipped model: risk, score,
    matched rule ids and the model's probability."""
    return default_screener().screen(text, profile=profile)


__all__ = [
    "ENCODED",
    "HIGH_AT",
    "MEDIUM_AT",
    "MODEL_RULE",
    "OBFUSCATED",
    "RISK_LEVELS",
    "Profile",
    "Risk",
    "ScreenResult",
    "Screener",
    "default_screener",
    "fuse",
    "is_english",
    "may_veto",
    "model_readings",
    "risk_at_least",
    "risk_for",
    "screen",
]


def model_readings(text: str) -> list[str]:
    """The texts the learned screen scores for ``text`` (see
    :func:`guardfn.screening.readings.readings_of`): its views, decoded payloads
    (one level) and hidden ROT13 / reversed readings."""
    return default_screener().readings(text)


def fuse(rules_score: float, probability: float, thresholds: Thresholds, allowed: bool) -> tuple[float, float, float]:
    """Fuse the rules' score with the model's probability under a profile's thresholds:
    ``(score, rules_score after the veto, model_score)`` (see the module docstring).
    ``allowed``: whether the model may overrule the rules on this text (:func:`may_veto`)."""
    model_score = thresholds.score(probability)
    if rules_score >= MEDIUM_AT and probability < thresholds.veto and allowed:
        rules_score = min(rules_score, VETO_CAP)
    return max(model_score, rules_score), rules_score, model_score


def may_veto(text: str, folded: str) -> bool:
    """Whether the model may overrule the rules on ``text`` (``folded``: its folded view):
    a short request (at most :data:`VETO_MAX_CHARS`) in English. In a longer text a rule
    may see an instruction planted in a small part of it that the model's window dilutes;
    in other languages the model knows too little."""
    return len(text) <= VETO_MAX_CHARS and is_english(folded)


def is_english(folded: str) -> bool:
    """Whether a folded text reads as English: at least :data:`ENGLISH_SHARE` of its
    words are common English words (the model was trained mostly on English, so it
    overrules the rules only there)."""
    words = folded.split()
    return bool(words) and sum(1 for w in words if w in STOPWORDS) >= ENGLISH_SHARE * len(words)

