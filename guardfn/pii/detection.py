"""One detection of personal data (light: no Presidio, no spaCy)."""

from __future__ import annotations

from typing import NamedTuple


class Detection(NamedTuple):
    """One piece of personal data: its type, character offsets (code points) and score.

    Holds offsets, never the value: slice the analysed text to get it.
    """

    entity_type: str
    start: int
    end: int
    score: float
