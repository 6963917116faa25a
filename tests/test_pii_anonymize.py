"""Redact, mask, pseudonymize and restore: exact text outside the values, reversible placeholders."""

from __future__ import annotations

import dataclasses
import itertools
import warnings

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from guardfn.errors import OfflineFallbackWarning
from guardfn.pii.anonymize import Pseudonymizer, mask_value, replace
from guardfn.pii.engine import Detection
from guardfn.pii.entities import PATTERN_ENTITIES
from guardfn.pii.restore import StreamRestorer, restore_object, restore_text

TEXT = "Mail ann@example.com or call 415-555-2671; again: ann@example.com."
DETS = [
    Detection("EMAIL_ADDRESS", 5, 20, 1.0),
    Detection("PHONE_NUMBER", 29, 41, 0.75),
    Detection("EMAIL_ADDRESS", 50, 65, 1.0),
]


def test_redact() -> None:
    out, counts = replace(TEXT, DETS, "redact")
    assert out == "Mail [EMAIL_ADDRESS] or call [PHONE_NUMBER]; again: [EMAIL_ADDRESS]."
    assert counts == {"EMAIL_ADDRESS": 2, "PHONE_NUMBER": 1}


def test_mask_keeps_a_few_characters() -> None:
    out, _ = replace(TEXT, DETS, "mask")
    assert out == "Mail a***@example.com or call ***-***-2671; again: a***@example.com."
    assert mask_value("US_SSN", "536-22-1234") == "***-**-1234"
    assert mask_value("CREDIT_CARD", "4111 1111 1111 1111") == "**** **** **** 1111"
    assert mask_value("IP_ADDRESS", "203.0.113.77") == "203.*.*.*"
    assert mask_value("PERSON", "Alice Johnson") == "A**** J******"
    assert mask_value("PHONE_NUMBER", "555 2671") == "*** ****"


def test_pseudonymize_same_value_same_placeholder_and_restore() -> None:
    p = Pseudonymizer()
    out, _ = replace(TEXT, DETS, "pseudonymize", p)
    assert out == "Mail <EMAIL_ADDRESS_1> or call <PHONE_NUMBER_1>; again: <EMAIL_ADDRESS_1>."
    assert p.vault == {"<EMAIL_ADDRESS_1>": "ann@example.com", "<PHONE_NUMBER_1>": "415-555-2671"}
    assert restore_text(out, p.vault) == TEXT


def test_placeholders_already_in_the_input_are_never_issued_or_restored() -> None:
    text = "literal <EMAIL_ADDRESS_1> then ann@example.com"
    p = Pseudonymizer()
    p.reserve_from(text)
    out, _ = replace(text, [Detection("EMAIL_ADDRESS", 31, 46, 1.0)], "pseudonymize", p)
    assert out == "literal <EMAIL_ADDRESS_1> then <EMAIL_ADDRESS_2>"
    assert restore_text(out, p.vault) == text


def test_unknown_placeholders_are_left_alone() -> None:
    vault = {"<EMAIL_ADDRESS_1>": "ann@example.com"}
    assert restore_text("<EMAIL_ADDRESS_1> <EMAIL_ADDRESS_7> <X>", vault) == "ann@example.com <EMAIL_ADDRESS_7> <X>"


def test_overlapping_or_unsorted_detections_are_refused() -> None:
    with pytest.raises(ValueError):
        replace(TEXT, [Detection("A", 5, 20, 1.0), Detection("B", 10, 25, 1.0)], "redact")


class Contact(BaseModel):
    name: str
    emails: list[str]
    meta: dict[str, str] = {}


class Frozen(BaseModel, frozen=True):
    note: str


@dataclasses.dataclass(frozen=True)
class Card:
    holder: str
    numbers: tuple[str, ...]
    derived: str = dataclasses.field(default="", init=False)


