"""Fast paths of the PII engine answer exactly what the plain computation answers."""

from __future__ import annotations

import os
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytest.importorskip("presidio_analyzer")

import re2
import regex

from guardfn.pii.context import RequestContext, fast_artifacts
from guardfn.pii.phones import _chain_gap, _may_chain
from guardfn.pii.recognizers import FAMILIES, LEAN_TRIGGERS, TRIGGERS, WEAK_PATTERN_SCORE, build_pattern_recognizers

EXAMPLES = int(os.environ.get("GUARDFN_PII_EXAMPLES", "120"))

_WORDS = st.sampled_from(
    ["account", "accounts", "Account", "lic#", "#", "", "ACCOUNTS", "'account", "x'accounts", "accountant", "bank", "banks", "check",
     "checks", "lic", "lics", "license", "licenses", "dls", "cdls", "cdl", "passport", "passports", "us", "be", "is",
     "the", "ſave", "\u212aey", "İstanbul", "ΣΑΣ", "save", "saves", "_account", "account_", "acct", "9account"]
)  # fmt: skip
_SEPARATORS = st.sampled_from([" ", "  ", "\n", "-", "'", ",", ".", "#", "", "'s "])


@settings(max_examples=EXAMPLES * 3, deadline=None)
@given(
    words=st.lists(_WORDS, min_size=1, max_size=12),
    seps=st.lists(_SEPARATORS, min_size=12, max_size=12),
    context=st.lists(_WORDS, min_size=1, max_size=4),
)
def test_has_keyword_agrees_with_the_tokenized_keywords(words: list[str], seps: list[str], context: list[str]) -> None:
    text = "".join(w + s for w, s in zip(words, seps, strict=False))
    keywords = set(fast_artifacts(text).keywords)
    expected = any(word.lower() in keywords for word in context)
    assert RequestContext(text, 0.7).has_keyword(context) == expected, (text, context)


@settings(max_examples=EXAMPLES * 3, deadline=None)
@given(gap=st.text(alphabet=" \t\u00a0,-\n\u2028ab.;(", max_size=40), limit=st.integers(0, 20))
def test_one_regex_chain_check_equals_the_two_step_one(gap: str, limit: int) -> None:
    assert bool(_chain_gap(limit).fullmatch(gap)) == _may_chain(gap, limit)


def _patterns(strong_only: bool) -> list[tuple[str, str, str, int]]:
    out = []
    for entity, recognizer in build_pattern_recognizers().items():
        if entity == "EMAIL_ADDRESS":
            continue  # its trigger, "@", is a literal of its pattern (and drawing e-mails is slow)
        for pattern in getattr(recognizer, "patterns", None) or []:
            if strong_only and pattern.score < WEAK_PATTERN_SCORE:
                continue
            out.append((entity, pattern.name, pattern.regex, recognizer.global_regex_flags))
    return out


# Around a match: word characters that are not ASCII, Unicode digits, letters that fold to
# ASCII ones (long s, Kelvin sign), separators.
_AFFIX = st.text(alphabet="aZ_9é١ſ\u212a -.:\n", max_size=3)


