"""``guardfn keys check``: prove the configured API keys work, before traffic arrives.

Runs :func:`guardfn.verify.verify_keys`: resolves each key from its source (``api_key=``,
``GUARDFN_<PROVIDER>_KEY_SOURCE`` such as AWS Secrets Manager, ``<PROVIDER>_API_KEY`` in
the environment or ``.env``), lists the provider's models with it (the cheapest call)
and checks the models needed are there. Keys are shown as a 4-character suffix only.
Exit status 0 when every check passes, 1 when any fails (no key, a secret that cannot
be read, a refused key, a model not listed), 2 on a usage or configuration error.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from guardfn.commands.functions import load_functions


@click.group("keys")
def keys() -> None:
    """Check the API keys guarded functions will use."""


@keys.command(
    "check",
    epilog="Exit status: 0 every key works, 1 a check failed (no key, a refused key, a model not listed), "
    "2 a usage or configuration error.",
)
@click.option(
    "--model",
    "-m",
    "models",
    multiple=True,
    metavar="MODEL",
    help="A model the application needs (repeatable); its provider is chosen as for a call. "
    "Default: the configured model (GUARDFN_MODEL, else gpt-4o-mini).",
)
@click.option(
    "--function",
    "-f",
    "functions",
    multiple=True,
    metavar="MODULE[:NAME]",
    help="Check the configuration of guarded functions: one by name, or every one in MODULE (repeatable).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def check(models: tuple[str, ...], functions: tuple[str, ...], as_json: bool) -> None:
    """Resolve each configured key, list the provider's models with it, check the needed ones."""
    from guardfn.errors import GuardError
    from guardfn.verify import verify_keys

    targets: list[Any] = []
    for spec in functions:
        targets.extend(load_functions(spec))
    try:
        report = verify_keys(targets or None, models=models, raise_errors=False)
    except GuardError as exc:  # a configuration that cannot even be built (bad option, unknown plugin)
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2))
    else:
        for item in report.checks:
            status = "ok  " if item.ok else "FAIL"
            where = f"{item.source}: {item.detail}" if item.detail else (item.source or "no source")
            listed = f"{item.listed} listed" if item.listed is not None else ("not checked" if item.key else "no key")
            click.echo(
                f"{status} {item.provider:<10} {item.key or '-':<9} {where}  {item.endpoint}  "
                f"models: {', '.join(item.models)} ({listed})"
            )
            if item.error is not None:
                click.echo(f"     {item.error}", err=True)
    failed = sum(1 for item in report.checks if not item.ok)
    if failed:
        if not as_json:
            click.echo(f"{failed} of {len(report.checks)} key check(s) failed", err=True)
        sys.exit(1)
