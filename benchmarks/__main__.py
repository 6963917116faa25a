"""Run the benchmarks; write benchmarks/results/latest.{md,json} (and, when asked, README.md's block).

    python -m benchmarks                 # every bench_*.py (or: tox -e bench)
    python -m benchmarks overhead scale  # only these; the other sections keep their last run
    python -m benchmarks --write         # ... and rewrite README.md's benchmark block from the results
    python -m benchmarks --quick         # a tenth of the iterations, written to results/quick.*
    python -m benchmarks --readme        # only re-render README.md from results/latest.json

Each section records when and on which machine it ran. results/latest.md holds every
figure per benchmark; README.md's block holds one screen: every target from the
issues beside its figure and anchor (misses marked). README.md changes only with
``--write`` or ``--readme``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import pkgutil
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from benchmarks import report
from benchmarks.common import machine

HERE = Path(__file__).parent
RESULTS = HERE / "results"
README = HERE.parent / "README.md"


def available() -> list[str]:
    """The benchmark names (``bench_overhead`` is ``overhead``)."""
    return sorted(m.name.removeprefix("bench_") for m in pkgutil.iter_modules([str(HERE)]) if m.name.startswith("bench_"))


def run_one(name: str) -> dict[str, Any]:
    """Run ``bench_<name>`` and return its result section."""
    module = importlib.import_module(f"benchmarks.bench_{name}")
    start = time.perf_counter()
    rows = module.run()
    return {
        "issue": getattr(module, "ISSUE", None),
        "title": (module.__doc__ or "").strip().splitlines()[0],
        "ran": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "seconds": round(time.perf_counter() - start, 1),
        "machine": machine(),
        "rows": rows,
    }


def load(path: Path) -> report.Results:
    """The results in ``path``, or none."""
    return json.loads(path.read_text()) if path.exists() else {"benchmarks": {}}


def write(results: report.Results, stem: str) -> None:
    """``results/<stem>.json`` and ``results/<stem>.md``."""
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{stem}.json").write_text(json.dumps(results, indent=1, default=str) + "\n")
    (RESULTS / f"{stem}.md").write_text(report.render(results))


def update_readme(results: report.Results) -> None:
    """Rewrite README.md's benchmark block from ``results`` (the targets; the tables stay in results/)."""
    README.write_text(report.replace_block(README.read_text(), report.render_readme(results)))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", metavar="NAME", help=f"benchmarks to run (default all): {', '.join(available())}")
    parser.add_argument("--quick", action="store_true", help="a tenth of the iterations; results/quick.*, README untouched")
    parser.add_argument("--write", action="store_true", help="also rewrite README.md's benchmark block")
    parser.add_argument("--readme", action="store_true", help="only re-render README.md from results/latest.json")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.names) - set(available()))
    if unknown:
        parser.error(f"no benchmark named {', '.join(unknown)}; choose from {', '.join(available())}")
    if args.readme:
        update_readme(load(RESULTS / "latest.json"))
        return 0
    if args.quick:
        os.environ["GUARDFN_BENCH_SCALE"] = "0.1"
    stem = "quick" if args.quick else "latest"
    ran: report.Results = {"benchmarks": {}}
    failed = []
    for name in args.names or available():
        print(f"running {name} ...", file=sys.stderr, flush=True)
        try:
            ran["benchmarks"][name] = run_one(name)
        except Exception:
            traceback.print_exc()
            failed.append(name)
            continue
        print(report.markdown(ran["benchmarks"][name]["rows"]), file=sys.stderr, flush=True)
    results = report.merge(load(RESULTS / f"{stem}.json"), ran)
    write(results, stem)
    if args.write and not args.quick:
        update_readme(results)
    print(report.render(results))
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
