"""Names (PERSON) and places (LOCATION) without a model: name lists, a gazetteer and context.

Pure Python and offline; the lists load lazily (:mod:`guardfn.pii.lexicon`), the context
words come from ``data/name_context.txt``. It looks only at capitalised words (and, after a
greeting or "my name is", a lower-case given name):

* A **strong person context** just before a run of capitalised words (a greeting, "my name
  is", a title such as "Dr.", a name label such as ``Name:``, ``Customer:``, ``"author": "``,
  "assigned to", "signed by", or a sign-off line such as "Thanks," above it) makes the run a
  name, up to the first common English word that is no known name.
* A **weaker context** ("ask", "spoke with", "cc") takes only known first names and surnames.
* Without context: a known first name followed by a surname (or an unknown capitalised word)
  is a name unless both are common words ("Will Power"); a common first name alone is a name
  unless it is also a common word ("Will", "May", "Grant", "Rose", "Bill" need context), a
  month, or a product (``data/not_names.txt``).
* Once a name is found, its words are names everywhere else in the text, and so are the words
  of e-mail local parts (``jane.doe@...`` makes "Doe" a name).
* **Places**: countries, continents and regions always; multi-word places; a city after a
  place word ("in", "from", "moved to", ``City:``) or before ", <region or state code>"; a
  large city that is neither a common word nor a first name ("Nice", "Reading" and "Mobile"
  need a place word). A name context wins over a place ("Dear Austin").
* A run followed by "Street", "Inc", "University" ... is an address or an organisation, not a person.

Speed: one regex pass finds the capitalised words; a word that no list holds is looked at
further only when a strong name context precedes it, and context is read only for the words
that need it (set lookups on the few words before them).
"""

from __future__ import annotations

import re

from guardfn.pii.detection import Detection
from guardfn.pii.lexicon import Lexicon, lexicon, word_sets

RECOGNIZER = "guardfn.names"
"""The recognizer name reported for PERSON and LOCATION found here."""

STRONG_SCORE = 0.85
PAIR_SCORE = 0.85
SINGLE_SCORE = 0.75
PROPAGATED_SCORE = 0.8
PLACE_SCORE = 0.85
CITY_SCORE = 0.75

_W = word_sets("name_context.txt")
_STRONG = _W["strong"]
_STRONG_PHRASES = _W["strong_phrases"]
_BY_VERBS = _W["by_verbs"]
_TO_VERBS = _W["to_verbs"]
_LABELS = _W["labels"]
_LABEL_PHRASES = _W["label_phrases"]
_WEAK = _W["weak"]
_WEAK_PHRASES = _W["weak_phrases"]
_SIGNOFFS = _W["signoffs"]
_PLACE_WORDS = _W["place_words"]
_STRONG_PLACE_WORDS = _W["strong_place_words"]
_PLACE_PREPOSITIONS = _W["place_prepositions"]
_PLACE_LABELS = _W["place_labels"]
_INSTITUTION = _W["institution_words"]
_STOP_CAPS = _W["stop_caps"]

# A capitalised word (letters, inner apostrophes and hyphens), not inside an identifier, a path,
# a URL or an e-mail address; "'s" is trimmed later. The look-behind follows the first letter so
# that the scan can skip to capital letters.
_CAP = re.compile(r"[A-ZÀ-ÖØ-ÞĀ-ž](?<![\w@./\\#$&=+-].)[^\W\d_]*(?:['’-][^\W\d_]+)*(?![\w@(]|\.\w|-\w)")
_MC = re.compile(r"(?:Mc|Mac|O'|O’|D'|D’|De|Di|La|Le|Van|Von)[A-Z][a-z]+$")
_PLACE_AFTER = re.compile(
    r"\s+(?:"
    + "|".join(sorted((re.escape(w).replace(r"\ ", r"\s+") for w in _W["place_after"]), key=len)[::-1])
    + r")\b"
)
# Context is read from the words just before a candidate on its line (lower case, punctuation
# dropped except ":" and "="): set lookups, no regex backtracking over the text.
_CONTEXT_WORD = re.compile(r"[a-z0-9]+(?:['’][a-z]+)?|[:=]")
_GREETING_LOWER = re.compile(
    r"(?:\b[Hh](?:i|ello|ey)|\b[Dd]ear|\b[Tt]hanks|\b[Cc]heers|\b[Rr]egards|\bname is|\bI am|\bI'm|\bthis is)[ ,]+([a-z]{2,})\b"
)
GREETING_TRIGGER = _GREETING_LOWER.pattern
"""An RE2 pattern that matches wherever a lower-case name after a greeting can be found (RE2's
ASCII ``\\b`` holds wherever Python's Unicode one does here)."""

