"""``guardfn prices MODEL``: the price guardfn uses for a model, and where it came from."""

from __future__ import annotations

import json

import click

from guardfn.commands import EXIT_STATUS


@click.command("prices", epilog=EXIT_STATUS)
@click.argument("model")
@click.option("--provider", default=None, help="openai, anthropic or a plugin's (default: chosen by the model name).")
@click.option("--base-url", default=None, help="The endpoint (a local server is free; an API URL names its provider).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def prices(model: str, provider: str | None, base_url: str | None, as_json: bool) -> None:
    """Show the USD price per million input and output tokens of MODEL and its source."""
    from guardfn.errors import GuardError
    from guardfn.pricing import resolve
    from guardfn.settings import build_settings, global_defaults

    try:
        settings = build_settings(global_defaults(), {"model": model, **({"base_url": base_url} if base_url else {})})
        if provider is None:
            from guardfn.pipeline import Engine
            from guardfn.plugins import get_plugin_manager

            provider = Engine(settings, get_plugin_manager()).provider
        info = resolve(provider, model, settings.pricing, settings.base_url)
    except GuardError as exc:
        raise click.UsageError(str(exc)) from None
    price = info.price
    if as_json:
        payload = {"model": model, "provider": provider, "input_per_mtok": price.input, "output_per_mtok": price.output,
                   "tiers": [list(t) for t in price.tiers], "source": info.source}  # fmt: skip
        click.echo(json.dumps(payload))
        return
    click.echo(f"{model} ({provider}): ${price.input:g} input / ${price.output:g} output per 1M tokens")
    for start, tier_in, tier_out in price.tiers:
        click.echo(f"  prompts over {start:,.0f} tokens: ${tier_in:g} / ${tier_out:g}")
    click.echo(f"source: {info.source}")
