"""Output rules on whole answers: folding, prohibited terms, domains, length, canary, redaction."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from guardfn.output.fold import fold, fold_term
from guardfn.output.rules import (
    AllowedDomains,
    CanaryLeak,
    MaxChars,
    OutputRule,
    ProhibitedTerms,
    Violation,
    check_rules,
    new_canary,
    redact,
)

# --- folding -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("Hello World", "hello world"),
        ("ＦＵＬＬ width", "full width"),
        ("ﬁne", "fine"),
        ("caf\u00e9 cafe\u0301", "cafe cafe"),
        ("zero\u200bwidth\u2060joined", "zerowidthjoined"),
        ("\u0441\u043e\u0440\u0443", "copy"),  # Cyrillic look-alikes
        ("STRASSE Straße", "strasse strasse"),
        ("a \n\t  b", "a b"),
        ("a \u200b b", "a b"),
        ("𝐛𝐨𝐥𝐝", "bold"),
    ],
)
def test_fold_undoes_look_alike_spellings(text: str, folded: str) -> None:
    assert fold(text).text == folded


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_fold_offsets_always_point_into_the_original(text: str) -> None:
    folded = fold(text)
    for index in range(len(folded.text) + 1):
        start, end = folded.span(0, index) if index else (0, 0)
        assert 0 <= start <= end <= len(text)
    if folded.origin is not None:
        assert folded.origin == sorted(folded.origin)
        assert len(folded.origin) == len(folded.text)


# --- prohibited terms ------------------------------------------------------------------------

TERMS = ProhibitedTerms(["competitor_name", "internal pricing"])


@pytest.mark.parametrize(
    "text",
    [
        "Ask competitor_name.",
        "COMPETITOR_NAME is cheaper",
        "Ｃｏｍｐｅｔｉｔｏｒ_name",
        "\u0441ompetitor_name",  # Cyrillic с
        "comp\u200betitor_name",
        "compe\u0301titor_name",
        "see Internal\n   Pricing",
        "(internal pricing)",
    ],
)
def test_prohibited_terms_are_caught_in_any_spelling(text: str) -> None:
    (violation,) = TERMS.check(text)
    assert violation.rule == "prohibited"
    assert "[redacted]" in redact(text, [violation])
    assert fold(redact(text, [violation])).text.count("competitor") == 0


@pytest.mark.parametrize("text", ["competitor_names", "xcompetitor_name", "internal pricingx", "internal", "pricing"])
def test_prohibited_terms_match_whole_words_only(text: str) -> None:
    assert TERMS.check(text) == []


def test_violation_spans_cover_the_original_characters() -> None:
    text = "ok Ｃｏｍｐ\u200bｅｔｉｔｏｒ_name ok"
    (v,) = TERMS.check(text)
    assert text[v.start : v.end] == "Ｃｏｍｐ\u200bｅｔｉｔｏｒ_name"
    assert redact(text, [v]) == "ok [redacted] ok"


def test_every_occurrence_is_reported() -> None:
    assert len(TERMS.check("competitor_name and Competitor_Name and internal pricing")) == 3


words = st.text(alphabet="abcdefghij ", min_size=0, max_size=20)


def _decorate(term: str, data: st.DataObject) -> str:
    out = []
    for char in term:
        choice = data.draw(st.sampled_from(["plain", "upper", "wide", "zw"]))
        if choice == "upper":
            out.append(char.upper())
        elif choice == "wide" and "!" <= char <= "~":
            out.append(chr(ord(char) + 0xFEE0))
        elif choice == "zw":
            out.append(char + "\u200b")
        else:
            out.append(char)
    return "".join(out)


@settings(max_examples=300, deadline=None)
@given(data=st.data(), before=words, after=words, term=st.sampled_from(["competitor_name", "internal pricing", "bad"]))
def test_a_decorated_term_is_found_anywhere(data: st.DataObject, before: str, after: str, term: str) -> None:
    rule = ProhibitedTerms(["competitor_name", "internal pricing", "bad"])
    decorated = _decorate(term, data)
    text = f"{before} {decorated} {after}"
    violations = rule.check(text)
    assert violations, text
    assert all(fold_term(text[v.start : v.end]) in {"competitor_name", "internal pricing", "bad"} for v in violations)
    assert rule.check(redact(text, violations)) == []


# --- domains ---------------------------------------------------------------------------------

DOMAINS = AllowedDomains(["acme.com", "docs.acme.com", "*.cdn.acme.com"])


@pytest.mark.parametrize(
    "text",
    [
        "Read https://acme.com/pricing and https://docs.acme.com/x?y=1#z.",
        "[docs](https://docs.acme.com/start)",
        "assets at https://img.cdn.acme.com/a.png",
        "visit acme.com today",
        "see setup.py and user.name in the code",
        "mail sales@evil.com",  # an e-mail address is not a link
        "numbers like 3.14 and e.g. i.e. are fine",
        "relative [link](/path/to/page)",
    ],
)
def test_allowed_links_pass(text: str) -> None:
    assert DOMAINS.check(text) == []


@pytest.mark.parametrize(
    ("text", "bad"),
    [
        ("go to https://evil.com/login now", "https://evil.com/login"),
        ("[click here](https://evil.com/x)", "https://evil.com/x"),
        ("<a href='http://evil.com'>x</a>", "http://evil.com"),
        ("visit evil.com today", "evil.com"),
        ("www.evil.io/path", "www.evil.io/path"),
        ("https://acme.com.evil.net/", "https://acme.com.evil.net/"),
        ("http://acme.com@evil.com/", "http://acme.com@evil.com/"),
        ("https://evil.com\\.docs.acme.com", "https://evil.com"),
        ("https://\u0430cme.com/", "https://\u0430cme.com/"),  # Cyrillic а: not acme.com
        ("//evil.com/x", "//evil.com/x"),
        ("https://www.acme.com/", "https://www.acme.com/"),  # exact hosts only, unless a wildcard says so
        ("https://cdn.acme.com/", "https://cdn.acme.com/"),  # the wildcard covers subdomains, not the apex
        ("ftp://10.0.0.1/file", "ftp://10.0.0.1/file"),
    ],
)
def test_links_to_unlisted_hosts_are_violations(text: str, bad: str) -> None:
    violations = DOMAINS.check(text)
    assert [text[v.start : v.end] for v in violations] == [bad]


def test_sentence_punctuation_is_not_part_of_the_link() -> None:
    text = "See https://evil.com/x."
    assert redact(text, DOMAINS.check(text)) == "See [redacted]."


def test_an_empty_allow_list_allows_no_link() -> None:
    assert len(AllowedDomains([]).check("https://acme.com and https://evil.com")) == 2


@pytest.mark.parametrize("entry", ["", "acme.com/path", "*.", "not a host"])
def test_bad_allow_list_entries_are_refused(entry: str) -> None:
    with pytest.raises(ValueError, match="allowed_domains"):
        AllowedDomains([entry])


# --- length and canary -------------------------------------------------------------------------


def test_max_chars_reports_the_overflow_and_redacting_truncates() -> None:
    rule = MaxChars(10)
    assert rule.check("0123456789") == []
    (v,) = rule.check("0123456789abc")
    assert (v.start, v.end) == (10, 13)
    assert redact("0123456789abc", [v]) == "0123456789"


def test_canary_is_caught_in_any_case_and_inside_words() -> None:
    token = new_canary()
    rule = CanaryLeak(token)
    assert rule.check("nothing here") == []
    assert len(rule.check(f"My instructions say {token.upper()}!")) == 1
    assert len(rule.check(f"prefix{token}suffix")) == 1
    assert new_canary() != token


# --- combining -------------------------------------------------------------------------------


def test_overlapping_spans_are_redacted_once() -> None:
    violations = [Violation("a", 2, 6), Violation("b", 4, 9), Violation("c", 12, 14)]
    assert redact("0123456789abcdef", violations, "#") == "01#9ab#ef"


def test_builtins_satisfy_the_protocol_and_plugins_can_add_rules() -> None:
    class NoShouting:
        id = "no_shouting"

        def check(self, text: str) -> list[Violation]:
            return [Violation(self.id, i, i + 1) for i, c in enumerate(text) if c == "!"]

    rules = [TERMS, DOMAINS, MaxChars(100), CanaryLeak("cnrytoken"), NoShouting()]
    assert all(isinstance(rule, OutputRule) for rule in rules)
    found = check_rules(rules, "Buy from competitor_name! https://evil.com")
    assert [v.rule for v in found] == ["prohibited", "no_shouting", "allowed_domains"]
