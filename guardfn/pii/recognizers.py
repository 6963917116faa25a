"""Presidio's recognizers, configured to run offline, fast, and to score well without a model.

Everything here subclasses or configures Presidio's own recognizers; the regexes and
validators (Luhn, IBAN and NHS checksums, base58/bech32, SSN invalidation) stay
Presidio's. What guardfn changes:

* :class:`OfflineEmailRecognizer` validates the domain with tldextract's bundled
  public-suffix snapshot; Presidio's calls ``tldextract.extract``, which fetches the
  list over the network on first use. It runs Presidio's pattern only on the runs of
  characters that pattern can match holding an "@" (same matches, less scanning).
* :class:`FastPhoneRecognizer` runs Presidio's ``PhoneRecognizer`` (python-phonenumbers'
  ``PhoneNumberMatcher`` per region) only on windows around the candidates that
  phonenumbers' own candidate pattern finds, and only for the regions in which a
  number with that many digits can be valid (under VALID leniency, also with the
  national prefix its format requires). Same matches, a fraction of the time.
* :class:`CalibratingContextEnhancer` is Presidio's lemma context enhancer with
  whole-word matching and a floor of :data:`CONTEXT_SCORE` when a context word is near,
  followed by context-free boosts where a validator already vouches for the match
  (dashed SSNs that pass Presidio's invalidation, IP addresses Python parses, valid
  phone numbers written with a country code or in digit groups) and a correction for UK NHS
  numbers, whose checksum passes for one ten-digit number in eleven (so a US phone
  number is no longer "UK_NHS, score 1.0").

Importing this module imports Presidio (heavy): only :mod:`guardfn.pii.engine` does.
"""

from __future__ import annotations

import bisect
import contextlib
import contextvars
import ipaddress
import re
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

import phonenumbers
import regex
import tldextract
from phonenumbers import PhoneMetadata, PhoneNumberMatcher
from phonenumbers.phonenumbermatcher import _PATTERN as PHONE_CANDIDATE
from phonenumbers.phonenumbermatcher import _SLASH_SEPARATED_DATES, _TIME_STAMPS, _TIME_STAMPS_SUFFIX
from phonenumbers.phonenumberutil import _SECOND_NUMBER_START_PATTERN as _SECOND_NUMBER_START
from phonenumbers.phonenumberutil import (
    COUNTRY_CODE_TO_REGION_CODE,
    COUNTRY_CODES_FOR_NON_GEO_REGIONS,
    _formatting_rule_has_first_group_only,
    region_code_for_country_code,
)
from presidio_analyzer import EntityRecognizer, RecognizerResult
from presidio_analyzer.context_aware_enhancers import LemmaContextAwareEnhancer
from presidio_analyzer.nlp_engine import NlpArtifacts
from presidio_analyzer.predefined_recognizers import (
    CreditCardRecognizer,
    CryptoRecognizer,
    EmailRecognizer,
    IbanRecognizer,
    IpRecognizer,
    NhsRecognizer,
    PhoneRecognizer,
    UsBankRecognizer,
    UsLicenseRecognizer,
    UsPassportRecognizer,
    UsSsnRecognizer,
)

from guardfn.pii.ids import after_id_label, is_version, not_a_card, phone_word_near

CONTEXT_SCORE = 0.75
"""Score a match gets at least when one of its recognizer's context words is near it."""

VALIDATED_SCORE = 0.8
"""Score of a match a validator vouches for without context (see the module docstring)."""

STRONG_PHONE_SCORE = 0.75
"""Score of a valid phone number written with ``+`` or in digit groups, without context."""

NHS_UNCONFIRMED_SCORE = 0.7
"""Score of a checksum-valid NHS number with no context word and no sign of being a phone number."""

NHS_PHONE_LIKE_SCORE = 0.3
"""Score of a checksum-valid NHS number that is (part of) a phone number: below any sane threshold."""


WEAK_PATTERN_SCORE = 0.5
"""Patterns scoring below this are never lifted without a context word (calibration needs 0.5)."""

