"""JSON extraction from model text: fences, prose around the value, bounded work on hostile input."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from guardfn.output.extract import NoJSONFound, candidates, extract_json


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"a": 1}', {"a": 1}),
        ("  [1, 2, 3]\n", [1, 2, 3]),
        ("42", 42),
        ('"just a string"', "just a string"),
        ('```json\n{"a": 1}\n```', {"a": 1}),
        ('```\n[{"a": 1}]\n```', [{"a": 1}]),
        ('Sure! Here it is:\n```json\n{"a": {"b": [1, 2]}}\n```\nLet me know.', {"a": {"b": [1, 2]}}),
        ('Here you go: {"a": 1} -- hope this helps!', {"a": 1}),
        ('{"a": "}{ ] [ not a bracket"} trailing', {"a": "}{ ] [ not a bracket"}),
        ('Use {curly braces} like this: {"a": 1}', {"a": 1}),
        ('The answer is [{"id": "x"}, {"id": "y"}].', [{"id": "x"}, {"id": "y"}]),
    ],
)
def test_extracts_the_json_value_a_model_meant(text: str, expected: object) -> None:
    assert extract_json(text) == expected


def test_no_json_raises_a_value_error() -> None:
    with pytest.raises(NoJSONFound):
        extract_json("I cannot help with that.")
    assert issubclass(NoJSONFound, ValueError)


def test_candidates_are_ordered_fence_first_and_yielded_once() -> None:
    text = 'prefix {"x": 1} middle\n```json\n{"y": 2}\n```\nend [3]'
    found = [(c.value, c.source) for c in candidates(text)]
    assert found == [({"y": 2}, "fence"), ({"x": 1}, "scan"), ([3], "scan")]


def test_spans_point_at_the_value_in_the_original_text() -> None:
    text = 'ok: {"a": [1, 2]} done'
    (first, *_) = candidates(text)
    assert text[first.start : first.end] == '{"a": [1, 2]}'


def test_unterminated_json_is_not_a_candidate() -> None:
    with pytest.raises(NoJSONFound):
        extract_json('{"product_id": "a", "reason": ')


def test_pathological_nesting_fails_cleanly() -> None:
    with pytest.raises(NoJSONFound):
        extract_json("[" * 200_000)


def test_attempts_are_bounded_on_hostile_input() -> None:
    # thousands of openers that never parse: gives up after `limit` attempts instead of
    # trying every position (the valid value at the end is out of reach, by design)
    text = "{x " * 5000 + '{"a": 1}'
    assert list(candidates(text, limit=8)) == []
    assert extract_json(text, limit=10_000) == {"a": 1}


json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text()
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
containers = st.one_of(st.lists(json_values, max_size=4), st.dictionaries(st.text(max_size=8), json_values, max_size=4))
# prose that cannot itself start a JSON value or a fence
prose = st.text(alphabet=st.characters(blacklist_characters="{[`", blacklist_categories=["Cs"]), max_size=40)


@settings(max_examples=200, deadline=None)
@given(value=containers, before=prose, after=prose, indent=st.sampled_from([None, 2]))
def test_any_object_or_array_is_found_inside_prose(value: object, before: str, after: str, indent: int | None) -> None:
    text = before + json.dumps(value, indent=indent, ensure_ascii=False) + after
    assert extract_json(text) == value


@settings(max_examples=100, deadline=None)
@given(
    value=json_values,
    before=st.text(max_size=30),
    after=st.text(max_size=30),
    tag=st.sampled_from(["", "json", "JSON"]),
)
def test_any_value_in_a_code_fence_is_found(value: object, before: str, after: str, tag: str) -> None:
    before = before.replace("`", "'")
    after = after.replace("`", "'")
    text = f"{before}\n```{tag}\n{json.dumps(value)}\n```\n{after}"
    assert any(c.value == value for c in candidates(text))


@settings(max_examples=100, deadline=None)
@given(value=json_values, pad=st.sampled_from(["", " ", "\n\t "]))
def test_a_whole_json_answer_is_returned_as_is(value: object, pad: str) -> None:
    assert extract_json(pad + json.dumps(value) + pad) == value
