"""The learned injection screen: a linear model over hashed n-grams, shipped in the wheel.

``injection-model.npz`` (beside this module) holds the weights (``2**bits`` float16,
one per hash bucket of :mod:`guardfn.screening.features`), the bias and a JSON header:
the features version, the decision thresholds per profile, how it was trained. It is
read lazily, on first use, with numpy only (no download, no pickle).

A text's probability is ``sigmoid(bias + sum(weights[b]) / sqrt(n))`` over the ``n``
distinct bucket numbers ``b`` of its features. A text longer than :data:`STRIDE` bytes
is scored in windows of :data:`WINDOW` bytes (every :data:`STRIDE` bytes) and gets the
highest window's probability, so an instruction planted in a long document is not
diluted by it.

The training script is :mod:`guardfn.screening.train`; the model card is
``docs/injection-model.md``.
"""

from __future__ import annotations

import functools
import io
import json
import math
import zipfile
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from guardfn.screening.features import FEATURES_VERSION, chunked

MODEL_FILE = "injection-model.npz"
"""The shipped model's file name (in the ``guardfn.screening`` package)."""
WINDOW = 4096
"""Texts longer than this many UTF-8 bytes are scored in windows of this size."""
STRIDE = WINDOW // 2
"""Windows start every this many bytes (each byte is in two windows)."""
PROFILES = ("prompt", "untrusted")
"""The screening profiles: ``prompt`` (what the user asks) and ``untrusted`` (data the
prompt carries: documents, tool results), each with its own thresholds."""


def sigmoid(z: float) -> float:
    """The logistic function, safe for any ``z``."""
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


@dataclass(frozen=True)
class Thresholds:
    """Probabilities from which the model alone makes a text ``medium`` and ``high``
    risk, and below which (``veto``) it overrules the rules (see
    :mod:`guardfn.screening.injection`)."""

    medium: float
    high: float
    veto: float = 0.0

    def score(self, probability: float) -> float:
        """The risk score (0-1, ``medium`` from 0.5, ``high`` from 0.8) of a probability:
        piecewise linear through (0, 0), (medium, 0.5), (high, 0.8) and (1, 1)."""
        p, m, h = probability, self.medium, self.high
        if p < m:
            return 0.5 * p / m if m > 0 else 0.5
        if p < h:
            return 0.5 + 0.3 * (p - m) / (h - m)
        return 0.8 + 0.2 * (p - h) / (1.0 - h) if h < 1 else 1.0


@dataclass(frozen=True)
class Model:
    """A loaded model: weights per hash bucket, bias, thresholds per profile, metadata."""

    weights: np.ndarray
    bias: float
    bits: int
    thresholds: dict[str, Thresholds]
    meta: dict[str, Any] = field(default_factory=dict)

    def logit(self, text: str) -> float:
        """The model's log-odds that ``text`` (a normalised view) is an injection; the
        highest window's for a text longer than :data:`STRIDE` bytes (see
        :func:`guardfn.screening.features.windows`)."""
        chunks, buckets = chunked(text, self.bits, STRIDE)
        contributions = self.weights[buckets]
        if chunks[-1] == 0:
            return self.bias + float(contributions.sum(dtype=np.float64)) / math.sqrt(len(buckets))
        sums = np.bincount(chunks, weights=contributions)
        counts = np.bincount(chunks)
        sums = sums[:-1] + sums[1:]
        counts = np.maximum(counts[:-1] + counts[1:], 1)
        return self.bias + float((sums / np.sqrt(counts)).max())

    def probability(self, text: str) -> float:
        """The model's probability that ``text`` (a normalised view) is an injection."""
        return sigmoid(self.logit(text))

    def thresholds_for(self, profile: str) -> Thresholds:
        """The thresholds of ``profile`` (``prompt`` or ``untrusted``)."""
        try:
            return self.thresholds[profile]
        except KeyError:
            raise ValueError(f"unknown screening profile {profile!r}; choose from {', '.join(PROFILES)}") from None

    def save(self, path: Path) -> None:
        """Write the model as a compressed ``.npz`` (float16 weights, JSON header), byte
        for byte the same for the same model (fixed zip timestamps)."""
        header = {
            "features_version": FEATURES_VERSION,
            "bits": self.bits,
            "bias": self.bias,
            "thresholds": {k: {"medium": t.medium, "high": t.high, "veto": t.veto} for k, t in self.thresholds.items()},
            "meta": self.meta,
        }
        arrays: dict[str, np.ndarray] = {
            "weights": self.weights.astype(np.float16),
            "header": np.frombuffer(json.dumps(header, sort_keys=True).encode("utf-8"), dtype=np.uint8),
        }
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for name, array in arrays.items():
                info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                buffer = io.BytesIO()
                np.lib.format.write_array(buffer, array, allow_pickle=False)
                archive.writestr(info, buffer.getvalue())


def read(path: Path | None = None) -> Model:
    """Read a model file (default: the one shipped in the package)."""
    if path is None:
        with resources.files("guardfn.screening").joinpath(MODEL_FILE).open("rb") as fh:
            return _parse(np.load(fh, allow_pickle=False))
    with path.open("rb") as fh:
        return _parse(np.load(fh, allow_pickle=False))


def _parse(archive: Any) -> Model:
    header = json.loads(bytes(archive["header"]).decode("utf-8"))
    if header.get("features_version") != FEATURES_VERSION:
        raise ValueError(
            f"the injection model was trained with features version {header.get('features_version')}, "
            f"this guardfn computes version {FEATURES_VERSION}: retrain it (python -m guardfn.screening.train)"
        )
    weights = archive["weights"]  # float16: half the memory; sums are taken in float64
    if len(weights) != 1 << header["bits"]:
        raise ValueError("the injection model's weights do not match its hash size")
    thresholds = {
        k: Thresholds(float(t["medium"]), float(t["high"]), float(t.get("veto", 0.0)))
        for k, t in header["thresholds"].items()
    }
    return Model(weights, float(header["bias"]), int(header["bits"]), thresholds, dict(header.get("meta", {})))


@functools.lru_cache(maxsize=1)
def default_model() -> Model:
    """The shipped model, read once on first use."""
    return read()


__all__ = ["MODEL_FILE", "PROFILES", "STRIDE", "WINDOW", "Model", "Thresholds", "default_model", "read", "sigmoid"]
