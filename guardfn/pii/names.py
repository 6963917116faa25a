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
_CAP = re.compile(
    r"(?<![\w@./\\#$&=+-])[A-ZÀ-ÖØ-ÞĀ-ž][^\W\d_]*(?:['’-][^\W\d_]+)*(?![\w@(]|\.\w|-\w)"
)
_MC = re.compile(r"(?:Mc|Mac|O'|O’|D'|D’|De|Di|La|Le|Van|Von)[A-Z][a-z]+$")

_STRONG_BEFORE = re.compile(
    r"""(?ix)(?:
      \b(?:my\s+name\s+is|my\s+name's|name\s+is|i\s+am|i'm|i’m|this\s+is|it's|it’s|call\s+me|named|
         hi|hello|hey|hiya|dear|greetings|morning|afternoon|evening|thanks|thank\s+you|thx|ty|cheers|
         welcome|congrats|congratulations|sincerely|regards|best|love|xoxo|
         mr|mrs|ms|miss|mx|dr|prof|sir|madam|mister|sr|sra|herr|frau|mme|mlle|
         (?:signed|sent|written|reported|requested|approved|submitted|reviewed|assigned|created|opened|
            closed|escalated|handled|raised|filed|authored|prepared|updated|edited|posted|shared|
            referred|recommended|introduced|invited|booked|ordered|placed|verified|processed|[a-z]+ed)\s+by|
         (?:assigned|forwarded|escalated|addressed|reassigned|transferred|routed|married|engaged)\s+to|
         on\s+behalf\s+of|attn|attention|c/o|care\s+of)\b[\s,.:;!-]*
    | \b(?:name|full\s*name|first\s*name|last\s*name|given\s*name|family\s*name|surname|middle\s*name|
         maiden\s*name|customer|client|patient|employee|contact|user\s*name|username|display\s*name|
         author|owner|assignee|reporter|requester|requestor|recipient|sender|from|to|cc|bcc|attn|
         applicant|beneficiary|account\s*holder|card\s*holder|cardholder|holder|guardian|parent|
         mother|father|spouse|partner|emergency\s*contact|next\s*of\s*kin|manager|supervisor|agent|
         rep|representative|driver|passenger|traveller|traveler|guest|tenant|landlord|member|
         student|teacher|doctor|physician|nurse|therapist|signed|signature|witness|insured|
         policy\s*holder|policyholder|subscriber|buyer|seller|ship\s*to|bill\s*to|deliver\s*to|
         consignee|caller|candidate|interviewer|referee|reviewer|approver|user|person|
         legal\s*name|contact\s*person|primary\s*contact|employee\s*name|customer\s*name|
         patient\s*name|client\s*name)
       ["']?\s*(?:[:=]|=>|->)\s*["']?\s*
    )$"""
)
_WEAK_BEFORE = re.compile(
    r"""(?ix)\b(?:ask|asked|tell|told|email|emailed|e-mail|message|messaged|ping|pinged|call|called|
       text|texted|contact|contacted|cc|cc'd|loop\s+in|looped\s+in|spoke\s+(?:with|to)|speak\s+(?:with|to)|
       talked\s+(?:with|to)|talk\s+(?:with|to)|met\s+with|meet\s+with|meeting\s+with|chat\s+with|
       chatted\s+with|according\s+to|per|thank|thanked|remind|reminded|said|says|and|with|&)\s+$"""
)
_SIGNOFF = re.compile(
    r"""(?ix)(?:thanks|thank\s+you|many\s+thanks|regards|best|all\s+the\s+best|best\s+wishes|cheers|
       sincerely|yours|warmly|warm\s+wishes|talk\s+soon|take\s+care|respectfully|love|--|—|–|-)
       [\s,.!]*\n[ \t]*$"""
)
_PLACE_BEFORE = re.compile(
    r"""(?ix)(?:\b(?:in|from|to|near|at|of|visiting|visit|visited|via|around|outside|across|towards?|
       into|based|live|lives|lived|living|moved|moving|relocated|relocating|located|born|raised|
       flight|fly|flying|flew|travel|traveling|travelling|trip|office|offices|headquartered|
       downtown|central|greater|northern|southern|eastern|western|north|south|east|west|
       city|town|village|country|state|province|region|county|location|address|residence|site|
       nationality|citizenship|destination|origin|hometown)\s*
       ["']?\s*(?:[:=]\s*["']?\s*)?)$"""
)
_STRONG_PLACE_BEFORE = re.compile(
    r"""(?ix)(?:\b(?:live|lives|lived|living|based|located|born|raised|moved|moving|relocated|relocating|
       flew|fly|flying|flight|trip|travel\w*|visit\w*|headquartered|offices?|hometown|residence|
       address|location|destination|city|town)\s*(?:in|to|from|at|of|near)?\s*["']?\s*(?:[:=]\s*["']?\s*)?)$"""
)
_PLACE_AFTER = re.compile(
    r"""\s+(?:office|offices|branch|area|region|clinic|store|site|launch|plant|warehouse|campus|airport|
       market|headquarters|hq|metro|suburbs|facility|hospital|conference|trip|visit|weather|time|
       timezone|residents|locals|based|native|datacenter|data\s+center|region)\b""",
    re.VERBOSE,
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
    ["street", "st", "avenue", "ave", "road", "rd", "boulevard", "blvd", "lane", "ln", "drive", "way", "court", "ct", "place", "pl", "square", "park", "hall", "university", "college", "school", "academy", "hospital", "clinic", "center", "centre", "inc", "llc", "ltd", "corp", "corporation", "company", "group", "foundation", "institute", "bank", "airport", "station", "bridge", "building", "tower", "hotel", "church", "library", "museum", "county", "associates", "partners", "holdings", "labs", "technologies", "systems", "solutions", "services", "motors", "airlines", "insurance", "capital", "ventures", "stadium", "theatre", "theater", "highway", "hwy", "parkway", "pkwy", "terrace", "circle", "mall", "plaza", "valley", "heights", "beach", "river", "lake", "mountain", "island", "bay", "award", "prize", "act", "law", "syndrome", "disease"]
)
_SENTENCE_END = re.compile(r"(?:^|[.!?:;\n]\s*|[\"'(\[]\s*|^\s+)$")
_LOWER_GREETING = re.compile(
    r"(?i)\b(?:hi|hello|hey|dear|thanks|thank\s+you|my\s+name\s+is|i\s+am|i'm|this\s+is|regards|cheers)[\s,]+([a-z]{2,})\b"
)
_EMAIL_LOCAL = re.compile(r"([A-Za-z][A-Za-z.\-_]{1,40})@[\w-]+\.")
_LOCAL_SPLIT = re.compile(r"[.\-_]+")
_STOP_CAPS = frozenset(
    ["hi", "hello", "hey", "hiya", "dear", "greetings", "thanks", "thank", "regards", "best", "cheers", "sincerely", "yours", "mr", "mrs", "ms", "miss", "mx", "dr", "prof", "sir", "madam", "mister", "name", "my", "i", "the", "a", "an", "and", "or", "but", "if", "please", "re", "fwd", "fw", "subject", "from", "to", "cc", "bcc", "attn", "note", "ps", "ok", "yes", "no", "hey", "thx", "ty", "dm", "pm", "am", "ceo", "cto", "cfo", "vp", "hr", "it", "qa", "ui", "ux", "api"]
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
            if lower in lex.common_words and _SENTENCE_END.search(text, max(0, start - 4), start):
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
    strong = bool(_STRONG_BEFORE.search(before)) or bool(_SIGNOFF.search(before))
    weak = not strong and bool(_WEAK_BEFORE.search(before))
    place_word = bool(_PLACE_BEFORE.search(before))
    after = text[tokens[run[-1]][1] : tokens[run[-1]][1] + 16]
    institution = bool(_NOT_PERSON_AFTER.match(after)) or any(w in _INSTITUTION for w in lowers[1:])

    place = _place_at(text, tokens, run, lex)
    if place is not None and not strong and not institution:
        k, kind = place
        if k == 1 and words[0].isupper() and kind != "country":
            place = None  # "PO", "SKU", "IT": an abbreviation, not a city
    if place is not None and not strong and not institution:
        k, kind = place
        end = tokens[run[k - 1]][1]
        head = lowers[0]
        region_after = kind == "city" and (
            bool(_REGION_AFTER.match(text, end)) or bool(_PLACE_AFTER.match(text, end))
        )
        common = k == 1 and head in lex.common_words
        if common and not region_after and not _STRONG_PLACE_BEFORE.search(before):
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
            if lower in lex.common_words and count == 0 and lex.first_names.get(lower, 10**6) >= 1500:
                break  # "ask Will": too ambiguous; "ping Maria" is fine ("maria" is a word too)
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


def _lower_greetings(text: str, lex: Lexicon) -> list[tuple[int, str]]:
    """Lower-case given names right after a greeting or "my name is" ("hi sarah,")."""
    out = []
    for m in _LOWER_GREETING.finditer(text):
        name = m.group(1)
        if name.islower() and name in lex.first_names and name not in lex.common_words and name not in lex.not_names:
            out.append((m.start(1), name))
    return out
