"""Run every benchmark and write benchmarks/results/latest.{md,json}.

python -m benchmarks            # all
python -m benchmarks overhead   # only bench_overhead
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import sys
import time
import traceback
from pathlib import Path

from benchmarks.common import machine, markdown

HERE = Path(__file__).parent


def main(argv: list[str]) -> int:
    names = sorted(m.name for m in pkgutil.iter_modules([str(HERE)]) if m.name.startswith("bench_"))
    if argv:
        names = [n for n in names if n.removeprefix("bench_") in argv or n in argv]
    sections: list[str] = [f"Machine: {machine()}; run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"]
    results: dict[str, object] = {"machine": machine(), "benchmarks": {}}
    failed = False
    for name in names:
        print(f"running {name} ...", file=sys.stderr, flush=True)
        start = time.perf_counter()
        try:
            rows = importlib.import_module(f"benchmarks.{name}").run()
        except Exception:
            traceback.print_exc()
            failed = True
            continue
        elapsed = time.perf_counter() - start
        results["benchmarks"][name] = rows  # type: ignore[index]
        sections.append(f"### {name.removeprefix('bench_')} ({elapsed:.0f} s)\n\n{markdown(rows)}")
    out = "\n\n".join(sections) + "\n"
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "latest.md").write_text(out)
    (HERE / "results" / "latest.json").write_text(json.dumps(results, indent=2, default=str))
    print(out)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
