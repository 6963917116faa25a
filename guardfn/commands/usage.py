"""``guardfn usage --user ID``: each limit's usage in its current window, and ``--reset``."""

from __future__ import annotations

import json
import os
import time

import click


@click.command("usage")
@click.option("--user", "user_id", required=True, help="The user id whose counters to show.")
@click.option("--store", "store_url", default=None, help="Store URL (default: GUARDFN_STORE or diskcache).")
@click.option("--reset", is_flag=True, help="Delete this user's counters.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def usage(user_id: str, store_url: str | None, reset: bool, as_json: bool) -> None:
    """Show (or reset) one user's rate-limit and budget usage."""
    from guardfn.limits import WINDOWS
    from guardfn.store import open_store

    store = open_store(store_url or os.environ.get("GUARDFN_STORE"))
    prefix = f"guardfn:{{u:{user_id}}}:"
    keys = sorted(store.keys(prefix))
    if reset:
        store.delete(keys)
        click.echo(f"reset {len(keys)} counter(s)")
        return
    now = time.time()
    rows = []
    for key in keys:
        name = key.removeprefix(prefix)
        window = WINDOWS.get(name.rpartition("_per_")[2])
        if window is None:
            continue
        entries = store.entries(key, window, now)
        frees = min((ts + window - now for ts, _ in entries), default=0.0)
        rows.append({"limit": name, "used": sum(a for _, a in entries), "frees_in_s": round(max(frees, 0.0), 1)})
    if as_json:
        click.echo(json.dumps(rows))
        return
    if not rows:
        click.echo("no usage recorded for this user")
    for row in rows:
        click.echo(f"{row['limit']:<22} used {row['used']:>12g}   next frees in {row['frees_in_s']:>9.1f} s")
