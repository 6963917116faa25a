"""The pii stage end to end: real SDKs, the loopback provider, and the server's own record."""

from __future__ import annotations

import json
import logging
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import BaseModel

pytest.importorskip("presidio_analyzer")

from guardfn import guarded_llm
from guardfn.call import Call, Response
from guardfn.errors import ConfigurationError, OfflineFallbackWarning, PIIDetected, PIIEngineUnavailable
from guardfn.pii import engine as engine_mod
from guardfn.settings import Settings
from guardfn.stages import pii as stage
from guardfn.testing import FakeLLMServer

KEY = "sk-test-pii-0000000000"

# One raw value per supported pattern entity, each in a sentence that makes it detectable.
RAW = {
    "EMAIL_ADDRESS": "ann.lee@example.com",
    "PHONE_NUMBER": "(415) 555-2671",
    "US_SSN": "536-22-1234",
    "CREDIT_CARD": "4111 1111 1111 1111",
    "IBAN_CODE": "GB82 WEST 1234 5698 7654 32",
    "IP_ADDRESS": "203.0.113.77",
    "US_PASSPORT": "912803456",
    "US_BANK_NUMBER": "000123456789",
    "US_DRIVER_LICENSE": "D1234567",
    "UK_NHS": "943 476 5919",
    "CRYPTO": "1BoatSLRHtKNngkdXEeobR76b53LETtpyT",
}
SYSTEM = f"You help the account of {RAW['EMAIL_ADDRESS']}; their NHS number is {RAW['UK_NHS']}."
EARLIER_USER = f"My passport number is {RAW['US_PASSPORT']} and my bank account {RAW['US_BANK_NUMBER']}."
EARLIER_ASSISTANT = f"Noted: card {RAW['CREDIT_CARD']} and wallet {RAW['CRYPTO']}."
LAST_USER = (
    f"Call me at {RAW['PHONE_NUMBER']} or mail {RAW['EMAIL_ADDRESS']}. SSN {RAW['US_SSN']}, IBAN "
    f"{RAW['IBAN_CODE']}, blocked from {RAW['IP_ADDRESS']}, my driver's license number is "
    f"{RAW['US_DRIVER_LICENSE']}."
)
MODELS = {"openai": "gpt-4o-mini", "anthropic": "claude-sonnet-4-5"}


@pytest.fixture(autouse=True)
def _quiet_ner_warning() -> Iterator[None]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OfflineFallbackWarning)
        yield


def _conversation(q: str) -> list[dict[str, str]]:
    return [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": EARLIER_USER},
        {"role": "assistant", "content": EARLIER_ASSISTANT},
        {"role": "user", "content": q},
    ]


def _sent(server: FakeLLMServer) -> str:
    return "\n".join(json.dumps(r.body, ensure_ascii=False) for r in server.requests)


def _base_url(server: FakeLLMServer, provider: str) -> str:
    return server.openai_base_url if provider == "openai" else server.anthropic_base_url


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
@pytest.mark.parametrize("mode", ["redact", "mask", "pseudonymize"])
def test_no_raw_value_reaches_the_provider_in_any_message(server: FakeLLMServer, provider: str, mode: str) -> None:
    @guarded_llm(model=MODELS[provider], base_url=_base_url(server, provider), api_key=lambda: KEY, pii=mode)
    def ask(user_id: str, q: str) -> list[dict[str, str]]:
        return _conversation(q)

    answer = ask("u-1", LAST_USER)
    assert len(server.requests) == 1
    sent = _sent(server)
    for entity, value in RAW.items():
        assert value not in sent, f"{entity} reached the provider in mode {mode}"
    assert "You help the account of" in sent and "Noted:" in sent  # the messages themselves were sent
    if mode == "pseudonymize":
        assert "<EMAIL_ADDRESS_1>" in sent
        assert answer == f"echo: {LAST_USER}"  # the echo came back with the real values
    elif mode == "redact":
        assert "[US_SSN]" in sent


def test_mode_off_sends_the_values_as_they_are(server: FakeLLMServer) -> None:
    @guarded_llm(model="gpt-4o-mini", base_url=server.openai_base_url, api_key=lambda: KEY, pii="off")
    def ask(user_id: str, q: str) -> list[dict[str, str]]:
        return _conversation(q)

    ask("u-1", LAST_USER)
    sent = _sent(server)
    assert all(value in sent for value in RAW.values())


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_block_refuses_before_any_request_listing_types_never_values(server: FakeLLMServer, provider: str) -> None:
    @guarded_llm(model=MODELS[provider], base_url=_base_url(server, provider), api_key=lambda: KEY, pii="block")
    def ask(user_id: str, q: str) -> list[dict[str, str]]:
        return _conversation(q)

    with pytest.raises(PIIDetected) as info:
        ask("u-1", LAST_USER)
    assert server.requests == []
    err = info.value
    assert err.stage == "pii"
    assert err.entities["EMAIL_ADDRESS"] == 2 and set(err.entities) == set(RAW)
    text = f"{err} {err.to_dict()} {err.entities}"
    assert not any(value in text for value in RAW.values())

    @guarded_llm(model=MODELS[provider], base_url=_base_url(server, provider), api_key=lambda: KEY, pii="block")
    def clean(user_id: str, q: str) -> str:
        return q

    assert clean("u-1", "nothing personal here") == "echo: nothing personal here"


