"""Names (PERSON) and places (LOCATION) without a model: name lists, a gazetteer and context.

Pure Python and offline; the lists load lazily (:mod:`guardfn.pii.lexicon`). It looks only
at capitalised words (and, after a greeting or "my name is", a lower-case given name):

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
"""

from __future__ import annotations

import re

from guardfn.pii.detection import Detection
from guardfn.pii.lexicon import COMMON_FIRST_NAME_RANK, Lexicon, lexicon

RECOGNIZER = "guardfn.names"
"""The recognizer name reported for PERSON and LOCATION found here."""

STRONG_SCORE = 0.85
PAIR_SCORE = 0.85
SINGLE_SCORE = 0.75
PROPAGATED_SCORE = 0.8
PLACE_SCORE = 0.85
CITY_SCORE = 0.75

BIG_CITY = 200_000
"""A city at least this large is a place without a place word (unless it is a common word or a name)."""


# A capitalised word (letters, inner apostrophes and hyphens), not inside an identifier, a path,
# a URL or an e-mail address; "'s" is trimmed later.
_CAP = re.compile(r"(?<![\w@./\\#$&=+-])[A-ZÀ-ÖØ-ÞĀ-ž][^\W\d_]*(?:['’-][^\W\d_]+)*(?![\w@(]|\.\w|-\w)")
_MC = re.compile(r"(?:Mc|Mac|O'|O’|D'|D’|De|Di|La|Le|Van|Von)[A-Z][a-z]+$")

