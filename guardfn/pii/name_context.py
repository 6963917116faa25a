"""What the words just before a capitalised word say about it: a name context, a place word.

Used by :mod:`guardfn.pii.names`. The words come from ``data/name_context.txt``; they are
read from the last three words of the candidate's line (lower case, punctuation dropped
except ":" and "="), backwards, in place, and only past one short match when the last word is
a cue at all.
"""

from __future__ import annotations

import re

from guardfn.pii.lexicon import word_sets

_W = word_sets("name_context.txt")
_STRONG = _W["strong"]
_STRONG_PHRASES = _W["strong_phrases"]
_BY_VERBS = _W["by_verbs"]
_TO_VERBS = _W["to_verbs"]
_LABELS = _W["labels"]
_LABEL_PHRASES = _W["label_phrases"]
_WEAK = _W["weak"]
_WEAK_PHRASES = _W["weak_phrases"]
_SOFT = _W["soft"]
_SIGNOFFS = _W["signoffs"]
_PLACE_WORDS = _W["place_words"]
_STRONG_PLACE_WORDS = _W["strong_place_words"]
_PLACE_PREPOSITIONS = _W["place_prepositions"]
_PLACE_LABELS = _W["place_labels"]

CONTEXT_CHARS = 48
"""How far back (characters, on the candidate's line) context is read."""


class Context:
    """What the words just before a candidate say: a strong or weak name context, a place word.

    Built from the last three words of the candidate's line (lower case, punctuation dropped
    except ":" and "="), last first; ``above`` is the line above when the candidate starts
    its line (a sign-off such as "Thanks," there makes it a name).
    """

    __slots__ = ("last", "place", "soft", "strong", "strong_place", "weak")

    def __init__(self, last: str = "", previous: str = "", third: str = "", above: str | None = None) -> None:
        self.last = last
        two = f"{previous} {last}" if previous else ""
        label = last in (":", "=")
        if label:
            head2 = f"{third} {previous}" if third else ""
            self.strong = previous in _LABELS or head2 in _LABEL_PHRASES or previous.endswith("name")
            self.place = self.strong_place = previous in _PLACE_LABELS
        else:
            self.strong = (
                last in _STRONG
                or two in _STRONG_PHRASES
                or (last == "by" and (previous in _BY_VERBS or previous.endswith("ed")))
                or (last == "to" and previous in _TO_VERBS)
            )
            self.place = last in _PLACE_WORDS
            self.strong_place = last in _STRONG_PLACE_WORDS or (
                last in _PLACE_PREPOSITIONS and previous in _STRONG_PLACE_WORDS
            )
        if not self.strong and above is not None:
            self.strong = above.strip().rstrip(",.!: ") in _SIGNOFFS
        self.weak = not self.strong and not label and (last in _WEAK or two in _WEAK_PHRASES)
        self.soft = not self.strong and not label and not self.weak and last in _SOFT


NO_CONTEXT = Context()
LIST_CONTEXT = Context()
LIST_CONTEXT.weak = True  # the next item of a list of names ("Attendees: Ann Lee, Bo Chan and ...")
PLACE_LIST_CONTEXT = Context()
PLACE_LIST_CONTEXT.place = True  # the next item of a list of places
LIST_SEPARATORS = frozenset({", ", ",", " and ", " & ", "; ", " or ", ", and ", " und ", " et ", " y ", ": "})
LONGEST_SEPARATOR = max(map(len, LIST_SEPARATORS))

# Every word that can end a context (the last word before a candidate decides whether any does).
CUES = frozenset(
    {":", "=", "by", "to"}
    | _STRONG
    | _WEAK
    | _PLACE_WORDS
    | _STRONG_PLACE_WORDS
    | _PLACE_PREPOSITIONS
    | _SOFT
    | {phrase.rsplit(" ", 1)[-1] for phrase in _STRONG_PHRASES | _WEAK_PHRASES}
)
# The last three context words of a line, read backwards from the candidate in the reversed text.
_WORD_REVERSED = r"[:=]|(?:[a-z]+['’])?[a-z0-9]+"
_SEPARATOR = r"[^a-z0-9:=\n]*"
_LAST_WORD_REVERSED = re.compile(rf"{_SEPARATOR}({_WORD_REVERSED})")
_LAST_WORDS_REVERSED = re.compile(
    rf"{_SEPARATOR}({_WORD_REVERSED})(?:{_SEPARATOR}({_WORD_REVERSED})(?:{_SEPARATOR}({_WORD_REVERSED}))?)?"
)


def read_context(text: str, start: int, reversed_lower: str | None = None) -> Context:
    """The context of a candidate at ``start``, from at most :data:`CONTEXT_CHARS` characters before it.

    ``reversed_lower`` is ``text.lower()[::-1]`` when lower-casing kept every offset: the words
    are then read from it in place. Only a cue as the last word, or a candidate that starts its
    line, needs more than one regex match.
    """
    lo = max(0, start - CONTEXT_CHARS)
    if reversed_lower is None:
        reversed_lower, pos, endpos = text[lo:start].lower()[::-1], 0, start - lo
    else:
        pos, endpos = len(text) - start, len(text) - lo
    words = _LAST_WORD_REVERSED.match(reversed_lower, pos, endpos)
    if words is not None:
        if words.group(1)[::-1] not in CUES:
            return NO_CONTEXT
        words = _LAST_WORDS_REVERSED.match(reversed_lower, pos, endpos)
        assert words is not None
        last, previous, third = words.group(1)[::-1], words.group(2), words.group(3)
        return Context(last, previous[::-1] if previous else "", third[::-1] if third else "")
    window = text[lo:start]
    nl = window.rfind("\n")
    if nl < 0 or window[nl + 1 :].strip():
        return NO_CONTEXT  # no word before it on its line, and not the start of a line
    return Context(above=window[:nl].rsplit("\n", 1)[-1].lower())
