"""Hashed n-gram features for the learned injection screen, vectorised with numpy.

A text (already normalised: see :func:`guardfn.screening.normalize.views`) becomes the
bucket numbers of its features, one per occurrence:

* character 3-, 4- and 5-grams of its UTF-8 bytes, with one space added at either end;
* words (runs of ASCII letters and digits, or of non-ASCII bytes) and pairs of
  neighbouring words.

Every n-gram is hashed with one 64-bit polynomial over the bytes (a prefix sum that
wraps modulo 2**64, so the hash of any span is two subtractions and a multiplication
away), salted by its kind and folded into ``2**bits`` buckets by multiplicative
hashing. No Python loop runs over the text: the cost is a few dozen numpy calls plus
work linear in its length.

The model (:mod:`guardfn.screening.model`) scores a text as ``bias + sum(weights[b]) /
sqrt(n)`` over its ``n`` distinct bucket numbers ``b`` (binary features scaled by the
square root of their number), in windows for long texts (:func:`windows`). Training
(:mod:`guardfn.screening.train`) calls the same functions, so the two cannot drift.
"""

from __future__ import annotations

import functools

import numpy as np

FEATURES_VERSION = 1
"""Bumped whenever the features change; a model records the version it was trained with."""
CHAR_NGRAMS = (3, 4, 5)
"""The lengths of the byte n-grams."""
_P = np.uint64(0x100000001B3)  # FNV-64 prime: odd, so invertible modulo 2**64
_P_INV = np.uint64(pow(0x100000001B3, -1, 1 << 64))
_MIX = np.uint64(0x9E3779B97F4A7C15)  # 2**64 / golden ratio, for multiplicative hashing
_SALT_WORD = np.uint64(0x5BD1E9955BD1E995)
_SALT_PAIR = np.uint64(0xC2B2AE3D27D4EB4F)
_SALT_CHAR = {n: np.uint64((0x165667B19E3779F9 * (n + 1)) & 0xFFFFFFFFFFFFFFFF) for n in CHAR_NGRAMS}
_PAIR_MULT = np.uint64(0xFF51AFD7ED558CCD)
_WORD_BYTE = np.zeros(256, dtype=bool)
for _c in b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789":
    _WORD_BYTE[_c] = True
_WORD_BYTE[0x80:] = True


@functools.lru_cache(maxsize=8)
def _powers(n: int) -> tuple[np.ndarray, np.ndarray]:
    """``P**i`` and ``P**-i`` modulo 2**64 for ``i < n`` (``n`` a power of two, cached)."""
    with np.errstate(over="ignore"):
        up = np.cumprod(np.full(n, _P, dtype=np.uint64))
        down = np.cumprod(np.full(n, _P_INV, dtype=np.uint64))
    up = np.concatenate(([np.uint64(1)], up[:-1]))
    down = np.concatenate(([np.uint64(1)], down[:-1]))
    return up, down


def _capacity(n: int) -> int:
    return 1 << max(10, (n - 1).bit_length())


def positions_and_buckets(text: str, bits: int) -> tuple[np.ndarray, np.ndarray]:
    """The byte offset and bucket number of every feature of ``text`` (see the module
    docstring), as two arrays of the same length (never empty: an empty text has the
    n-grams of its padding)."""
    data = b" " + text.encode("utf-8", "surrogatepass") + b" "
    if len(data) < CHAR_NGRAMS[0]:
        data = data.ljust(CHAR_NGRAMS[0], b" ")  # the empty text: one n-gram of padding
    n = len(data)
    raw = np.frombuffer(data, dtype=np.uint8)
    up, down = _powers(_capacity(n + 1))
    with np.errstate(over="ignore"):
        prefix = np.empty(n + 1, dtype=np.uint64)
        prefix[0] = 0
        np.cumsum(raw.astype(np.uint64) * up[:n], out=prefix[1:])
        parts = []
        where = []
        for k in CHAR_NGRAMS:
            if n < k:
                continue
            count = n - k + 1
            h = (prefix[k : k + count] - prefix[:count]) * down[:count]
            parts.append(h ^ _SALT_CHAR[k])
            where.append(np.arange(count))
        # words: runs of word bytes
        is_word = _WORD_BYTE[raw]
        edges = np.flatnonzero(np.diff(is_word.view(np.int8), prepend=0, append=0))
        starts, ends = edges[0::2], edges[1::2]
        if len(starts):
            words = (prefix[ends] - prefix[starts]) * down[starts]
            parts.append(words ^ _SALT_WORD)
            where.append(starts)
            if len(words) > 1:
                parts.append((words[:-1] * _PAIR_MULT + words[1:]) ^ _SALT_PAIR)
                where.append(starts[:-1])
        hashes = np.concatenate(parts)
        buckets = (hashes * _MIX) >> np.uint64(64 - bits)
    return np.concatenate(where), buckets.astype(np.intp)


def buckets(text: str, bits: int) -> np.ndarray:
    """The bucket numbers of every feature of ``text`` (see :func:`positions_and_buckets`)."""
    return positions_and_buckets(text, bits)[1]


def chunked(text: str, bits: int, stride: int) -> tuple[np.ndarray, np.ndarray]:
    """The distinct buckets of each ``stride``-byte chunk of ``text`` (a feature belongs
    to the chunk where it starts): two arrays, chunk numbers (ascending) and buckets.
    Each bucket counts once per chunk, so a run of dashes or a repeated phrase weighs
    no more than one occurrence."""
    positions, found = positions_and_buckets(text, bits)
    keys = np.sort((positions // stride) << bits | found)
    distinct = np.empty(len(keys), dtype=bool)
    distinct[0] = True
    np.not_equal(keys[1:], keys[:-1], out=distinct[1:])
    keys = keys[distinct]
    return keys >> bits, keys & ((1 << bits) - 1)


def windows(text: str, bits: int, stride: int) -> list[np.ndarray]:
    """The bucket numbers of each window of ``text``: two neighbouring chunks of
    :func:`chunked` (one window of one chunk for a text of one chunk). The model's
    log-odds for a window is ``bias + sum(weights[buckets]) / sqrt(len(buckets))``."""
    chunks, found = chunked(text, bits, stride)
    bounds = np.searchsorted(chunks, np.arange(int(chunks[-1]) + 2))
    pieces = [found[bounds[c] : bounds[c + 1]] for c in range(len(bounds) - 1)]
    if len(pieces) == 1:
        return pieces
    return [np.concatenate((pieces[c], pieces[c + 1])) for c in range(len(pieces) - 1)]


__all__ = ["CHAR_NGRAMS", "FEATURES_VERSION", "buckets", "chunked", "positions_and_buckets", "windows"]