_PLACE_AFTER = re.compile(
    r"""\s+(?:office|offices|branch|area|region|clinic|store|site|launch|plant|warehouse|campus|airport|
       market|headquarters|hq|metro|suburbs|facility|hospital|conference|trip|visit|weather|time|
       timezone|residents|locals|based|native|datacenter|data\s+center|region)\b""",
    re.VERBOSE,
)
# Context is read from the words just before a candidate on its line (lower case, punctuation
# dropped except ":" and "="): set lookups, no regex backtracking over the text.
_CONTEXT_WORD = re.compile(r"[a-z0-9]+(?:['’][a-z]+)?|[:=]")
_STRONG_1 = frozenset(
    [
        "hi",
        "hello",
        "hey",
        "hiya",
        "dear",
        "greetings",
        "morning",
        "afternoon",
        "evening",
        "thanks",
        "thx",
        "ty",
        "cheers",
        "welcome",
        "congrats",
        "congratulations",
        "sincerely",
        "regards",
        "best",
        "love",
        "xoxo",
        "mr",
        "mrs",
        "ms",
        "miss",
        "mx",
        "dr",
        "prof",
        "sir",
        "madam",
        "mister",
        "sr",
        "sra",
        "herr",
        "frau",
        "mme",
        "mlle",
        "named",
        "attn",
        "attention",
        "i'm",
        "i’m",
    ]
)
_STRONG_2 = frozenset({"thank you", "name is", "call me", "this is", "i am", "behalf of", "care of", "name's"})
_BY_VERBS = frozenset(
    ["signed", "sent", "written", "reported", "requested", "approved", "submitted", "reviewed", "created", "opened"]
)
_TO_VERBS = frozenset(
    ["assigned", "forwarded", "escalated", "addressed", "reassigned", "transferred", "routed", "married", "engaged"]
)
_LABELS = frozenset(
    [
        "name",
        "fullname",
        "surname",
        "customer",
        "client",
        "patient",
        "employee",
        "contact",
        "username",
        "user",
        "author",
        "owner",
        "assignee",
        "reporter",
        "requester",
        "requestor",
        "recipient",
        "sender",
        "from",
        "to",
        "cc",
        "bcc",
        "attn",
        "applicant",
        "beneficiary",
        "holder",
        "cardholder",
        "guardian",
        "parent",
        "mother",
        "father",
        "spouse",
        "partner",
        "manager",
        "supervisor",
        "agent",
        "rep",
        "representative",
        "driver",
        "passenger",
        "traveller",
        "traveler",
        "guest",
        "tenant",
        "landlord",
        "member",
        "student",
        "teacher",
        "doctor",
        "physician",
        "nurse",
        "therapist",
        "signed",
        "signature",
        "witness",
        "insured",
        "policyholder",
        "subscriber",
        "buyer",
        "seller",
        "consignee",
        "caller",
        "candidate",
        "interviewer",
        "referee",
        "reviewer",
        "approver",
        "person",
        "kin",
    ]
)
_LABELS_2 = frozenset(
    [
        "full name",
        "first name",
        "last name",
        "given name",
        "family name",
        "middle name",
        "maiden name",
        "user name",
        "display name",
        "\n    account holder",
        "card holder",
        "emergency contact",
        "policy holder",
        "ship to",
        "bill to",
        "deliver to",
        "legal name",
        "\n    contact person",
        "primary contact",
        "employee name",
        "customer name",
        "patient name",
        "client name",
        "applicant name",
    ]
)
_WEAK_1 = frozenset(
    [
        "ask",
        "asked",
        "tell",
        "told",
        "email",
        "emailed",
        "message",
        "messaged",
        "ping",
        "pinged",
        "call",
        "called",
        "text",
        "texted",
        "contact",
        "contacted",
        "cc",
        "cc'd",
        "per",
        "thank",
        "thanked",
        "remind",
        "reminded",
        "said",
        "says",
        "and",
        "with",
    ]
)
_WEAK_2 = frozenset(
    """loop in,looped in,spoke with,spoke to,speak with,speak to,talked with,talked to,talk with,talk to,
    met with,meet with,meeting with,chat with,chatted with,according to""".replace("\n", "").split(",")
)
_SIGNOFFS = frozenset(
    """thanks,thank you,many thanks,regards,best,all the best,best wishes,cheers,sincerely,yours,warmly,
    warm wishes,talk soon,take care,respectfully,love,best regards,kind regards,warm regards,--,—,–,-,
    yours sincerely,yours truly,with thanks,thanks again""".replace("\n", "").split(",")
)
_PLACE_1 = frozenset(
    [
        "in",
        "from",
        "to",
        "near",
        "at",
        "of",
        "visiting",
        "visit",
        "visited",
        "via",
        "around",
        "outside",
        "across",
        "toward",
        "towards",
        "into",
        "based",
        "live",
        "lives",
        "lived",
        "living",
        "moved",
        "moving",
        "relocated",
        "relocating",
        "located",
        "born",
        "raised",
        "flight",
        "fly",
        "flying",
        "flew",
        "travel",
        "traveling",
        "travelling",
        "trip",
        "office",
        "offices",
        "headquartered",
        "downtown",
        "central",
        "greater",
        "northern",
        "southern",
        "eastern",
        "western",
        "north",
        "south",
        "east",
        "west",
    ]
)
_PLACE_LABELS = frozenset(
    [
        "city",
        "town",
        "village",
        "country",
        "state",
        "province",
        "region",
        "county",
        "location",
        "address",
        "residence",
        "site",
        "nationality",
        "citizenship",
        "destination",
        "origin",
        "hometown",
    ]
)
_STRONG_PLACE_1 = frozenset(
    [
        "live",
        "lives",
        "lived",
        "living",
        "based",
        "located",
        "born",
        "raised",
        "moved",
        "moving",
        "relocated",
        "relocating",
        "flew",
        "fly",
        "flying",
        "flight",
        "trip",
        "travel",
        "traveling",
        "travelling",
        "visit",
        "visiting",
        "visited",
        "headquartered",
        "office",
        "offices",
        "hometown",
        "residence",
        "address",
        "location",
        "destination",
        "city",
        "town",
    ]
)
_PREPOSITIONS = frozenset(["in", "to", "from", "at", "of", "near"])


