"""``guardfn config [MODULE:FUNCTION]``: the effective settings and where each value came from.

Without a function it shows the global defaults every guarded function starts from (the
config file, the environment, ``.env``). With one, that function's own settings, its
decorator's keywords and its section of the config file included. Keys are shown as their
last 4 characters, store URLs without passwords.
"""

from __future__ import annotations

import json
from typing import Any

import click

from guardfn.commands import EXIT_STATUS


@click.command("config", epilog=EXIT_STATUS)
@click.argument("function", required=False, metavar="[MODULE:FUNCTION]")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object: option -> {value, source}.")
@click.option("--changed", is_flag=True, help="Only the options not at their default.")
def config(function: str | None, as_json: bool, changed: bool) -> None:
    """Show the effective settings (of FUNCTION, a @guarded_llm function) and their sources."""
    from guardfn import config_file
    from guardfn.commands.functions import load_functions
    from guardfn.errors import GuardError
    from guardfn.settings import explain

    options: dict[str, Any] = {}
    name = None
    if function is not None:
        (guarded,) = load_functions(function, "FUNCTION")[:1]
        options, name = guarded.guard.options, guarded.guard.name
    try:
        rows = explain(options, name)
        path = config_file.load().path
    except GuardError as exc:
        raise click.UsageError(str(exc)) from None
    if changed:
        rows = [r for r in rows if r[2] != "default"]
    if as_json:
        payload = {"function": name, "config_file": str(path) if path else None}
        payload["settings"] = {option: {"value": value, "source": source} for option, value, source in rows}
        click.echo(json.dumps(payload, indent=2, default=str))
        return
    click.echo(f"function:    {name or '(global defaults)'}")
    click.echo(f"config file: {path or 'none found'}")
    width = max(len(r[0]) for r in rows)
    for option, value, source in rows:
        click.echo(f"{option:<{width}}  {json.dumps(value, default=str):<40}  {source}")
