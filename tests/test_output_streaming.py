"""The streaming guard: rules applied as chunks arrive, holding back only what a rule needs."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Iterator

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from guardfn.errors import GuardrailViolation
from guardfn.output.rules import AllowedDomains, CanaryLeak, MaxChars, ProhibitedTerms, apply_rules, check_rules
from guardfn.output.streaming import StreamGuard, guard_async, guard_sync

TERMS = ProhibitedTerms(["competitor_name", "internal pricing"])
DOMAINS = AllowedDomains(["acme.com"])


def run(guard: StreamGuard, chunks: list[str]) -> list[str]:
    return list(guard_sync(guard, iter(chunks)))


def test_a_term_split_across_chunks_is_caught_before_any_of_it_is_emitted() -> None:
    guard = StreamGuard([TERMS], "raise")
    assert guard.feed("Our rival is compet") == "Our rival is "
    with pytest.raises(GuardrailViolation) as info:
        guard.feed("itor_name, sadly.")
    assert info.value.rules == ["prohibited"]
    assert "competitor" not in str(info.value)


def test_redact_replaces_a_split_term() -> None:
    out = run(StreamGuard([TERMS], "redact"), ["Ask Compet", "itor_", "name today"])
    assert "".join(out) == "Ask [redacted] today"


def test_only_a_possible_term_prefix_is_held_back() -> None:
    guard = StreamGuard([TERMS], "raise")
    assert guard.feed("hello there ") == "hello there "  # nothing could start a term
    assert guard.feed("inter") == ""  # could become "internal pricing"
    assert guard.feed("esting stuff ") == "interesting stuff "


def test_a_complete_term_waits_for_the_next_character_to_decide_whole_word() -> None:
    guard = StreamGuard([TERMS], "raise")
    assert guard.feed("competitor_name") == ""
    assert guard.feed("s are fine ") == "competitor_names are fine "


def test_padding_with_invisible_characters_does_not_push_a_term_through() -> None:
    guard = StreamGuard([TERMS], "redact")
    pieces = ["x comp"] + ["\u200b"] * 500 + ["etitor_name y"]
    out = "".join(run(guard, pieces))
    assert out == "x [redacted] y"


def test_a_url_is_held_until_its_host_is_known() -> None:
    guard = StreamGuard([DOMAINS], "redact")
    out = [guard.feed(c) for c in ["see htt", "ps://acme", ".com.evil.net/x", " and more"]]
    out.append(guard.flush())
    assert "".join(out) == "see [redacted] and more"
    assert out[0] == "see "


def test_flag_mode_emits_everything_and_counts() -> None:
    guard = StreamGuard([TERMS, DOMAINS], "flag")
    text = "competitor_name at https://evil.com and competitor_name"
    assert "".join(run(guard, [text[i : i + 3] for i in range(0, len(text), 3)])) == text
    assert guard.counts == {"prohibited": 2, "allowed_domains": 1}


def test_max_chars_truncates_and_stops_reading() -> None:
    consumed = []

    def chunks() -> Iterator[str]:
        for piece in ["0123", "4567", "89ab", "cdef", "ghij"]:
            consumed.append(piece)
            yield piece

    guard = StreamGuard([MaxChars(10)], "redact")
    assert "".join(guard_sync(guard, chunks())) == "0123456789"
    assert guard.stopped
    assert consumed == ["0123", "4567", "89ab"]


def test_max_chars_raises_as_soon_as_it_is_exceeded() -> None:
    guard = StreamGuard([MaxChars(5)], "raise")
    assert guard.feed("0123") == "0123"
    with pytest.raises(GuardrailViolation):
        guard.feed("456")


def test_a_rule_without_pending_holds_everything_until_the_end() -> None:
    class Opaque:
        id = "opaque"

        def check(self, text: str) -> list:
            return []

    guard = StreamGuard([Opaque()], "raise")
    assert guard.feed("abc") == ""
    assert guard.flush() == "abc"


def test_upstream_is_closed_when_the_guard_refuses() -> None:
    closed = []

    def chunks() -> Iterator[str]:
        try:
            yield "competitor_name "
            yield "more"
        finally:
            closed.append(True)

    with pytest.raises(GuardrailViolation):
        list(guard_sync(StreamGuard([TERMS], "raise"), chunks()))
    assert closed == [True]


async def test_async_guard_matches_sync() -> None:
    async def chunks() -> AsyncIterator[str]:
        for piece in ["a compet", "itor_name b"]:
            await asyncio.sleep(0)
            yield piece

    out = [c async for c in guard_async(StreamGuard([TERMS], "redact"), chunks())]
    assert "".join(out) == "a [redacted] b"


# --- properties: streaming agrees with checking the whole answer -------------------------------

PIECES = [
    "competitor_name",
    "Competitor_Name",
    "ｃｏｍｐｅｔｉｔｏｒ",
    "_name",
    "internal",
    " pricing",
    " ",
    "\n",
    ".",
    "x",
    "ab",
    "\u200b",
    "é",
    "https://evil.com/x",
    "https://acme.com/y",
    "acme.com",
    "evil.com",
    "http",
    "://",
    "www.",
    "[link](",
    ")",
    "cnrytoken",
    "CNRY",
    "token",
    "@",
]
texts = st.lists(st.sampled_from(PIECES), max_size=25).map("".join)


def _rules() -> list:
    return [TERMS, DOMAINS, CanaryLeak("cnrytoken"), MaxChars(120)]


def _chunked(text: str, cuts: list[int]) -> list[str]:
    points = sorted({c % (len(text) + 1) for c in cuts} | {0, len(text)})
    return [text[a:b] for a, b in itertools.pairwise(points)]


LONG_URL = "https://acme.com/y" + "competitor_name" * 3 + "https://evil.com/x pricing"
"""A URL longer than the stream's context: its host (allowed) is far behind the text being judged."""


@settings(max_examples=400, deadline=None)
@given(text=texts, cuts=st.lists(st.integers(min_value=0, max_value=10_000), max_size=12))
@example(text=LONG_URL, cuts=[])
@example(text=LONG_URL, cuts=[30, 75])
def test_redacting_a_stream_equals_redacting_the_whole_answer(text: str, cuts: list[int]) -> None:
    rules = _rules()
    expected, _ = apply_rules(rules, text)
    assert "".join(run(StreamGuard(rules, "redact"), _chunked(text, cuts))) == expected


@settings(max_examples=300, deadline=None)
@given(text=texts, cuts=st.lists(st.integers(min_value=0, max_value=10_000), max_size=12))
def test_flagging_a_stream_changes_nothing_and_counts_like_the_whole_answer(text: str, cuts: list[int]) -> None:
    rules = _rules()
    guard = StreamGuard(rules, "flag")
    assert "".join(run(guard, _chunked(text, cuts))) == text
    assert set(guard.counts) == {v.rule for v in check_rules(rules, text)}


@settings(max_examples=300, deadline=None)
@given(text=texts, cuts=st.lists(st.integers(min_value=0, max_value=10_000), max_size=12))
@example(text="https://acme.com/y://" + "competitor_name" * 4 + "[link](", cuts=[])
def test_a_stream_is_refused_exactly_when_the_whole_answer_would_be(text: str, cuts: list[int]) -> None:
    rules = _rules()
    violated = bool(check_rules(rules, text))
    emitted: list[str] = []
    try:
        for out in guard_sync(StreamGuard(rules, "raise"), iter(_chunked(text, cuts))):
            emitted.append(out)
    except GuardrailViolation:
        assert violated
        assert "".join(emitted) == text[: len("".join(emitted))]
        return
    assert not violated
    assert "".join(emitted) == text
