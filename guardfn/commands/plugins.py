"""``guardfn plugins``: the registered plugins, their hooks and where they come from."""

from __future__ import annotations

import dataclasses
import json

import click

from guardfn.commands import EXIT_STATUS


@click.command("plugins", epilog=EXIT_STATUS)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def plugins(as_json: bool) -> None:
    """List registered plugins with their hooks (built-in, entry point or explicit)."""
    from guardfn.plugins import plugin_infos

    infos = plugin_infos()
    if as_json:
        rows = [dataclasses.asdict(info) for info in infos]
        for row in rows:
            if row["name"] == "pii":
                row["pii_entities"] = _pii_coverage()
        click.echo(json.dumps(rows, indent=2))
        return
    for info in infos:
        origin = info.source
        if info.distribution:
            origin += f" ({info.distribution} {info.version})"
        hooks = ", ".join(h.removeprefix("guardfn_") for h in info.hooks)
        if info.disabled:
            hooks = "DISABLED by GUARDFN_DISABLE_PLUGINS" + (f" ({hooks})" if hooks else "")
        click.echo(f"{info.name:<18} {origin:<36} {hooks}")
        if info.name == "pii":
            for entity, recognizers in _pii_coverage().items():
                click.echo(f"{'':<18} {entity:<36} {', '.join(recognizers) or '- (not detectable: see docs/pii.md)'}")


def _pii_coverage() -> dict[str, list[str]]:
    """Each PII entity type and the installed recognizers that detect it (empty: none)."""
    from guardfn.pii.coverage import coverage

    return coverage()
