"""Replacing detected personal data: redact, mask, or pseudonymize (reversibly).

Pure string work on the detections of :mod:`guardfn.pii.engine` (sorted,
non-overlapping spans): no Presidio import, so it is cheap to import and to test.

* ``redact``: ``[EMAIL_ADDRESS]``.
* ``mask``: keeps a few characters, e.g. ``a***@example.com``, ``***-**-6789``.
* ``pseudonymize``: ``<EMAIL_ADDRESS_1>``; the same value gets the same placeholder
  within one :class:`Pseudonymizer` (one call), and its vault maps placeholders back
  for :mod:`guardfn.pii.restore`.

Offsets are Python string indices (code points) on both sides, so emoji, combining
marks and right-to-left text around a value are kept exactly as they were.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Literal, Protocol

Mode = Literal["redact", "mask", "pseudonymize"]

PLACEHOLDER_RE = re.compile(r"<[A-Z][A-Z_]*_[0-9]+>")
"""The shape of a pseudonymization placeholder, e.g. ``<EMAIL_ADDRESS_1>``."""

_ALNUM = re.compile(r"[^\W_]", re.UNICODE)
_DIGIT_ENTITIES = frozenset(
    {"PHONE_NUMBER", "US_SSN", "CREDIT_CARD", "US_BANK_NUMBER", "US_PASSPORT", "US_DRIVER_LICENSE", "UK_NHS"}
)
_WORD_ENTITIES = frozenset({"PERSON", "LOCATION", "NRP"})


class Span(Protocol):
    """What replacement needs from a detection: its type and offsets."""

    @property
    def entity_type(self) -> str: ...

    @property
    def start(self) -> int: ...

    @property
    def end(self) -> int: ...


class Pseudonymizer:
    """Issues placeholders for one call; ``vault`` maps each placeholder to its value.

    ``reserved`` are placeholder-shaped strings already present in the input: they are
    never issued, so restoring can never turn text the user wrote into someone's data.
    The vault must never be logged or exported.
    """

    def __init__(self, reserved: Iterable[str] = ()) -> None:
        self.vault: dict[str, str] = {}
        self._by_value: dict[str, str] = {}
        self._counters: Counter[str] = Counter()
        self._reserved = set(reserved)

    def reserve_from(self, text: str) -> None:
        """Never issue a placeholder that already occurs in ``text``."""
        self._reserved.update(PLACEHOLDER_RE.findall(text))

    def placeholder(self, entity_type: str, value: str) -> str:
        """The placeholder for ``value`` (the same one every time within this call)."""
        known = self._by_value.get(value)
        if known is not None:
            return known
        while True:
            self._counters[entity_type] += 1
            candidate = f"<{entity_type}_{self._counters[entity_type]}>"
            if candidate not in self._reserved and candidate not in self.vault:
                break
        self._by_value[value] = candidate
        self.vault[candidate] = value
        return candidate


def mask_value(entity_type: str, value: str) -> str:
    """A masked rendering of ``value`` that keeps its shape and a few characters.

    E-mail: first character and the domain (``a***@example.com``). Numbers: separators
    and the last four digits when there are at least eight (``***-**-6789``,
    ``**** **** **** 1111``), else nothing. IPv4: the first octet. Names and places:
    each word's first letter.
    """
    if entity_type == "EMAIL_ADDRESS" and "@" in value:
        local, _, domain = value.rpartition("@")
        return f"{local[:1]}***@{domain}"
    if entity_type == "IP_ADDRESS" and value.count(".") == 3 and ":" not in value:
        return value.split(".", 1)[0] + ".*.*.*"
    if entity_type in _WORD_ENTITIES:
        return re.sub(r"(\w)(\w*)", lambda m: m.group(1) + "*" * len(m.group(2)), value)
    if entity_type == "CRYPTO":
        return value[:4] + "***"
    count = len(_ALNUM.findall(value))
    keep = 4 if count >= 8 and (entity_type in _DIGIT_ENTITIES or entity_type == "IBAN_CODE") else 0
    masked: list[str] = []
    seen = 0
    for ch in value:
        if _ALNUM.match(ch):
            seen += 1
            masked.append(ch if seen > count - keep else "*")
        else:
            masked.append(ch)
    return "".join(masked)


def replace(
    text: str,
    detections: Sequence[Span],
    mode: Mode,
    pseudonymizer: Pseudonymizer | None = None,
) -> tuple[str, Counter[str]]:
    """``text`` with every detection replaced, and the count of replacements per entity type.

    ``detections`` must be sorted and non-overlapping (as :meth:`PIIEngine.analyze`
    returns them). ``pseudonymize`` needs a :class:`Pseudonymizer`.
    """
    counts: Counter[str] = Counter()
    if not detections:
        return text, counts
    if mode == "pseudonymize" and pseudonymizer is None:
        raise ValueError("pseudonymize needs a Pseudonymizer")
    parts: list[str] = []
    cursor = 0
    for det in detections:
        if det.start < cursor or det.end <= det.start:
            raise ValueError("detections must be sorted, non-empty and non-overlapping")
        value = text[det.start : det.end]
        if mode == "redact":
            replacement = f"[{det.entity_type}]"
        elif mode == "mask":
            replacement = mask_value(det.entity_type, value)
        else:
            assert pseudonymizer is not None
            replacement = pseudonymizer.placeholder(det.entity_type, value)
        parts.append(text[cursor : det.start])
        parts.append(replacement)
        cursor = det.end
        counts[det.entity_type] += 1
    parts.append(text[cursor:])
    return "".join(parts), counts