def test_restore_object_walks_models_dataclasses_and_containers() -> None:
    vault = {"<PERSON_1>": "Alice", "<EMAIL_ADDRESS_1>": "a@x.io"}
    obj = {
        "contact": Contact(
            name="<PERSON_1>", emails=["<EMAIL_ADDRESS_1>", "none"], meta={"<PERSON_1>": "hi <PERSON_1>"}
        ),
        "frozen": Frozen(note="to <EMAIL_ADDRESS_1>"),
        "card": Card(holder="<PERSON_1>", numbers=("<EMAIL_ADDRESS_1>",)),
        "n": 3,
    }
    out = restore_object(obj, vault)
    assert out["contact"] == Contact(name="Alice", emails=["a@x.io", "none"], meta={"Alice": "hi Alice"})
    assert out["frozen"].note == "to a@x.io"
    assert out["card"] == Card(holder="Alice", numbers=("a@x.io",))
    assert out["n"] == 3
    assert obj["contact"].name == "<PERSON_1>"  # the original is not modified


@settings(max_examples=200, deadline=None)
@given(
    pieces=st.lists(
        st.sampled_from(
            ["<EMAIL_ADDRESS_1>", "<PHONE_NUMBER_12>", "<EMAIL_ADDRESS_9>", "<", ">", "_1", "x", " ", "<E"]
        ),
        max_size=12,
    ),
    cuts=st.lists(st.integers(min_value=0, max_value=200), max_size=10),
)
def test_stream_restorer_equals_restoring_the_whole_text(pieces: list[str], cuts: list[int]) -> None:
    vault = {"<EMAIL_ADDRESS_1>": "ann@example.com", "<PHONE_NUMBER_12>": "+1 415 555 2671"}
    text = "".join(pieces)
    bounds = sorted({0, len(text), *(c for c in cuts if c <= len(text))})
    restorer = StreamRestorer(vault)
    out = "".join(restorer.feed(text[a:b]) for a, b in itertools.pairwise(bounds)) + restorer.flush()
    assert out == restore_text(text, vault)


def test_stream_restorer_holds_back_only_a_possible_placeholder() -> None:
    r = StreamRestorer({"<EMAIL_ADDRESS_1>": "ann@example.com"})
    assert r.feed("Write to <EMAIL_AD") == "Write to "
    assert r.feed("DRESS_1> now <b>") == "ann@example.com now <b>"
    assert r.flush() == ""


# --- property: restore(pseudonymize(text)) == text, with the real engine -------------------

VALUES = {
    "EMAIL_ADDRESS": ["ann@example.com", "bo.li+x@mail.example.org"],
    "PHONE_NUMBER": ["(415) 555-2671", "+44 20 7946 0958"],
    "US_SSN": ["536-22-1234"],
    "CREDIT_CARD": ["4111 1111 1111 1111", "5500-0000-0000-0004"],
    "IBAN_CODE": ["GB82 WEST 1234 5698 7654 32"],
    "IP_ADDRESS": ["203.0.113.77", "2001:db8::1"],
    "CRYPTO": ["1BoatSLRHtKNngkdXEeobR76b53LETtpyT"],
}
ALL_VALUES = [v for vs in VALUES.values() for v in vs]
FILLER = st.lists(
    st.sampled_from([*"abc XYZ.,;:!?\n\t<>_", "é", "e\u0301", "👩🏽‍💻", "שלום", "مرحبا", "<EMAIL_ADDRESS_1>"]),
    max_size=8,
).map("".join)


@pytest.fixture(scope="module")
def engine():  # type: ignore[no-untyped-def]
    pytest.importorskip("presidio_analyzer")
    from guardfn.pii.engine import get_engine

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OfflineFallbackWarning)
        return get_engine()


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(parts=st.lists(st.tuples(FILLER, st.sampled_from(ALL_VALUES)), min_size=1, max_size=5), tail=FILLER)
def test_restore_of_pseudonymize_is_identity(engine, parts: list[tuple[str, str]], tail: str) -> None:  # type: ignore[no-untyped-def]
    # a word between values: phonenumbers' matcher (and so Presidio) reads two numbers
    # separated only by spaces as one candidate and may find neither
    text = "".join(f"{filler} {value} and" for filler, value in parts) + tail
    detections = engine.analyze(text, PATTERN_ENTITIES)
    p = Pseudonymizer()
    p.reserve_from(text)
    out, _ = replace(text, detections, "pseudonymize", p)
    for _, value in parts:
        assert value not in out  # every inserted value was replaced
    assert restore_text(out, p.vault) == text
    restorer = StreamRestorer(p.vault)
    streamed = "".join(restorer.feed(out[i : i + 5]) for i in range(0, len(out), 5)) + restorer.flush()
    assert streamed == text
