"""USD per million tokens, from a maintained source: what budgets, ``alert_usd`` and cost metrics use.

:func:`resolve` finds a model's price and says where it came from; the first source that
knows the model wins:

1. ``pricing={"my-model": (input, output)}`` (longest matching prefix);
2. the ``guardfn_model_price(provider, model)`` hook (a plugin returning a :class:`Price`);
3. a local server (``base_url`` on a loopback or private address: Ollama, vLLM, LM Studio)
   costs nothing: ``0`` (said once in the log);
4. the `genai-prices <https://github.com/pydantic/genai-prices>`_ data (MIT), maintained
   upstream: guardfn ships a compact snapshot of it (``guardfn/data/prices.json.gz``, built
   by ``scripts/build_prices.py``, read in a few milliseconds), looked up by the provider's
   API URL (``base_url``) or guardfn's provider name, then by the model name the way
   genai-prices matches it (``gpt-4o-2024-08-06`` is ``gpt-4o``), dated prices by today's
   date, tiered prices by the request's input tokens;
5. the installed ``genai-prices`` package itself, for a model newer than the snapshot
   (``pip install -U genai-prices``; loaded only then, it takes ~150 ms);
6. :data:`FALLBACK`, with a one-time warning: an unknown model is over-counted, never free.

``guardfn prices MODEL`` shows the price used and where it came from.

The stages look prices up with :func:`price_of`, which resolves a model once per settings
object (one per guarded function and configuration) and plugin set, and then answers from
a dict: the hook and the snapshot search do not run on every request.
"""

from __future__ import annotations

import datetime
import functools
import gzip
import ipaddress
import json
import logging
import os
import re
import threading
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import urlsplit

from guardfn import plugins
from guardfn.settings import PerSettings

if TYPE_CHECKING:
    from guardfn.settings import Settings

log = logging.getLogger("guardfn.pricing")

GENAI_PROVIDERS = {"openai": "openai", "anthropic": "anthropic", "gemini": "google"}
"""guardfn's provider names and genai-prices' ids where they differ."""


class Price(NamedTuple):
    """USD per one million input and output tokens; ``tiers`` raise both rates for long prompts:
    ``((from input tokens, input rate, output rate), ...)``."""

    input: float
    output: float
    tiers: tuple[tuple[float, float, float], ...] = ()

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        """USD for a request with these token counts."""
        rate_in, rate_out = self.input, self.output
        for start, tier_in, tier_out in self.tiers:
            if prompt_tokens > start:
                rate_in, rate_out = tier_in, tier_out
        return (prompt_tokens * rate_in + completion_tokens * rate_out) / 1_000_000


@dataclass(frozen=True)
class PriceInfo:
    """A price and where it came from (``guardfn prices`` shows both)."""

    price: Price
    source: str


FREE = Price(0.0, 0.0)
FALLBACK = Price(15.00, 75.00)
"""Used for models nobody priced: the rates of the flagship tier (Claude Opus 4.1, o1), so a
budget over-counts an unknown model rather than under-counts it. A self-hosted model behind a
public address: price it with ``pricing={"llama3": (0, 0)}``."""

_warned: set[str] = set()
_warned_lock = threading.Lock()


def _once(key: str, message: str, *args: Any, level: int = logging.WARNING) -> None:
    with _warned_lock:
        first = key not in _warned
        _warned.add(key)
    if first:
        log.log(level, message, *args)


# --- the snapshot ----------------------------------------------------------------------------------


def _matches(rule: Any, name: str) -> bool:
    """genai-prices' match rules (``starts_with``, ``equals`` ..., ``or``/``and``), case-insensitive but regexes."""
    if rule is None:
        return False
    (kind, value), *_ = rule.items()
    if kind == "or":
        return any(_matches(r, name) for r in value)
    if kind == "and":
        return all(_matches(r, name) for r in value)
    if kind == "regex":
        return re.search(value, name) is not None
    text, folded = name.lower(), value.lower()
    if kind == "starts_with":
        return text.startswith(folded)
    if kind == "ends_with":
        return text.endswith(folded)
    if kind == "contains":
        return folded in text
    return text == folded


@functools.lru_cache(maxsize=1)
def snapshot() -> dict[str, Any]:
    """The bundled genai-prices snapshot (loaded once)."""
    data = resources.files("guardfn").joinpath("data/prices.json.gz").read_bytes()
    loaded: dict[str, Any] = json.loads(gzip.decompress(data))
    return loaded


def _provider_entry(provider: str, base_url: str | None) -> dict[str, Any] | None:
    providers = snapshot()["providers"]
    if base_url:
        for entry in providers:
            if re.match(entry["api_pattern"], base_url):
                return entry
    wanted = GENAI_PROVIDERS.get(provider, provider)
    return next((entry for entry in providers if entry["id"] == wanted), None)


