"""Names (PERSON) and places (LOCATION) without a model: name lists, a gazetteer and context.

Pure Python and offline; the lists load lazily (:mod:`guardfn.pii.lexicon`), the context
words come from ``data/name_context.txt``. It looks only at capitalised words (and, after a
greeting or "my name is", a lower-case given name):

* A **strong person context** just before a run of capitalised words (a greeting, "my name
  is", a title such as "Dr.", a name label such as ``Name:``, ``Attendees:``, ``name=``,
  ``"author": "``, "assigned to", "signed by", or a sign-off line such as "Thanks," above it)
  makes the run a name, up to the first common English word that is no known name.
* A **weaker context** ("ask", "spoke with", "cc", "it's", the next item of a list of names)
  takes known first names and surnames, the unknown surname after a known given name
  ("ask Maria Okonkwo"), or two or three capitalised words that may all be names ("with
  Thandiwe Mokoena"). After a preposition or a role ("send it to", "from", "for",
  "customer") one of them must be a known name, and a known place stays a place.
* Without context: a known first name followed by a surname (or an unknown capitalised word)
  is a name unless both are common words ("Will Power") or the first is a common word that is
  only a rare given name ("In Ireland"); an unknown capitalised word followed by a known
  surname is a name ("Bekzod Qureshi"); a common first name alone is a name unless it is also
  a common word ("Will", "May", "Grant", "Rose", "Bill" need context), a month, or a product
  (``data/not_names.txt``).
* Hyphenated given names count by their parts ("Anne-Marie", "Mei-ling"; "Ji-hoon" whose
  parts no list holds, in that shape); "Self-service", "Wi-Fi" and "Mid-Atlantic" do not.
* Once a name is found, its words are names everywhere else in the text, and so are the words
  of e-mail local parts (``jane.doe@...`` makes "Doe" a name).
* **Places**: countries, continents and regions always; multi-word places; a city after a
  place word ("in", "from", "moved to", ``City:``, ``Venue:``) or before ", <region or state
  code>"; a large city that is neither a common word nor a given name ("Houston" alone, but
  "Nice", "Reading" and "Mobile" need a place word); "Fort", "Lake", "Mount" ... and the word
  after them. A name context wins over a place ("Dear Austin"), and so does a given name with
  a surname after it ("from Farah Qureshi").
* A run followed by "Street", "Inc", "University" ... is an address or an organisation, not a
  person, and so is one that starts with "Rue", "Calle", "Via" ....

Speed: one regex pass finds the capitalised words; a word that no list holds is looked at
further only when a name context precedes it or a surname follows it, and context is read
only for the words that need it (set lookups on the few words before them).
"""

from __future__ import annotations

import re

from guardfn.pii.detection import Detection
from guardfn.pii.lexicon import Lexicon, lexicon, word_sets
from guardfn.pii.name_context import (
    LIST_CONTEXT,
    LIST_SEPARATORS,
    LONGEST_SEPARATOR,
    NO_CONTEXT,
    PLACE_LIST_CONTEXT,
    Context,
    read_context,
)

RECOGNIZER = "guardfn.names"
"""The recognizer name reported for PERSON and LOCATION found here."""

STRONG_SCORE = 0.85
PAIR_SCORE = 0.85
SINGLE_SCORE = 0.75
PROPAGATED_SCORE = 0.8
PLACE_SCORE = 0.85
CITY_SCORE = 0.75

_W = word_sets("name_context.txt")
_INSTITUTION = _W["institution_words"]
_STOP_CAPS = _W["stop_caps"]
_ADDRESS_PREFIXES = _W["address_prefixes"]
_PLACE_PREFIXES = _W["place_prefixes"]
_SPECIAL = _STOP_CAPS | _ADDRESS_PREFIXES | _PLACE_PREFIXES
_TO_FROM = frozenset({"to", "from"})

# A capitalised word (letters, inner apostrophes and hyphens), not inside an identifier, a path,
# a URL or an e-mail address; "'s" is trimmed later. The look-behind follows the first letter so
# that the scan can skip to capital letters.
_CAP = re.compile(r"[A-ZÀ-ÖØ-ÞĀ-ž](?<![\w@./\\#$&+-].)[^\W\d_]*(?:['’-][^\W\d_]+)*(?![\w@(]|\.\w|-\w)")
_MC = re.compile(r"(?:Mc|Mac|O'|O’|D'|D’|De|Di|La|Le|Van|Von)[A-Z][a-z]+$")
# "Soo-jin", "Mei-ling": a given name's parts, the later ones in lower case ("Jean-Luc" is title case)
_HYPHENATED = re.compile(r"[A-ZÀ-ÖØ-ÞĀ-ž][a-zß-öø-ÿā-ž]+(?:-[a-zß-öø-ÿā-ž]{2,})+$")
_PLACE_AFTER = re.compile(
    r"\s+(?:"
    + "|".join(sorted((re.escape(w).replace(r"\ ", r"\s+") for w in _W["place_after"]), key=len)[::-1])
    + r")\b"
)
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

