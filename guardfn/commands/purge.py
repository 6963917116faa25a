"""``guardfn purge --older-than 30d``: delete expired segments of the encrypted content log.

Works on ``--path``, else ``content_log`` (``GUARDFN_CONTENT_LOG``). Whole hourly segments
whose hour ended longer ago than ``--older-than`` are deleted; no key is needed.
"""

from __future__ import annotations

import json

import click

from guardfn.commands import EXIT_STATUS, CannotRun


def _default_dir() -> tuple[str | None, int]:
    from guardfn.settings import build_settings, global_defaults

    try:
        settings = build_settings(global_defaults(), {})
    except Exception:
        return None, 30
    return settings.content_log, settings.content_log_retention_days


@click.command("purge", epilog=EXIT_STATUS)
@click.option(
    "--older-than", default=None, help="Age to delete beyond: 30d, 12h (default: content_log_retention_days)."
)
@click.option("--path", "directory", default=None, help="Content log directory (default: GUARDFN_CONTENT_LOG).")
@click.option("--dry-run", is_flag=True, help="List what would be deleted without deleting it.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object: the files, bytes and age bound.")
def purge(older_than: str | None, directory: str | None, dry_run: bool, as_json: bool) -> None:
    """Delete content-log records older than --older-than."""
    from guardfn.observability.content_log import purge as purge_segments
    from guardfn.observability.timeparse import parse_duration

    default_dir, retention_days = _default_dir()
    directory = directory or default_dir
    if not directory:
        raise click.UsageError("no content log directory: pass --path or set GUARDFN_CONTENT_LOG")
    try:
        age = parse_duration(older_than) if older_than else retention_days * 86400.0
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--older-than") from None
    try:
        result = purge_segments(directory, age, dry_run=dry_run)
    except OSError as exc:
        raise CannotRun(f"cannot purge {directory}: {exc.strerror or type(exc).__name__}") from None
    if as_json:
        click.echo(
            json.dumps(
                {
                    "dry_run": dry_run,
                    "older_than_s": age,
                    "files": [str(f) for f in result.files],
                    "bytes": result.bytes,
                }
            )
        )
        return
    verb = "would delete" if dry_run else "deleted"
    click.echo(
        f"{verb} {len(result.files)} segment(s), {result.bytes:,} bytes, older than {older_than or f'{retention_days}d'}"
    )
    for path in result.files if dry_run else []:
        click.echo(f"  {path}")
