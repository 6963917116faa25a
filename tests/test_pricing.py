"""Pricing: the table, its overrides (settings, hook), the fallback, and the per-request cost alert."""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any

import pytest
from click.testing import CliRunner

import guardfn
from guardfn import BudgetExceeded, guarded_llm
from guardfn.call import Call
from guardfn.cli import main as cli
from guardfn.pricing import (
    FALLBACK,
    FREE,
    Price,
    PriceInfo,
    installed_price,
    is_local,
    price_for,
    resolve,
    snapshot_price,
)
from guardfn.testing import FakeLLMServer

KEY = "sk-test-pricing-0000000000"


@pytest.mark.parametrize(
    ("provider", "model", "expected"),
    [
        ("openai", "gpt-4o-mini", (0.15, 0.60)),
        ("openai", "gpt-4o-2024-08-06", (2.50, 10.00)),  # a dated snapshot: genai-prices matches its family
        ("openai", "gpt-5", (1.25, 10.00)),
        ("openai", "o3", (2.00, 8.00)),
        ("openai", "gpt-4.1-nano", (0.10, 0.40)),
        ("anthropic", "claude-sonnet-4-6", (3.00, 15.00)),
        ("anthropic", "claude-haiku-4-5", (1.00, 5.00)),
    ],
)
def test_list_prices_come_from_the_bundled_genai_prices_snapshot(
    provider: str, model: str, expected: tuple[float, float]
) -> None:
    info = resolve(provider, model)
    assert (info.price.input, info.price.output) == pytest.approx(expected)
    assert info.source.startswith("genai-prices") and "bundled snapshot" in info.source


def test_the_snapshot_agrees_with_the_installed_genai_prices() -> None:
    pytest.importorskip("genai_prices")
    for provider, model in [("openai", "gpt-4o-mini"), ("openai", "o4-mini"), ("anthropic", "claude-opus-4-5")]:
        bundled, installed = snapshot_price(provider, model), installed_price(provider, model)
        assert bundled is not None and installed is not None
        assert bundled.price.input == pytest.approx(installed.price.input), model
        assert bundled.price.output == pytest.approx(installed.price.output), model


def test_the_provider_is_found_by_its_api_url() -> None:
    info = resolve("openai", "llama-3.3-70b-versatile", base_url="https://api.groq.com/openai/v1")
    assert "groq/" in info.source and 0 < info.price.input < 5


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:11434/v1", "http://localhost:8000/v1", "http://10.0.4.2/v1", "http://[::1]:9000/v1"]
)
def test_a_local_server_is_free_unless_pricing_says_otherwise(url: str, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="guardfn.pricing"):
        assert resolve("openai", "llama3.1:8b", base_url=url).price == FREE
    assert resolve("openai", "llama3.1:8b", {"llama3": (1.0, 2.0)}, url).price == Price(1.0, 2.0)
    assert not is_local("https://api.openai.com/v1") and not is_local("https://8.8.8.8/v1")


def test_tiered_prices_charge_long_prompts_at_the_higher_rate() -> None:
    price = Price(3.0, 15.0, ((200_000, 6.0, 22.5),))
    assert price.cost(100_000, 1000) == pytest.approx(0.3 + 0.015)
    assert price.cost(300_000, 1000) == pytest.approx(1.8 + 0.0225)


def test_cost_is_per_million_tokens() -> None:
    assert Price(2.50, 10.00).cost(1_000_000, 0) == pytest.approx(2.50)
    assert Price(2.50, 10.00).cost(1000, 500) == pytest.approx(0.0025 + 0.005)


def test_unknown_model_uses_the_fallback_and_warns_once(caplog: pytest.LogCaptureFixture) -> None:
    model = f"my-finetune-{uuid.uuid4().hex[:6]}"
    with caplog.at_level(logging.WARNING, logger="guardfn.pricing"):
        assert price_for("openai", model) == FALLBACK
        assert price_for("openai", model) == FALLBACK
    warnings = [r for r in caplog.records if "no price for model" in r.getMessage()]
    assert len(warnings) == 1 and model in warnings[0].getMessage()
    assert FALLBACK.output >= resolve("anthropic", "claude-opus-4-5").price.output  # never under-counted


