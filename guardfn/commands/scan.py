"""``guardfn scan``: run the input stages on a text and show what would be sent.

The text (an argument, ``-`` or nothing for stdin, or ``--file``) goes through
:func:`guardfn.screen` (``guardfn.scanning``): one user message, exactly as a prompt
function returning that string would, through ``guardfn_screen_input`` and
``guardfn_transform_input`` of the same plugin manager a guarded call uses (input
limits, secrets, injection screening, PII and any plugin). ``--json`` prints
:meth:`guardfn.scanning.ScanResult.to_dict`, so the command and the API cannot drift.
Nothing is sent anywhere. The exit status is 1 when the text would be blocked, so the
command works in CI on prompt templates; 2 on a usage or configuration error.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from guardfn.commands.files import DEFAULT_MAX_BYTES, ByteSize, Skipped, read_regular


def _parse_option(raw: str) -> tuple[str, Any]:
    key, sep, value = raw.partition("=")
    if not sep or not key.strip():
        raise click.BadParameter(f"{raw!r} is not KEY=VALUE", param_hint="--option")
    try:
        parsed: Any = json.loads(value)
    except json.JSONDecodeError:
        parsed = value
    return key.strip().replace("-", "_"), parsed


@click.command(
    "scan", epilog="Exit status: 0 the text would pass, 1 it would be refused, 2 a usage or configuration error."
)
@click.argument("text", required=False)
@click.option("--file", "path", type=click.Path(exists=True, dir_okay=False), help="Scan the contents of a file.")
@click.option(
    "--max-size",
    type=ByteSize(),
    default=DEFAULT_MAX_BYTES,
    show_default="5MiB",
    help="Refuse a --file larger than this.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--model", default=None, help="Model the prompt is for (decides the provider; default from settings).")
@click.option("--system", default=None, help="A system prompt to put before the text (trusted, not screened).")
@click.option(
    "-o",
    "--option",
    "options",
    multiple=True,
    metavar="KEY=VALUE",
    help="Any guarded_llm setting, e.g. -o injection_block_at=high -o secrets=block -o max_input_chars=4000.",
)
def scan(
    text: str | None,
    path: str | None,
    max_size: int,
    as_json: bool,
    model: str | None,
    system: str | None,
    options: tuple[str, ...],
) -> None:
    """Screen TEXT (or stdin with '-' or no argument, or --file) with the input stages.

    Prints the injection risk, the findings (rule ids, kinds and counts) and the text as
    it would be sent. Exit status 1 when the text would be blocked.
    """
    from guardfn.errors import GuardError
    from guardfn.scanning import screen

    if path is not None and text is not None:
        raise click.UsageError("give TEXT or --file, not both")
    if path is not None:
        data = read_regular(Path(path), max_size)
        if isinstance(data, Skipped):
            raise click.UsageError(f"cannot scan {path}: {data.reason}")
        source = data.decode("utf-8", errors="surrogateescape")
    elif text is None or text == "-":
        source = sys.stdin.read()
    else:
        source = text
    if not source.strip():
        raise click.UsageError("nothing to scan: give TEXT, '-' with text on stdin, or --file")
    local: dict[str, Any] = dict(_parse_option(raw) for raw in options)
    if model is not None:
        local["model"] = model
    if system is not None:
        local["system"] = system
    try:
        result = screen(source, **local)
    except GuardError as exc:
        raise click.UsageError(str(exc)) from None
    report = result.to_dict()
    if as_json:
        click.echo(json.dumps(report, indent=2, ensure_ascii=False))
    else:
        _show(report)
    if result.failed:
        sys.exit(2)
    sys.exit(1 if result.blocked else 0)


def _show(report: dict[str, Any]) -> None:
    error = report["error"]
    if report["blocked"]:
        click.echo(f"verdict:  BLOCKED by {error['stage']}: {error['reason']}")
    elif error is not None:
        click.echo(f"verdict:  ERROR in {error['stage']}: {error['reason']}")
    else:
        click.echo("verdict:  pass")
    probability = report["probability"]
    learned = "" if probability is None else f", learned screen {probability:.2f}"
    click.echo(f"risk:     {report['risk']} (score {report['score']:.2f}{learned})")
    click.echo(f"rules:    {', '.join(report['rules']) or '-'}")
    if report["findings"]:
        click.echo("findings:")
        for f in report["findings"]:
            what = f["rule"] or f["kind"]
            mark = "  blocked" if f["blocked"] else ""
            click.echo(f"  {f['stage']:<14} {what:<40} x{f['count']}{mark}")
    if report["pii_entities"]:
        click.echo("pii entities:")
        for entity, recognizers in report["pii_entities"].items():
            click.echo(f"  {entity:<18} {', '.join(recognizers) or '- (not detectable with what is installed)'}")
    if report["changes"]:
        click.echo("changes:")
        for c in report["changes"]:
            click.echo(f"  {c['stage']:<14} {c['target']:<40} {c['count']} edit(s)")
    if report["messages"] is None:
        click.echo("sent:     nothing (the call would be refused before any request)")
        return
    click.echo("sent:")
    for message in report["messages"]:
        click.echo(f"--- {message['role']} ---")
        click.echo(message["content"])
