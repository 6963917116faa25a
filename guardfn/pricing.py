"""USD per million tokens for current OpenAI and Anthropic models: one table, easy to update.

Budgets (``usd_per_day``, ``usd_per_month``), the per-request cost (``call.cost_usd``,
``alert_usd``) and cost metrics all use :func:`price_for`. Its sources, first match wins:

1. settings ``pricing={"my-model": (input, output)}`` (longest matching prefix);
2. the ``guardfn_model_price(provider, model)`` hook (a plugin returning a :class:`Price`);
3. :data:`PRICES` below (longest matching prefix, so dated snapshots such as
   ``gpt-4o-2024-08-06`` use their family's price);
4. :data:`FALLBACK`, with a one-time warning per model.

To update the table, edit :data:`PRICES` from the providers' pricing pages; more
expensive variants (``-pro``) must be listed, or their family's cheaper prefix applies.

The stages look prices up with :func:`price_of`, which resolves a model once per
settings object (one per guarded function and configuration) and plugin set, and then
answers from a dict: the hook and the prefix search do not run on every request.
"""

from __future__ import annotations

import logging
import threading
import weakref
from typing import TYPE_CHECKING, NamedTuple

from guardfn import plugins

if TYPE_CHECKING:
    from guardfn.settings import Settings

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
    "gpt-4.5": Price(75.00, 150.00),
    "gpt-4": Price(30.00, 60.00),
    "gpt-3.5-turbo": Price(0.50, 1.50),
    "gpt-5-pro": Price(15.00, 120.00),
    "chatgpt-4o": Price(5.00, 15.00),
    "codex-mini": Price(1.50, 6.00),
    "o4-mini-deep-research": Price(2.00, 8.00),
    "o4-mini": Price(1.10, 4.40),
    "o3-deep-research": Price(10.00, 40.00),
    "o3-pro": Price(20.00, 80.00),
    "o3-mini": Price(1.10, 4.40),
    "o3": Price(2.00, 8.00),
    "o1-pro": Price(150.00, 600.00),
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
    "claude-3-opus": Price(15.00, 75.00),
}
FALLBACK = Price(15.00, 75.00)
"""Used for models nobody priced: the rates of the flagship tier (Claude Opus 4.1, o1), so
a budget over-counts an unknown model rather than under-counts it. Self-hosted models
usually cost nothing per token: price them with ``pricing={"llama3": (0, 0)}``."""

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
    """The price from ``pricing=`` overrides first, then a plugin's ``guardfn_model_price``, then the table."""
    if overrides:
        best = max((prefix for prefix in overrides if model.startswith(prefix)), key=len, default=None)
        if best is not None:
            return Price(*overrides[best])
    hooked = plugins.get_plugin_manager().hook.guardfn_model_price(provider=provider, model=model)
    if hooked is not None:
        return Price(*hooked)
    return table_price(model)


_resolved: dict[int, tuple[weakref.ref[Settings], int, dict[tuple[str, str], Price]]] = {}
_resolved_lock = threading.Lock()


def price_of(settings: Settings, provider: str, model: str) -> Price:
    """:func:`price_for` with ``settings.pricing``, resolved once per settings object, plugin set and model.

    The cache holds a weak reference to ``settings`` (a new object that reuses a freed
    one's ``id`` starts afresh) and the plugin generation (registering a plugin that
    implements ``guardfn_model_price`` is seen at once).
    """
    gen = plugins.generation()
    entry = _resolved.get(id(settings))
    if entry is None or entry[0]() is not settings or entry[1] != gen:
        entry = _new_entry(settings, gen)
    prices = entry[2]
    price = prices.get((provider, model))
    if price is None:
        price = prices[(provider, model)] = price_for(provider, model, settings.pricing)
    return price


def _new_entry(settings: Settings, gen: int) -> tuple[weakref.ref[Settings], int, dict[tuple[str, str], Price]]:
    key = id(settings)

    def forget(ref: weakref.ref[Settings]) -> None:
        with _resolved_lock:
            if _resolved.get(key, (None,))[0] is ref:
                del _resolved[key]

    entry: tuple[weakref.ref[Settings], int, dict[tuple[str, str], Price]] = (weakref.ref(settings, forget), gen, {})
    with _resolved_lock:
        _resolved[key] = entry
    return entry
