"""The offline Presidio engine: what it finds at the default threshold, offline, and fast paths that change nothing."""

from __future__ import annotations

import logging
import os
import socket
import warnings
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

pytest.importorskip("presidio_analyzer")

from guardfn.errors import OfflineFallbackWarning
from guardfn.pii import engine as engine_mod
from guardfn.pii.engine import Detection, PIIEngine, get_engine, merge_overlaps, resolve_model_name
from guardfn.pii.entities import PATTERN_ENTITIES, SPACY_MODEL_ENV

# One sentence per pattern entity, each with the value the engine must find.
SAMPLES = {
    "EMAIL_ADDRESS": ("Write to ann.lee@example.com today", "ann.lee@example.com"),
    "PHONE_NUMBER": ("They're not answering at 415-555-2671", "415-555-2671"),
    "US_SSN": ("His social security number is 536-22-1234", "536-22-1234"),
    "CREDIT_CARD": ("Charge card 4111 1111 1111 1111 please", "4111 1111 1111 1111"),
    "IBAN_CODE": ("Transfer from GB82 WEST 1234 5698 7654 32 now", "GB82 WEST 1234 5698 7654 32"),
    "IP_ADDRESS": ("Blocked address 203.0.113.77 again", "203.0.113.77"),
    "US_PASSPORT": ("My passport number is 912803456", "912803456"),
    "US_BANK_NUMBER": ("Bank account 000123456789 is mine", "000123456789"),
    "US_DRIVER_LICENSE": ("My driver's license number is D1234567", "D1234567"),
    "UK_NHS": ("My NHS number is 943 476 5919", "943 476 5919"),
    "CRYPTO": ("Send it to wallet 1BoatSLRHtKNngkdXEeobR76b53LETtpyT", "1BoatSLRHtKNngkdXEeobR76b53LETtpyT"),
}


@pytest.fixture(scope="module")
def engine() -> PIIEngine:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OfflineFallbackWarning)
        return get_engine()


def found(engine: PIIEngine, text: str, entities: list[str] | None = None, **kw: object) -> list[tuple[str, str]]:
    return [(d.entity_type, text[d.start : d.end]) for d in engine.analyze(text, entities or PATTERN_ENTITIES, **kw)]


@pytest.mark.parametrize("entity", sorted(SAMPLES))
def test_every_pattern_entity_is_found_at_the_default_threshold(engine: PIIEngine, entity: str) -> None:
    text, value = SAMPLES[entity]
    assert (entity, value) in found(engine, text)


def test_ssn_and_phone_numbers_pass_0_7_without_context_words(engine: PIIEngine) -> None:
    # Presidio offline scores these 0.5 and 0.4: below the default threshold.
    assert found(engine, "ref 536-22-1234") == [("US_SSN", "536-22-1234")]
    assert found(engine, "ping (415) 555-2671 ok") == [("PHONE_NUMBER", "(415) 555-2671")]
    assert found(engine, "ping +44 20 7946 0958 ok") == [("PHONE_NUMBER", "+44 20 7946 0958")]


def test_an_international_us_number_is_a_phone_number_not_an_nhs_number(engine: PIIEngine) -> None:
    # Presidio offline: UK_NHS with score 1.0 (the checksum passes by chance).
    assert found(engine, "Phone: +1 415 555 2671") == [("PHONE_NUMBER", "+1 415 555 2671")]


def test_nhs_number_with_context_scores_one(engine: PIIEngine) -> None:
    [det] = engine.analyze("NHS number 943 476 5919", ["UK_NHS"])
    assert det.entity_type == "UK_NHS" and det.score == 1.0


def test_invalid_values_are_not_reported(engine: PIIEngine) -> None:
    assert found(engine, "card 4111 1111 1111 1112 fails Luhn") == []
    assert found(engine, "SSN 000-12-3456 is never issued") == []
    assert found(engine, "version 1.2 and 3 items, nothing here") == []


def test_entity_selection(engine: PIIEngine) -> None:
    text = "ann@example.com and 536-22-1234"
    assert found(engine, text, ["US_SSN"]) == [("US_SSN", "536-22-1234")]
    assert found(engine, text, ["EMAIL_ADDRESS"]) == [("EMAIL_ADDRESS", "ann@example.com")]


def test_allow_list_values_and_full_match_patterns(engine: PIIEngine) -> None:
    import re

    text = "support@acme.com, bob@acme.com and ann@example.com"
    assert [v for _, v in found(engine, text, allow=["support@acme.com"])] == ["bob@acme.com", "ann@example.com"]
    pats = [re.compile(r".*@acme\.com")]
    assert [v for _, v in found(engine, text, allow_patterns=pats)] == ["ann@example.com"]
    # full match, not search: a pattern for one domain does not allow a longer address
    assert [v for _, v in found(engine, "x@acme.com.evil.org", allow_patterns=[re.compile(r"x@acme\.com")])] == [
        "x@acme.com.evil.org"
    ]