def test_allow_list_lets_chosen_values_through(server: FakeLLMServer) -> None:
    @guarded_llm(
        model="gpt-4o-mini",
        base_url=server.openai_base_url,
        api_key=lambda: KEY,
        pii="redact",
        pii_allow=["support@acme.com"],
        pii_allow_patterns=[r"\d{3}\.\d+\.\d+\.\d+"],
    )
    def ask(user_id: str, q: str) -> str:
        return q

    ask("u-1", f"Copy support@acme.com, not {RAW['EMAIL_ADDRESS']}; host {RAW['IP_ADDRESS']}")
    sent = _sent(server)
    assert "support@acme.com" in sent and RAW["IP_ADDRESS"] in sent
    assert RAW["EMAIL_ADDRESS"] not in sent


def test_entity_selection_only_replaces_chosen_types(server: FakeLLMServer) -> None:
    @guarded_llm(
        model="gpt-4o-mini", base_url=server.openai_base_url, api_key=lambda: KEY, pii="redact", pii_entities=["US_SSN"]
    )
    def ask(user_id: str, q: str) -> str:
        return q

    ask("u-1", LAST_USER)
    sent = _sent(server)
    assert RAW["US_SSN"] not in sent and RAW["EMAIL_ADDRESS"] in sent


async def test_async_pseudonymize_restores_and_sends_nothing_raw(server: FakeLLMServer) -> None:
    @guarded_llm(model="claude-sonnet-4-5", base_url=server.anthropic_base_url, api_key=lambda: KEY, pii="pseudonymize")
    async def ask(user_id: str, q: str) -> str:
        return q

    assert await ask("u-1", LAST_USER) == f"echo: {LAST_USER}"
    sent = _sent(server)
    assert not any(value in sent for value in RAW.values())


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_streamed_answers_are_restored_across_chunks(server: FakeLLMServer, provider: str) -> None:
    @guarded_llm(
        model=MODELS[provider],
        base_url=_base_url(server, provider),
        api_key=lambda: KEY,
        pii="pseudonymize",
        stream=True,
    )
    def ask(user_id: str, q: str) -> str:
        return q

    chunks = list(ask("u-1", LAST_USER))
    assert "".join(chunks) == f"echo: {LAST_USER}"
    assert not any(value in _sent(server) for value in RAW.values())