def _check_trigger(trigger_regex: str, pattern: str, flags: int) -> None:
    trigger = re2.compile(trigger_regex)
    presidio = regex.compile(pattern, flags=flags)  # as Presidio compiles it

    @settings(max_examples=EXAMPLES // 2, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(core=st.from_regex(re.compile(pattern, re.IGNORECASE)), before=_AFFIX, after=_AFFIX)
    def check(core: str, before: str, after: str) -> None:
        for text in (core, before + core + after):
            if presidio.search(text):
                assert trigger.search(text), (pattern, text)

    check()


@pytest.mark.parametrize(("entity", "name", "pattern", "flags"), _patterns(strong_only=False))
def test_every_string_a_pattern_matches_fires_its_trigger(entity: str, name: str, pattern: str, flags: int) -> None:
    _check_trigger(TRIGGERS[entity], pattern, flags)


@pytest.mark.parametrize(
    ("entity", "name", "pattern", "flags"), [p for p in _patterns(strong_only=True) if p[0] in LEAN_TRIGGERS]
)
def test_every_string_a_strong_pattern_matches_fires_its_lean_trigger(
    entity: str, name: str, pattern: str, flags: int
) -> None:
    _check_trigger(LEAN_TRIGGERS[entity], pattern, flags)


_TRICKY = [
    " ſ12345678 ", " \u212a12345678 ", "é123456789", "١123456789", "123456789١", "123-45-6789١", "é123-45-6789",
    "4111 1111 1111 111١", "é4111111111111111", "_123456789_", "a943 476 5919", "943 476 5919é", "0001234567890١",
]  # fmt: skip


def _family_patterns() -> list[tuple[str, str, str, int]]:
    recognizers = build_pattern_recognizers()
    out = []
    for family, (entity, names, _) in FAMILIES.items():
        recognizer = recognizers[entity]
        for pattern in recognizer.patterns:  # type: ignore[attr-defined]
            if pattern.name in names:
                out.append((family, pattern.name, pattern.regex, recognizer.global_regex_flags))
    return out


@pytest.mark.parametrize(("family", "name", "pattern", "flags"), _family_patterns())
def test_every_string_a_family_pattern_matches_fires_its_family_trigger(
    family: str, name: str, pattern: str, flags: int
) -> None:
    _check_trigger(FAMILIES[family][2], pattern, flags)


@pytest.mark.parametrize(("entity", "name", "pattern", "flags"), _patterns(strong_only=False))
def test_triggers_fire_around_unicode_word_characters(entity: str, name: str, pattern: str, flags: int) -> None:
    presidio = regex.compile(pattern, flags=flags)
    triggers = [re2.compile(TRIGGERS[entity])]
    if entity in LEAN_TRIGGERS and any(p[1] == name for p in _patterns(strong_only=True)):
        triggers.append(re2.compile(LEAN_TRIGGERS[entity]))
    for text in _TRICKY:
        if presidio.search(text):
            assert all(t.search(text) for t in triggers), (name, text)


_EMAIL_PIECES = st.sampled_from(
    ["ann@example.com", "a.b+c@mail.example.co.uk", "x@y", "@", "@@", "ann@", "@example.com", "é", "e\u0301",
     "\u0301", "-", ".", "_", "'", " ", "\n", ",", "<", ">", "(", "bob", "ex-ample", "١٢", "x@例え.jp", "a@b.c-d"]
)  # fmt: skip


@settings(max_examples=EXAMPLES * 2, deadline=None)
@given(pieces=st.lists(_EMAIL_PIECES, max_size=10))
def test_email_recognizer_on_chunks_finds_what_it_finds_on_the_whole_text(pieces: list[str]) -> None:
    from presidio_analyzer import PatternRecognizer

    from guardfn.pii.recognizers import OfflineEmailRecognizer

    text = "".join(pieces)
    recognizer = OfflineEmailRecognizer()
    chunked = recognizer.analyze(text, ["EMAIL_ADDRESS"])
    whole = PatternRecognizer.analyze(recognizer, text, ["EMAIL_ADDRESS"])
    assert sorted((r.start, r.end, r.score) for r in chunked) == sorted((r.start, r.end, r.score) for r in whole)


_OFFLINE_PIECES = st.sampled_from(
    ["DOB", "dob:", "Date of birth", "born on", "born in", "BİRTH", "d.o.b.", "04/12/1987", "1987-04-12", "March 3, 1990",
     "1979", "lİcense", "lıcense", "driver's lİcense:", "driving lıcence no.", "LICENCE", "DL#", "DLN", "d.l.", "D1234567", "S530-4128-6754", "123 456 789",
     "linkedin.com/in/jane-doe", "github.com/janedoe", "janedoe.github.io", "x.İo/@jane", "example.org/~ann",
     "https://", "/@", "Hi", "hi", "Dear", "thanks", "name is", "I'm", "sarah", "Sarah", "ſ", "\u212a", "é", " ", "\n",
     ",", ":", ".", "_"]
)  # fmt: skip


@settings(max_examples=EXAMPLES * 2, deadline=None)
@given(pieces=st.lists(_OFFLINE_PIECES, max_size=10), seps=st.lists(st.sampled_from(["", " ", "\n", ": "]), min_size=10, max_size=10))
def test_offline_gates_never_skip_a_finding(pieces: list[str], seps: list[str]) -> None:
    from guardfn.pii.engine import find_offline, offline_triggers

    text = "".join(p + s for p, s in zip(pieces, seps, strict=False))
    gates = {name: re2.compile(pattern) for name, pattern in offline_triggers().items()}
    fired = {name for name, gate in gates.items() if gate.search(text)}
    entities = ["PERSON", "LOCATION", "DATE_OF_BIRTH", "URL", "US_DRIVER_LICENSE"]
    assert find_offline(text, entities, 0.0, fired) == find_offline(text, entities, 0.0), text


@settings(max_examples=EXAMPLES * 3, deadline=None)
@given(text=st.text(alphabet="0123456789١٢３ ()[]（［+＋-./x~:ext;#a\n", max_size=40))
def test_phone_candidates_are_the_ones_phonenumbers_pattern_finds(text: str) -> None:
    from guardfn.pii.phones import PHONE_CANDIDATE, phone_candidates

    assert [m.span() for m in phone_candidates(text)] == [m.span() for m in PHONE_CANDIDATE.finditer(text)]


_NAME_WORDS = st.sampled_from(
    ["Hi", "hi", "Dear", "Thanks,", "Name:", "name=", "by", "signed", "to", "assigned", "in", "moved", "from", "with",
     "Maria", "Lopez", "Paris", "the", "\n", "\n\n", ", ", ": ", "'", "don't", "İ", "o'brien's", "=", "-", "Regards"]
)  # fmt: skip


@settings(max_examples=EXAMPLES * 2, deadline=None)
@given(words=st.lists(_NAME_WORDS, max_size=14), seps=st.lists(st.sampled_from([" ", "", "\n", "  "]), min_size=14, max_size=14))
def test_name_context_read_in_place_equals_the_one_read_from_a_slice(words: list[str], seps: list[str]) -> None:
    from guardfn.pii.name_context import read_context as _context

    text = "".join(w + s for w, s in zip(words, seps, strict=False)) + "Ann"
    lowered = text.lower()
    if len(lowered) != len(text):
        return  # the engine reads from a slice then, as the reference does
    reversed_lower = lowered[::-1]
    for start in range(len(text) + 1):
        fast, plain = _context(text, start, reversed_lower), _context(text, start)
        assert [getattr(fast, k) for k in fast.__slots__] == [getattr(plain, k) for k in plain.__slots__], (text, start)
