"""USD per million tokens for current OpenAI and Anthropic models: one table, easy to update.

Budgets (``usd_per_day``) and cost metrics use the same prices. Settings
``pricing={"my-model": (input, output)}`` and the ``guardfn_model_price`` hook override
the table; an unknown model uses :data:`FALLBACK` (the most expensive listed rates, so a
budget is never under-counted) and warns once per model.
"""

from __future__ import annotations

import logging
import threading
from typing import NamedTuple

log = logging.getLogger("guardfn.pricing")


class Price(NamedTuple):
    """USD per one million input and output tokens."""

    input: float
    output: float

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        """USD for a request with these token counts."""
        return (prompt_tokens * self.input + completion_tokens * self.output) / 1_000_000


# Longest matching prefix wins. Update from the providers' pricing pages.
PRICES: dict[str, Price] = {
    # OpenAI
    "gpt-5-nano": Price(0.05, 0.40),
    "gpt-5-mini": Price(0.25, 2.00),
    "gpt-5": Price(1.25, 10.00),
    "gpt-4.1-nano": Price(0.10, 0.40),
    "gpt-4.1-mini": Price(0.40, 1.60),
    "gpt-4.1": Price(2.00, 8.00),
    "gpt-4o-mini": Price(0.15, 0.60),
    "gpt-4o": Price(2.50, 10.00),
    "gpt-4-turbo": Price(10.00, 30.00),
    "gpt-3.5-turbo": Price(0.50, 1.50),
    "o4-mini": Price(1.10, 4.40),
    "o3-mini": Price(1.10, 4.40),
    "o3": Price(2.00, 8.00),
    "o1-mini": Price(1.10, 4.40),
    "o1": Price(15.00, 60.00),
    # Anthropic
    "claude-opus-4-5": Price(5.00, 25.00),
    "claude-opus-4-6": Price(5.00, 25.00),
    "claude-opus-4": Price(15.00, 75.00),
    "claude-sonnet-4": Price(3.00, 15.00),
    "claude-3-7-sonnet": Price(3.00, 15.00),
    "claude-3-5-sonnet": Price(3.00, 15.00),
    "claude-haiku-4": Price(1.00, 5.00),
    "claude-3-5-haiku": Price(0.80, 4.00),
    "claude-3-haiku": Price(0.25, 1.25),
}
FALLBACK = Price(15.00, 75.00)
"""Used for models not in the table: the highest listed rates."""

_warned: set[str] = set()
_warned_lock = threading.Lock()


def table_price(model: str, overrides: dict[str, tuple[float, float]] | None = None) -> Price:
    """The price of ``model`` from ``overrides`` then the table (longest prefix), else the fallback."""
    for table in (overrides or {}, PRICES):
        best = max((prefix for prefix in table if model.startswith(prefix)), key=len, default=None)
        if best is not None:
            return Price(*table[best])
    with _warned_lock:
        first = model not in _warned
        _warned.add(model)
    if first:
        log.warning(
            "guardfn: no price for model %r; using the conservative fallback %s/%s USD per 1M tokens "
            "(set pricing={...} or implement guardfn_model_price)",
            model,
            FALLBACK.input,
            FALLBACK.output,
        )
    return FALLBACK


def price_for(provider: str, model: str, overrides: dict[str, tuple[float, float]] | None = None) -> Price:
    """The price a plugin gives through ``guardfn_model_price``, else :func:`table_price`."""
    from guardfn.plugins import get_plugin_manager

    hooked = get_plugin_manager().hook.guardfn_model_price(provider=provider, model=model)
    if hooked is not None:
        return Price(*hooked)
    return table_price(model, overrides)
