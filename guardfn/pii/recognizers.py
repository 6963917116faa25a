"""Presidio's recognizers, configured to run offline, fast, and to score well without a model.

Everything here subclasses or configures Presidio's own recognizers; the regexes and
validators (Luhn, IBAN and NHS checksums, base58/bech32, SSN invalidation) stay
Presidio's. What guardfn changes:

* :class:`OfflineEmailRecognizer` validates the domain with tldextract's bundled
  public-suffix snapshot; Presidio's calls ``tldextract.extract``, which fetches the
  list over the network on first use. It runs Presidio's pattern only on the runs of
  characters that pattern can match holding an "@" (same matches, less scanning).
* Phone numbers: :class:`guardfn.pii.phones.FastPhoneRecognizer` (Presidio's, run only
  where a valid number can be).
* :class:`CalibratingContextEnhancer` is Presidio's lemma context enhancer with
  whole-word matching and a floor of :data:`~guardfn.pii.context.CONTEXT_SCORE` when a
  context word is near (the engine applies the same lift without tokenizing the text:
  :mod:`guardfn.pii.context`), followed by context-free boosts where a validator already
  vouches for the match (dashed SSNs that pass Presidio's invalidation, IP addresses Python
  parses, valid phone numbers written with a country code or in digit groups) and a
  correction for UK NHS numbers, whose checksum passes for one ten-digit number in eleven
  (so a US phone number is no longer "UK_NHS, score 1.0").
* :data:`TRIGGERS`: one RE2 pass says which recognizers can match at all.

Importing this module imports Presidio (heavy): only :mod:`guardfn.pii.engine` does.
"""

from __future__ import annotations

import ipaddress
import re

import regex
import tldextract
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
    UsBankRecognizer,
    UsLicenseRecognizer,
    UsPassportRecognizer,
    UsSsnRecognizer,
)

from guardfn.pii.context import CONTEXT_PREFIX_COUNT, CONTEXT_SCORE, CONTEXT_SIMILARITY_FACTOR
from guardfn.pii.ids import after_id_label, is_version, not_a_card
from guardfn.pii.phones import STRONG_PHONE_KEY, FastPhoneRecognizer, is_valid_phone

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

# tldextract with the suffix list bundled in the package: never a network request, no cache dir.
_TLD = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None, fallback_to_snapshot=True)

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


class CalibratingContextEnhancer(LemmaContextAwareEnhancer):
    """Presidio's context enhancer, then validator-based calibration (see the module docstring)."""

    def __init__(self) -> None:
        super().__init__(
            context_similarity_factor=CONTEXT_SIMILARITY_FACTOR,
            min_score_with_context_similarity=CONTEXT_SCORE,
            context_prefix_count=CONTEXT_PREFIX_COUNT,
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

        The engine calls it after its own context step (:func:`guardfn.pii.context.boost`,
        the same lift as :meth:`enhance_using_context`).
        """
        phones = [r for r in results if r.entity_type == "PHONE_NUMBER"]
        for result in results:
            boosted = bool(result.analysis_explanation and result.analysis_explanation.supportive_context_word)
            value = text[result.start : result.end]
            kind = result.entity_type
            if kind == "UK_NHS":
                result.score = _nhs_score(text, result, boosted, phones)
            elif kind == "PHONE_NUMBER" and after_id_label(text, result.start):
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
    if is_valid_phone(text[result.start : result.end]):
        return NHS_PHONE_LIKE_SCORE
    return NHS_UNCONFIRMED_SCORE


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_interface(value)
    except ValueError:
        return False
    return True


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
    "IP_ADDRESS": r"[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]|::|(?:[0-9A-Fa-f]{1,4}:){6}",
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

FAMILIES: dict[str, tuple[str, tuple[str, ...], str]] = {
    "IP_ADDRESS:v6": (
        "IP_ADDRESS",
        ("IPv4_mapped", "IPv4_embedded", "IPv6", "IPv6_unspecified"),
        r"::|(?:[0-9A-Fa-f]{1,4}:){6}",
    ),
}
"""Trigger name -> (entity, names of some of its recognizer's patterns, an RE2 regex that matches wherever
any of them can): when it does not match, the recognizer runs without them (every IPv6 form has
"::" or six hexadecimal groups, while "10:30:00" and "Name:" have neither)."""

LEAN = ":lean"
"""Suffix of the :class:`TriggerSet` name of a :data:`LEAN_TRIGGERS` entry."""


def all_triggers() -> dict[str, str]:
    """:data:`TRIGGERS`, :data:`LEAN_TRIGGERS` (named entity + :data:`LEAN`) and :data:`FAMILIES`, for one :class:`TriggerSet`."""
    return {
        **TRIGGERS,
        **{entity + LEAN: pattern for entity, pattern in LEAN_TRIGGERS.items()},
        **{name: family[2] for name, family in FAMILIES.items()},
    }


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

    @property
    def names(self) -> tuple[str, ...]:
        """Every trigger's name."""
        return tuple(self._names)

    def __call__(self, text: str) -> set[str]:
        """The names of the triggers that match ``text``."""
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
