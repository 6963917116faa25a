"""The name lists, common words and gazetteer behind guardfn's offline name and place recognizer.

Loaded once per process on first use (:func:`lexicon`), from the gzip files in
``guardfn/pii/data`` (sources and licences: ``data/NOTICE.md``). Every key is lower case.
"""

from __future__ import annotations

import gzip
import threading
from pathlib import Path
from typing import NamedTuple

DATA = Path(__file__).parent / "data"

COMMON_FIRST_NAME_RANK = 6000
"""First names ranked above this (by SSA frequency) are "common": enough, alone, to be a name."""


class Place(NamedTuple):
    """A gazetteer entry: ``kind`` is continent, country, region or city."""

    kind: str
    population: int


class Lexicon(NamedTuple):
    """Lower-cased lookups: first names and surnames by rank, common words, places by name."""

    first_names: dict[str, int]
    surnames: dict[str, int]
    common_words: frozenset[str]
    places: dict[str, Place]
    """Single- and multi-word place names (words joined by one space)."""
    place_heads: dict[str, int]
    """First word of a multi-word place name -> the most words any such name has."""
    not_names: frozenset[str]
    """Capitalised words that are almost never names in prompts (``data/not_names.txt``)."""


def _lines(name: str) -> list[str]:
    with gzip.open(DATA / name, "rt", encoding="utf-8") as fh:
        return fh.read().splitlines()


def _load() -> Lexicon:
    first = {name: rank for rank, name in enumerate(_lines("first_names.txt.gz"))}
    surnames = {name: rank for rank, name in enumerate(_lines("surnames.txt.gz"))}
    words = frozenset(_lines("common_words.txt.gz"))
    places: dict[str, Place] = {}
    heads: dict[str, int] = {}
    for line in _lines("places.tsv.gz"):
        key, kind, population = line.split("\t")
        places[key] = Place(kind, int(population))
        if " " in key:
            parts = key.count(" ") + 1
            head = key[: key.index(" ")]
            if heads.get(head, 1) < parts:
                heads[head] = parts
    text = (DATA / "not_names.txt").read_text(encoding="utf-8")
    not_names = frozenset(w.strip().lower() for w in text.splitlines() if w.strip() and not w.startswith("#"))
    return Lexicon(first, surnames, words, places, heads, not_names)


_lexicon: Lexicon | None = None
_lock = threading.Lock()


def lexicon() -> Lexicon:
    """The process-wide lexicon, loaded on first use (thread-safe)."""
    global _lexicon
    lex = _lexicon
    if lex is None:
        with _lock:
            if _lexicon is None:
                _lexicon = _load()
            lex = _lexicon
    return lex