_REGION_AFTER = re.compile(r",\s*(?:[A-Z]{2}\b|[A-Z][a-z]+)")
_EMAIL_LOCAL = re.compile(r"([A-Za-z][A-Za-z.\-_]{1,40})@[\w-]+\.")
_LOCAL_SPLIT = re.compile(r"[.\-_]+")

_MAX_RUN = 4
_CONTEXT_CHARS = 48

Token = tuple[int, int, str, str]
"""A capitalised word: (start, end, word, word in lower case)."""


class _Context:
    """What the words just before a candidate say: a strong or weak name context, a place word."""

    __slots__ = ("place", "strong", "strong_place", "weak")

    def __init__(self, lowered: str) -> None:
        nl = lowered.rfind("\n")
        line = lowered[nl + 1 :]
        words = _CONTEXT_WORD.findall(line)
        last = words[-1] if words else ""
        two = " ".join(words[-2:]) if len(words) > 1 else ""
        label = last in (":", "=")
        if label:
            head = words[-2] if len(words) > 1 else ""
            head2 = " ".join(words[-3:-1]) if len(words) > 2 else ""
            self.strong = head in _LABELS or head2 in _LABEL_PHRASES or head.endswith("name")
            self.place = self.strong_place = head in _PLACE_LABELS
        else:
            previous = words[-2] if len(words) > 1 else ""
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
        if not self.strong and nl >= 0 and not line.strip():
            above = lowered[:nl].rsplit("\n", 1)[-1].strip().rstrip(",.!: ")
            self.strong = above in _SIGNOFFS
        self.weak = not self.strong and not label and (last in _WEAK or two in _WEAK_PHRASES)


_NO_CONTEXT = _Context("")

# Every word that can end a context (the last word before a candidate decides whether any does).
_CUES = frozenset(
    {":", "=", "by", "to"}
    | _STRONG
    | _WEAK
    | _PLACE_WORDS
    | _STRONG_PLACE_WORDS
    | _PLACE_PREPOSITIONS
    | {phrase.rsplit(" ", 1)[-1] for phrase in _STRONG_PHRASES | _WEAK_PHRASES}
)
# The last context word of a line, read backwards from the candidate in the reversed text.
_LAST_WORD_REVERSED = re.compile(r"[^a-z0-9:=\n]*([:=]|(?:[a-z]+['’])?[a-z0-9]+)")


def _context(text: str, start: int) -> _Context:
    """The context of a candidate at ``start``; no word list is built unless the last word is a cue."""
    lowered = text[max(0, start - _CONTEXT_CHARS) : start].lower()
    last = _LAST_WORD_REVERSED.match(lowered[::-1])
    if last is not None and last.group(1)[::-1] not in _CUES:
        return _NO_CONTEXT
    return _Context(lowered)