CALIBRATED_ENTITIES = frozenset({"US_SSN", "IP_ADDRESS", "PHONE_NUMBER", "UK_NHS", "CREDIT_CARD"})
"""Entities whose scores :class:`CalibratingContextEnhancer` may change without a context word."""

STRONG_PHONE_KEY = "guardfn_strong_format"
"""Recognition-metadata key: the valid phone number is written with ``+`` or in digit groups."""

# tldextract with the suffix list bundled in the package: never a network request, no cache dir.
_TLD = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None, fallback_to_snapshot=True)

_DIGIT_GROUPS = re.compile(r"[0-9]+")
_UNICODE_DIGIT_GROUPS = re.compile(r"\d+")
_DASHED_SSN = re.compile(r"[0-9]{3}-[0-9]{2}-[0-9]{4}")
_INTL_PREFIX = re.compile(r"\+\s?\(?\d{1,3}\)?[\s.-]?\(?$")


# Every character Presidio's e-mail pattern can match (its local-part class, "@", and the
# domain's word characters, hyphens and dots), with the same (``regex``) meaning of \w.
_EMAIL_CHUNK = regex.compile(r"[!#$%&'*+\-/=?^_`{|}~.\w@]+")


class OfflineEmailRecognizer(EmailRecognizer):
    """Presidio's email recognizer, validating the domain against tldextract's bundled snapshot.

    Its pattern is run only on the runs of characters it can match that hold an "@": every
    match lies inside one such run, and the character just outside a run is no word
    character, which its ``\b`` sees like the start or end of the text. Scanning 400
    characters of prose with it costs more than validating what it finds.
    """

    def analyze(
        self,
        text: str,
        entities: list[str],
        nlp_artifacts: NlpArtifacts | None = None,
        regex_flags: int | None = None,
    ) -> list[RecognizerResult]:
        """Presidio's pattern analysis, run on each run of e-mail characters holding an "@"."""
        results: list[RecognizerResult] = []
        for chunk in _EMAIL_CHUNK.finditer(text):
            if "@" not in chunk.group():
                continue
            offset = chunk.start()
            for result in super().analyze(chunk.group(), entities, nlp_artifacts, regex_flags):
                result.start += offset
                result.end += offset
                results.append(result)
        return results

    def validate_result(self, pattern_text: str) -> bool:
        """True when the text after the ``@`` ends in a known public suffix (offline)."""
        return _TLD(pattern_text).fqdn != ""


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


class _RegionGate:
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
                    and not _formatting_rule_has_first_group_only(fmt.national_prefix_formatting_rule)
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


