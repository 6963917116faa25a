"""Shared helpers for the benchmarks: result rows, percentiles, Markdown tables."""

from __future__ import annotations

import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

Row = dict[str, Any]


def row(
    name: str,
    value: float,
    unit: str,
    *,
    anchor: str = "",
    anchor_value: float | None = None,
    target: str = "",
    met: bool | None = None,
    ratio: float | None = None,
) -> Row:
    """One figure beside its anchor; ``ratio`` defaults to value / anchor_value."""
    if ratio is None and anchor_value:
        ratio = value / anchor_value
    return {
        "name": name,
        "value": value,
        "unit": unit,
        "anchor": anchor,
        "anchor_value": anchor_value,
        "ratio": ratio,
        "target": target,
        "met": met,
    }


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100) by nearest rank."""
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def median(values: list[float]) -> float:
    """The median."""
    return statistics.median(values)


def time_subprocess(code: str, repeat: int = 7) -> float:
    """Median wall time (s) of ``python -c code`` in a fresh interpreter."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def timed(fn: Callable[[], Any]) -> float:
    """Seconds one call of ``fn`` takes."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def fmt(value: float | None) -> str:
    """A number for a table: 3 significant digits, or a dash."""
    if value is None:
        return "-"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def markdown(rows: list[Row]) -> str:
    """The rows as a Markdown table with the target and whether it was met."""
    lines = [
        "| figure | value | anchor | anchor value | ratio | target | met |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        met = "" if r.get("met") is None else ("yes" if r["met"] else "**MISSED**")
        lines.append(
            f"| {r['name']} | {fmt(r['value'])} {r['unit']} | {r.get('anchor', '')} | "
            f"{fmt(r.get('anchor_value'))} | {fmt(r.get('ratio'))} | {r.get('target', '')} | {met} |"
        )
    return "\n".join(lines)


def machine() -> str:
    """A one-line description of the machine the benchmarks ran on."""
    import os

    return f"{platform.platform()}, Python {platform.python_version()}, {os.cpu_count()} CPUs"


def main(run: Callable[[], list[Row]]) -> None:
    """Run one benchmark module and print its table."""
    print(markdown(run()))
