"""The name lists, common words and gazetteer behind guardfn's offline name and place recognizer.

Loaded once per process on first use (:func:`lexicon`), from the gzip files in
``guardfn/pii/data`` (sources and licences: ``data/NOTICE.md``). Every key is lower case.
Loading builds sets and one dict from whole-file splits (no per-line Python work beyond
the multi-word places), so it stays well under 100 ms.

:func:`word_sets` reads the small hand-written files of context words (``[section]``
headers, one entry per line).
"""

from __future__ import annotations

import bisect
import gzip
import threading
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

DATA = Path(__file__).parent / "data"

COMMON_FIRST_NAME_RANK = 6000
"""First names ranked above this (by SSA frequency) are "common": enough, alone, to be a name."""

TOP_FIRST_NAME_RANK = 1500
"""First names ranked above this are frequent enough to outweigh a common-word reading ("Mark Brown")."""

COMMON_SURNAME_RANK = 2000
"""Surnames ranked above this are frequent enough that a city of that name needs a place word ("Houston")."""

TOP_SURNAME_RANK = 600
"""Surnames ranked above this outweigh a common-word reading after a frequent first name ("Will Smith")."""

BIG_CITY = 200_000
"""A city at least this large is a place without a place word (unless it is a common word or a name)."""

KINDS = ("continent", "country", "region", "city")
"""The kinds of gazetteer entries, broadest first (the order of ``places.tsv.gz``)."""


class Lexicon(NamedTuple):
    """Lower-cased lookups: first names and surnames (with their frequent heads), common words, places."""

    first_names: frozenset[str]
    common_first_names: frozenset[str]
    """First names ranked above :data:`COMMON_FIRST_NAME_RANK`."""
    top_first_names: frozenset[str]
    """First names ranked above :data:`TOP_FIRST_NAME_RANK`."""
    surnames: frozenset[str]
    common_surnames: frozenset[str]
    """Surnames ranked above :data:`COMMON_SURNAME_RANK`."""
    top_surnames: frozenset[str]
    """Surnames ranked above :data:`TOP_SURNAME_RANK`."""
    common_words: frozenset[str]
    places: dict[str, str]
    """Single- and multi-word place names (words joined by one space) -> kind (one of :data:`KINDS`)."""
    big_cities: frozenset[str]
    """Cities of at least :data:`BIG_CITY` people."""
    place_heads: dict[str, int]
    """First word of a multi-word place name -> the most words any such name has."""
    not_names: frozenset[str]
    """Capitalised words that are almost never names in prompts (``data/not_names.txt``)."""


def _text(name: str) -> str:
    return gzip.decompress((DATA / name).read_bytes()).decode("utf-8")


def _words(name: str) -> list[str]:
    """The lines of a gzip word list, in file order (most frequent first where there is an order)."""
    return _text(name).split()


def _first_index(items: list[str], value: str) -> int:
    try:
        return items.index(value)
    except ValueError:
        return -1


def _load() -> Lexicon:
    first = _words("first_names.txt.gz")
    surnames = _words("surnames.txt.gz")
    # places.tsv.gz: name<TAB>kind<TAB>population, grouped by kind (KINDS order), largest first.
    columns = _text("places.tsv.gz").replace("\n", "\t").split("\t")
    names, kinds, populations = columns[0:-1:3], columns[1::3], columns[2::3]
    places: dict[str, str] = {}
    # the file is grouped by kind, in KINDS order: each block starts where its kind first appears
    starts = [_first_index(kinds, kind) for kind in KINDS]
    for i, kind in enumerate(KINDS):
        hi = min((start for start in starts[i + 1 :] if start >= 0), default=len(kinds))
        if starts[i] >= 0:
            places.update(dict.fromkeys(names[starts[i] : hi], kind))
    cities = starts[-1] if starts[-1] >= 0 else len(kinds)
    big = bisect.bisect_right(populations, -BIG_CITY, lo=cities, key=lambda p: -int(p))
    heads: dict[str, int] = {}  # first word of a multi-word place -> the most words such a place has
    for name in [name for name in names if " " in name]:
        head, _, rest = name.partition(" ")
        words = rest.count(" ") + 2
        if heads.get(head, 0) < words:
            heads[head] = words
    return Lexicon(
        first_names=frozenset(first),
        common_first_names=frozenset(first[:COMMON_FIRST_NAME_RANK]),
        top_first_names=frozenset(first[:TOP_FIRST_NAME_RANK]),
        surnames=frozenset(surnames),
        common_surnames=frozenset(surnames[:COMMON_SURNAME_RANK]),
        top_surnames=frozenset(surnames[:TOP_SURNAME_RANK]),
        common_words=frozenset(_words("common_words.txt.gz")),
        places=places,
        big_cities=frozenset(names[cities:big]),
        place_heads=heads,
        not_names=word_sets("not_names.txt")["not_names"],
    )


@lru_cache(maxsize=8)
def word_sets(name: str) -> dict[str, frozenset[str]]:
    """The sets of a hand-written word file in ``data/``: ``[section]`` lines start a set.

    One entry per line (lower-cased, inner spaces collapsed to one); ``#`` starts a comment
    line; entries before the first header belong to the set named after the file's stem.
    """
    sets: dict[str, set[str]] = {}
    current = sets.setdefault(name.split(".")[0], set())
    for raw in (DATA / name).read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sets.setdefault(line[1:-1], set())
        else:
            current.add(" ".join(line.lower().split()))
    return {section: frozenset(words) for section, words in sets.items()}


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
