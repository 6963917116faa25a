"""``guardfn report --since 1d``: calls, tokens, cost and refusals per model and function.

Reads JSON audit records (see :mod:`guardfn.observability.audit`) from ``--file`` (repeat
it for rotated files), else ``audit_file`` (``GUARDFN_AUDIT_FILE``), and prints a table;
``--json`` prints the rows instead.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterable
from typing import Any

import click

from guardfn.commands import EXIT_STATUS, CannotRun

GROUPINGS = {"model": ("model",), "function": ("function",), "model,function": ("model", "function")}
NUMBERS = ("calls", "ok", "blocked", "failed", "prompt_tokens", "completion_tokens", "cost_usd", "avg_ms")


def _default_file() -> str | None:
    from guardfn.settings import build_settings, global_defaults

    try:
        return build_settings(global_defaults(), {}).audit_file
    except Exception:
        return None


def summarize(
    records: Iterable[dict[str, Any]], keys: tuple[str, ...]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Rows per ``keys`` (calls, outcomes, tokens, cost, mean duration) and refusal counts per stage and reason."""
    rows: dict[tuple[str, ...], dict[str, Any]] = {}
    refusals: dict[tuple[str, str, str], int] = {}
    for record in records:
        group = tuple(str(record.get(k) or "-") for k in keys)
        row = rows.setdefault(
            group, {**dict(zip(keys, group, strict=True)), **{n: 0 for n in NUMBERS}, "cost_usd": 0.0, "_ms": 0.0}
        )
        outcome = record.get("outcome")
        row["calls"] += 1
        if outcome in ("ok", "blocked", "failed"):
            row[outcome] += 1
        row["prompt_tokens"] += int(record.get("prompt_tokens") or 0)
        row["completion_tokens"] += int(record.get("completion_tokens") or 0)
        row["cost_usd"] += float(record.get("cost_usd") or 0.0)
        row["_ms"] += float(record.get("duration_ms") or 0.0)
        if outcome in ("blocked", "failed"):
            why = (str(outcome), str(record.get("stage") or "-"), str(record.get("reason_code") or "-"))
            refusals[why] = refusals.get(why, 0) + 1
    result = []
    for group in sorted(rows):
        row = rows[group]
        row["avg_ms"] = round(row.pop("_ms") / row["calls"], 1)
        row["cost_usd"] = round(row["cost_usd"], 6)
        result.append(row)
    why_rows = [
        {"outcome": o, "stage": s, "reason": r, "calls": n}
        for (o, s, r), n in sorted(refusals.items(), key=lambda item: (-item[1], item[0]))
    ]
    return result, why_rows


FORMATS = {"cost_usd": "{:,.6f}", "avg_ms": "{:,.1f}"}


def _fmt(key: str, value: Any) -> str:
    if isinstance(value, (int, float)) and key in FORMATS:
        return FORMATS[key].format(value)
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def table(rows: list[dict[str, Any]], columns: list[tuple[str, str]]) -> str:
    """A plain-text table: text columns left-aligned, numbers right-aligned."""
    cells = [[_fmt(key, row.get(key, "")) for key, _ in columns] for row in rows]
    widths = [max([len(title)] + [len(line[i]) for line in cells]) for i, (_, title) in enumerate(columns)]
    numeric = [all(isinstance(row.get(key), (int, float)) for row in rows) for key, _ in columns]

    def line(values: list[str]) -> str:
        parts = [v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric, strict=True)]
        return "  ".join(parts).rstrip()

    out = [line([title for _, title in columns]), line(["-" * w for w in widths])]
    out.extend(line(values) for values in cells)
    return "\n".join(out)


@click.command("report", epilog=EXIT_STATUS)
@click.option("--since", default="1d", show_default=True, help="How far back: 90m, 12h, 1d, 2w.")
@click.option("--file", "files", multiple=True, help="Audit file(s) (default: audit_file / GUARDFN_AUDIT_FILE).")
@click.option("--by", type=click.Choice(sorted(GROUPINGS)), default="model,function", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def report(since: str, files: tuple[str, ...], by: str, as_json: bool) -> None:
    """Summarise calls, tokens, cost and refusals per model and function from the audit log."""
    from guardfn.observability.audit import ReadStats, read_records
    from guardfn.observability.timeparse import parse_duration

    try:
        window = parse_duration(since)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--since") from None
    paths = list(files) or [p for p in [_default_file()] if p]
    if not paths:
        raise click.UsageError("no audit file: pass --file or set GUARDFN_AUDIT_FILE (audit_file=)")
    stats = ReadStats()
    keys = GROUPINGS[by]
    try:
        rows, refusals = summarize(read_records(paths, time.time() - window, stats), keys)
    except OSError as exc:
        raise CannotRun(f"cannot read the audit file: {exc.strerror or type(exc).__name__}") from None
    if stats.skipped:
        click.echo(f"note: skipped {stats.skipped} line(s) that are not audit records", err=True)
    if as_json:
        click.echo(json.dumps({"since": since, "rows": rows, "refusals": refusals}))
        return
    if not rows:
        click.echo(f"no calls in the last {since}")
        return
    total: dict[str, Any] = {key: "TOTAL" if i == 0 else "" for i, key in enumerate(keys)}
    for name in NUMBERS:
        total[name] = (
            sum(row[name] for row in rows)
            if name != "avg_ms"
            else round(sum(row["avg_ms"] * row["calls"] for row in rows) / max(1, sum(row["calls"] for row in rows)), 1)
        )
    total["cost_usd"] = round(total["cost_usd"], 6)
    columns = [(k, k.upper()) for k in keys] + [
        ("calls", "CALLS"),
        ("ok", "OK"),
        ("blocked", "REFUSED"),
        ("failed", "FAILED"),
        ("prompt_tokens", "PROMPT TOK"),
        ("completion_tokens", "COMPL TOK"),
        ("cost_usd", "COST USD"),
        ("avg_ms", "AVG MS"),
    ]
    click.echo(f"guardfn report: last {since}, {stats.records} call(s)\n")
    click.echo(table([*rows, total], columns))
    if refusals:
        click.echo("\nrefused and failed calls by stage and reason\n")
        click.echo(
            table(refusals, [("outcome", "OUTCOME"), ("stage", "STAGE"), ("reason", "REASON"), ("calls", "CALLS")])
        )
    sys.stdout.flush()
