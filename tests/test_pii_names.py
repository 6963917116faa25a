"""Names, places, dates of birth, personal URLs and licences without a spaCy model (issue 18).

Real Presidio engine (blank spaCy pipeline: the default install), real name lists.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pytest.importorskip("presidio_analyzer")

from guardfn.errors import OfflineFallbackWarning
from guardfn.pii.anonymize import Pseudonymizer, replace
from guardfn.pii.engine import PIIEngine
from guardfn.pii.lexicon import lexicon
from guardfn.pii.names import find_names
from guardfn.pii.restore import restore_text


@pytest.fixture(scope="module")
def engine() -> Iterator[PIIEngine]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OfflineFallbackWarning)
        yield PIIEngine(None)


def _found(engine: PIIEngine, text: str, entities: list[str] | None = None) -> list[tuple[str, str]]:
    return [(d.entity_type, text[d.start : d.end]) for d in engine.analyze(text, entities)]


def test_the_default_install_detects_names_and_places(engine: PIIEngine) -> None:
    assert {"PERSON", "LOCATION", "DATE_OF_BIRTH", "URL"} <= set(engine.entities)
    assert "NRP" not in engine.entities  # only a model finds nationalities and groups


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("Hi Sarah, the invoice is attached.", "Sarah"),
        ("My name is Tomasz Kowalski and I need help.", "Tomasz Kowalski"),
        ("Thanks,\nMaria Gonzalez\nSupport", "Maria Gonzalez"),
        ("Customer: Krisztián Szöllösy\nIssue: login", "Krisztián Szöllösy"),
        ("Dr. Okafor will see you now.", "Okafor"),
        ('{"author": "Priya Patel", "id": 7}', "Priya Patel"),
        ("Escalated to Daniel O'Brien yesterday.", "Daniel O'Brien"),
        ("hi sarah, can you check my order", "sarah"),
        ("Please ask Emily Clarke to review the draft.", "Emily Clarke"),
    ],
)
def test_names_in_greetings_sign_offs_forms_and_prose(engine: PIIEngine, text: str, name: str) -> None:
    assert ("PERSON", name) in _found(engine, text)


@pytest.mark.parametrize(
    "text",
    [
        "Will you send the report? May I ask why?",
        "Grant access to the repo and Bill the customer.",
        "Rose by 5% this quarter; Mark the ticket as done.",
        "Jenkins build failed on Ubuntu after the Docker upgrade.",
        "Order Status: Shipped. Shipping Address: see below.",
        "class UserService(BaseService): pass  # getName() returns self.name",
        "2024-05-01 ERROR PaymentGateway timeout after 30s",
    ],
)
def test_common_words_products_and_code_are_not_names(engine: PIIEngine, text: str) -> None:
    assert [e for e, _ in _found(engine, text) if e in ("PERSON", "LOCATION")] == []


def test_a_common_word_name_is_a_name_in_a_name_context(engine: PIIEngine) -> None:
    assert ("PERSON", "Will") in _found(engine, "Thanks,\nWill")
    assert ("PERSON", "Rose") in _found(engine, "Dear Rose, welcome aboard.")


def test_a_name_found_once_is_found_everywhere_in_the_text(engine: PIIEngine) -> None:
    found = _found(engine, "Customer: Ngozi Adebayo. Later Adebayo called again.")
    assert found.count(("PERSON", "Adebayo")) == 1 and ("PERSON", "Ngozi Adebayo") in found


def test_places_countries_and_common_word_places_need_context(engine: PIIEngine) -> None:
    found = _found(engine, "I moved from Lyon to Germany; our Denver office is in Colorado.")
    assert {("LOCATION", "Lyon"), ("LOCATION", "Germany"), ("LOCATION", "Denver"), ("LOCATION", "Colorado")} <= set(
        found
    )
    assert ("LOCATION", "Reading") in _found(engine, "I live in Reading, UK.")
    for text in ("The Reading list is long.", "Nice work on the Mobile app."):
        assert [e for e, _ in _found(engine, text) if e == "LOCATION"] == []


def test_a_name_context_wins_over_a_place(engine: PIIEngine) -> None:
    assert ("PERSON", "Austin") in _found(engine, "Dear Austin, thanks for the call.")
    assert ("LOCATION", "Austin") in _found(engine, "We flew to Austin on Monday.")


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("Reporter: Ji-hoon Kang", ["Ji-hoon Kang"]),  # hyphenated given name, parts in no list
        ("We met Mei-ling Chou yesterday.", ["Mei-ling Chou"]),
        ("Please invite Anne-Marie Dupont to the call.", ["Anne-Marie Dupont"]),
        ("The report from Bekzod Qureshi arrived.", ["Bekzod Qureshi"]),  # unknown given name, known surname
        ("Attendees: Ann Lee, Thandiwe Mokoena and Bo Chen", ["Ann Lee", "Thandiwe Mokoena", "Bo Chen"]),
        ("hey it's Dmitri, running late", ["Dmitri"]),
        ("can you send the deck to Dmitri?", ["Dmitri"]),
        ("Summary of our call with Yevgenia Sokolova.", ["Yevgenia Sokolova"]),  # romanized Russian names
        ("name=Jane Doe; city=Lyon; phone=n/a", ["Jane Doe"]),
        ("said Gladys to Logan", ["Gladys", "Logan"]),  # a given name that is only a small town
    ],
)
def test_names_beyond_the_us_lists_and_plain_contexts(engine: PIIEngine, text: str, names: list[str]) -> None:
    assert [value for entity, value in _found(engine, text) if entity == "PERSON"] == names


@pytest.mark.parametrize(
    ("text", "places"),
    [
        ("Meat consumption for Georgia is high.", ["Georgia"]),  # a preposition never makes a country a person
        ("I had business at Fort Hays and Lake Tahoe.", ["Fort Hays", "Lake Tahoe"]),
        ("Venue: Cleveland", ["Cleveland"]),
        ("name=Jane Doe; city=Lyon", ["Lyon"]),
        ("Our team flew in; Houston was hot.", ["Houston"]),  # a large city that is a surname, not a given name
    ],
)
def test_places_from_labels_prefixes_and_large_cities(engine: PIIEngine, text: str, places: list[str]) -> None:
    assert [value for entity, value in _found(engine, text) if entity == "LOCATION"] == places


@pytest.mark.parametrize(
    "text",
    [
        "The Self-service portal and the guest Wi-Fi cover the Mid-Atlantic region.",
        "In Ireland, the album debuted at number three.",  # "In" is also a rare given name
        "The office is at 62 Rue Gafsa, Tunis.",
        "Good Girl Gone Bad topped the charts in the United States, Canada and Ireland.",
        "Translate this to French and German.",  # languages that the lists also hold as names
        "The contract between Acme Corp and Globex Ltd was signed.",
    ],
)
def test_compounds_streets_and_titles_are_not_people(engine: PIIEngine, text: str) -> None:
    assert [value for entity, value in _found(engine, text) if entity == "PERSON"] == []


def test_addresses_and_organisations_are_not_people(engine: PIIEngine) -> None:
    assert [e for e, _ in _found(engine, "Ship to 12 Martin Luther King Street") if e == "PERSON"] == []


@pytest.mark.parametrize(
    ("text", "dob"),
    [
        ("DOB: 04/12/1987", "04/12/1987"),
        ("Date of birth: 1987-04-12", "1987-04-12"),
        ("I was born on March 3, 1990 in Ohio.", "March 3, 1990"),
        ("birth date 12.04.1987", "12.04.1987"),
        ("born in 1979", "1979"),
    ],
)
def test_dates_of_birth(engine: PIIEngine, text: str, dob: str) -> None:
    assert ("DATE_OF_BIRTH", dob) in _found(engine, text)


def test_other_dates_are_not_dates_of_birth(engine: PIIEngine) -> None:
    assert _found(engine, "The invoice dated 04/12/2023 is due on May 5, 2024.") == []


@pytest.mark.parametrize(
    "url",
    [
        "https://www.linkedin.com/in/jane-doe-123",
        "https://github.com/janedoe",
        "twitter.com/jane_doe",
        "https://medium.com/@janedoe",
        "https://janedoe.github.io",
        "https://mastodon.example/@jane",
    ],
)
def test_profile_urls_are_personal(engine: PIIEngine, url: str) -> None:
    assert ("URL", url) in _found(engine, f"See {url} for more.")


@pytest.mark.parametrize(
    "url",
    [
        "https://docs.python.org/3/library/re.html",
        "https://github.com/psf/requests/issues/6123",
        "https://twitter.com/home",
        "https://www.linkedin.com/company/acme",
        "https://example.com/pricing",
    ],
)
def test_documentation_links_stay(engine: PIIEngine, url: str) -> None:
    assert _found(engine, f"See {url} for more.") == []


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("Driver's license: S530-4128-6754", "S530-4128-6754"),
        ("DL# D1234567", "D1234567"),
        ("driver license number 123 456 789", "123 456 789"),
        ("Driving licence no. A123-4567-8901", "A123-4567-8901"),
    ],
)
def test_driver_licences_after_a_label(engine: PIIEngine, text: str, value: str) -> None:
    assert ("US_DRIVER_LICENSE", value) in _found(engine, text)


@pytest.mark.parametrize(
    "text",
    [
        "PO 4500-123-4567 was approved.",
        "Order #: 212-555-0199 shipped.",
        "Invoice no. 415-555-2671 is overdue.",
        "ticket 646-555-1234 reopened",
        "tracking number 3468 5853 1643",
    ],
)
def test_labelled_ids_are_not_phone_numbers(engine: PIIEngine, text: str) -> None:
    assert [e for e, _ in _found(engine, text) if e == "PHONE_NUMBER"] == []


def test_phone_numbers_are_still_phone_numbers(engine: PIIEngine) -> None:
    assert ("PHONE_NUMBER", "415-555-2671") in _found(engine, "Call me at 415-555-2671.")


def test_a_phone_word_earlier_does_not_make_a_labelled_id_a_phone_number(engine: PIIEngine) -> None:
    text = "Contact: (212) 555-1234\nRelated: order #451-7816909, mobile app ticket 353-639-9621"
    assert [v for e, v in _found(engine, text) if e == "PHONE_NUMBER"] == ["(212) 555-1234"]


def test_version_numbers_are_not_ip_addresses(engine: PIIEngine) -> None:
    for text in ("Running version 10.0.1.5 now", "upgrade to v1.2.3.4 today", "build 1.2.3.4.5"):
        assert [e for e, _ in _found(engine, text) if e == "IP_ADDRESS"] == []
    assert ("IP_ADDRESS", "192.168.1.20") in _found(engine, "Blocked from 192.168.1.20 today")


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def _ean_and_luhn(prefix: str) -> str:
    """A 13-digit number starting with ``prefix`` that passes both the EAN-13 check digit and Luhn."""
    from guardfn.pii.ids import gtin_valid

    for n in range(10**6):
        digits = f"{prefix}{n:0{12 - len(prefix)}d}"
        for check in "0123456789":
            if gtin_valid(digits + check) and _luhn_ok(digits + check):
                return digits + check
    raise AssertionError("none found")


def test_isbn_and_ean_are_not_cards_unless_a_card_fits(engine: PIIEngine) -> None:
    ean = _ean_and_luhn("400")  # a German-prefix EAN-13 that Presidio's card pattern and Luhn accept
    for text in (f"EAN {ean} in stock", f"barcode {ean}", "ISBN 978-0-306-40615-7"):
        assert [e for e, _ in _found(engine, text) if e == "CREDIT_CARD"] == [], text
    assert ("CREDIT_CARD", ean) in _found(engine, f"credit card {ean}")
    assert ("CREDIT_CARD", "4111 1111 1111 1111") in _found(engine, "my card 4111 1111 1111 1111")


def test_the_lexicon_keys_are_lower_case() -> None:
    lex = lexicon()
    assert "sarah" in lex.common_first_names and "zuriel" in lex.first_names - lex.common_first_names
    assert "smith" in lex.top_surnames and "okafor" in lex.surnames - lex.common_surnames
    assert lex.places["germany"] == "country" and lex.places["new york"] in ("region", "city")
    assert "houston" in lex.big_cities and "lyon" in lex.big_cities and "bath" not in lex.big_cities
    assert "will" in lex.common_words and "sarah" not in lex.common_words


_NAME = st.builds(
    lambda first, last: f"{first.title()} {last.title()}",
    st.sampled_from(["sarah", "tomasz", "priya", "miguel", "aisha", "chen", "olu", "zoë"]),
    st.text(alphabet="abcdefghijklmnopqrstuvwxyzéöü", min_size=2, max_size=12),
)


@settings(max_examples=60, deadline=None)
@given(name=_NAME, mode=st.sampled_from(["redact", "pseudonymize"]))
def test_names_in_a_greeting_never_reach_the_output_and_pseudonyms_round_trip(name: str, mode: str) -> None:
    text = f"Hi {name},\nyour order is ready.\nRegards,\nSupport"
    detections = [d for d in find_names(text) if d.entity_type == "PERSON"]
    assert detections, text
    pseudonymizer = Pseudonymizer() if mode == "pseudonymize" else None
    out, _ = replace(text, detections, mode, pseudonymizer)  # type: ignore[arg-type]
    assert name not in out
    if pseudonymizer is not None:
        assert restore_text(out, pseudonymizer.vault) == text


def test_cyrillic_names_are_romanized_the_usual_ways() -> None:
    from guardfn.pii.build_data import romanized

    assert set(romanized("Евгения")) == {"evgeniya", "yevgeniya", "evgenia", "yevgenia"}
    assert romanized("Щербаков") == ["shcherbakov"]
    assert romanized("Ωμέγα") == []  # not a Russian, Ukrainian or Bulgarian name


def test_the_lexicon_reads_every_place_of_the_gazetteer_with_its_kind() -> None:
    import gzip

    from guardfn.pii.lexicon import BIG_CITY, DATA, KINDS

    rows = [line.split("\t") for line in gzip.decompress((DATA / "places.tsv.gz").read_bytes()).decode().splitlines()]
    assert [k for _, k, _ in rows] == sorted((k for _, k, _ in rows), key=KINDS.index)  # grouped, as the loader reads it
    lex = lexicon()
    assert lex.places == {name: kind for name, kind, _ in rows}
    assert lex.big_cities == {name for name, kind, population in rows if kind == "city" and int(population) >= BIG_CITY}
    assert lex.place_heads["new"] >= 2 and "new york" in lex.places


def test_ukrainian_names_also_as_ukraine_romanizes_them() -> None:
    from guardfn.pii.build_data import romanized

    assert romanized("Дмитро", ukrainian=True) == ["dmytro"] and romanized("Дмитро") == ["dmitro"]
    assert "dmytro" in lexicon().first_names