class _Context:
    """What the words just before a candidate say: a strong or weak name context, a place word."""

    __slots__ = ("place", "strong", "strong_place", "weak")

    def __init__(self, before: str) -> None:
        lowered = before.lower()
        nl = lowered.rfind("\n")
        line = lowered[nl + 1 :]
        words = _CONTEXT_WORD.findall(line)
        last = words[-1] if words else ""
        two = " ".join(words[-2:]) if len(words) > 1 else ""
        three = " ".join(words[-3:]) if len(words) > 2 else ""
        label = last in (":", "=")
        if label:
            head = words[-2] if len(words) > 1 else ""
            head2 = " ".join(words[-3:-1]) if len(words) > 2 else ""
            self.strong = head in _LABELS or head2 in _LABELS_2 or head.endswith("name")
            self.place = self.strong_place = head in _PLACE_LABELS
        else:
            self.strong = (
                last in _STRONG_1
                or two in _STRONG_2
                or three in ("my name is", "on behalf of")
                or (last == "by" and len(words) > 1 and (words[-2] in _BY_VERBS or words[-2].endswith("ed")))
                or (last == "to" and len(words) > 1 and words[-2] in _TO_VERBS)
            )
            self.place = last in _PLACE_1
            self.strong_place = last in _STRONG_PLACE_1 or (
                last in _PREPOSITIONS and len(words) > 1 and words[-2] in _STRONG_PLACE_1
            )
        if not self.strong and nl >= 0 and not line.strip():
            previous = lowered[:nl].rsplit("\n", 1)[-1].strip().rstrip(",.!: ")
            self.strong = previous in _SIGNOFFS
        self.weak = not self.strong and not label and (last in _WEAK_1 or two in _WEAK_2)


_GREETING_LOWER = re.compile(
    r"(?:\b[Hh](?:i|ello|ey)|\b[Dd]ear|\b[Tt]hanks|\b[Cc]heers|\b[Rr]egards|\bname is|\bI am|\bI'm|\bthis is)[ ,]+([a-z]{2,})\b"
)
_REGION_AFTER = re.compile(r",\s*(?:[A-Z]{2}\b|[A-Z][a-z]+)")
_NOT_PERSON_AFTER = re.compile(
    r"""\s+(?:Street|St\b|Avenue|Ave\b|Road|Rd\b|Boulevard|Blvd|Lane|Ln\b|Drive|Way|Court|Ct\b|Place|Pl\b|
       Square|Park|Hall|University|College|School|Academy|Hospital|Clinic|Center|Centre|Inc\b|LLC|Ltd|
       Corp|Corporation|Company|Co\b|Group|Foundation|Institute|Bank|Airport|Station|Bridge|Building|
       Tower|Hotel|Church|Library|Museum|County|Associates|Partners|Holdings|Labs|Technologies|
       Systems|Solutions|Services|Motors|Airlines|Insurance|Capital|Ventures|Stadium|Theatre|Theater|
       Highway|Hwy|Parkway|Pkwy|Terrace|Circle|Mall|Plaza|Valley|Heights|Beach|River|Lake|Mountain|
       Island|Bay|Street's|Award|Prize|Act|Law|Syndrome|Disease)\b""",
    re.VERBOSE,
)
_INSTITUTION = frozenset(
    [
        "street",
        "st",
        "avenue",
        "ave",
        "road",
        "rd",
        "boulevard",
        "blvd",
        "lane",
        "ln",
        "drive",
        "way",
        "court",
        "ct",
        "place",
        "pl",
        "square",
        "park",
        "hall",
        "university",
        "college",
        "school",
        "academy",
        "hospital",
        "clinic",
        "center",
        "centre",
        "inc",
        "llc",
        "ltd",
        "corp",
        "corporation",
        "company",
        "group",
        "foundation",
        "institute",
        "bank",
        "airport",
        "station",
        "bridge",
        "building",
        "tower",
        "hotel",
        "church",
        "library",
        "museum",
        "county",
        "associates",
        "partners",
        "holdings",
        "labs",
        "technologies",
        "systems",
        "solutions",
        "services",
        "motors",
        "airlines",
        "insurance",
        "capital",
        "ventures",
        "stadium",
        "theatre",
        "theater",
        "highway",
        "hwy",
        "parkway",
        "pkwy",
        "terrace",
        "circle",
        "mall",
        "plaza",
        "valley",
        "heights",
        "beach",
        "river",
        "lake",
        "mountain",
        "island",
        "bay",
        "award",
        "prize",
        "act",
        "law",
        "syndrome",
        "disease",
    ]
)
_EMAIL_LOCAL = re.compile(r"([A-Za-z][A-Za-z.\-_]{1,40})@[\w-]+\.")
_LOCAL_SPLIT = re.compile(r"[.\-_]+")
_STOP_CAPS = frozenset(
    [
        "hi",
        "hello",
        "hey",
        "hiya",
        "dear",
        "greetings",
        "thanks",
        "thank",
        "regards",
        "best",
        "cheers",
        "sincerely",
        "yours",
        "mr",
        "mrs",
        "ms",
        "miss",
        "mx",
        "dr",
        "prof",
        "sir",
        "madam",
        "mister",
        "name",
        "my",
        "i",
        "the",
        "a",
        "an",
        "and",
        "or",
        "but",
        "if",
        "please",
        "re",
        "fwd",
        "fw",
        "subject",
        "from",
        "to",
        "cc",
        "bcc",
        "attn",
        "note",
        "ps",
        "ok",
        "yes",
        "no",
        "hey",
        "thx",
        "ty",
        "dm",
        "pm",
        "am",
        "ceo",
        "cto",
        "cfo",
        "vp",
        "hr",
        "it",
        "qa",
        "ui",
        "ux",
        "api",
    ]
)

