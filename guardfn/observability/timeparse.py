"""Durations on the command line: ``30d``, ``12h``, ``15m``, ``90s``, ``2w``, ``1d12h``."""

from __future__ import annotations

import re

UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 7 * 86400.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")


def parse_duration(text: str) -> float:
    """Seconds in ``text`` (``"30d"`` -> 2592000.0); raises ``ValueError`` on anything else."""
    compact = text.strip().lower().replace(" ", "")
    if not compact or _PART.sub("", compact):
        raise ValueError(f"not a duration: {text!r} (use e.g. 30d, 12h, 15m, 90s, 2w)")
    return sum(float(number) * UNITS[unit] for number, unit in _PART.findall(compact))