def _is_date_candidate(text: str, start: int, end: int) -> bool:
    """phonenumbers' matcher drops this candidate as a date or time stamp before parsing it."""
    candidate = text[start:end]
    if _SECOND_NUMBER_START.search(candidate):
        return False  # the matcher trims it and goes on from inside: not this simple case
    if _SLASH_SEPARATED_DATES.search(candidate):
        return True
    return bool(_TIME_STAMPS.search(candidate) and _TIME_STAMPS_SUFFIX.match(text, end))


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
    metadata (:class:`_RegionGate`) says a valid number of that region could be there.
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
        self._gates = {region: _RegionGate(region, prefix_rule) for region in self.supported_regions}
        self._floor = min((gate.floor for gate in self._gates.values()), default=0)

    def _windows(self, text: str) -> Iterator[tuple[int, int, list[tuple[int, int]]]]:
        """(start, end, candidate spans) of groups of neighbouring phone candidates."""
        spans: list[tuple[int, int]] = []
        chain = _chain_gap(self.GAP_CHARS).fullmatch
        for cand in PHONE_CANDIDATE.finditer(text):
            s, e = cand.span()
            if spans and not chain(text, spans[-1][1], s):
                yield spans[0][0], spans[-1][1], spans
                spans = []
            spans.append((s, e))
        if spans:
            yield spans[0][0], spans[-1][1], spans

    def _admitting_regions(self, candidate_groups: list[list[str]], plus: bool) -> list[str]:
        """The regions whose matcher could find a number among these candidates (digit groups each).

        A number written with "+" parses the same whatever the region: the first region
        always tries it; the others only where a national reading could be valid.
        """
        admitted: set[str] = set()
        for groups in candidate_groups:
            digits = sum(map(len, groups))
            if digits < self._floor:
                continue
            for region, gate in self._gates.items():
                if region not in admitted and digits >= gate.floor and gate.admits(groups):
                    admitted.add(region)
        return [
            region for index, region in enumerate(self.supported_regions) if region in admitted or (plus and index == 0)
        ]

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
                continue  # fewer characters than any region's gate needs digits (see _admitting_regions)
            spans = [
                (s, e)
                for s, e in candidates
                if not any(cs <= s and e <= ce for cs, ce in covered) and not _is_date_candidate(text, s, e)
            ]
            if not spans:
                continue
            candidate_groups = [_digit_groups(text[s:e]) for s, e in spans]
            plus = any(_has_plus(text[s:e]) for s, e in spans)
            regions = self._admitting_regions(candidate_groups, plus)
            if not regions:
                continue
            if (
                weak_useless
                and not plus
                and not any(len(g) >= 2 for g in candidate_groups)
                and not (request is not None and any(request.has_context(s, self.context) for s, _ in candidates))
            ):
                # A match would be a bare run of digits with no context word: below threshold. It
                # starts in some candidate, after its start with only digits and punctuation (no
                # context word) in between, so it has context only if that candidate's start has.
                continue
            lo, hi = max(0, start - 1), min(len(text), end + 3)
            window = text[lo:hi]
            found: list[tuple[int, int]] = []
            for region in regions:
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
                    if _is_strong_format(shifted):
                        result.recognition_metadata[STRONG_PHONE_KEY] = True
                    results.append(result)
                if found and all(any(fs <= s and e <= fe for fs, fe in found) for s, e in spans):
                    break
        return EntityRecognizer.remove_duplicates(results) if results else []


def _is_strong_format(match: _ShiftedMatch) -> bool:
    """Written like a phone number: with a ``+`` country code, or in two or more digit groups.

    The match is already a valid number for its region (phonenumbers' VALID leniency).
    A bare run of digits is not strong: it could be any identifier.
    """
    raw = match.raw_string.lstrip("([ \uff08\uff3b")
    return raw.startswith(("+", "\uff0b")) or len(_digit_groups(raw)) >= 2


def _naive_lemma(lower: str) -> str:
    """A crude English lemma for context matching when no lemmatizer is installed."""
    if len(lower) > 3 and lower.endswith("s") and not lower.endswith(("ss", "us", "is")):
        return lower[:-1]
    return lower


class CalibratingContextEnhancer(LemmaContextAwareEnhancer):
    """Presidio's context enhancer, then validator-based calibration (see the module docstring)."""

    def __init__(self) -> None:
        super().__init__(
            context_similarity_factor=0.35,
            min_score_with_context_similarity=CONTEXT_SCORE,
            context_prefix_count=5,
            context_suffix_count=0,
            context_matching_mode="whole_word",
        )

    def enhance_using_context(
        self,
        text: str,
        raw_results: list[RecognizerResult],
        nlp_artifacts: NlpArtifacts,
        recognizers: list[EntityRecognizer],
        context: list[str] | None = None,
    ) -> list[RecognizerResult]:
        """Boost by context words (Presidio), then calibrate by validators."""
        results: list[RecognizerResult] = super().enhance_using_context(
            text, raw_results, nlp_artifacts, recognizers, context
        )
        self.calibrate(text, results)
        return results

    def calibrate(self, text: str, results: list[RecognizerResult]) -> None:
        """Adjust scores where validators vouch for a match (in place); see the module docstring.

        Called on its own for results with no context word anywhere before them, which
        the context step could not have changed.
        """
        phones = [r for r in results if r.entity_type == "PHONE_NUMBER"]
        for result in results:
            boosted = bool(result.analysis_explanation and result.analysis_explanation.supportive_context_word)
            value = text[result.start : result.end]
            kind = result.entity_type
            if kind == "UK_NHS":
                result.score = _nhs_score(text, result, boosted, phones)
            elif kind == "PHONE_NUMBER" and after_id_label(text, result.start) and not phone_word_near(text, result.start):
                result.score = 0.0  # "PO 4500-123-4567", "Order #: 212-555-0199": an identifier
            elif kind == "IP_ADDRESS" and is_version(text, result.start, result.end):
                result.score = 0.0  # "version 10.0.1.5", "v1.2.3.4"
            elif kind == "CREDIT_CARD" and not_a_card(text, result.start, result.end):
                result.score = 0.0  # an ISBN / EAN or a labelled identifier
            elif boosted:
                continue
            elif (kind == "US_SSN" and result.score >= 0.5 and _DASHED_SSN.fullmatch(value)) or (
                kind == "IP_ADDRESS" and result.score >= 0.5 and _is_ip(value)
            ):
                result.score = max(result.score, VALIDATED_SCORE)
            elif kind == "PHONE_NUMBER" and (result.recognition_metadata or {}).get(STRONG_PHONE_KEY):
                result.score = max(result.score, STRONG_PHONE_SCORE)