def test_an_engine_that_cannot_start_refuses_the_call(server: FakeLLMServer, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken() -> Any:
        raise ImportError(f"cannot load presidio for {RAW['EMAIL_ADDRESS']}")

    monkeypatch.setattr(engine_mod, "get_engine", broken)

    @guarded_llm(model="gpt-4o-mini", base_url=server.openai_base_url, api_key=lambda: KEY, pii="redact")
    def ask(user_id: str, q: str) -> str:
        return q

    with pytest.raises(PIIEngineUnavailable) as info:
        ask("u-1", LAST_USER)
    assert server.requests == []
    assert RAW["EMAIL_ADDRESS"] not in str(info.value)
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_a_failing_recognizer_refuses_the_call_without_quoting_text(
    server: FakeLLMServer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    engine = engine_mod.get_engine()

    def explode(text: str, *args: Any, **kwargs: Any) -> Any:
        raise ValueError(f"Did not find word '{text}' in the list of tokens")  # as Presidio's enhancer does

    monkeypatch.setattr(engine, "analyze", explode)

    @guarded_llm(model="gpt-4o-mini", base_url=server.openai_base_url, api_key=lambda: KEY, pii="pseudonymize")
    def ask(user_id: str, q: str) -> str:
        return q

    caplog.set_level(logging.DEBUG)
    with pytest.raises(PIIEngineUnavailable) as info:
        ask("u-1", LAST_USER)
    assert server.requests == []
    assert "ValueError" in str(info.value)
    assert not any(value in str(info.value) or value in caplog.text for value in RAW.values())


def test_nothing_pii_related_is_logged(server: FakeLLMServer, caplog: pytest.LogCaptureFixture) -> None:
    @guarded_llm(model="gpt-4o-mini", base_url=server.openai_base_url, api_key=lambda: KEY, pii="pseudonymize")
    def ask(user_id: str, q: str) -> list[dict[str, str]]:
        return _conversation(q)

    caplog.set_level(logging.DEBUG)
    ask("u-1", LAST_USER)
    assert not any(value in caplog.text for value in RAW.values())
    assert "<EMAIL_ADDRESS_1>" not in caplog.text  # nor the vault


def test_unknown_entities_and_bad_patterns_are_configuration_errors(server: FakeLLMServer) -> None:
    for options in ({"pii_entities": ["EMAIL_ADDRESS", "SHOE_SIZE"]}, {"pii_allow_patterns": ["(unclosed"]}):
        with pytest.raises(ConfigurationError) as info:  # refused when decorated

            @guarded_llm(model="gpt-4o-mini", base_url=server.openai_base_url, api_key=lambda: KEY, pii="redact", **options)
            def ask(user_id: str, q: str) -> str:
                return q

        assert info.value.stage == "pii"
    assert server.requests == []


class Ticket(BaseModel):
    customer: str
    contacts: list[str]


def test_transform_output_restores_text_and_every_field_of_the_parsed_object() -> None:
    call = Call(function="f", settings=Settings(pii="pseudonymize"), messages=[])
    call.vault.update({"<EMAIL_ADDRESS_1>": "ann@example.com", "<PERSON_1>": "Ann Lee"})
    response = Response(text='{"customer": "<PERSON_1>"} <PHONE_NUMBER_4>')
    response.parsed = {"ticket": Ticket(customer="<PERSON_1>", contacts=["<EMAIL_ADDRESS_1>"]), "n": 1}
    stage.guardfn_transform_output(call, response)
    assert response.text == '{"customer": "Ann Lee"} <PHONE_NUMBER_4>'  # an invented placeholder stays
    assert response.parsed == {"ticket": Ticket(customer="Ann Lee", contacts=["ann@example.com"]), "n": 1}


SPLIT_REPLY = ["Reach <EMAIL_AD", "DRESS_1> or <", "PHONE_NUMBER_1", ">; <EMAIL_ADDRESS_9> was never issued", " <"]


def test_placeholders_split_across_stream_chunks_are_restored(server: FakeLLMServer) -> None:
    server.reply("".join(SPLIT_REPLY), chunks=SPLIT_REPLY)

    @guarded_llm(
        model="gpt-4o-mini", base_url=server.openai_base_url, api_key=lambda: KEY, pii="pseudonymize", stream=True
    )
    def ask(user_id: str, q: str) -> str:
        return q

    out = "".join(ask("u-1", f"Call me at {RAW['PHONE_NUMBER']} or mail {RAW['EMAIL_ADDRESS']}"))
    assert out == (f"Reach {RAW['EMAIL_ADDRESS']} or {RAW['PHONE_NUMBER']}; <EMAIL_ADDRESS_9> was never issued <")


async def test_async_stream_restores_split_placeholders(server: FakeLLMServer) -> None:
    server.reply("".join(SPLIT_REPLY), chunks=SPLIT_REPLY)

    @guarded_llm(
        model="claude-sonnet-4-5",
        base_url=server.anthropic_base_url,
        api_key=lambda: KEY,
        pii="pseudonymize",
        stream=True,
    )
    async def ask(user_id: str, q: str) -> str:
        return q

    stream = await ask("u-1", f"Call me at {RAW['PHONE_NUMBER']} or mail {RAW['EMAIL_ADDRESS']}")
    out = "".join([chunk async for chunk in stream])
    assert out.startswith(f"Reach {RAW['EMAIL_ADDRESS']} or {RAW['PHONE_NUMBER']};")
    assert RAW["EMAIL_ADDRESS"] not in _sent(server)


def test_names_and_places_with_a_spacy_model(
    server: FakeLLMServer, monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    import spacy

    nlp = spacy.blank("en")
    ruler = nlp.add_pipe("entity_ruler")
    ruler.add_patterns([{"label": "PERSON", "pattern": "Alice Johnson"}, {"label": "GPE", "pattern": "Lyon"}])  # type: ignore[attr-defined]
    path = tmp_path_factory.mktemp("model") / "ner"
    nlp.to_disk(path)
    monkeypatch.setattr(engine_mod, "_engine", engine_mod.PIIEngine(str(path)))

    @guarded_llm(model="gpt-4o-mini", base_url=server.openai_base_url, api_key=lambda: KEY, pii="pseudonymize")
    def ask(user_id: str, q: str) -> str:
        return q

    question = f"Alice Johnson from Lyon ({RAW['EMAIL_ADDRESS']}) asks for a refund"
    assert ask("u-1", question) == f"echo: {question}"
    sent = _sent(server)
    assert "Alice Johnson" not in sent and "Lyon" not in sent and RAW["EMAIL_ADDRESS"] not in sent
    assert "<PERSON_1>" in sent and "<LOCATION_1>" in sent