_MAX_RUN = 4
_CONTEXT_CHARS = 48


def find_names(text: str, lex: Lexicon | None = None) -> list[Detection]:
    """PERSON and LOCATION spans in ``text``, sorted by start, non-overlapping (see the module docstring)."""
    if lex is None:
        lex = lexicon()
    tokens = _tokens(text)
    found: list[Detection] = []
    known: set[str] = set()  # words of names found (lower case): names wherever they appear
    for m in _EMAIL_LOCAL.finditer(text):
        for part in _LOCAL_SPLIT.split(m.group(1).lower()):
            if len(part) > 2 and (part in lex.surnames or part in lex.first_names) and part not in lex.common_words:
                known.add(part)
    consumed = [False] * len(tokens)
    i = 0
    n = len(tokens)
    while i < n:
        start, end, word = tokens[i]
        lower = word.lower()
        if lower in _STOP_CAPS or len(word) < 2:
            i += 1
            continue
        if (
            lower in lex.common_words
            and lower not in lex.first_names
            and lower not in lex.surnames
            and lower not in lex.places
            and lower not in lex.place_heads
        ):
            i += 1  # "The", "Please", "Order": no rule makes a plain common word start a name or place
            continue
        run = _run(text, tokens, i)
        before = text[max(0, start - _CONTEXT_CHARS) : start]
        span = _classify(text, tokens, run, before, lex)
        if span is None:
            i += 1
            continue
        found.append(span)
        for j in run:
            if tokens[j][0] >= span.end:
                break
            consumed[j] = True
            if span.entity_type == "PERSON":
                known.add(tokens[j][2].lower())
        i = max(i + 1, next((j for j in run if tokens[j][0] >= span.end), run[-1] + 1))
    for start, name in _lower_greetings(text, lex):
        found.append(Detection("PERSON", start, start + len(name), STRONG_SCORE))
        known.add(name.lower())
    if known:
        for j, (start, end, word) in enumerate(tokens):
            lower = word.lower()
            if consumed[j] or lower not in known:
                continue
            if lower in lex.common_words and _at_sentence_start(text, start):
                continue
            found.append(Detection("PERSON", start, end, PROPAGATED_SCORE))
    found.sort(key=lambda s: (s.start, -s.end))
    merged: list[Detection] = []
    for span in found:
        if merged and span.start < merged[-1].end:
            last = merged[-1]
            merged[-1] = Detection(last.entity_type, last.start, max(last.end, span.end), max(last.score, span.score))
        else:
            merged.append(span)
    return merged


def _tokens(text: str) -> list[tuple[int, int, str]]:
    """Capitalised words as (start, end, word), possessive "'s" trimmed; camelCase identifiers left out."""
    out = []
    for m in _CAP.finditer(text):
        word = m.group()
        start, end = m.span()
        if word.endswith(("'s", "’s")):
            word = word[:-2]
            end -= 2
        if not word[0].isupper() or len(word) < 2:
            continue
        if not (word.istitle() or word.isupper() or _MC.match(word)):
            continue
        out.append((start, end, word))
    return out