def _nhs_score(text: str, result: RecognizerResult, boosted: bool, phones: list[RecognizerResult]) -> float:
    if boosted:
        return 1.0
    if _INTL_PREFIX.search(text, max(0, result.start - 8), result.start):
        return NHS_PHONE_LIKE_SCORE
    if any(p.start < result.end and result.start < p.end for p in phones):
        return NHS_PHONE_LIKE_SCORE
    if _is_valid_phone(text[result.start : result.end]):
        return NHS_PHONE_LIKE_SCORE
    return NHS_UNCONFIRMED_SCORE


def _is_valid_phone(value: str) -> bool:
    """True when phonenumbers reads ``value`` as a valid number of one of Presidio's default regions."""
    for region in PhoneRecognizer.DEFAULT_SUPPORTED_REGIONS:
        try:
            if phonenumbers.is_valid_number(phonenumbers.parse(value, region)):
                return True
        except phonenumbers.NumberParseException:
            continue
    return False


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_interface(value)
    except ValueError:
        return False
    return True


_TOKEN = re.compile(r"(\w+|'\w+)|[^\w\s]")
_WORD_RUN = re.compile(r"\w+")


def _odd_word(lowered: str) -> bool:
    """A context word :meth:`RequestContext.has_keyword` leaves to the tokenizer: non-ASCII
    (lower-casing may turn a run of word characters into other characters) or an "'s"-like one."""
    return not lowered.isascii() or lowered.startswith("'")


def fast_artifacts(text: str, nlp_engine: Any = None) -> NlpArtifacts:
    """NLP artifacts for context words from a regex tokenizer (no spaCy pass; lemmas are crude).

    Keywords follow Presidio's rule (lemmas that are not stop words or punctuation),
    with spaCy's English stop-word list.
    """
    tokens: list[str] = []
    indices: list[int] = []
    lemmas: list[str] = []
    keywords: list[str] = []
    stop = _stop_words()
    lowered = text.lower()
    # lower() can change lengths (e.g. "İ"): then offsets would shift, so lower per token
    lower: str | None = lowered if len(lowered) == len(text) else None
    for m in _TOKEN.finditer(text):
        start, end = m.span()
        token = m.group()
        tokens.append(token)
        indices.append(start)
        lemma = lower[start:end] if lower is not None else token.lower()
        if len(lemma) > 3 and lemma[-1] == "s" and lemma[-2] not in "sui":  # _naive_lemma, inlined
            lemma = lemma[:-1]
        lemmas.append(lemma)
        if m.lastindex and lemma not in stop and lemma != "be":
            keywords.append(lemma)
    # Presidio's enhancer only needs len() of each token and its offset: strings will do.
    artifacts = NlpArtifacts(
        entities=[],
        tokens=tokens,  # type: ignore[arg-type]
        tokens_indices=indices,
        lemmas=lemmas,
        nlp_engine=None,
        language="en",
    )
    artifacts.keywords = keywords
    artifacts.nlp_engine = nlp_engine
    return artifacts