def find_names(text: str, lex: Lexicon | None = None, greetings: bool = True) -> list[Detection]:
    """PERSON and LOCATION spans in ``text``, sorted by start, non-overlapping (see the module docstring).

    ``greetings=False`` skips the search for lower-case names after a greeting (the caller
    knows :data:`GREETING_TRIGGER` does not match).
    """
    if lex is None:
        lex = lexicon()
    tokens = _tokens(text)
    known = _email_name_parts(text, lex) if "@" in text else set()
    found: list[Detection] = []
    consumed = [False] * len(tokens)
    first_names, surnames, places, heads, common = (
        lex.first_names,
        lex.surnames,
        lex.places,
        lex.place_heads,
        lex.common_words,
    )
    i = 0
    n = len(tokens)
    while i < n:
        start, _, _, lower = tokens[i]
        if lower in _STOP_CAPS:
            i += 1
            continue
        starts = lower in first_names or lower in places or lower in heads
        if not starts and lower not in surnames:
            # No list holds it: only a strong name context makes it (and what follows) a name;
            # a plain common word ("The", "Order") never starts a name or a place.
            if lower in common:
                i += 1
                continue
            context = _context(text, start)
            if not context.strong:
                i += 1
                continue
        else:
            context = _context(text, start)
            if context is _NO_CONTEXT and not starts:
                i += 1  # a surname alone ("Apt", "Suite" are surnames too) needs a name context
                continue
        run = _run(text, tokens, i)
        span = _classify(text, tokens, run, context, lex)
        if span is None:
            i += 1
            continue
        found.append(span)
        for j in run:
            if tokens[j][0] >= span.end:
                break
            consumed[j] = True
            if span.entity_type == "PERSON":
                known.add(tokens[j][3])
        i = max(i + 1, next((j for j in run if tokens[j][0] >= span.end), run[-1] + 1))
    if greetings:
        for start, name in _lower_greetings(text, lex):
            found.append(Detection("PERSON", start, start + len(name), STRONG_SCORE))
            known.add(name)
    if known:
        for j, (start, end, _, lower) in enumerate(tokens):
            if consumed[j] or lower not in known:
                continue
            if lower in common and _at_sentence_start(text, start):
                continue
            found.append(Detection("PERSON", start, end, PROPAGATED_SCORE))
    if len(found) < 2:
        return found
    found.sort(key=lambda s: (s.start, -s.end))
    merged: list[Detection] = []
    for span in found:
        if merged and span.start < merged[-1].end:
            last = merged[-1]
            merged[-1] = Detection(last.entity_type, last.start, max(last.end, span.end), max(last.score, span.score))
        else:
            merged.append(span)
    return merged


def _email_name_parts(text: str, lex: Lexicon) -> set[str]:
    """Words of e-mail local parts that are known names and no common words (``jane.doe@`` -> jane, doe)."""
    out = set()
    for m in _EMAIL_LOCAL.finditer(text):
        for part in _LOCAL_SPLIT.split(m.group(1).lower()):
            if len(part) > 2 and (part in lex.surnames or part in lex.first_names) and part not in lex.common_words:
                out.add(part)
    return out


def _tokens(text: str) -> list[Token]:
    """Capitalised words, possessive "'s" trimmed; camelCase identifiers and single letters left out."""
    out = []
    for m in _CAP.finditer(text):
        word = m.group()
        if word[-2:] in ("'s", "’s"):
            word = word[:-2]
        if len(word) < 2 or not (word.istitle() or word.isupper() or _MC.match(word)):
            continue
        start = m.start()
        out.append((start, start + len(word), word, word.lower()))
    return out


def _run(text: str, tokens: list[Token], i: int) -> list[int]:
    """Indices of the capitalised words from ``i`` that follow each other with one space (or an initial's dot)."""
    run = [i]
    while len(run) < _MAX_RUN and run[-1] + 1 < len(tokens):
        prev_start, prev_end = tokens[run[-1]][:2]
        gap = text[prev_end : tokens[run[-1] + 1][0]]
        if gap == " " or (gap == ". " and prev_end - prev_start == 1):
            run.append(run[-1] + 1)
        else:
            break
    return run


def _is_name_word(word: str, lower: str, lex: Lexicon, strong: bool) -> bool:
    if not strong and (lower in lex.not_names or word.isupper()):
        return False
    return lower in lex.first_names or lower in lex.surnames or lower not in lex.common_words


def _place_at(tokens: list[Token], run: list[int], lex: Lexicon) -> tuple[int, str] | None:
    """The longest gazetteer name starting the run: (words, kind)."""
    longest = lex.place_heads.get(tokens[run[0]][3], 1)
    for k in range(min(longest, len(run)), 0, -1):
        key = tokens[run[0]][3] if k == 1 else " ".join(tokens[j][3] for j in run[:k])
        kind = lex.places.get(key)
        if kind is not None:
            return k, kind
    return None


def _institution_after(text: str, tokens: list[Token], last: int) -> bool:
    """True when the capitalised word after token ``last`` (whitespace between) is "Street", "Inc", "University" ..."""
    if last + 1 >= len(tokens):
        return False
    nxt = tokens[last + 1]
    gap = text[tokens[last][1] : nxt[0]]
    return bool(gap) and gap.isspace() and nxt[3] in _INSTITUTION


