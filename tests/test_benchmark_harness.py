"""The benchmark tool: workers really run concurrently, results merge, README shows the latest run."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from benchmarks import report
from benchmarks.common import row
from benchmarks.workers import MODES, measure

ROOT = Path(__file__).resolve().parents[1]
NAP = 0.02


def _record(path: str, start: float) -> None:
    with open(path, "a") as out:
        out.write(f"{start} {time.time()}\n")


def probe_ops(path: str) -> dict[str, Callable[[], Any]]:
    """One sync operation that naps and records when it ran (imported by spawned workers too)."""

    def nap() -> None:
        start = time.time()
        time.sleep(NAP)
        _record(path, start)

    return {"nap": nap}


async def probe_async_ops(path: str) -> dict[str, Callable[[], Any]]:
    """The same as a coroutine function."""

    async def nap() -> None:
        start = time.time()
        await asyncio.sleep(NAP)
        _record(path, start)

    return {"nap": nap}


def _most_at_once(intervals: list[tuple[float, float]]) -> int:
    events = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    running = most = 0
    for _, step in events:
        running += step
        most = max(most, running)
    return most


@pytest.mark.parametrize("mode", MODES)
def test_measure_runs_the_asked_number_of_workers_at_once(mode: Any, tmp_path: Path) -> None:
    path = str(tmp_path / "ran")
    factory = "test_benchmark_harness:" + ("probe_async_ops" if mode == "async" else "probe_ops")
    phase = measure(factory, (path,), mode, workers=4, total_ops=12, rounds=2)["nap"]
    intervals = [tuple(map(float, line.split())) for line in Path(path).read_text().splitlines()]
    warm_ups = 4 if mode == "processes" else 1  # each process builds and warms its own operations
    assert len(intervals) == warm_ups + 2 * 12
    assert _most_at_once(intervals) == 4  # concurrent, and never more workers than asked
    assert phase.ops == 12
    assert phase.seconds >= 3 * NAP  # each worker napped three times in a row
    assert phase.rate == pytest.approx(12 / phase.seconds)


def _section(issue: int, rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {"issue": issue, "title": "t", "ran": "2026-11-23 10:00 UTC", "seconds": 1.0, "machine": "m", "rows": rows}


def test_render_shows_every_target_beside_its_figure_and_marks_misses() -> None:
    missed = row("check", 150.0, "us", anchor="PING", anchor_value=50.0, target="<= 1.3x", met=False)
    met = row("p99", 110.0, "us", anchor="raw", anchor_value=100.0, target="<= 1.1x", met=True)
    plain = row("added", 10.0, "us", target="report")
    results = {"benchmarks": {"limits": _section(3, [missed]), "overhead": _section(2, [met, plain])}}
    text = report.render(results)
    assert "1 of 2 met, 1 missed" in text
    assert "| #3 | limits: check | 150 us | PING: 50 | 3 | <= 1.3x | **MISSED** |" in text
    assert "| #2 | overhead: p99 | 110 us | raw: 100 | 1.1 | <= 1.1x | yes |" in text
    assert text.index("### overhead") < text.index("### limits")  # in issue order
    assert "| added | 10 us |  | - | report |  |" in text  # a figure without a target is still shown


def test_a_partial_run_keeps_the_other_sections() -> None:
    old = {"benchmarks": {"a": _section(2, []), "b": _section(3, [])}}
    new = {"benchmarks": {"b": _section(3, [row("x", 1.0, "s")])}}
    merged = report.merge(old, new)
    assert merged["benchmarks"]["a"] == old["benchmarks"]["a"]
    assert merged["benchmarks"]["b"]["rows"][0]["name"] == "x"


def test_the_readme_block_is_one_screen_of_targets() -> None:
    missed = row("check", 150.0, "us", anchor="PING", anchor_value=50.0, target="<= 1.3x", met=False)
    plain = row("added", 10.0, "us", target="report")
    text = report.render_readme({"benchmarks": {"limits": _section(3, [missed, plain])}})
    assert "| #3 | limits: check | 150 us | PING: 50 | 3 | <= 1.3x | **MISSED** |" in text
    assert "added" not in text and "<details>" not in text  # the full tables live in results/latest.md
    assert "benchmarks/results/latest.md" in text


def test_a_run_rewrites_the_readme_only_when_asked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import benchmarks.__main__ as cli

    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{report.BEGIN}\nold\n{report.END}\n")
    monkeypatch.setattr(cli, "README", readme)
    monkeypatch.setattr(cli, "RESULTS", tmp_path / "results")
    monkeypatch.setattr(cli, "available", lambda: ["probe"])
    monkeypatch.setattr(cli, "run_one", lambda name: _section(3, [row("x", 1.0, "s", target="<= 2", met=True)]))
    assert cli.main(["probe"]) == 0
    assert report.block_of(readme.read_text()) == "old"
    assert (tmp_path / "results" / "latest.md").exists()
    assert cli.main(["probe", "--write"]) == 0
    assert "| #3 | probe: x |" in report.block_of(readme.read_text())


def test_replace_block_changes_only_the_block() -> None:
    text = f"intro\n{report.BEGIN}\nold table\n{report.END}\nrest\n"
    replaced = report.replace_block(text, "new table")
    assert replaced == f"intro\n{report.BEGIN}\nnew table\n{report.END}\nrest\n"
    assert report.block_of(replaced) == "new table"
    with pytest.raises(ValueError, match="no benchmark block"):
        report.replace_block("no markers here", "x")


def test_readme_shows_the_committed_latest_results() -> None:
    results = json.loads((ROOT / "benchmarks" / "results" / "latest.json").read_text())
    expected = report.render_readme(results).strip()
    assert report.block_of((ROOT / "README.md").read_text()) == expected, "run: python -m benchmarks --readme"
    assert (ROOT / "benchmarks" / "results" / "latest.md").read_text() == report.render(results)
    names = {p.stem.removeprefix("bench_") for p in (ROOT / "benchmarks").glob("bench_*.py")}
    assert set(results["benchmarks"]) == names, "every benchmark has a section in the latest results"