@lru_cache(maxsize=1)
def _stop_words() -> frozenset[str]:
    from spacy.lang.en.stop_words import STOP_WORDS

    return frozenset(STOP_WORDS)


class RequestContext:
    """What one analysis request shares with the recognizers: its threshold and, lazily, its tokens."""

    phone_ceiling = max(CONTEXT_SCORE, STRONG_PHONE_SCORE)
    """The highest score a phone number can get; detections above it win any overlap with one."""

    def __init__(self, text: str, threshold: float, artifacts: NlpArtifacts | None = None) -> None:
        self.text = text
        self.threshold = threshold
        self._artifacts = artifacts
        self.real_lemmas = artifacts is not None
        self._first_positions: dict[str, int] = {}
        self._lower: str | None = None
        self._lower_exact = True
        self.covered: list[tuple[int, int]] = []
        """Spans of detections scoring above :attr:`phone_ceiling` (set between recognizer rounds)."""
        self._keyword_counts: list[int] | None = None
        self._ends: list[int] | None = None
        self._lemmas_lower: list[str] = []
        self._keywords: set[str] = set()
        self._positions: dict[frozenset[str], list[int]] = {}

    @property
    def artifacts(self) -> NlpArtifacts:
        """The request's NLP artifacts (a regex tokenization unless an NLP pass ran)."""
        if self._artifacts is None:
            self._artifacts = fast_artifacts(self.text)
        return self._artifacts

    def has_context(self, start: int, context: list[str]) -> bool:
        """Whether Presidio's context enhancer would find one of ``context`` for a match at ``start``.

        The enhancer takes the token covering ``start`` and the keywords (lemmas that are
        not stop words) walking back from it, six at most, and looks for a context word
        among them (whole words). This answers the same question with prefix counts.
        """
        first = self.first_mention(context)
        if first is None or first > start:
            return False  # no context word up to the match: no tokenizing needed
        if self._artifacts is None:
            return self._has_context_nearby(start, {w.lower() for w in context})
        if self._keyword_counts is None:
            self._index_keywords()
        assert self._keyword_counts is not None and self._ends is not None
        i = bisect.bisect_right(self._ends, start)
        if i >= len(self._ends):
            return True  # the enhancer would not find the token: do not skip anything
        wanted = {w.lower() for w in context}
        counts = self._keyword_counts
        limit = _context_enhancer().context_prefix_count + 1
        return any(c <= i and counts[i] - counts[c] < limit for c in self._context_positions(wanted))

    def _has_context_nearby(self, start: int, wanted: set[str]) -> bool:
        """:meth:`has_context` for the regex tokenizer, tokenizing only the text just before ``start``.

        Tokens never cross whitespace, so tokenizing from just after a whitespace character
        gives the same tokens as tokenizing the whole text. The window grows until it holds
        the six keywords the enhancer would look at, or reaches the start of the text.
        """
        text = self.text
        limit = _context_enhancer().context_prefix_count + 1
        stop = _stop_words()
        width = 160
        while True:
            a = max(0, start - width)
            while a > 0 and not text[a - 1].isspace():
                a -= 1
            seen: list[tuple[str, bool]] = []  # (lemma, is keyword) up to the covering token
            covered = False
            for m in _TOKEN.finditer(text, a):
                lemma = _naive_lemma(m.group().lower())
                seen.append((lemma, bool(m.lastindex) and lemma not in stop and lemma != "be"))
                if m.end() > start:
                    covered = True
                    break
            if not covered:
                return True  # the enhancer would not find the token: do not skip anything
            keywords = [lemma for lemma, is_keyword in reversed(seen) if is_keyword][:limit]
            if any(lemma in wanted for lemma in keywords):
                return True
            if len(keywords) >= limit or a == 0:
                return False
            width *= 2

    def first_mention(self, words: list[str]) -> int | None:
        """Offset at or before the first token whose lemma could be one of ``words``, or ``None``.

        A cheap test that never misses what the context enhancer would find: such a token
        contains the word (case-insensitively). With a real lemmatizer (an NLP pass ran)
        any token may be one, so it answers 0.
        """
        if self.real_lemmas:
            return 0
        if self._lower is None:
            lowered = self.text.lower()
            self._lower = lowered
            self._lower_exact = len(lowered) == len(self.text)
        best: int | None = None
        for word in words:
            pos = self._first_positions.get(word)
            if pos is None:
                pos = self._lower.find(word.lower())
                self._first_positions[word] = pos
            if pos >= 0 and (best is None or pos < best):
                best = pos
        if best is not None and not self._lower_exact:
            return 0  # lower() changed lengths: offsets are not comparable, stay conservative
        return best

    def has_keyword(self, words: list[str]) -> bool:
        """Whether one of ``words`` (lower-cased) is one of the request's keywords.

        With the regex tokenizer this needs no tokenizing: a keyword is the crude lemma of
        a token that is a whole run of word characters not just after an apostrophe (that
        would be part of an "'s"-like token), and is no stop word. A case-insensitive
        search finds every run that lower-cases to a word or the word plus "s"; the lemma
        of each is then computed as :func:`fast_artifacts` does.
        """
        lowered = {word.lower() for word in words}
        if self.real_lemmas or self._artifacts is not None or any(_odd_word(word) for word in lowered):
            keywords = self.keyword_set()
            return any(word in keywords for word in lowered)
        # ASCII words that are not runs of word characters (e.g. "lic#") are never keywords
        wanted = {word for word in lowered if _WORD_RUN.fullmatch(word)} - _stop_words() - {"be"}
        if not wanted:
            return False
        for m in _word_pattern(tuple(sorted(wanted))).finditer(self.text):
            if _naive_lemma(m.group().lower()) in wanted:
                return True
        return False

    def keyword_set(self) -> set[str]:
        """The request's keywords (lower-case lemmas that are not stop words)."""
        if self._keyword_counts is None:
            self._index_keywords()
        return self._keywords

    def _index_keywords(self) -> None:
        artifacts = self.artifacts
        keywords = set(artifacts.keywords)
        counts: list[int] = []
        total = 0
        for lemma in artifacts.lemmas:
            total += lemma.lower() in keywords
            counts.append(total)
        self._keyword_counts = counts
        self._lemmas_lower = [lemma.lower() for lemma in artifacts.lemmas]
        self._keywords = keywords
        self._ends = [i + len(t) for i, t in zip(artifacts.tokens_indices, artifacts.tokens, strict=True)]

    def _context_positions(self, wanted: set[str]) -> list[int]:
        key = frozenset(wanted)
        positions = self._positions.get(key)
        if positions is None:
            positions = [t for t, lemma in enumerate(self._lemmas_lower) if lemma in wanted and lemma in self._keywords]
            self._positions[key] = positions
        return positions