def test_threshold_is_applied(engine: PIIEngine) -> None:
    assert found(engine, "ping (415) 555-2671", threshold=0.9) == []


def test_merge_overlaps_keeps_one_span_covering_both_typed_by_best_score() -> None:
    merged = merge_overlaps(
        [
            Detection("UK_NHS", 3, 15, 0.3),
            Detection("PHONE_NUMBER", 0, 15, 0.75),
            Detection("EMAIL_ADDRESS", 20, 30, 1.0),
        ]
    )
    assert merged == [Detection("PHONE_NUMBER", 0, 15, 0.75), Detection("EMAIL_ADDRESS", 20, 30, 1.0)]
    chained = merge_overlaps([Detection("A", 0, 5, 0.9), Detection("B", 4, 9, 0.8), Detection("C", 8, 12, 0.95)])
    assert chained == [Detection("C", 0, 12, 0.95)]


def test_offsets_are_right_around_emoji_combining_marks_and_rtl(engine: PIIEngine) -> None:
    text = "שלום 👩🏽‍💻 e\u0301 ann@example.com مرحبا 536-22-1234 🇺🇳"
    values = [v for _, v in found(engine, text)]
    assert values == ["ann@example.com", "536-22-1234"]


def test_nothing_touches_the_network(monkeypatch: pytest.MonkeyPatch) -> None:
    attempts: list[object] = []

    def refuse(*args: object, **kwargs: object) -> None:
        attempts.append(args)
        raise OSError("network disabled in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.delenv(SPACY_MODEL_ENV, raising=False)
    fresh = PIIEngine(None)  # a new engine: fresh recognizers, first e-mail validation
    assert [d.entity_type for d in fresh.analyze("mail ann@example.co.uk now", ["EMAIL_ADDRESS"])] == ["EMAIL_ADDRESS"]
    assert attempts == []


def test_missing_ner_model_warns_once_naming_entities(engine: PIIEngine, monkeypatch: pytest.MonkeyPatch) -> None:
    if engine.ner_entities:
        pytest.skip("a spaCy NER model is installed here")
    monkeypatch.setattr(engine_mod, "_missing_warned", False)
    with pytest.warns(OfflineFallbackWarning, match="NRP") as record:
        engine.analyze("Alice lives in Paris", ["NRP", "EMAIL_ADDRESS"])
        engine.analyze("Alice lives in Paris", ["NRP", "PERSON"])
    assert len([w for w in record if issubclass(w.category, OfflineFallbackWarning)]) == 1
    assert "GUARDFN_SPACY_MODEL" in str(record[0].message)
    # names and places need no model
    got = [
        (d.entity_type, "Alice lives in Paris"[d.start : d.end])
        for d in engine.analyze("Alice lives in Paris", ["PERSON", "LOCATION"])
    ]
    assert got == [("PERSON", "Alice"), ("LOCATION", "Paris")]


def test_pattern_types_win_over_overlapping_ner_spans(ner_model_dir: Path) -> None:
    """A validated phone number stays a phone number when the model calls the same span a PERSON."""
    import spacy

    nlp = spacy.blank("en")
    ruler = nlp.add_pipe("entity_ruler")
    ruler.add_patterns([{"label": "PERSON", "pattern": "415-555-2671 today"}])  # type: ignore[attr-defined]
    path = ner_model_dir.parent / "ruler-phone"
    nlp.to_disk(path)
    engine = PIIEngine(str(path))
    text = "Call me at 415-555-2671 today"
    got = [(d.entity_type, text[d.start : d.end]) for d in engine.analyze(text)]
    assert got == [("PHONE_NUMBER", "415-555-2671 today")]  # one span, the validated type


def test_merge_keeps_the_pattern_type_whatever_the_scores() -> None:
    from guardfn.pii.engine import Detection, merge_overlaps

    merged = merge_overlaps([Detection("PERSON", 0, 12, 0.95), Detection("PHONE_NUMBER", 3, 15, 0.75)])
    assert merged == [Detection("PHONE_NUMBER", 0, 15, 0.95)]


def test_configured_model_that_is_not_installed_falls_back_with_a_warning(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SPACY_MODEL_ENV, "en_core_web_nonexistent")
    with pytest.warns(OfflineFallbackWarning, match="never"):
        assert resolve_model_name() is None
    monkeypatch.setenv(SPACY_MODEL_ENV, "blank")
    assert resolve_model_name() is None


@pytest.fixture(scope="module")
def ner_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real (tiny) spaCy pipeline on disk with an entity ruler standing in for a trained NER."""
    import spacy

    nlp = spacy.blank("en")
    ruler = nlp.add_pipe("entity_ruler")
    ruler.add_patterns(  # type: ignore[attr-defined]
        [
            {"label": "PERSON", "pattern": "Alice Johnson"},
            {"label": "GPE", "pattern": "Paris"},
            {"label": "NORP", "pattern": "French"},
            {"label": "ORG", "pattern": "Acme"},
        ]
    )
    path = tmp_path_factory.mktemp("spacy") / "tiny_ner"
    nlp.to_disk(path)
    return path


def test_a_model_from_guardfn_spacy_model_detects_names_places_and_groups(
    ner_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SPACY_MODEL_ENV, str(ner_model_dir))
    name = resolve_model_name()
    assert name == str(ner_model_dir)
    ner_engine = PIIEngine(name)
    assert set(ner_engine.entities) >= {"PERSON", "LOCATION", "NRP"}
    text = "Alice Johnson, a French engineer at Acme in Paris, mails ann@example.com"
    got = [(d.entity_type, text[d.start : d.end]) for d in ner_engine.analyze(text)]
    assert got == [
        ("PERSON", "Alice Johnson"),
        ("NRP", "French"),
        ("LOCATION", "Paris"),
        ("EMAIL_ADDRESS", "ann@example.com"),
    ]
    # pattern entities alone never run the NLP pipeline
    calls: list[str] = []
    original = ner_engine._nlp_engine.process_text
    monkeypatch.setattr(ner_engine._nlp_engine, "process_text", lambda *a: calls.append("nlp") or original(*a))
    ner_engine.analyze(text, ["EMAIL_ADDRESS"])
    assert calls == []
    ner_engine.analyze(text, ["PERSON"])
    assert calls == ["nlp"]


def test_presidio_logs_never_carry_analysed_text(engine: PIIEngine, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    text = "SSN 536-22-1234, call me 415-555-2671, mail ann@example.com, iban GB82 WEST 1234 5698 7654 32"
    engine.analyze(text)
    for value in ("536-22-1234", "415-555-2671", "ann@example.com", "GB82", "call me", "mail"):
        assert value not in caplog.text


# --- the fast paths find exactly what the plain paths find ---------------------------------

EXAMPLES = int(os.environ.get("GUARDFN_PII_EXAMPLES", "120"))
"""Examples per differential property; raise it for a deeper run."""

_FRAGMENTS = st.sampled_from(
    [
        "415-555-2671",
        "(415) 555-2671",
        "+1 415 555 2671",
        "+44 20 7946 0958",
        "020 7946 0958",
        "0490 75 40 81",
        "536-22-1234",
        "4111 1111 1111 1111",
        "943 476 5919",
        "2000-04-16 11:34:35",
        "11/3/1995",
        "64677",
        "12345678",
        "x123",
        "ext. 55",
        "+",
        "(",
        ")",
        "-",
        " / ",
        "call",
        "phone",
        "number",
        "ssn",
        "nhs",
        "GB82 WEST 1234 5698 7654 32",
        "10.0.0.1",
        "2001:db8::1",
        "ann@example.com",
        "D1234567",
        "passport",
        "K1234567",
        "+41 (0)38 549 02 90",
        "+41 44 668 18 00",
        "+61 2 9374 4000",
        "+81 3-3224-9999",
        "+33 1 23 45 67 89",
        "+49 30 1234567",
        "0049 30 1234567",
        "011 44 20 7946 0958",
        "+1-984-182-0190",
        "+447700 900123",
        "ſ",
        "١٢٣٤٥٦٧٨٩٠",
        "１２３",
        "1BoatSLRHtKNngkdXEeobR76b53LETtpyT",
        "driver license",
        "bank",
    ]
)
_TEXTS = st.lists(st.one_of(_FRAGMENTS, st.text(alphabet="0123456789 -.()+x:abcZ\n", max_size=12)), max_size=8).map(
    " ".join
)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=_TEXTS)
def test_fast_phone_recognizer_finds_what_presidios_finds(text: str) -> None:
    from presidio_analyzer.predefined_recognizers import PhoneRecognizer

    from guardfn.pii.phones import FastPhoneRecognizer

    fast = {(r.start, r.end) for r in _fast_phone().analyze(text, ["PHONE_NUMBER"])}
    slow = {(r.start, r.end) for r in _presidio_phone().analyze(text, ["PHONE_NUMBER"])}
    assert fast == slow
    assert isinstance(_fast_phone(), FastPhoneRecognizer) and isinstance(_presidio_phone(), PhoneRecognizer)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=_TEXTS)
@example(text="2000-04-16 11:34:35 phone ١٢٣٤٥٦٧٨٩٠")  # the context word lies between two candidates
def test_prefilter_and_phone_shortcuts_change_no_result(engine: PIIEngine, text: str) -> None:
    fast = engine.analyze(text, PATTERN_ENTITIES)
    plain = _unfiltered(engine).analyze(text, PATTERN_ENTITIES)  # Presidio's own context enhancer too
    assert [(d.entity_type, d.start, d.end, round(d.score, 9)) for d in fast] == [
        (d.entity_type, d.start, d.end, round(d.score, 9)) for d in plain
    ]


_cache: dict[str, object] = {}


def _fast_phone():  # type: ignore[no-untyped-def]
    from guardfn.pii.phones import FastPhoneRecognizer

    return _cache.setdefault("fast", FastPhoneRecognizer())


def _presidio_phone():  # type: ignore[no-untyped-def]
    from presidio_analyzer.predefined_recognizers import PhoneRecognizer

    return _cache.setdefault("slow", PhoneRecognizer())


def _unfiltered(engine: PIIEngine) -> PIIEngine:
    """The same engine with every shortcut off: all triggers fire, phone runs Presidio's recognizer."""
    if "plain" not in _cache:
        from presidio_analyzer.predefined_recognizers import PhoneRecognizer

        class Plain(PhoneRecognizer):  # Presidio's phone recognizer, plus guardfn's strong-format mark
            def analyze(self, text, entities, nlp_artifacts=None):  # type: ignore[no-untyped-def]
                from guardfn.pii import phones as r

                results = super().analyze(text, entities, nlp_artifacts)
                for res in results:
                    match = _Match(text, res.start, res.end)
                    if match.number is not None and r.is_strong_format(match):  # type: ignore[arg-type]
                        res.recognition_metadata[r.STRONG_PHONE_KEY] = True
                return results

        plain = PIIEngine(None)
        every = set(plain._triggers.names)
        plain._triggers = lambda text: every  # type: ignore[assignment,method-assign]
        plain._recognizers["PHONE_NUMBER"] = Plain()
        plain._by_id[plain._recognizers["PHONE_NUMBER"].id] = plain._recognizers["PHONE_NUMBER"]
        plain.shortcuts = False
        _cache["plain"] = plain
    return _cache["plain"]  # type: ignore[return-value]


class _Match:
    def __init__(self, text: str, start: int, end: int) -> None:
        import phonenumbers

        self.start, self.end, self.raw_string = start, end, text[start:end]
        self.number = None
        for region in ("US", "GB", "DE", "FR", "IL", "IN", "CA", "BR"):
            try:
                number = phonenumbers.parse(self.raw_string, region)
            except phonenumbers.NumberParseException:
                continue
            if phonenumbers.is_valid_number(number):
                self.number = number
                break


_WORDS = st.sampled_from(
    ["call", "calls", "phone", "number", "the", "a", "is", "me", "at", "on", "my", "ssn", "us", "be", "'s", ":",
     "-", ",", "(", "415", "555-2671", "İstanbul", "x", "\n", "  ", "cellphone", "mobile", "of", "and", "'",
     "'call", "x'phone", "+", "phones", "_", "١٢"]
)  # fmt: skip


@settings(max_examples=EXAMPLES, deadline=None)
@given(words=st.lists(_WORDS, min_size=1, max_size=30), spaces=st.lists(st.booleans(), min_size=30, max_size=30))
def test_nearby_context_check_agrees_with_presidios_walk(words: list[str], spaces: list[bool]) -> None:
    from presidio_analyzer.context_aware_enhancers import LemmaContextAwareEnhancer

    from guardfn.pii.context import CONTEXT_PREFIX_COUNT, RequestContext, fast_artifacts

    text = "".join(w + (" " if sp else "") for w, sp in zip(words, spaces, strict=False))
    context = ["phone", "number", "call", "cellphone", "mobile"]
    artifacts = fast_artifacts(text)
    presidio = LemmaContextAwareEnhancer(context_prefix_count=CONTEXT_PREFIX_COUNT, context_suffix_count=0)
    for start in range(len(text)):
        if text[start].isspace():
            continue  # a match never starts on a space
        walked = presidio._extract_surrounding_words(artifacts, text[start], start)
        expected = next((w for w in context if w in walked), "")
        nearby = RequestContext(text, 0.7).supportive_word(start, context)
        full = RequestContext(text, 0.7, fast_artifacts(text)).supportive_word(start, context)
        assert nearby == full == expected, (text, start)