def _run(text: str, tokens: list[tuple[int, int, str]], i: int) -> list[int]:
    """Indices of the capitalised words from ``i`` that follow each other with one space (or an initial's dot)."""
    run = [i]
    while len(run) < _MAX_RUN and run[-1] + 1 < len(tokens):
        prev_end = tokens[run[-1]][1]
        nxt = tokens[run[-1] + 1][0]
        gap = text[prev_end:nxt]
        if gap == " " or (gap == ". " and prev_end - tokens[run[-1]][0] == 1):
            run.append(run[-1] + 1)
        else:
            break
    return run


def _is_name_word(word: str, lex: Lexicon, strong: bool) -> bool:
    lower = word.lower()
    if lower in lex.not_names and not strong:
        return False
    if word.isupper() and len(word) > 1 and not strong:
        return False
    if len(word) == 1:
        return True  # an initial
    return lower in lex.first_names or lower in lex.surnames or lower not in lex.common_words


def _place_at(text: str, tokens: list[tuple[int, int, str]], run: list[int], lex: Lexicon) -> tuple[int, str] | None:
    """The longest gazetteer name starting the run: (words, kind)."""
    first = tokens[run[0]][2].lower()
    longest = lex.place_heads.get(first, 1)
    for k in range(min(longest, len(run)), 0, -1):
        key = " ".join(tokens[j][2].lower() for j in run[:k])
        place = lex.places.get(key)
        if place is not None:
            return k, place.kind
    return None


def _classify(
    text: str, tokens: list[tuple[int, int, str]], run: list[int], before: str, lex: Lexicon
) -> Detection | None:
    words = [tokens[j][2] for j in run]
    lowers = [w.lower() for w in words]
    start = tokens[run[0]][0]
    context = _Context(before)
    strong, weak, place_word = context.strong, context.weak, context.place
    after = text[tokens[run[-1]][1] : tokens[run[-1]][1] + 16]
    institution = not strong and (bool(_NOT_PERSON_AFTER.match(after)) or any(w in _INSTITUTION for w in lowers[1:]))

    place = _place_at(text, tokens, run, lex)
    if place is not None and not strong and not institution:
        k, kind = place
        if k == 1 and words[0].isupper() and kind != "country":
            place = None  # "PO", "SKU", "IT": an abbreviation, not a city
    if place is not None and not strong and not institution:
        k, kind = place
        end = tokens[run[k - 1]][1]
        head = lowers[0]
        region_after = kind == "city" and (bool(_REGION_AFTER.match(text, end)) or bool(_PLACE_AFTER.match(text, end)))
        common = k == 1 and head in lex.common_words
        if common and not region_after and not context.strong_place:
            place_word = False  # "in Mobile app": a common word needs a stronger place context
        is_first = k == 1 and (
            lex.first_names.get(head, 10**6) < COMMON_FIRST_NAME_RANK or lex.surnames.get(head, 10**6) < 2000
        )
        if (
            place_word
            or region_after
            or (kind in ("continent", "country", "region") and not common and not (is_first and weak))
            or (k > 1 and not weak)
            or (kind == "city" and not common and not is_first and not weak and lex.places[head].population >= BIG_CITY)
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
        for word in words:
            if not _is_name_word(word, lex, True):
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
        middle_ok = all(len(w) == 1 or _is_name_word(w, lex, False) for w in words[1 : k - 1])
        last_name = last in lex.surnames or last in lex.first_names or last not in lex.common_words
        both_common = head_common and last in lex.common_words
        if both_common and lex.first_names[head] < 1500 and lex.surnames.get(last, 10**6) < 600:
            both_common = False  # "Mark Brown", "Will Smith": frequent as names, together
        if middle_ok and last_name and not both_common:
            return Detection("PERSON", start, tokens[run[k - 1]][1], PAIR_SCORE)
    if not head_common and lex.first_names[head] < COMMON_FIRST_NAME_RANK and len(words[0]) > 2:
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
        if name.islower() and name in lex.first_names and name not in lex.common_words and name not in lex.not_names:
            out.append((m.start(1), name))
    return out
