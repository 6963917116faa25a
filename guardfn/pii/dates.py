"""DATE_OF_BIRTH: a date with birth context ("DOB", "born on", "date of birth" labels).

Other dates (deadlines, log timestamps, order dates) are not personal data on their own and
are left alone. Formats: ``04/12/1987``, ``12.04.1987``, ``1987-04-12``, ``April 12, 1987``,
``12 April 1987``, ``Apr 12th 1987``; "born in 1987" (a birth year) too.
"""

from __future__ import annotations

import re

from guardfn.pii.detection import Detection

RECOGNIZER = "guardfn.dates"
"""The recognizer name reported for DATE_OF_BIRTH."""

SCORE = 0.9

_MONTH = r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
_DAY = r"(?:[0-2]?\d|3[01])(?:st|nd|rd|th)?"
_YEAR = r"(?:19|20)\d\d"
_DATE = re.compile(
    rf"""(?ix)(?<![\w/.-])(?:
        \d{{1,2}}[/.-]\d{{1,2}}[/.-](?:\d{{4}}|\d{{2}})
      | {_YEAR}[/.-]\d{{1,2}}[/.-]\d{{1,2}}
      | {_MONTH}\s+{_DAY},?\s+{_YEAR}
      | {_DAY}\s+(?:of\s+)?{_MONTH},?\s+{_YEAR}
      | {_MONTH}\s+{_YEAR}
    )(?![\w/-]|\.\d)"""
)
_CONTEXT = re.compile(
    r"""(?ix)\b(?:d\.?\s?o\.?\s?b\.?|date\s+of\s+birth|birth\s*date|birthdate|birthday|born|
        geburtsdatum|date\s+de\s+naissance|fecha\s+de\s+nacimiento|data\s+di\s+nascita|dob_?\w*|birth_?\w*)
        \b[^\n\d]{0,24}$"""
)
_YEAR_CONTEXT = re.compile(r"(?i)\b(?:born\s+in|birth\s*year|year\s+of\s+birth|yob)\s*[:=]?\s*$")
_BARE_YEAR = re.compile(rf"(?<![\w/.-]){_YEAR}(?![\w/-])")
_TRIGGER_WORDS = ("dob", "birth", "born", "d.o.b", "naissance", "nacimiento", "nascita", "geburt", "yob")

TRIGGER = r"(?i)dob|birth|born|d\.o\.b|naissance|nacimiento|nascita|geburt|yob"
"""An RE2 pattern that matches wherever :func:`find_dates_of_birth` can find anything (the
engine's one gate pass): ``str.lower()`` maps no other character to an ASCII letter of these
words in place (the Kelvin sign folds to "k" in RE2 too; "İ" lowers to two characters)."""


def find_dates_of_birth(text: str) -> list[Detection]:
    """DATE_OF_BIRTH spans: dates (or a birth year) just after a birth word or label."""
    lowered = text.lower()
    if not any(word in lowered for word in _TRIGGER_WORDS):
        return []
    out = []
    for m in _DATE.finditer(text):
        if _CONTEXT.search(text, max(0, m.start() - 48), m.start()):
            out.append(Detection("DATE_OF_BIRTH", m.start(), m.end(), SCORE))
    for m in _BARE_YEAR.finditer(text):
        if _YEAR_CONTEXT.search(text, max(0, m.start() - 24), m.start()) and not any(
            d.start <= m.start() < d.end for d in out
        ):
            out.append(Detection("DATE_OF_BIRTH", m.start(), m.end(), SCORE))
    out.sort()
    return out