@lru_cache(maxsize=64)
def _word_pattern(words: tuple[str, ...]) -> re.Pattern[str]:
    """Any of ``words``, optionally followed by "s", as a whole run of word characters not
    just after an apostrophe, in any case."""
    alternatives = "|".join(re.escape(word) + "s?" for word in words) or "(?!)"
    return re.compile(rf"(?<![\w'])(?:{alternatives})(?!\w)", re.IGNORECASE)


REQUEST: contextvars.ContextVar[RequestContext | None] = contextvars.ContextVar("guardfn_pii_request", default=None)
"""The analysis request running in this thread or task (set by :class:`guardfn.pii.engine.PIIEngine`)."""


@lru_cache(maxsize=1)
def _context_enhancer() -> CalibratingContextEnhancer:
    return CalibratingContextEnhancer()


# Cheap necessary conditions: a recognizer whose trigger does not match cannot match at all.
# Each is implied by every pattern of its recognizer (Presidio compiles them IGNORECASE;
# \p{Nd} covers the Unicode digits that Presidio's \d matches). RE2's \b is ASCII-only; it is
# kept only next to an ASCII digit ([0-9] or a literal), where a Unicode word boundary (the
# other side is no Unicode word character) is an ASCII one too.
TRIGGERS: dict[str, str] = {
    "EMAIL_ADDRESS": r"@",
    "PHONE_NUMBER": r"\p{Nd}",
    "US_SSN": r"\b(?:[0-9]{5}-[0-9]{4}|[0-9]{3}-[0-9]{6}|[0-9]{9}|[0-9]{3}[- .][0-9]{2}[- .][0-9]{4})\b",
    "CREDIT_CARD": r"\b(?:[1346]\p{Nd}{3}|5[0-5]\p{Nd}{2})[- ]?\p{Nd}{3,4}[- ]?\p{Nd}{3,4}[- ]?\p{Nd}{3}",
    "IBAN_CODE": r"(?i)[A-Z]{2}\p{Nd}{2}",
    "IP_ADDRESS": r"\p{Nd}\.\p{Nd}|:[0-9A-Fa-f]*:",
    "US_PASSPORT": r"(?i)\b[0-9]{9}\b|[A-Z][0-9]{8}\b",
    "US_BANK_NUMBER": r"\b[0-9]{8,17}\b",
    "US_DRIVER_LICENSE": r"(?i)[A-Z\]]\p{Nd}|\p{Nd}[A-Z]|\p{Nd}{6}",
    "UK_NHS": r"\b[0-9]{3}[- ]?[0-9]{3}[- ]?[0-9]{4}\b",
    "CRYPTO": r"(?i)[13][0-9A-Z]{25}",
}
"""Per pattern entity, an RE2 regex that matches wherever any of its recognizer's patterns can."""

