"""PHONE_NUMBER: Presidio's phone recognizer, run only where phonenumbers could find a valid number.

:class:`FastPhoneRecognizer` runs Presidio's ``PhoneRecognizer`` (python-phonenumbers'
``PhoneNumberMatcher`` per region) only on windows around the candidates that
phonenumbers' own candidate pattern finds, and only for the regions in which a number
with that many digits can be valid (under VALID leniency, also with the national prefix
its format requires): :class:`RegionGate`, built from phonenumbers' metadata. Same
matches, a fraction of the time (``tests/test_pii_engine.py`` checks it against Presidio's).

phonenumbers' candidate pattern and its date and time-stamp filters are private names of
``phonenumbers.phonenumbermatcher`` and ``phonenumbers.phonenumberutil`` (nothing public
does their job); the ``pii`` extra pins the range they are known in (``phonenumbers>=8.13,<10``)
and ``tests/test_pii_packaging.py`` checks them, and that the fast recognizer still finds
what Presidio's finds (``tests/test_pii_engine.py``). Everything else is public API.

Imports Presidio and phonenumbers (only the engine's modules import this).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

import phonenumbers
import regex
from phonenumbers import (
    COUNTRY_CODE_TO_REGION_CODE,
    COUNTRY_CODES_FOR_NON_GEO_REGIONS,
    PhoneMetadata,
    PhoneNumberMatcher,
    region_code_for_country_code,
)

# Private to phonenumbers (no public equivalent): the matcher's candidate pattern and the date
# and time-stamp filters it applies before parsing. Pinned range and checks: see the module docstring.
from phonenumbers.phonenumbermatcher import _PATTERN as PHONE_CANDIDATE
from phonenumbers.phonenumbermatcher import _SLASH_SEPARATED_DATES, _TIME_STAMPS, _TIME_STAMPS_SUFFIX
from phonenumbers.phonenumberutil import _SECOND_NUMBER_START_PATTERN as _SECOND_NUMBER_START
from presidio_analyzer import EntityRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts
from presidio_analyzer.predefined_recognizers import PhoneRecognizer

from guardfn.pii.context import REQUEST

_FIRST_GROUP_ONLY = re.compile(r"\(?\\1\)?")
"""A national-prefix formatting rule that is the first group alone ("\\1", "(\\1)"): no prefix written."""


def first_group_only(rule: str | None) -> bool:
    """Whether a national-prefix formatting rule writes no national prefix (phonenumbers' own test, public data)."""
    return rule is None or _FIRST_GROUP_ONLY.fullmatch(rule) is not None


STRONG_PHONE_KEY = "guardfn_strong_format"
"""Recognition-metadata key: the valid phone number is written with ``+`` or in digit groups."""

_DIGIT_GROUPS = re.compile(r"[0-9]+")
_UNICODE_DIGIT_GROUPS = re.compile(r"\d+")


class _ShiftedMatch:
    """A phonenumbers match moved from window offsets to text offsets."""

    __slots__ = ("end", "number", "raw_string", "start")

    def __init__(self, match: Any, offset: int) -> None:
        self.start = match.start + offset
        self.end = match.end + offset
        self.raw_string = match.raw_string
        self.number = match.number


_NUMBER_TYPES = (
    "premium_rate",
    "toll_free",
    "shared_cost",
    "voip",
    "personal_number",
    "pager",
    "uan",
    "voicemail",
    "fixed_line",
    "mobile",
)
"""The number types ``phonenumbers.number_type`` tries; a valid number matches one of them."""


class RegionGate:
    """A cheap necessary condition for ``PhoneNumberMatcher(text, region, VALID)`` to match.

    A valid number's national significant number (NSN) has one of the possible lengths
    and matches the pattern of one number type (fixed line, mobile ...) of a region
    sharing its country code: that is what ``is_valid_number`` checks, with
    phonenumbers' own metadata. The NSN is the
    digits of some run of digit groups of the candidate (inner matches and extensions
    drop whole groups), possibly without the national prefix (or transformed by the
    region's prefix rule) or a leading country code. Numbers written with an
    international dialling prefix pass the gate: any country's number may follow. Numbers
    written with ``+`` are not gated (see :meth:`FastPhoneRecognizer.analyze`).
    """

    def __init__(self, region: str, prefix_rule: bool = True) -> None:
        meta: Any = PhoneMetadata.metadata_for_region(region)
        if meta is None:
            raise ValueError(f"phonenumbers has no metadata for region {region!r}")
        self.cc = str(meta.country_code)
        self.npfp = re.compile(meta.national_prefix_for_parsing) if meta.national_prefix_for_parsing else None
        self.transform = meta.national_prefix_transform_rule
        self.idd = re.compile(meta.international_prefix) if meta.international_prefix else None
        self.lengths: set[int] = set()
        general = []
        patterns = []
        for other in COUNTRY_CODE_TO_REGION_CODE.get(meta.country_code, (region,)):
            other_meta: Any = PhoneMetadata.metadata_for_region(other)
            if other_meta is None:
                continue
            self.lengths.update(n for n in other_meta.general_desc.possible_length if n > 0)
            general.append(other_meta.general_desc.national_number_pattern)
            # is_valid_number needs the number to be of some type: one of these patterns.
            for kind in _NUMBER_TYPES:
                desc = getattr(other_meta, kind, None)
                if desc is not None and desc.national_number_pattern:
                    patterns.append(desc.national_number_pattern)
        self.general = re.compile("(?:" + ")|(?:".join(general) + ")")
        self.min_length = min(self.lengths, default=1)
        if self.transform and not re.fullmatch(r"[$\\]\d", self.transform):
            self.min_length = 1  # a transform rule may lengthen the number: no length shortcut
        # an international dialling prefix, then a country code and a number
        self.idd_min_length = 1 + _min_international_digits() if self.idd is not None else 10**6
        self.pattern = re.compile("(?:" + ")|(?:".join(patterns) + ")" if patterns else "(?!)")
        self._international_digits = _min_international_digits()
        self.floor = min(self.min_length, self.idd_min_length)
        """Fewer digits than this in a candidate: no reading of it can be valid here."""
        # What VALID leniency checks of a number read in national format, with the metadata of
        # the country code's main region (see _is_national_prefix_present_if_required).
        self.prefix_rule = prefix_rule
        main: Any = PhoneMetadata.metadata_for_region(region_code_for_country_code(meta.country_code)) or meta
        self._formats = [
            (
                re.compile(fmt.leading_digits_pattern[-1]) if fmt.leading_digits_pattern else None,
                re.compile(fmt.pattern),
                bool(
                    fmt.national_prefix_formatting_rule
                    and not fmt.national_prefix_optional_when_formatting
                    and not first_group_only(fmt.national_prefix_formatting_rule)
                ),
            )
            for fmt in main.number_format
        ]
        npfp = main.national_prefix_for_parsing
        self._prefix_partial: Any = regex.compile(npfp) if npfp else None

    def prefix_missing(self, nsn: str) -> bool:
        """True when ``nsn``, read as written (nothing stripped), fails VALID's national-prefix check.

        phonenumbers' VALID leniency rejects a number read in national format (no ``+``, no
        dialling prefix, no country code) when the formatting rule phonenumbers chooses for
        it (``_choose_formatting_pattern_for_number``, mirrored here) requires the national
        prefix (e.g. a leading "0") and the candidate's digits do not start with one. Those
        digits start with ``nsn`` (an extension may follow), so when no string starting
        with ``nsn`` can begin with a national prefix (a partial match says so), it is absent.
        """
        if not self.prefix_rule:
            return False
        if self._prefix_partial is not None and self._prefix_partial.match(nsn, partial=True) is not None:
            return False  # a national prefix may be there: leave it to phonenumbers
        for leading, pattern, requires in self._formats:
            if (leading is None or leading.match(nsn)) and pattern.fullmatch(nsn):
                return requires
        return False

    def _stripped(self, number: str) -> list[str]:
        """What one national-prefix strip may leave of ``number`` (phonenumbers'
        ``_maybe_strip_national_prefix_carrier_code``, without its viability checks)."""
        if self.npfp is None:
            return []
        m = self.npfp.match(number)
        if not m:
            return []
        out = [number[m.end() :]]
        if self.transform and m.lastindex:
            with contextlib.suppress(re.error, IndexError):
                out.append(m.expand(self.transform.replace("$", "\\")) + number[m.end() :])
        return out

    def _readings(self, digits: str) -> list[str]:
        """The national significant numbers parsing may read from ``digits`` other than ``digits``.

        In national format parsing strips a national prefix at most once; after a country code
        written without ``+`` it may strip one twice (once in ``_maybe_extract_country_code``,
        once in ``parse``).
        """
        out = self._stripped(digits)
        if digits.startswith(self.cc):
            rest = digits[len(self.cc) :]
            for once in (rest, *self._stripped(rest)):
                out.append(once)
                out.extend(self._stripped(once))
        return out

    def admits(self, groups: list[str]) -> bool:
        """True unless no number valid for this region can be read from these digit groups."""
        if sum(map(len, groups)) < self.floor:
            return False  # every reading is shorter than any valid number
        lengths, general, pattern = self.lengths, self.general.fullmatch, self.pattern.fullmatch
        idd = self.idd.match if self.idd is not None else None
        npfp = self.npfp.match if self.npfp is not None else None
        international = self._international_digits
        for i in range(len(groups)):
            digits = ""
            for j in range(i, len(groups)):
                digits += groups[j]
                if idd is not None and (m := idd(digits)) and len(digits) - m.end() >= international:
                    return True
                if len(digits) < self.min_length:
                    continue
                # read as written: valid, and not missing a national prefix it must have
                if len(digits) in lengths and general(digits) and pattern(digits) and not self.prefix_missing(digits):
                    return True
                if (npfp is None or not npfp(digits)) and not digits.startswith(self.cc):
                    continue  # nothing to strip: read as written only
                for nsn in self._readings(digits):
                    if len(nsn) in lengths and general(nsn) and pattern(nsn):
                        return True
        return False


@lru_cache(maxsize=1)
def _min_international_digits() -> int:
    """The fewest digits (country code included) of any valid number written internationally."""
    lengths = []
    for region in phonenumbers.SUPPORTED_REGIONS:
        meta: Any = PhoneMetadata.metadata_for_region(region)
        if meta is not None:
            lengths.append(len(str(meta.country_code)) + min(n for n in meta.general_desc.possible_length if n > 0))
    for code in COUNTRY_CODES_FOR_NON_GEO_REGIONS:
        meta = PhoneMetadata.metadata_for_nongeo_region(code)
        if meta is not None:
            lengths.append(len(str(code)) + min(n for n in meta.general_desc.possible_length if n > 0))
    return min(lengths, default=1)


_LINE_BREAK = re.compile(r"[\n\r\v\f\x1c-\x1e\x85\u2028\u2029]")
_GAP_FILLER = re.compile(r"[ \t\u00a0,\-]+")


def _may_chain(gap: str, limit: int) -> bool:
    """Whether a candidate could run on across ``gap`` into the next one."""
    if _LINE_BREAK.search(gap):
        return False
    return len(_GAP_FILLER.sub("", gap)) <= limit


@lru_cache(maxsize=8)
def _chain_gap(limit: int) -> re.Pattern[str]:
    """Full-matches exactly the gaps :func:`_may_chain` accepts, in one regex call."""
    filler = r"[ \t\u00a0,\-]*"
    other = r"[^ \t\u00a0,\-\n\r\v\f\x1c-\x1e\x85\u2028\u2029]"
    return re.compile(rf"{filler}(?:{other}{filler}){{0,{limit}}}")


# Where a candidate of phonenumbers' pattern can start: its optional opening bracket or plus,
# or a digit (the pattern's \d, Unicode digits, as here).
_CANDIDATE_START = re.compile(r"[(\[\uff08\uff3b+\uff0b\d]")


def phone_candidates(text: str) -> Iterator[re.Match[str]]:
    """``PHONE_CANDIDATE.finditer(text)``, trying the pattern only where a candidate can start.

    Every candidate starts with a bracket, a plus or a digit; finditer tries each position in
    turn and moves past a match, as this does, so the matches are the same.
    """
    search, match = _CANDIDATE_START.search, PHONE_CANDIDATE.match
    pos = 0
    while (first := search(text, pos)) is not None:
        found = match(text, first.start())
        if found is None:
            pos = first.start() + 1
            continue
        yield found
        pos = max(found.end(), first.start() + 1)


def _is_date_candidate(text: str, start: int, end: int) -> bool:
    """phonenumbers' matcher drops this candidate as a date or time stamp before parsing it."""
    candidate = text[start:end]
    if "/" in candidate or "\\" in candidate:  # both patterns need a slash
        if _SECOND_NUMBER_START.search(candidate):
            return False  # the matcher trims it and goes on from inside: not this simple case
        if _SLASH_SEPARATED_DATES.search(candidate):
            return True
    # a time stamp needs ":" just after the candidate
    return text.startswith(":", end) and bool(_TIME_STAMPS.search(candidate) and _TIME_STAMPS_SUFFIX.match(text, end))


def _has_plus(text: str) -> bool:
    return "+" in text or "\uff0b" in text


def _digit_groups(text: str) -> list[str]:
    if text.isascii():
        return _DIGIT_GROUPS.findall(text)
    return [phonenumbers.normalize_digits_only(g) for g in _UNICODE_DIGIT_GROUPS.findall(text)]


class FastPhoneRecognizer(PhoneRecognizer):
    """Presidio's PhoneRecognizer, run only where phonenumbers could find a valid number.

    phonenumbers' ``PhoneNumberMatcher`` scans the whole text once per region (eight by
    default) and parses every digit run it meets. This recognizer finds the candidates
    once, with phonenumbers' own candidate pattern, groups neighbours into windows (with
    the characters the matcher inspects around a candidate), and runs the same matcher
    per region on a window only when a cheap necessary condition built from phonenumbers'
    metadata (:class:`RegionGate`) says a valid number of that region could be there.
    Once a window is covered by a match, the other regions could only find the same or
    a contained span, which the analyzer drops. Scores are Presidio's (0.4); matches in
    a strong format are marked for :class:`CalibratingContextEnhancer`.
    """

    GAP_CHARS = 16
    """Neighbouring candidates share a window unless more than this many characters other
    than spaces, tabs, commas and hyphens, or a line break, lie between them.

    After an inner match the matcher resumes inside a candidate, and the candidate it then
    reads may run on through an extension ("ext. 55", spaces and commas allowed) into the
    next one: the window must hold both for the matcher to see what it sees in the text.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # VALID and stricter leniencies check the national prefix (phonenumbers' _verify).
        prefix_rule = (self.leniency or 0) >= phonenumbers.Leniency.VALID
        self._gates = {region: RegionGate(region, prefix_rule) for region in self.supported_regions}
        self._floor = min((gate.floor for gate in self._gates.values()), default=0)

    def _windows(self, text: str) -> Iterator[tuple[int, int, list[tuple[int, int]]]]:
        """(start, end, candidate spans) of groups of neighbouring phone candidates."""
        spans: list[tuple[int, int]] = []
        chain = _chain_gap(self.GAP_CHARS).fullmatch
        for cand in phone_candidates(text):
            s, e = cand.span()
            if spans and not chain(text, spans[-1][1], s):
                yield spans[0][0], spans[-1][1], spans
                spans = []
            spans.append((s, e))
        if spans:
            yield spans[0][0], spans[-1][1], spans

    def _admits(self, region: str, candidate_groups: list[list[str]]) -> bool:
        """Whether ``region``'s matcher could find a number among these candidates (digit groups each)."""
        gate = self._gates[region]
        for groups in candidate_groups:
            digits = sum(map(len, groups))
            if digits >= self._floor and digits >= gate.floor and gate.admits(groups):
                return True
        return False

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        """Phone numbers in ``text`` (score 0.4, Presidio's), marked when strongly formatted."""
        results: list[RecognizerResult] = []
        seen: set[tuple[int, int]] = set()
        # Without a context word or a strong format a match scores PhoneRecognizer.SCORE:
        # when that is below the request's threshold, such candidates need no parsing.
        request = REQUEST.get()
        if request is not None and request.text is not text:
            request = None
        weak_useless = request is not None and request.threshold > self.SCORE
        covered = request.covered if request is not None else []
        for start, end, candidates in self._windows(text):
            if end - start < self._floor and not _has_plus(text[start:end]):
                continue  # fewer characters than any region's gate needs digits (see _admits)
            spans = [
                (s, e)
                for s, e in candidates
                if not any(cs <= s and e <= ce for cs, ce in covered) and not _is_date_candidate(text, s, e)
            ]
            if not spans:
                continue
            candidate_groups = [_digit_groups(text[s:e]) for s, e in spans]
            plus = any(_has_plus(text[s:e]) for s, e in spans)
            if weak_useless and not plus and not any(len(g) >= 2 for g in candidate_groups):
                # A match would be a bare run of digits: below threshold without a context word. It
                # starts in some candidate, after its start with only digits and punctuation (no
                # context word) in between, so it has context only if that candidate's start has.
                # Most such runs no region admits: that is asked first, being cheaper.
                if not any(self._admits(region, candidate_groups) for region in self.supported_regions):
                    continue
                if request is None or not any(request.has_context(s, self.context) for s, _ in candidates):
                    continue
            lo, hi = max(0, start - 1), min(len(text), end + 3)
            window = text[lo:hi]
            found: list[tuple[int, int]] = []
            # Regions in order, each only where its gate admits a candidate (a number written with
            # "+" parses the same whatever the region: the first region always tries it); once every
            # candidate is covered, the other regions could only find the same or contained spans.
            for index, region in enumerate(self.supported_regions):
                if not (plus and index == 0) and not self._admits(region, candidate_groups):
                    continue
                for match in PhoneNumberMatcher(window, region, leniency=self.leniency or 0):
                    if not start <= match.start + lo < end:
                        continue
                    shifted = _ShiftedMatch(match, lo)
                    span = (shifted.start, shifted.end)
                    found.append(span)
                    if span in seen:
                        continue
                    seen.add(span)
                    result = self._get_recognizer_result(shifted, text, region, nlp_artifacts)
                    if is_strong_format(shifted):
                        result.recognition_metadata[STRONG_PHONE_KEY] = True
                    results.append(result)
                if found and all(any(fs <= s and e <= fe for fs, fe in found) for s, e in spans):
                    break
        return EntityRecognizer.remove_duplicates(results) if results else []


def is_strong_format(match: _ShiftedMatch) -> bool:
    """Written like a phone number: with a ``+`` country code, or in two or more digit groups.

    The match is already a valid number for its region (phonenumbers' VALID leniency).
    A bare run of digits is not strong: it could be any identifier.
    """
    raw = match.raw_string.lstrip("([ \uff08\uff3b")
    return raw.startswith(("+", "\uff0b")) or len(_digit_groups(raw)) >= 2


def is_valid_phone(value: str) -> bool:
    """True when phonenumbers reads ``value`` as a valid number of one of Presidio's default regions."""
    for region in PhoneRecognizer.DEFAULT_SUPPORTED_REGIONS:
        try:
            if phonenumbers.is_valid_number(phonenumbers.parse(value, region)):
                return True
        except phonenumbers.NumberParseException:
            continue
    return False