Token = tuple[int, int, str, str]
"""A capitalised word: (start, end, word, word in lower case)."""


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
    common = lex.common_words
    lowered = text.lower()
    reversed_lower = lowered[::-1] if len(lowered) == len(text) else None
    i = 0
    n = len(tokens)
    previous: Detection | None = None  # the last span found: a list goes on after it ("Ann Lee, Bo Chan")
    while i < n:
        found_here = _candidate(text, tokens, i, lex, previous, reversed_lower)
        if found_here is None:
            i += 1
            continue
        span, run = found_here
        if span is None:
            i = run[-1] + 1  # a street: its words are no names
            continue
        found.append(span)
        previous = span
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


def _candidate(
    text: str, tokens: list[Token], i: int, lex: Lexicon, previous: Detection | None, reversed_lower: str | None
) -> tuple[Detection | None, list[int]] | None:
    """The name or place starting at token ``i`` and the tokens it may span; ``None`` when there is
    none; ``(None, run)`` when the run is a street ("Rue Gafsa") whose words must be skipped."""
    start, _, word, lower = tokens[i]
    if lower in _SPECIAL:
        if lower in _STOP_CAPS:
            return None
        if lower in _ADDRESS_PREFIXES:
            return None, _run(text, tokens, i)  # "Rue Gafsa", "Calle Mayor": a street
        place = _prefixed_place(text, tokens, i)
        if place is not None and not read_context(text, start, reversed_lower).strong:
            return place, [i, i + 1]  # "Fort Hays", "Lake Tahoe"
    hyphen = _hyphen_kind(word, lex) if "-" in word else 0
    starts = lower in lex.first_names or lower in lex.places or lower in lex.place_heads or hyphen == _GIVEN
    listed = starts or lower in lex.surnames or hyphen != 0
    if not listed and lower in lex.common_words:
        return None  # a plain common word ("The", "Order") never starts a name or a place
    if (
        previous is not None
        and start - previous.end <= LONGEST_SEPARATOR
        and text[previous.end : start] in LIST_SEPARATORS
    ):
        context = LIST_CONTEXT if previous.entity_type == "PERSON" else PLACE_LIST_CONTEXT
    else:
        context = read_context(text, start, reversed_lower)
    if not listed and not context.strong and not context.weak and not context.soft:
        # No list holds it: a name context makes it (and what follows) a name, and so does a
        # known surname after it ("Haruto Sato"); otherwise it is left alone.
        pair = _unknown_pair(text, tokens, i, lex)
        return (pair, [i, i + 1]) if pair is not None else None
    if context is NO_CONTEXT and not starts:
        return None  # a surname alone ("Apt", "Suite" are surnames too) needs a name context
    run = _run(text, tokens, i)
    span = _classify(text, tokens, run, context, lex)
    return (span, run) if span is not None else None


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
        if len(word) < 2 or not (word.istitle() or word.isupper() or _MC.match(word) or _HYPHENATED.match(word)):
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
    if "-" in lower:
        return _hyphen_kind(word, lex) != 0
    return lower in lex.first_names or lower in lex.surnames or lower not in lex.common_words


_NAME_PART = 1
_GIVEN = 2


def _hyphen_kind(word: str, lex: Lexicon) -> int:
    """What a hyphenated word is: :data:`_GIVEN` ("jean-luc", "soo-jin": a given name's parts),
    :data:`_NAME_PART` ("smith-jones"), or 0 (not hyphenated, or a part is a common word that is
    no name: "self-service", "x-ray", "follow-up").

    A given name has a known first name among its parts, or parts no list holds ("ji-hoon").
    """
    if "-" not in word:
        return 0
    parts = word.lower().split("-")
    first, surnames, common, not_names = lex.first_names, lex.surnames, lex.common_words, lex.not_names
    if any(len(p) < 2 or p in not_names or (p in common and p not in first and p not in surnames) for p in parts):
        return 0
    if any(p in first for p in parts):
        return _GIVEN
    if all(p in surnames for p in parts):
        return _NAME_PART
    # parts no list holds: a given name only in its own shape ("Ji-hoon", "Soo-jin"; not "Mid-Atlantic", "Wi-Fi")
    return _GIVEN if _HYPHENATED.match(word) and all(len(p) <= 5 for p in parts) else 0


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


