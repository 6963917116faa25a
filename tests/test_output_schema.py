"""Schema validation: the validator on its own, then re-asks end to end through the real SDKs."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
from pydantic import BaseModel, Field
from typing_extensions import TypedDict

from guardfn import guarded_llm, plugins
from guardfn.call import Call
from guardfn.errors import ConfigurationError, OutputValidationError
from guardfn.hookspecs import hookimpl
from guardfn.output.schema import SchemaValidator, strict_json_schema, validator_for
from guardfn.providers.openai import response_format
from guardfn.testing import FakeLLMServer

KEY = "sk-test-schema-0000"
MODELS = {"openai": "gpt-4o-mini", "anthropic": "claude-sonnet-4-6"}


class ProductRecommendation(BaseModel):
    product_id: str
    reason: str
    confidence_score: float = Field(ge=0.0, le=1.0)


class Point(TypedDict):
    x: int
    y: int


@dataclasses.dataclass
class Tag:
    name: str
    weight: float = 1.0


GOOD: dict[str, Any] = {"product_id": "boot-42", "reason": "waterproof", "confidence_score": 0.8}
SECRET_WORD = "zanzibar-7731"  # appears only in bad answers: must never reach an error message


# --- the validator ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("schema", "text", "expected"),
    [
        (ProductRecommendation, json.dumps(GOOD), ProductRecommendation(**GOOD)),
        (ProductRecommendation, f"Here:\n```json\n{json.dumps(GOOD)}\n```\nEnjoy!", ProductRecommendation(**GOOD)),
        (list[ProductRecommendation], f"[{json.dumps(GOOD)}]", [ProductRecommendation(**GOOD)]),
        (Point, 'The point is {"x": 1, "y": 2}.', {"x": 1, "y": 2}),
        (Tag, '{"name": "a"}', Tag("a")),
        (dict[str, int], '{"a": 1}', {"a": 1}),
        (int, "42", 42),
    ],
)
def test_validates_any_type_adapter_type(schema: Any, text: str, expected: Any) -> None:
    result = validator_for(schema).validate(text)
    assert result.ok, result.errors
    assert result.value == expected


def test_the_first_candidate_that_validates_wins() -> None:
    text = f'See note [1] and {{"oops": true}} then {json.dumps(GOOD)}'
    assert validator_for(ProductRecommendation).validate(text).value == ProductRecommendation(**GOOD)


def test_errors_never_contain_input_values() -> None:
    bad = {"product_id": SECRET_WORD, "reason": 5, "confidence_score": SECRET_WORD}
    result = validator_for(ProductRecommendation).validate(json.dumps(bad))
    assert not result.ok
    assert {e["type"] for e in result.errors} == {"string_type", "float_parsing"}
    assert SECRET_WORD not in json.dumps(result.errors)
    assert all("input" not in e and "url" not in e for e in result.errors)


def test_unparseable_answers_give_a_json_error() -> None:
    v = validator_for(ProductRecommendation)
    assert v.validate("I'd rather not.").errors[0]["type"] == "json_invalid"
    assert v.validate('{"product_id": "a", "reason": ').errors[0]["type"] == "json_invalid"


def test_reask_message_lists_locations_and_messages_only() -> None:
    v = validator_for(ProductRecommendation)
    errors = v.validate(json.dumps({**GOOD, "product_id": SECRET_WORD, "confidence_score": 7})).errors
    message = v.reask_message(errors, truncated=True)
    assert "confidence_score" in message and "less than or equal to 1" in message
    assert SECRET_WORD not in message
    assert "cut off" in message


def test_openai_request_is_strict_with_every_property_required() -> None:
    schema = validator_for(Tag).output_schema()
    assert schema is not None
    spec = response_format(schema)["json_schema"]
    assert spec["strict"] is True and spec["name"] == "Tag"
    assert spec["schema"]["required"] == ["name", "weight"]
    assert spec["schema"]["additionalProperties"] is False
    assert "default" not in json.dumps(spec["schema"])


def test_free_form_objects_are_sent_without_strict() -> None:
    schema = validator_for(dict[str, int]).output_schema()
    assert schema is not None and schema.strict_schema is None
    assert response_format(schema)["json_schema"]["strict"] is False
    _, possible = strict_json_schema({"type": "object", "properties": {"a": {"type": "string", "not": {}}}})
    assert possible is False


def test_non_object_schemas_are_wrapped_for_native_output_and_unwrapped_again() -> None:
    v = SchemaValidator(list[ProductRecommendation])
    schema = v.output_schema()
    assert schema is not None
    assert schema.schema["type"] == "object"
    assert schema.schema["required"] == ["result"]
    assert "$defs" in schema.schema
    wrapped = json.dumps({"result": [GOOD]})
    assert v.validate(wrapped, unwrap=True).value == [ProductRecommendation(**GOOD)]


# --- end to end ----------------------------------------------------------------------------------


class Recorder:
    """Counts reservations and settlements, keeps the finished calls."""

    def __init__(self) -> None:
        self.reserves = 0
        self.settles = 0
        self.calls: list[Call] = []

    @hookimpl
    def guardfn_reserve(self, call: Call) -> None:
        self.reserves += 1

    @hookimpl
    def guardfn_settle(self, call: Call, response: Any) -> None:
        self.settles += 1

    @hookimpl
    def guardfn_record(self, call: Call, outcome: str) -> None:
        self.calls.append(call)


@pytest.fixture
def recorder() -> Recorder:
    rec = Recorder()
    plugins.register(rec, name="test_output_recorder")
    return rec


def _base_url(server: FakeLLMServer, provider: str) -> str:
    return server.openai_base_url if provider == "openai" else server.anthropic_base_url


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_invalid_then_valid_reasks_with_the_errors(server: FakeLLMServer, recorder: Recorder, provider: str) -> None:
    first = json.dumps({**GOOD, "confidence_score": 3})
    server.reply(f"Sure! {first}")
    server.reply(json.dumps(GOOD))

    @guarded_llm(
        model=MODELS[provider],
        base_url=_base_url(server, provider),
        api_key=lambda: KEY,
        schema=ProductRecommendation,
        schema_retries=2,
    )
    def recommend(user_id: str, query: str) -> str:
        return f"Recommend one product for: {query}"

    assert recommend("u-1", "hiking boots") == ProductRecommendation(**GOOD)
    (call,) = recorder.calls
    assert call.reasks == 1 and call.attempts == 2
    assert recorder.reserves == 2 and recorder.settles == 2  # the re-ask reserved and settled again
    first_body, second_body = (r.body for r in server.requests)
    messages = second_body["messages"]
    assert messages[:-2] == first_body["messages"]
    assert messages[-2] == {"role": "assistant", "content": f"Sure! {first}"}
    assert messages[-1]["role"] == "user"
    assert "confidence_score" in messages[-1]["content"] and "less than or equal to 1" in messages[-1]["content"]
    for body in (first_body, second_body):
        if provider == "openai":
            assert body["response_format"]["json_schema"]["strict"] is True
        else:
            assert body["tool_choice"] == {"type": "tool", "name": "ProductRecommendation"}
            assert body["tools"][0]["input_schema"]["required"] == ["product_id", "reason", "confidence_score"]


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_always_invalid_raises_after_the_retries(server: FakeLLMServer, recorder: Recorder, provider: str) -> None:
    server.reply(f"I think {SECRET_WORD} is best", times=5)

    @guarded_llm(
        model=MODELS[provider],
        base_url=_base_url(server, provider),
        api_key=lambda: KEY,
        schema=ProductRecommendation,
        schema_retries=3,
    )
    def recommend(user_id: str, query: str) -> str:
        return query

    with pytest.raises(OutputValidationError) as info:
        recommend("u-1", "boots")
    assert len(server.requests) == 4
    err = info.value
    assert err.stage == "schema" and err.errors and err.errors[0]["type"] == "json_invalid"
    assert SECRET_WORD not in str(err) and SECRET_WORD not in json.dumps(err.errors)
    (call,) = recorder.calls
    assert call.reasks == 3 and call.outcome == "blocked"
    assert recorder.settles == 4


def test_zero_retries_fails_on_the_first_bad_answer(server: FakeLLMServer) -> None:
    server.reply("not json")

    @guarded_llm(
        model="gpt-4o-mini",
        base_url=server.openai_base_url,
        api_key=lambda: KEY,
        schema=ProductRecommendation,
        schema_retries=0,
    )
    def recommend(user_id: str, query: str) -> str:
        return query

    with pytest.raises(OutputValidationError):
        recommend("u-1", "boots")
    assert len(server.requests) == 1


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_list_schemas_round_trip_through_native_output(server: FakeLLMServer, provider: str) -> None:
    server.reply(json.dumps({"result": [GOOD, GOOD]}))

    @guarded_llm(
        model=MODELS[provider],
        base_url=_base_url(server, provider),
        api_key=lambda: KEY,
        schema=list[ProductRecommendation],
    )
    def recommend(user_id: str, query: str) -> str:
        return query

    assert recommend("u-1", "two boots") == [ProductRecommendation(**GOOD)] * 2


def test_without_native_output_the_prompt_carries_the_schema(server: FakeLLMServer) -> None:
    server.reply('```json\n{"x": 3, "y": 4}\n```')

    @guarded_llm(
        model="gpt-4o-mini",
        base_url=server.openai_base_url,
        api_key=lambda: KEY,
        schema=Point,
        native_structured_output=False,
        system="You are terse.",
    )
    def point(user_id: str) -> str:
        return "a point"

    assert point("u-1") == {"x": 3, "y": 4}
    body = server.requests[0].body
    assert "response_format" not in body
    system = body["messages"][0]
    assert system["role"] == "system" and system["content"].startswith("You are terse.")
    assert '"x"' in system["content"] and "JSON" in system["content"]


async def test_async_reask(server: FakeLLMServer, recorder: Recorder) -> None:
    server.reply("{broken")
    server.reply(json.dumps({"name": "waterproof", "weight": 0.5}))

    @guarded_llm(model="claude-sonnet-4-6", base_url=server.anthropic_base_url, api_key=lambda: KEY, schema=Tag)
    async def tag(user_id: str) -> str:
        return "one tag"

    assert await tag("u-1") == Tag("waterproof", 0.5)
    assert recorder.calls[0].reasks == 1


def test_a_schema_pydantic_cannot_use_is_refused_before_any_request(server: FakeLLMServer) -> None:
    with pytest.raises(ConfigurationError, match="schema"):

        @guarded_llm(model="gpt-4o-mini", base_url=server.openai_base_url, api_key=lambda: KEY, schema=object())
        def f(user_id: str) -> str:
            return "x"

    assert server.requests == []


def test_schema_with_stream_is_refused(server: FakeLLMServer) -> None:
    with pytest.raises(ConfigurationError, match="stream"):

        @guarded_llm(
            model="gpt-4o-mini",
            base_url=server.openai_base_url,
            api_key=lambda: KEY,
            schema=ProductRecommendation,
            stream=True,
        )
        def f(user_id: str) -> str:
            return "x"

    assert server.requests == []