LEAN_TRIGGERS: dict[str, str] = {
    "US_SSN": r"\b[0-9]{3}[- .][0-9]{2}[- .][0-9]{4}\b",
}
"""Per entity, an RE2 regex that matches wherever any of its recognizer's patterns scoring at
least :data:`WEAK_PATTERN_SCORE` can: the only ones run when no context word is in the text."""

LEAN = ":lean"
"""Suffix of the :class:`TriggerSet` name of a :data:`LEAN_TRIGGERS` entry."""


def all_triggers() -> dict[str, str]:
    """:data:`TRIGGERS` and :data:`LEAN_TRIGGERS` (named entity + :data:`LEAN`), for one :class:`TriggerSet`."""
    return {**TRIGGERS, **{entity + LEAN: pattern for entity, pattern in LEAN_TRIGGERS.items()}}


class TriggerSet:
    """All triggers in one RE2 set: one pass over the text says which recognizers can match."""

    def __init__(self, triggers: dict[str, str] = TRIGGERS) -> None:
        import re2

        self._names: list[str] = []
        self._set = re2.Set.SearchSet(re2.Options())
        for name, pattern in triggers.items():
            self._names.append(name)
            self._set.Add(pattern)
        self._set.Compile()

    def __call__(self, text: str) -> set[str]:
        """The entity types whose recognizers may match ``text``."""
        return {self._names[i] for i in (self._set.Match(text) or ())}


# Presidio's passport context includes "us", which whole-word matching finds in every
# "send us" and "call us"; the rest of its list is kept.
_PASSPORT_CONTEXT = [w for w in UsPassportRecognizer.CONTEXT if w != "us"]


def build_pattern_recognizers() -> dict[str, EntityRecognizer]:
    """One configured Presidio recognizer per pattern entity."""
    return {
        "EMAIL_ADDRESS": OfflineEmailRecognizer(),
        "PHONE_NUMBER": FastPhoneRecognizer(),
        "US_SSN": UsSsnRecognizer(),
        "CREDIT_CARD": CreditCardRecognizer(),
        "IBAN_CODE": IbanRecognizer(),
        "IP_ADDRESS": IpRecognizer(),
        "US_PASSPORT": UsPassportRecognizer(context=_PASSPORT_CONTEXT),
        "US_BANK_NUMBER": UsBankRecognizer(),
        "US_DRIVER_LICENSE": UsLicenseRecognizer(),
        "UK_NHS": NhsRecognizer(),
        "CRYPTO": CryptoRecognizer(),
    }


def naive_lemma(lower: str) -> str:
    """Public alias of the crude lemma used when the spaCy pipeline has no lemmatizer."""
    return _naive_lemma(lower)