def _classify(text: str, tokens: list[Token], run: list[int], context: Context, lex: Lexicon) -> Detection | None:
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
        elif (
            k == 1
            and kind == "city"
            and context.last in _TO_FROM
            and not context.strong_place
            and lowers[0] in lex.common_first_names
            and lowers[0] not in lex.big_cities
        ):
            place = None  # "said Gladys to Logan": a common given name that is only a small town
        elif k == 1 and len(run) > 1 and lowers[0] in lex.first_names and not context.strong_place:
            second = lowers[1]
            if (
                second not in lex.places
                and second not in lex.place_heads
                and _is_name_word(words[1], second, lex, False)
            ):
                place = None  # "from Farah Qureshi": a given name and a surname, not a town
    if place is not None:
        k, kind = place
        end = tokens[run[k - 1]][1]
        head = lowers[0]
        region_after = kind == "city" and (bool(_REGION_AFTER.match(text, end)) or bool(_PLACE_AFTER.match(text, end)))
        common = k == 1 and head in lex.common_words
        if common and not region_after and not context.strong_place:
            place_word = False  # "in Mobile app": a common word needs a stronger place context
        # a given name, or a frequent surname that is no large city ("Houston" is a place alone)
        is_first = k == 1 and (
            head in lex.common_first_names or (head in lex.common_surnames and head not in lex.big_cities)
        )
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

    def known(word: str, lower: str) -> bool:
        return lower in lex.first_names or lower in lex.surnames or _hyphen_kind(word, lex) != 0

    soft = context.soft
    if weak or soft:
        count = 0
        for word, lower in zip(words, lowers, strict=True):
            if word.isupper() or lower in lex.not_names or not known(word, lower):
                break
            if lower in lex.common_words and (
                soft or (count == 0 and not (len(lowers) > 1 and lowers[1] in lex.surnames))
            ):
                break  # "and Bill the customer", "to Will": too ambiguous; "ping Maria Gonzalez" is fine
            count += 1
        if count == 0 and len(words) > 1 and place is None:
            # two or three capitalised words that may all be names ("with Thandiwe Mokoena"); after a
            # preposition or a role, one of them must be a known name
            while (
                count < len(words)
                and lowers[count] not in lex.places
                and _is_name_word(words[count], lowers[count], lex, False)
            ):
                count += 1
            if count < 2 or (
                soft and not any(known(w, lw) for w, lw in zip(words[:count], lowers[:count], strict=True))
            ):
                count = 0
        elif count:
            # a known given name, then a surname no list holds ("ask Maria Okonkwo")
            while count < len(words) and _is_name_word(words[count], lowers[count], lex, False):
                count += 1
        if count:
            return Detection("PERSON", start, tokens[run[count - 1]][1], PAIR_SCORE)
        return None

    # No context.
    if any(w.isupper() for w in words if len(w) > 1):
        return None
    head = lowers[0]
    if head in lex.not_names or (head not in lex.first_names and _hyphen_kind(words[0], lex) != _GIVEN):
        return None
    head_common = head in lex.common_words
    if head_common and head not in lex.common_first_names:
        return None  # "British", "Girl", "In" are rare given names: a common word first
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


def _prefixed_place(text: str, tokens: list[Token], i: int) -> Detection | None:
    """ "Fort", "Lake", "Mount" ... and the capitalised word right after it, as a place, or ``None``."""
    if i + 1 >= len(tokens) or text[tokens[i][1] : tokens[i + 1][0]] != " " or tokens[i + 1][2].isupper():
        return None
    return Detection("LOCATION", tokens[i][0], tokens[i + 1][1], CITY_SCORE)


def _unknown_pair(text: str, tokens: list[Token], i: int, lex: Lexicon) -> Detection | None:
    """A word no list holds followed by a known surname that is no common word ("Haruto Sato"), or ``None``."""
    if i + 1 >= len(tokens) or tokens[i][2].isupper() or tokens[i][3] in lex.not_names:
        return None
    nxt = tokens[i + 1]
    if text[tokens[i][1] : nxt[0]] != " " or nxt[2].isupper():
        return None
    last = nxt[3]
    if last in lex.common_words or last in lex.not_names or not (last in lex.surnames or _hyphen_kind(nxt[2], lex)):
        return None
    if last in _INSTITUTION or _institution_after(text, tokens, i + 1):
        return None  # "Acme Corp", "Mercy General Hospital"
    return Detection("PERSON", tokens[i][0], nxt[1], PAIR_SCORE)


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
