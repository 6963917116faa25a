"""The phone recognizer's per-region gate never rejects a number phonenumbers' matcher would find."""

from __future__ import annotations

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pytest.importorskip("presidio_analyzer")

import phonenumbers
from phonenumbers import PhoneNumberFormat, PhoneNumberMatcher, PhoneNumberType

from guardfn.pii.phones import FastPhoneRecognizer, RegionGate, _digit_groups, _has_plus

EXAMPLES = int(os.environ.get("GUARDFN_PII_EXAMPLES", "120"))

REGIONS = FastPhoneRecognizer.DEFAULT_SUPPORTED_REGIONS
TYPES = (
    PhoneNumberType.FIXED_LINE,
    PhoneNumberType.MOBILE,
    PhoneNumberType.TOLL_FREE,
    PhoneNumberType.PREMIUM_RATE,
    PhoneNumberType.VOIP,
    PhoneNumberType.SHARED_COST,
    PhoneNumberType.PERSONAL_NUMBER,
    PhoneNumberType.UAN,
    PhoneNumberType.PAGER,
)
FORMATS = (PhoneNumberFormat.NATIONAL, PhoneNumberFormat.INTERNATIONAL, PhoneNumberFormat.E164)

_GATES = {region: RegionGate(region) for region in REGIONS}


@st.composite
def _phone_like(draw: st.DrawFn) -> str:
    """A real example number of some region and type, formatted, with some digits changed or cut."""
    region = draw(st.sampled_from(REGIONS))
    number = phonenumbers.example_number_for_type(region, draw(st.sampled_from(TYPES)))
    if number is None:
        number = phonenumbers.example_number(region)
    assert number is not None
    text = phonenumbers.format_number(number, draw(st.sampled_from(FORMATS)))
    chars = list(text)
    for _ in range(draw(st.integers(0, 3))):
        i = draw(st.integers(0, len(chars) - 1))
        if chars[i].isdigit():
            chars[i] = draw(st.sampled_from("0123456789"))
    text = "".join(chars)
    edit = draw(st.sampled_from(["none", "drop_plus", "drop_lead", "drop_zero", "add_zero", "spaces"]))
    if edit == "drop_plus":
        text = text.lstrip("+")
    elif edit == "drop_lead":
        text = text[1:]
    elif edit == "drop_zero":
        text = text.replace("0", "", 1)
    elif edit == "add_zero":
        text = "0" + text
    elif edit == "spaces":
        text = " ".join(_digit_groups(text))
    return text


_DIGIT_RUNS = st.lists(st.text(alphabet="0123456789", min_size=1, max_size=6), min_size=1, max_size=4).map(" ".join)


@settings(max_examples=EXAMPLES * 5, deadline=None)
@given(candidate=st.one_of(_phone_like(), _DIGIT_RUNS), before=st.sampled_from(["", "call ", "tel: "]))
def test_a_rejected_region_has_no_match(candidate: str, before: str) -> None:
    text = f"{before}{candidate} today"
    groups = _digit_groups(candidate)
    for region in REGIONS:
        if _has_plus(candidate) or _GATES[region].admits(groups):
            continue
        matches = [m.raw_string for m in PhoneNumberMatcher(text, region, leniency=phonenumbers.Leniency.VALID)]
        assert matches == [], (region, text)


def test_national_format_without_required_prefix_is_rejected() -> None:
    # "030 1234567" is a valid Berlin number; written without its "0" the matcher drops it
    # (the national prefix is required in Germany), and so does the gate.
    de = _GATES["DE"]
    assert de.admits(["030", "1234567"])
    assert list(PhoneNumberMatcher("030 1234567", "DE"))
    assert not list(PhoneNumberMatcher("30 1234567", "DE"))
    assert not de.admits(["30", "1234567"])
    # With POSSIBLE leniency the prefix is not checked: the gate must not use the rule then.
    assert RegionGate("DE", prefix_rule=False).admits(["30", "1234567"])


def test_prefix_rule_follows_the_recognizers_leniency() -> None:
    strict = FastPhoneRecognizer()
    lenient = FastPhoneRecognizer(leniency=0)
    assert strict._gates["DE"].prefix_rule
    assert not lenient._gates["DE"].prefix_rule