def _model_entry(entry: dict[str, Any], model: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
    providers = {p["id"]: p for p in snapshot()["providers"]}
    for candidate in [entry, *(providers[f] for f in entry.get("fallback", []) if f in providers)]:
        for item in candidate["models"]:
            if _matches(item["match"], model):
                return candidate, item
    return None


def _current(prices: list[dict[str, Any]], today: datetime.date) -> dict[str, Any]:
    """The latest price that has started (the first one when none has)."""
    chosen = prices[0]
    for price in prices:
        if price["start"] is None or datetime.date.fromisoformat(price["start"]) <= today:
            chosen = price
    return chosen


def _as_price(entry: dict[str, Any]) -> Price:
    starts = sorted({t[0] for t in entry.get("input_tiers", []) + entry.get("output_tiers", [])})
    tiers = []
    for start in starts:
        tier_in = max((rate for s, rate in entry.get("input_tiers", []) if s <= start), default=entry["input"])
        tier_out = max((rate for s, rate in entry.get("output_tiers", []) if s <= start), default=entry["output"])
        tiers.append((start, tier_in, tier_out))
    return Price(entry["input"], entry["output"], tuple(tiers))


def snapshot_price(provider: str, model: str, base_url: str | None = None) -> PriceInfo | None:
    """The snapshot's price of ``model`` at ``provider`` (or at ``base_url``'s provider), if it has one."""
    return _snapshot_price(provider, model, base_url, datetime.date.today())


@functools.lru_cache(maxsize=1024)
def _snapshot_price(provider: str, model: str, base_url: str | None, today: datetime.date) -> PriceInfo | None:
    entry = _provider_entry(provider, base_url)
    found = _model_entry(entry, model) if entry is not None else None
    if found is None:
        return None
    where, item = found
    version = snapshot()["version"]
    price = _as_price(_current(item["prices"], today))
    return PriceInfo(price, f"genai-prices {version} (bundled snapshot): {where['id']}/{item['id']}")


@functools.lru_cache(maxsize=256)
def installed_price(provider: str, model: str, base_url: str | None = None) -> PriceInfo | None:
    """The installed genai-prices package's price of ``model`` (for models newer than the snapshot)."""
    try:
        from genai_prices import Usage, calc_price
        from genai_prices import __version__ as version
    except Exception:
        return None
    million = 1_000_000
    both = Usage(input_tokens=million, output_tokens=million)
    try:
        if base_url:
            calculation = calc_price(both, model, provider_api_url=base_url)
        else:
            calculation = calc_price(both, model, provider_id=GENAI_PROVIDERS.get(provider, provider))
        rates = calc_price(Usage(input_tokens=million), model, provider_id=calculation.provider.id)
    except Exception:
        return None
    input_rate = float(rates.input_price)
    price = Price(input_rate, float(calculation.total_price) - input_rate)
    return PriceInfo(price, f"genai-prices {version} (installed): {calculation.provider.id}/{calculation.model.id}")


# --- resolving ---------------------------------------------------------------------------------


def is_local(base_url: str | None) -> bool:
    """Whether ``base_url`` points at this machine or a private network (a self-hosted model)."""
    if not base_url:
        return False
    host = urlsplit(base_url).hostname or ""
    if host in ("localhost", "host.docker.internal") or host.endswith((".local", ".localhost", ".internal")):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_private or address.is_link_local


def endpoint(provider: str, base_url: str | None) -> str | None:
    """The endpoint requests go to: ``base_url=``, else the SDK's ``<PROVIDER>_BASE_URL``."""
    return base_url or os.environ.get(f"{provider.upper()}_BASE_URL") or None


def resolve(
    provider: str, model: str, overrides: dict[str, Any] | None = None, base_url: str | None = None
) -> PriceInfo:
    """The price of ``model`` and where it came from (see the module docstring for the order)."""
    if overrides:
        best = max((prefix for prefix in overrides if model.startswith(prefix)), key=len, default=None)
        if best is not None:
            return PriceInfo(Price(*overrides[best]), f"pricing= ({best!r})")
    hooked = plugins.get_plugin_manager().hook.guardfn_model_price(provider=provider, model=model)
    if hooked is not None:
        return PriceInfo(Price(*hooked), "the guardfn_model_price hook")
    url = endpoint(provider, base_url)
    if is_local(url):
        host = urlsplit(url or "").hostname
        _once(f"local:{host}", "guardfn: %s is a local server: its calls are priced at 0 "
              "(set pricing={...} to charge them)", host, level=logging.INFO)  # fmt: skip
        return PriceInfo(FREE, f"local server ({host}): free unless pricing= says otherwise")
    found = snapshot_price(provider, model, url) or installed_price(provider, model, url)
    if found is not None:
        return found
    _once(f"unpriced:{model}", "guardfn: no price for model %r; using the conservative fallback %s/%s USD per 1M "
          "tokens (set pricing={...} or implement guardfn_model_price)", model, FALLBACK.input, FALLBACK.output)  # fmt: skip
    return PriceInfo(FALLBACK, "fallback for an unknown model (over-counts on purpose)")


def price_for(
    provider: str, model: str, overrides: dict[str, Any] | None = None, base_url: str | None = None
) -> Price:
    """The price of ``model`` (:func:`resolve` without the source)."""
    return resolve(provider, model, overrides, base_url).price


_prices: PerSettings[dict[tuple[int, str, str], Price]] = PerSettings(lambda settings: {})


def price_of(settings: Settings, provider: str, model: str) -> Price:
    """:func:`price_for` with ``settings.pricing`` and ``settings.base_url``, resolved once per
    settings object, plugin set and model (registering a plugin that implements
    ``guardfn_model_price`` is seen at once)."""
    prices = _prices.get(settings)
    key = (plugins.generation(), provider, model)
    price = prices.get(key)
    if price is None:
        price = prices[key] = price_for(provider, model, settings.pricing, settings.base_url)
    return price
