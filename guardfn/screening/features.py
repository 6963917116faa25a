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


@functools.lru_cache(maxsize=512)
def _char_spans(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For a padded text of ``n`` bytes: the start and end offsets of every character
    n-gram (all 3-grams, then 4-grams, then 5-grams) and each one's salt (cached per length,
    so a short text costs a handful of numpy calls)."""
    counts = [n - k + 1 for k in CHAR_NGRAMS if n >= k]
    starts = np.concatenate([np.arange(c) for c in counts])
    lengths = np.repeat(np.array(CHAR_NGRAMS[: len(counts)], dtype=np.intp), counts)
    salts = np.repeat(np.array([_SALT_CHAR[k] for k in CHAR_NGRAMS[: len(counts)]], dtype=np.uint64), counts)
    return starts, starts + lengths, salts


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
    starts, ends, salts = _char_spans(n) if n <= 4096 else _char_spans.__wrapped__(n)
    with np.errstate(over="ignore"):
        prefix = np.zeros(n + 1, dtype=np.uint64)
        np.cumsum(np.multiply(raw, up[:n], dtype=np.uint64), out=prefix[1:])
        parts = [(prefix[ends] - prefix[starts]) * down[starts] ^ salts]
        where = [starts]
        # words: runs of word bytes (the padding is a space at either end, so runs alternate
        # start, end, start, end ...)
        is_word = _WORD_BYTE[raw]
        edges = np.flatnonzero(is_word[1:] != is_word[:-1]) + 1
        word_starts, word_ends = edges[0::2], edges[1::2]
        if len(word_starts):
            words = (prefix[word_ends] - prefix[word_starts]) * down[word_starts]
            parts.append(words ^ _SALT_WORD)
            where.append(word_starts)
            if len(words) > 1:
                parts.append((words[:-1] * _PAIR_MULT + words[1:]) ^ _SALT_PAIR)
                where.append(word_starts[:-1])
        hashes = np.concatenate(parts) if len(parts) > 1 else parts[0]
        buckets = (hashes * _MIX) >> np.uint64(64 - bits)
    return (np.concatenate(where) if len(where) > 1 else where[0]), buckets.astype(np.intp)


def buckets(text: str, bits: int) -> np.ndarray:
    """The bucket numbers of every feature of ``text`` (see :func:`positions_and_buckets`)."""
    return positions_and_buckets(text, bits)[1]


def chunked(text: str, bits: int, stride: int) -> tuple[np.ndarray, np.ndarray]:
    """The distinct buckets of each ``stride``-byte chunk of ``text`` (a feature belongs
    to the chunk where it starts): two arrays, chunk numbers (ascending) and buckets.
    Each bucket counts once per chunk, so a run of dashes or a repeated phrase weighs
    no more than one occurrence."""
    positions, found = positions_and_buckets(text, bits)
    one_chunk = 4 * len(text) + 2 < stride  # every byte offset is below the stride: skip the chunk numbers
    keys = np.sort(found if one_chunk else (positions // stride) << bits | found)
    distinct = np.empty(len(keys), dtype=bool)
    distinct[0] = True
    np.not_equal(keys[1:], keys[:-1], out=distinct[1:])
    keys = keys[distinct]
    if one_chunk:
        return np.zeros(len(keys), dtype=np.intp), keys
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