def test_settings_override_then_hook_then_genai_prices() -> None:
    class Prices:
        @guardfn.hookimpl
        def guardfn_model_price(self, provider: str, model: str) -> Any:
            return Price(1.0, 2.0) if model.startswith("gpt-4o") else None

    assert price_for("openai", "gpt-4o") == Price(2.50, 10.00)
    guardfn.register(Prices(), name="test-prices")
    assert resolve("openai", "gpt-4o-mini") == PriceInfo(Price(1.0, 2.0), "the guardfn_model_price hook")
    assert price_for("openai", "gpt-4.1") == Price(2.00, 8.00)  # the hook said None: genai-prices
    assert price_for("openai", "gpt-4o", {"gpt-4o": (0.0, 0.0)}) == Price(0.0, 0.0)  # settings beat the hook


def test_guardfn_prices_shows_the_price_and_its_source() -> None:
    result = CliRunner().invoke(cli, ["prices", "gpt-4o-mini", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["input_per_mtok"] == pytest.approx(0.15) and "genai-prices" in report["source"]
    local = CliRunner().invoke(cli, ["prices", "llama3.1:8b", "--base-url", "http://127.0.0.1:11434/v1"])
    assert local.exit_code == 0 and "local server" in local.output


def test_request_cost_lands_in_call_and_expensive_requests_alert(
    server: FakeLLMServer, caplog: pytest.LogCaptureFixture
) -> None:
    seen: dict[str, Any] = {"alerts": [], "costs": []}

    class Observer:
        @guardfn.hookimpl
        def guardfn_alert(self, kind: str, call: Call | None, details: dict[str, Any]) -> None:
            seen["alerts"].append((kind, details))

        @guardfn.hookimpl
        def guardfn_record(self, call: Call, outcome: str) -> None:
            seen["costs"].append(call.cost_usd)

    guardfn.register(Observer(), name="test-observer")

    @guarded_llm(model="gpt-4o", base_url=server.openai_base_url, api_key=lambda: KEY, alert_usd=0.50,
                 pricing={"gpt-4o": (2.50, 10.00)})  # the fake provider is a local server: free otherwise
    def ask(user_id: str, q: str) -> str:
        return q

    server.reply("cheap", usage=(1000, 100))  # 0.0025 + 0.001 USD
    server.reply("dear", usage=(100_000, 50_000))  # 0.25 + 0.50 USD
    with caplog.at_level(logging.WARNING):
        ask("u-1", "first PROMPT-TEXT-1")
        ask("u-1", "second PROMPT-TEXT-2")
    assert seen["costs"] == pytest.approx([0.0035, 0.75])
    assert [(k, d["cost_usd"]) for k, d in seen["alerts"]] == [("cost", pytest.approx(0.75))]
    assert len([r for r in caplog.records if "alert_usd" in r.getMessage()]) == 1
    assert not [r for r in caplog.records if "PROMPT-TEXT" in r.getMessage()]  # ids and numbers only


def test_usd_budget_uses_the_overridden_price(server: FakeLLMServer) -> None:
    @guarded_llm(model="gpt-4o", base_url=server.openai_base_url, api_key=lambda: KEY, max_tokens=100,
                 limits={"usd_per_day": 1.0}, pricing={"gpt-4o": (1000.0, 1000.0)}, store=f"memory://{uuid.uuid4()}")
    def ask(user_id: str, q: str) -> str:
        return q

    server.reply("x", usage=(200, 100))  # 300 tokens at 1000 USD / 1M = 0.30 USD
    ask("u-1", "a")
    ask("u-1", "b")
    with pytest.raises(BudgetExceeded) as info:  # 0.60 used + an estimate of >= 0.10 + prompt
        for _ in range(3):
            server.reply("x", usage=(200, 100))
            ask("u-1", "c")
    assert info.value.limit == "usd_per_day"
    assert info.value.usage <= 1.0 + 1e-9
