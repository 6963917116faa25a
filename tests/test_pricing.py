"""Pricing: the table, its overrides (settings, hook), the fallback, and the per-request cost alert."""

from __future__ import annotations

import logging
import uuid
from typing import Any

import pytest

import guardfn
from guardfn import BudgetExceeded, guarded_llm
from guardfn.call import Call
from guardfn.pricing import FALLBACK, PRICES, Price, price_for, table_price
from guardfn.testing import FakeLLMServer

KEY = "sk-test-pricing-0000000000"


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("gpt-4o-mini-2024-07-18", (0.15, 0.60)),  # dated snapshot: its family's price
        ("gpt-4o-2024-08-06", (2.50, 10.00)),
        ("gpt-4-0613", (30.00, 60.00)),
        ("gpt-5-pro", (15.00, 120.00)),  # not gpt-5's price: the longest prefix wins
        ("gpt-5-mini", (0.25, 2.00)),
        ("o1-pro-2025-03-19", (150.00, 600.00)),
        ("o3-mini", (1.10, 4.40)),
        ("claude-sonnet-4-5-20250929", (3.00, 15.00)),
        ("claude-opus-4-1-20250805", (15.00, 75.00)),
        ("claude-opus-4-5", (5.00, 25.00)),
        ("claude-3-5-haiku-latest", (0.80, 4.00)),
    ],
)
def test_table_prices_by_longest_prefix(model: str, expected: tuple[float, float]) -> None:
    assert table_price(model) == Price(*expected)


def test_every_table_price_is_sane() -> None:
    for model, price in PRICES.items():
        assert 0 < price.input <= price.output, model
    mainstream = [p for m, p in PRICES.items() if not m.endswith("-pro") and "4.5" not in m]
    assert FALLBACK.output >= max(p.output for p in mainstream)  # an unknown model is never under-counted


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


def test_settings_override_then_hook_then_table() -> None:
    class Prices:
        @guardfn.hookimpl
        def guardfn_model_price(self, provider: str, model: str) -> Any:
            return Price(1.0, 2.0) if model.startswith("gpt-4o") else None

    assert price_for("openai", "gpt-4o") == Price(2.50, 10.00)
    guardfn.register(Prices(), name="test-prices")
    assert price_for("openai", "gpt-4o-mini") == Price(1.0, 2.0)  # the hook beats the table
    assert price_for("openai", "gpt-4.1") == Price(2.00, 8.00)  # the hook said None: the table
    assert price_for("openai", "gpt-4o", {"gpt-4o": (0.0, 0.0)}) == Price(0.0, 0.0)  # settings beat the hook


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

    @guarded_llm(model="gpt-4o", base_url=server.openai_base_url, api_key=lambda: KEY, alert_usd=0.50)
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
