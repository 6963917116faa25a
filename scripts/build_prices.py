"""Build guardfn's bundled price snapshot from the ``genai-prices`` package.

    pip install -U genai-prices && python scripts/build_prices.py

Writes ``guardfn/data/prices.json.gz``: for every provider genai-prices knows, its API URL
pattern, how its model names look, and for every model its match rule and its input and
output prices in USD per million tokens (dated prices kept with their start date, tiers by
input tokens kept, time-of-day prices reduced to the day's highest). guardfn reads it at run
time with no import of genai-prices (its data takes ~150 ms to load); a model the snapshot
lacks is looked up in the installed genai-prices itself. genai-prices is MIT-licensed
(Copyright (c) Pydantic Services Inc.); its data is kept up to date at
https://github.com/pydantic/genai-prices.
"""

from __future__ import annotations

import datetime
import gzip
import json
from importlib.metadata import version
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parent.parent / "guardfn" / "data" / "prices.json.gz"


def clause(node: Any) -> Any:
    """A match rule as plain JSON (``{"starts_with": ...}``, ``{"or": [...]}`` ...)."""
    if node is None:
        return None
    for key in ("starts_with", "ends_with", "contains", "regex", "equals"):
        if hasattr(node, key):
            return {key: getattr(node, key)}
    if hasattr(node, "or_"):
        return {"or": [clause(c) for c in node.or_]}
    if hasattr(node, "and_"):
        return {"and": [clause(c) for c in node.and_]}
    raise TypeError(f"unknown clause {type(node).__name__}")


def rate(value: Any) -> tuple[float | None, list[list[float]]]:
    """A per-million-token rate: ``(base, [[from input tokens, rate], ...])``."""
    if value is None:
        return None, []
    if hasattr(value, "tiers"):
        return float(value.base), [[float(t.start), float(t.price)] for t in value.tiers]
    return float(value), []


def prices(model: Any) -> list[dict[str, Any]]:
    """The model's input/output prices, oldest first, with their start dates."""
    entries = model.prices if isinstance(model.prices, list) else [model.prices]
    out: dict[str | None, dict[str, Any]] = {}
    for entry in entries:
        constraint = getattr(entry, "constraint", None)
        price = getattr(entry, "prices", entry)
        start = getattr(constraint, "start_date", None)
        key = start.isoformat() if isinstance(start, datetime.date) else None
        inp, inp_tiers = rate(getattr(price, "input_mtok", None))
        outp, out_tiers = rate(getattr(price, "output_mtok", None))
        if inp is None and outp is None:
            continue
        item = {"start": key, "input": inp or 0.0, "output": outp or 0.0}
        if inp_tiers:
            item["input_tiers"] = inp_tiers
        if out_tiers:
            item["output_tiers"] = out_tiers
        seen = out.get(key)
        if seen is None or (item["input"], item["output"]) > (seen["input"], seen["output"]):
            out[key] = item  # a time-of-day price: the day's highest
    return sorted(out.values(), key=lambda p: p["start"] or "")


def build() -> dict[str, Any]:
    """The snapshot as a JSON-ready dict."""
    import genai_prices.data as data

    providers = []
    for provider in data.providers:
        models = [
            {"id": m.id, "match": clause(m.match), "prices": p} for m in provider.models if (p := prices(m))
        ]
        providers.append(
            {
                "id": provider.id,
                "api_pattern": provider.api_pattern,
                "model_match": clause(provider.model_match),
                "fallback": list(provider.fallback_model_providers or []),
                "models": models,
            }
        )
    return {"source": "genai-prices", "version": version("genai-prices"), "providers": providers}


def main() -> None:
    """Write the snapshot (deterministic bytes for the same genai-prices version)."""
    snapshot = build()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    raw = json.dumps(snapshot, separators=(",", ":"), sort_keys=True).encode()
    OUT.write_bytes(gzip.compress(raw, compresslevel=9, mtime=0))
    models = sum(len(p["models"]) for p in snapshot["providers"])
    print(f"{OUT}: genai-prices {snapshot['version']}, {len(snapshot['providers'])} providers, {models} models, "
          f"{OUT.stat().st_size:,} bytes")  # fmt: skip


if __name__ == "__main__":
    main()
