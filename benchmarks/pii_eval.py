"""guardfn's own labelled PII set: realistic prompts from templates, with a validation split.

Templates (tickets, e-mails, chats, forms, code, logs, documents) hold slots filled from
hand-written value pools. Templates and pools are split in two: ``tune`` (what the
recognizers were developed against) and ``validation`` (never looked at while tuning;
the benchmark reports it separately). The ``tune`` split has a second part
(:data:`EXTRA_TUNE_TEMPLATES`, its own pools and random stream, added later: hyphenated and
non-US given names, cities that are also surnames, records and signatures), so adding it
left every validation sample as it was. Every prompt also carries hard negatives: ID-like
numbers (PO, order and invoice numbers, ISBNs, product codes, versions), documentation
links, ordinary dates, and capitalised words that are also names or places.

:func:`build` returns :class:`Sample` objects with gold spans (PII) and negative spans
(things that must not be flagged). Deterministic (seeded).
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field

SPLITS = ("tune", "validation")


@dataclass
class Sample:
    """One prompt: its text, gold PII spans and hard-negative spans (start, end, type)."""

    text: str
    split: str
    kind: str
    gold: list[tuple[int, int, str]] = field(default_factory=list)
    negatives: list[tuple[int, int, str]] = field(default_factory=list)


# fmt: off
PEOPLE = {
    "tune": ["Sarah Connor", "Priya Patel", "Miguel Hernandez", "Emily Clarke", "Tomasz Kowalski", "Aisha Bello",
             "Daniel O'Brien", "Chen Wei", "Laura Schmidt", "Kevin Nguyen", "Fatima Zahra", "Oliver Bennett",
             "Hannah Fischer", "Rahul Mehta", "Grace Kim", "Lucas Moreau", "Isabella Rossi", "Ahmed Hassan",
             "Sophie Martin", "Jonas Lindqvist", "Maria Gonzalez", "David Cohen", "Yuki Tanaka", "Anna Kowalczyk",
             "James Whitaker", "Nadia Petrova", "Carlos Mendoza", "Rebecca Stone", "Ethan Brooks", "Leah Goldberg"],
    "validation": ["Michael Turner", "Ananya Iyer", "Jorge Ramirez", "Charlotte Evans", "Piotr Nowak", "Ngozi Okafor",
                   "Patrick Doyle", "Li Na", "Katrin Weber", "Minh Tran", "Samira Haddad", "Henry Lawson",
                   "Julia Becker", "Vikram Singh", "Soo-jin Park", "Antoine Dubois", "Giulia Romano", "Omar Farouk",
                   "Camille Laurent", "Erik Johansson", "Lucia Fernandez", "Benjamin Katz", "Haruto Sato", "Ewa Zielinska",
                   "Thomas Reed", "Irina Volkova", "Diego Alvarez", "Megan Price", "Nathan Cole", "Rachel Adler"],
    "tune-extra": ["Hye-won Choi", "Jean-Baptiste Mercier", "Anne-Marie Dupont", "Ji-hoon Kang", "Mei-ling Chou",
                   "Oluwaseun Adeyemi", "Siobhan Gallagher", "Thandiwe Mokoena", "Wojciech Mazur", "Nkechi Eze",
                   "Yevgenia Sokolova", "Rustam Nazarov", "Zhiwei Huang", "Aigerim Bekova", "Tariq Siddiqui",
                   "Leilani Kahale", "Bogdan Ionescu", "Eero Virtanen", "Guadalupe Ortiz", "Kwame Mensah",
                   "Ines Carvalho", "Matteo Bianchi", "Freya Lindgren", "Dmitri Orlov", "Sunita Rao", "Arjun Nair",
                   "Chidi Nwosu", "Linh Pham", "Farah Qureshi", "Saoirse Byrne", "Rhys Llewellyn", "Amara Diallo"],
}
PLACES = {
    "tune": ["Denver", "Lyon", "Toronto", "Manchester", "Bangalore", "Madrid", "Austin", "Germany", "Brazil",
             "Ohio", "Seattle", "Melbourne", "Kenya", "Hamburg", "Osaka", "Portugal", "Chicago", "Dublin"],
    "validation": ["Boston", "Marseille", "Vancouver", "Leeds", "Chennai", "Valencia", "Phoenix", "France",
                   "Mexico", "Oregon", "Atlanta", "Brisbane", "Nigeria", "Munich", "Kyoto", "Norway", "Houston",
                   "Glasgow"],
    "tune-extra": ["Dallas", "Jackson", "Orlando", "Raleigh", "Cleveland", "Nashville", "Adelaide", "Florence",
                   "Hamilton", "Preston", "Kingston", "Porto", "Gdansk", "Accra", "Nairobi", "Cebu", "Tbilisi",
                   "Quebec", "Bavaria", "Sicily", "Tasmania", "Lagos", "Kraków", "São Paulo"],
}
# fmt: on
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"]


def _dob(rng: random.Random) -> str:
    y, m, d = rng.randint(1950, 2004), rng.randint(1, 12), rng.randint(1, 28)
    return rng.choice([f"{m:02d}/{d:02d}/{y}", f"{y}-{m:02d}-{d:02d}", f"{MONTHS[m - 1]} {d}, {y}", f"{d} {MONTHS[m - 1]} {y}", f"{d:02d}.{m:02d}.{y}"])


def _date(rng: random.Random) -> str:
    y, m, d = rng.randint(2019, 2026), rng.randint(1, 12), rng.randint(1, 28)
    return rng.choice([f"{m:02d}/{d:02d}/{y}", f"{y}-{m:02d}-{d:02d}", f"{MONTHS[m - 1]} {d}, {y}"])


def _handle(name: str) -> str:
    return re.sub(r"[^a-z]", "", name.split()[0].lower()) + rng_digits(name)


def rng_digits(seed: str) -> str:
    """Two digits derived from ``seed`` (stable handles)."""
    return f"{sum(map(ord, seed)) % 90 + 10}"


def _url(rng: random.Random, name: str) -> str:
    first, last = (re.sub(r"[^a-z]", "", p.lower()) for p in (name.split()[0], name.split()[-1]))
    return rng.choice([
        f"https://www.linkedin.com/in/{first}-{last}-{rng.randint(100, 999)}",
        f"https://github.com/{first}{last}",
        f"https://twitter.com/{first}_{last}",
        f"https://www.instagram.com/{first}.{last}/",
        f"https://medium.com/@{first}{last}",
        f"https://{first}{last}.github.io",
    ])  # fmt: skip


def _dl(rng: random.Random) -> str:
    return rng.choice([
        f"D{rng.randint(1000000, 9999999)}",
        f"S{rng.randint(100, 999)}-{rng.randint(1000, 9999)}-{rng.randint(1000, 9999)}",
        f"{rng.randint(100, 999)} {rng.randint(100, 999)} {rng.randint(100, 999)}",
        f"A{rng.randint(100, 999)}-{rng.randint(1000, 9999)}-{rng.randint(1000, 9999)}",
        f"{rng.randint(10000000, 99999999)}",
    ])  # fmt: skip


def _phone(rng: random.Random) -> str:
    area = rng.choice([212, 312, 415, 503, 617, 646, 702, 713, 206, 303])
    return rng.choice([f"({area}) 555-{rng.randint(1000, 1999)}", f"{area}-{rng.randint(201, 989)}-{rng.randint(1000, 9999)}", f"+1 {area} {rng.randint(201, 989)} {rng.randint(1000, 9999)}"])


def _luhn_digit(body: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:
            d = d * 2 - 9 if d * 2 > 9 else d * 2
        total += d
    return str((10 - total % 10) % 10)


def _card(rng: random.Random) -> str:
    body = "4" + "".join(str(rng.randint(0, 9)) for _ in range(14))
    n = body + _luhn_digit(body)
    return " ".join(n[i : i + 4] for i in range(0, 16, 4))


def _isbn(rng: random.Random) -> str:
    body = "978" + "".join(str(rng.randint(0, 9)) for _ in range(9))
    total = sum(int(d) * (1 if i % 2 == 0 else 3) for i, d in enumerate(body))
    n = body + str((10 - total % 10) % 10)
    return rng.choice([n, f"{n[:3]}-{n[3]}-{n[4:7]}-{n[7:12]}-{n[12]}"])


NEGATIVES = {
    "ORDER": lambda r: r.choice([f"PO {r.randint(4500, 4599)}-{r.randint(100, 999)}-{r.randint(1000, 9999)}",
                                 f"order #{r.randint(100, 999)}-{r.randint(1000000, 9999999)}",
                                 f"invoice no. {r.randint(2019, 2026)}-{r.randint(100, 999)}-{r.randint(1000, 9999)}",
                                 f"ticket {r.randint(200, 999)}-{r.randint(200, 999)}-{r.randint(1000, 9999)}",
                                 f"tracking number {r.randint(1000, 9999)} {r.randint(1000, 9999)} {r.randint(1000, 9999)}",
                                 f"SKU {r.randint(100, 999)}-{r.randint(100, 999)}-{r.randint(1000, 9999)}"]),
    "ISBN": lambda r: "ISBN " + _isbn(r) if r.random() < 0.5 else _isbn(r),
    "VERSION": lambda r: r.choice([f"version {r.randint(1, 12)}.{r.randint(0, 9)}.{r.randint(0, 30)}.{r.randint(0, 200)}",
                                   f"v{r.randint(1, 9)}.{r.randint(0, 9)}.{r.randint(0, 9)}.{r.randint(0, 9)}",
                                   f"build {r.randint(1, 9)}.{r.randint(0, 20)}.{r.randint(0, 255)}.{r.randint(0, 255)}"]),
    "DOCS_URL": lambda r: r.choice(["https://docs.python.org/3/library/json.html", "https://github.com/psf/requests/issues/6123",
                                    "https://developer.mozilla.org/en-US/docs/Web/HTTP", "https://kubernetes.io/docs/concepts/",
                                    "https://www.example.com/pricing", "https://stackoverflow.com/questions/231767"]),
    "DATE": _date,
    "WORD": lambda r: r.choice(["Will", "May", "Grant", "Rose", "Bill", "Nice", "Reading", "Mobile", "Jenkins", "Chase", "Hope", "Summer", "Mark"]),
}  # fmt: skip

# Templates: {P} a person, {F} a first name, {L} a place, {DOB}, {URL}, {DL}, {PHONE}, {EMAIL}, {CARD};
# negatives {ORDER}, {ISBN}, {VERSION}, {DOCS_URL}, {DATE}; {WORD} capitalised common word (sentence start).
TEMPLATES: dict[str, list[tuple[str, str]]] = {
    "tune": [
        ("ticket", "Subject: refund for {ORDER}\n\nHi team,\nMy name is {P} and I was charged twice. I live in {L}. Call me at {PHONE}.\nThanks,\n{F}"),
        ("email", "Dear {F},\n\nThank you for your order ({ORDER}) placed on {DATE}. The invoice is attached; see {DOCS_URL} for the terms.\n\nBest regards,\n{P}\nCustomer Success, {L} office"),
        ("chat", "hi, this is {P}. i moved to {L} last month and need to update my address. my email is {EMAIL}"),
        ("form", "Full name: {P}\nDate of birth: {DOB}\nCity: {L}\nDriver's license number: {DL}\nPhone: {PHONE}"),
        ("code", 'user = {{"name": "{P}", "dob": "{DOB}", "profile": "{URL}"}}\nclient.update(user)  # {VERSION}'),
        ("log", "2024-05-01T10:22:13Z INFO order_service: created {ORDER} for customer=\"{P}\" from {L}; app {VERSION}"),
        ("document", "Patient {P} (DOB {DOB}) was referred by Dr. {F} from the {L} clinic. Reference book: {ISBN}."),
        ("ticket", "{WORD} you please check {ORDER}? Assigned to {P}. Customer profile: {URL}. Card on file {CARD}."),
        ("chat", "Thanks {F}! I'll ping {P} about the {L} launch. {WORD} is fine with the {DATE} deadline."),
        ("ticket", "ID: 88213 | SKU {ORDER} | Owner: {P} | Site: {L} | PO and SKU checked by {F} on {DATE}"),
        ("email", "From: {P} <{EMAIL}>\nTo: Support desk\n\nPlease close {ORDER}. I was born on {DOB} and my licence (DL# {DL}) was scanned."),
    ],
    "validation": [
        ("ticket", "Customer: {P}\nIssue: cannot log in since {DATE}\nLocation: {L}\nContact: {PHONE}\nRelated: {ORDER}"),
        ("email", "Hello {F},\n\nI spoke with {P} yesterday about the {L} contract. Docs: {DOCS_URL}\n\nCheers,\n{P}"),
        ("chat", "hey {F}, my DOB is {DOB} and the form keeps rejecting it. running {VERSION} on my laptop"),
        ("form", "Applicant name: {P}\nBirth date: {DOB}\nCountry of residence: {L}\nLinkedIn: {URL}\nDriver license: {DL}"),
        ("code", "# TODO({F}): remove before release\nAUTHOR = \"{P}\"\nBOOK_ISBN = \"{ISBN}\"\nCITY = \"{L}\""),
        ("log", "WARN payment declined for {P} <{EMAIL}> card={CARD} {ORDER} region={L}"),
        ("document", "Minutes: {P} opened the meeting in {L}. {WORD} raised {ORDER}; {F} will follow up by {DATE}. See {ISBN}."),
        ("ticket", "Escalated to {P}. User writes: \"I am {F}, call me on {PHONE}, my page is {URL}\". {WORD} was mentioned."),
        ("chat", "{F} here. Flying to {L} on {DATE}, back soon. Tell {P} the {VERSION} build is broken."),
        ("email", "Hi {F},\nPlease find the invoice ({ORDER}) attached.\nKind regards,\n{P}\n{L}"),
    ],
}

EXTRA_TUNE_TEMPLATES: list[tuple[str, str]] = [
    ("record", "name={P}; city={L}; phone={PHONE}; note=callback requested"),
    ("json", '{{"customer": {{"name": "{P}", "city": "{L}"}}, "ref": "{ORDER}"}}'),
    ("email", "Good morning {F},\n\nAs promised, here is the summary of our call with {P}. They are opening a site in {L} next spring.\n\nBest,\n{P}"),
    ("chat", "can u send the deck to {F}? presenting in {L} tomorrow"),
    ("notes", "Attendees: {P}, {P}, {P}\nVenue: {L}\nNext review: {DATE}"),
    ("ticket", "Reporter: {P}\nSteps: open the dashboard, click Export ({VERSION}).\nSeen from {L} only."),
    ("support", "User {P} says the app crashes on launch. Device bought in {L}. Reference {ORDER}."),
    ("hr", "Please update the emergency contact for {P}: {P}, {PHONE}."),
    ("travel", "Itinerary for {P}: fly out of {L} on {DATE}, return through {L}."),
    ("review", "{WORD} reviewed the contract. Comments from {P} are inline; {F} signs off."),
    ("signature", "Regards,\n{P}\nAccount Manager | {L}\n{PHONE}"),
    ("sms", "hey it's {F}, running late, stuck in traffic near {L}"),
]  # fmt: skip
"""The second part of the ``tune`` split (pools ``tune-extra``): written after the first round of
work on names and places, from kinds of prompts the first part lacked."""

_SLOT = re.compile(r"\{(\w+)\}")


def _fill(template: str, rng: random.Random, split: str, kind: str, pool: str | None = None) -> Sample:
    pool = pool or split
    person = rng.choice(PEOPLE[pool])
    text_parts: list[str] = []
    gold: list[tuple[int, int, str]] = []
    negatives: list[tuple[int, int, str]] = []
    cursor = 0
    pos = 0
    template = template.replace("{{", "\x00").replace("}}", "\x01")
    for m in _SLOT.finditer(template):
        literal = template[cursor : m.start()].replace("\x00", "{").replace("\x01", "}")
        text_parts.append(literal)
        pos += len(literal)
        slot = m.group(1)
        kind_of, value = _value(slot, rng, pool, person)
        text_parts.append(value)
        if kind_of is not None:
            (negatives if kind_of.startswith("NEG:") else gold).append((pos, pos + len(value), kind_of.removeprefix("NEG:")))
        pos += len(value)
        cursor = m.end()
    text_parts.append(template[cursor:].replace("\x00", "{").replace("\x01", "}"))
    return Sample("".join(text_parts), split, kind, gold, negatives)


def _value(slot: str, rng: random.Random, pool: str, person: str) -> tuple[str | None, str]:
    if slot == "P":
        return "PERSON", rng.choice(PEOPLE[pool])
    if slot == "F":
        return "PERSON", rng.choice(PEOPLE[pool]).split()[0]
    if slot == "L":
        return "LOCATION", rng.choice(PLACES[pool])
    if slot == "DOB":
        return "DATE_OF_BIRTH", _dob(rng)
    if slot == "URL":
        return "URL", _url(rng, person)
    if slot == "DL":
        return "US_DRIVER_LICENSE", _dl(rng)
    if slot == "PHONE":
        return "PHONE_NUMBER", _phone(rng)
    if slot == "EMAIL":
        first, last = (re.sub(r"[^a-z]", "", p.lower()) for p in (person.split()[0], person.split()[-1]))
        return "EMAIL_ADDRESS", f"{first}.{last}@{rng.choice(['gmail.com', 'example.org', 'acme.io'])}"
    if slot == "CARD":
        return "CREDIT_CARD", _card(rng)
    if slot == "WORD":
        return "NEG:WORD", NEGATIVES["WORD"](rng)
    return "NEG:" + slot, NEGATIVES[slot](rng)


def build(per_template: int = 40, seed: int = 18) -> list[Sample]:
    """Every template filled ``per_template`` times, both splits (the extra tune part last, from its own stream)."""
    rng = random.Random(seed)
    samples = []
    for split in SPLITS:
        for kind, template in TEMPLATES[split]:
            for _ in range(per_template):
                samples.append(_fill(template, rng, split, kind))
    extra = random.Random(seed + 1)
    for kind, template in EXTRA_TUNE_TEMPLATES:
        for _ in range(per_template):
            samples.append(_fill(template, extra, "tune", kind, pool="tune-extra"))
    return samples
