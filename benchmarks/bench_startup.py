"""Start-up and memory: import time, cold start to the first answer, peak RSS.

Each figure comes from fresh interpreters (median of several), beside its anchor measured
in the same run:

* ``import guardfn`` against ``import openai`` (target, issue 2: at most 0.2x);
* cold start, what a serverless function pays on its first request: from the first line
  of a fresh process to the first answer in hand (imports, decoration or client creation,
  one call to the loopback provider), guarded against the raw SDK;
* peak RSS (``VmHWM``, else ``ru_maxrss``) of a process that made that one call, guarded against raw.

The guarded variants are the default stages, limits on Redis (the serverless example's
setup), a ``tokens_per_day`` budget on Redis (target, issue 17: cold start <= 1.3x and
peak RSS <= 1.5x the raw SDK call) and PII redaction (Presidio and a blank spaCy
pipeline loaded). The upstream is :mod:`benchmarks.upstream`; the children load only
guardfn's built-in stages (``GUARDFN_PLUGINS=""``).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys

from benchmarks.common import KEY, REDIS, Row, main, row, scaled
from benchmarks.upstream import upstream

ISSUE = 2
REPEAT = max(3, scaled(9))
BUDGET = "tokens_per_day budget on Redis"

_CHILD = """
import time
start = time.perf_counter()
{body}
elapsed = time.perf_counter() - start
import json, resource
try:  # this process's own high-water mark (ru_maxrss can carry a big parent's across fork + exec)
    with open("/proc/self/status") as status:
        rss_kib = int(next(line.split()[1] for line in status if line.startswith("VmHWM:")))
except OSError:
    rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({{"seconds": elapsed, "rss_kib": rss_kib}}))
"""

_RAW = """
import openai
client = openai.OpenAI(base_url={base!r}, api_key={key!r}, max_retries=0)
answer = client.chat.completions.create(model="gpt-4o-mini", max_tokens=64,
    messages=[{{"role": "user", "content": "How do I reset my password?"}}]).choices[0].message.content
assert answer
"""

_GUARDED = """
from guardfn import guarded_llm
@guarded_llm(model="gpt-4o-mini", max_tokens=64, base_url={base!r}, api_key=lambda: {key!r}{options})
def answer(user_id, question):
    return question
assert answer("u-cold", "How do I reset my password?")
"""

VARIANTS = {
    "default stages": "",
    "limits on Redis": f', limits={{"requests_per_minute": 10**9}}, store="{REDIS}"',
    BUDGET: f', limits={{"tokens_per_day": 10**12}}, store="{REDIS}"',
    "PII redaction (Presidio)": ', pii="redact"',
}


def _children(codes: dict[str, str]) -> dict[str, tuple[float, float]]:
    """Per code: median seconds to the end and median peak RSS (MiB) over REPEAT fresh processes.

    The codes take turns (one process each per round), so drift on the machine hits all alike.
    """
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in codes}
    for _ in range(REPEAT):
        for name, code in codes.items():
            out = subprocess.run([sys.executable, "-c", _CHILD.format(body=code)], check=True, capture_output=True,
                                 text=True, env={**os.environ, "GUARDFN_PLUGINS": ""}).stdout  # fmt: skip
            result = json.loads(out.strip().splitlines()[-1])
            samples[name].append((result["seconds"], result["rss_kib"] / 1024))
    return {
        name: (statistics.median(s for s, _ in runs), statistics.median(r for _, r in runs))
        for name, runs in samples.items()
    }


def _cold_rows(url: str) -> list[Row]:
    codes = {"raw": _RAW.format(base=url + "/v1", key=KEY)}
    for label, options in VARIANTS.items():
        codes[label] = _GUARDED.format(base=url + "/v1", key=KEY, options=options)
    results = _children(codes)
    raw_s, raw_rss = results.pop("raw")
    rows: list[Row] = []
    for label, (s, rss) in results.items():
        judged = label == BUDGET
        rows.append(row(f"cold start to the first answer, {label}", s * 1000, "ms",
                        anchor="raw openai SDK, same call", anchor_value=raw_s * 1000,
                        target="<= 1.3x" if judged else "report", met=s / raw_s <= 1.3 if judged else None,
                        issue=17 if judged else None))  # fmt: skip
        rows.append(row(f"peak RSS after one guarded call, {label}", rss, "MiB",
                        anchor="raw openai SDK, same call", anchor_value=raw_rss,
                        target="<= 1.5x" if judged else "report", met=rss / raw_rss <= 1.5 if judged else None,
                        issue=17 if judged else None))  # fmt: skip
    return rows


def run() -> list[Row]:
    imports = _children({"guardfn": "import guardfn", "openai": "import openai"})
    guardfn_import, openai_import = imports["guardfn"][0], imports["openai"][0]
    ratio = guardfn_import / openai_import
    rows = [row("import guardfn", guardfn_import * 1000, "ms", anchor="import openai",
                anchor_value=openai_import * 1000, target="<= 0.2x", met=ratio <= 0.2)]  # fmt: skip
    with upstream() as url:
        rows += _cold_rows(url)
    return rows


if __name__ == "__main__":
    main(run)