def _classify(text: str, tokens: list[Token], run: list[int], context: _Context, lex: Lexicon) -> Detection | None:
    words = [tokens[j][2] for j in run]
    lowers = [tokens[j][3] for j in run]
    start = tokens[run[0]][0]
    strong, weak, place_word = context.strong, context.weak, context.place
    institution = not strong and (
        _institution_after(text, tokens, run[-1]) or any(w in _INSTITUTION for w in lowers[1:])
    )

    place = _place_at(tokens, run, lex) if not strong and not institution else None
    if place is not None:
        k, kind = place
        if k == 1 and words[0].isupper() and kind != "country":
            place = None  # "PO", "SKU", "IT": an abbreviation, not a city
    if place is not None:
        k, kind = place
        end = tokens[run[k - 1]][1]
        head = lowers[0]
        region_after = kind == "city" and (bool(_REGION_AFTER.match(text, end)) or bool(_PLACE_AFTER.match(text, end)))
        common = k == 1 and head in lex.common_words
        if common and not region_after and not context.strong_place:
            place_word = False  # "in Mobile app": a common word needs a stronger place context
        is_first = k == 1 and (head in lex.common_first_names or head in lex.common_surnames)
        if (
            place_word
            or region_after
            or (kind in ("continent", "country", "region") and not common and not (is_first and weak))
            or (k > 1 and not weak)
            or (kind == "city" and not common and not is_first and not weak and head in lex.big_cities)
        ):
            score = PLACE_SCORE if place_word or region_after or kind != "city" else CITY_SCORE
            if not (common and not (place_word or region_after)):
                return Detection("LOCATION", start, end, score)
        if place_word and k == 1:
            return None  # "in Paris": not a person
    if institution:
        return None

    if strong:
        count = 0
        for word, lower in zip(words, lowers, strict=True):
            if not _is_name_word(word, lower, lex, True):
                break
            count += 1
        while count and len(words[count - 1]) == 1:
            count -= 1  # never end on an initial
        if count:
            return Detection("PERSON", start, tokens[run[count - 1]][1], STRONG_SCORE)
        return None

    def known(w: str) -> bool:
        return w in lex.first_names or w in lex.surnames

    if weak:
        count = 0
        for word, lower in zip(words, lowers, strict=True):
            if word.isupper() or lower in lex.not_names or not (known(lower) or len(word) == 1):
                break
            if lower in lex.common_words and count == 0 and not (len(lowers) > 1 and lowers[1] in lex.surnames):
                break  # "and Bill the customer": too ambiguous; "ping Maria Gonzalez" is fine
            count += 1
        while count and len(words[count - 1]) == 1:
            count -= 1
        if count:
            return Detection("PERSON", start, tokens[run[count - 1]][1], PAIR_SCORE)
        return None

    # No context.
    if any(w.isupper() for w in words if len(w) > 1):
        return None
    head = lowers[0]
    if head in lex.not_names or head not in lex.first_names:
        return None
    head_common = head in lex.common_words
    # First name + (initials) + surname or unknown capitalised word.
    for k in range(min(len(words), 3), 1, -1):
        last = lowers[k - 1]
        if len(words[k - 1]) == 1 or last in lex.not_names:
            continue
        middle_ok = all(
            len(w) == 1 or _is_name_word(w, lw, lex, False)
            for w, lw in zip(words[1 : k - 1], lowers[1 : k - 1], strict=True)
        )
        last_name = last in lex.surnames or last in lex.first_names or last not in lex.common_words
        both_common = head_common and last in lex.common_words
        if both_common and head in lex.top_first_names and last in lex.top_surnames:
            both_common = False  # "Mark Brown", "Will Smith": frequent as names, together
        if middle_ok and last_name and not both_common:
            return Detection("PERSON", start, tokens[run[k - 1]][1], PAIR_SCORE)
    if not head_common and head in lex.common_first_names and len(words[0]) > 2:
        return Detection("PERSON", start, tokens[run[0]][1], SINGLE_SCORE)
    return None


def _at_sentence_start(text: str, start: int) -> bool:
    """True when only spaces lie between ``start`` and the start of the text, a line, or a sentence end."""
    i = start
    while i > 0 and text[i - 1] in " \t\"'([":
        i -= 1
    return i == 0 or text[i - 1] in ".!?:;\n"


def _lower_greetings(text: str, lex: Lexicon) -> list[tuple[int, str]]:
    """Lower-case given names right after a greeting or "my name is" ("hi sarah,")."""
    out = []
    for m in _GREETING_LOWER.finditer(text):
        name = m.group(1)
        if name in lex.first_names and name not in lex.common_words and name not in lex.not_names:
            out.append((m.start(1), name))
    return out
