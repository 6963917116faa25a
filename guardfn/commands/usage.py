"""``guardfn usage --user ID``: each limit's usage in its current window, and ``--reset``.

Reads the store given by ``--store``, else ``GUARDFN_STORE``, else the default diskcache
directory. Counters of every ``limit_scope`` are shown (``user`` and ``fn:<function>``);
``--reset`` deletes exactly this user's counters, never another user's or the global ones.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

import click

from guardfn.commands import EXIT_STATUS, CannotRun


@click.command("usage", epilog=EXIT_STATUS)
@click.option("--user", "user_id", required=True, help="The user id whose counters to show.")
@click.option("--store", "store_url", default=None, help="Store URL (default: GUARDFN_STORE or diskcache).")
@click.option("--reset", is_flag=True, help="Delete this user's counters.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON rows: scope, limit, used, frees_in_s, clear_in_s.")
def usage(user_id: str, store_url: str | None, reset: bool, as_json: bool) -> None:
    """Show (or reset) one user's rate-limit and budget usage."""
    from guardfn.errors import ConfigurationError, GuardError
    from guardfn.limits import user_key_prefixes
    from guardfn.store import open_store

    try:
        store = open_store(store_url or os.environ.get("GUARDFN_STORE"))
        keys = sorted({k for prefix in user_key_prefixes(user_id) for k in store.keys(prefix)})
        if reset:
            store.delete(keys)
            click.echo(f"reset {len(keys)} counter(s)")
            return
        rows = _rows(store, keys, time.time())
    except ConfigurationError as exc:  # a bad URL, a missing extra: exit status 2
        raise click.UsageError(str(exc)) from None
    except GuardError as exc:  # the store cannot be reached
        raise CannotRun(str(exc)) from None
    if as_json:
        click.echo(json.dumps(rows))
        return
    if not rows:
        click.echo("no usage recorded for this user")
    for row in rows:
        click.echo(
            f"{row['scope']:<14} {row['limit']:<20} used {row['used']:>12g}   "
            f"next frees in {row['frees_in_s']:>9.1f} s   all clear in {row['clear_in_s']:>9.1f} s"
        )


def _rows(store: Any, keys: list[str], now: float) -> list[dict[str, Any]]:
    """One row per live counter: usage in its window, when its oldest and its newest bucket stop counting."""
    from guardfn.limits import WINDOWS, describe_key

    rows = []
    for key in keys:
        scope, name = describe_key(key)
        window = WINDOWS.get(name.rpartition("_per_")[2])
        if window is None:
            continue
        buckets = store.buckets(key, window, now)
        if not buckets:
            continue
        rows.append(
            {
                "scope": scope,
                "limit": name,
                "used": round(sum(a for _, a in buckets), 6),
                "frees_in_s": round(max(buckets[0][0] - now, 0.0), 1),
                "clear_in_s": round(max(max(ends for ends, _ in buckets) - now, 0.0), 1),
            }
        )
    return rows
