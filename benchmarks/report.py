"""Benchmark results: merged into ``results/latest.json``, rendered as Markdown for
``results/latest.md`` and for README.md's benchmark block.

A result file holds one section per benchmark module::

    {"benchmarks": {"overhead": {"issue": 2, "title": "...", "ran": "2026-11-23 10:00 UTC",
                                 "seconds": 41.0, "machine": "...", "rows": [row, ...]}}}

A row (:func:`benchmarks.common.row`) is one figure beside its anchor measured in the same
run, with the target its issue sets (or ``report``) and whether it was met.
"""

from __future__ import annotations

from typing import Any

from benchmarks.common import Row

BEGIN = "<!-- benchmarks:begin; `python -m benchmarks --write` rewrites this block -->"
END = "<!-- benchmarks:end -->"
Results = dict[str, Any]


def fmt(value: float | None) -> str:
    """A number for a table: thousands separated from 1,000 up, else 3 significant digits; a dash for none."""
    if value is None:
        return "-"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def _met(r: Row) -> str:
    return "" if r.get("met") is None else ("yes" if r["met"] else "**MISSED**")


def _anchor(r: Row) -> str:
    if not r.get("anchor"):
        return ""
    return f"{r['anchor']}: {fmt(r.get('anchor_value'))}"


def markdown(rows: list[Row]) -> str:
    """Every row as a Markdown table: value, anchor and its value, ratio, target, met."""
    lines = ["| figure | value | anchor (same run) | ratio | target | met |", "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(
            f"| {r['name']} | {fmt(r['value'])} {r['unit']} | {_anchor(r)} | {fmt(r.get('ratio'))} | "
            f"{r.get('target', '')} | {_met(r)} |"
        )
    return "\n".join(lines)


def sections(results: Results) -> list[tuple[str, dict[str, Any]]]:
    """The benchmark sections in issue order."""
    return sorted(results.get("benchmarks", {}).items(), key=lambda item: (item[1].get("issue", 99), item[0]))


def targets(results: Results) -> list[tuple[int | None, str, Row]]:
    """``(issue, benchmark, row)`` for every row with a target that was judged met or missed."""
    return [
        (r.get("issue", section.get("issue")), name, r)
        for name, section in sections(results)
        for r in section["rows"]
        if r.get("met") is not None
    ]


def _targets_table(results: Results) -> str:
    lines = ["| issue | figure | value | anchor (same run) | ratio | target | met |", "|---|---|---|---|---|---|---|"]
    for issue, name, r in targets(results):
        lines.append(
            f"| #{issue} | {name}: {r['name']} | {fmt(r['value'])} {r['unit']} | {_anchor(r)} | "
            f"{fmt(r.get('ratio'))} | {r.get('target', '')} | {_met(r)} |"
        )
    return "\n".join(lines)


def _machines(results: Results) -> str:
    machines = sorted({section.get("machine", "") for _, section in sections(results)})
    return "; ".join(machines)


def render(results: Results, *, fold: bool = False) -> str:
    """Markdown for the results: machine, the targets table, then every figure per benchmark.

    ``fold`` puts each benchmark's full table in a ``<details>`` block (for README.md).
    """
    judged = targets(results)
    missed = sum(1 for *_, r in judged if not r["met"])
    parts = [
        f"Machine: {_machines(results)}.",
        f"Targets from the issues: {len(judged) - missed} of {len(judged)} met, {missed} missed (marked **MISSED**).",
        _targets_table(results),
    ]
    for name, section in sections(results):
        title = f"{name} (issue {section.get('issue', '?')}; ran {section['ran']}, {section['seconds']:.0f} s)"
        body = f"{section.get('title', '')}\n\n{markdown(section['rows'])}".strip()
        if fold:
            parts.append(f"<details><summary>{title}: {len(section['rows'])} figures</summary>\n\n{body}\n\n</details>")
        else:
            parts.append(f"### {title}\n\n{body}")
    return "\n\n".join(parts) + "\n"


def render_readme(results: Results) -> str:
    """README.md's block: the machine and every target beside its figure; the full tables are in results/."""
    judged = targets(results)
    missed = sum(1 for *_, r in judged if not r["met"])
    ran = sorted({section["ran"] for _, section in sections(results)})
    when = ran[0] if len(ran) == 1 else f"{ran[0]} to {ran[-1]}"
    parts = [
        f"Machine: {_machines(results)}; ran {when}.",
        f"Targets from the issues: {len(judged) - missed} of {len(judged)} met, {missed} missed (marked **MISSED**). "
        "Every figure of every benchmark: [benchmarks/results/latest.md](benchmarks/results/latest.md).",
        _targets_table(results),
    ]
    return "\n\n".join(parts) + "\n"


def merge(old: Results, new: Results) -> Results:
    """``old`` with the sections ``new`` ran replaced (a partial run keeps the others)."""
    return {"benchmarks": {**old.get("benchmarks", {}), **new.get("benchmarks", {})}}


def replace_block(text: str, block: str) -> str:
    """``text`` (README.md) with the part between :data:`BEGIN` and :data:`END` replaced by ``block``."""
    head, found, rest = text.partition(BEGIN)
    _, found_end, tail = rest.partition(END)
    if not (found and found_end):
        raise ValueError(f"README.md has no benchmark block: add the lines {BEGIN!r} and {END!r}")
    return f"{head}{BEGIN}\n{block.strip()}\n{END}{tail}"


def block_of(text: str) -> str:
    """What README.md holds between the markers (empty when it has none)."""
    _, _, rest = text.partition(BEGIN)
    return rest.partition(END)[0].strip()
