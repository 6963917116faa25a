"""US_DRIVER_LICENSE after a driver's licence label, in the common US state formats.

Presidio's ``UsLicenseRecognizer`` only reaches the threshold with a context word and misses
formats with separators (Florida's ``S530-4128-6754-1``, Illinois' ``A123-4567-8901``, New
York's ``123 456 789``). After a label ("driver's license", "DL#", "DLN", "driving licence
no.") this finds: one or two letters and 4-14 digits (CA, FL, IL, MI, MN, MD, NJ, OH, WA ...),
or 7-12 digits (NY, TX, PA, ...), optionally grouped with spaces or hyphens.
"""

from __future__ import annotations

import re

from guardfn.pii.detection import Detection

RECOGNIZER = "guardfn.licences"
"""The recognizer name reported for US_DRIVER_LICENSE found after a label."""

SCORE = 0.85

_LABELLED = re.compile(
    r"""(?ix)\b(?:driver[’']?s?[’']?\s*licen[cs]e|drivers?\s+lic\.?|driving\s+licen[cs]e|d\.?l\.?n?|dl\s*\#|
        licen[cs]e\s*\(\s*dl\s*\))
        (?:\s*(?:number|num|no\.?|\#|id))?\s*(?:is|was|:|\#|=|-)?\s*\#?\s*
        (?P<value>[A-Z]{1,2}[ -]?\d(?:[ -]?\d){3,13}|\d(?:[ -]?\d){6,11}|[A-Z]{3}[A-Z0-9*]{6,9})
        (?![\w-])"""
)
_TRIGGER = re.compile(r"(?i)licen|\bdln?\b|d\.l\.")

TRIGGER = r"(?i)l[iİı]cen|\bdln?\b|d\.l\."
"""An RE2 pattern that matches wherever :func:`find_labelled_licences` can find anything (the
engine's one gate pass): Python's case-insensitive "i" also matches "İ" and "ı"; RE2's ASCII
``\b`` holds wherever Python's Unicode one does next to these ASCII letters."""


def find_labelled_licences(text: str) -> list[Detection]:
    """Driver's licence numbers right after a licence label."""
    if not _TRIGGER.search(text):
        return []
    out = []
    for m in _LABELLED.finditer(text):
        value = m.group("value")
        if sum(c.isdigit() for c in value) < 4:
            continue
        out.append(Detection("US_DRIVER_LICENSE", m.start("value"), m.end("value"), SCORE))
    return out
