"""Packaging of the ``pii`` extra: what ``guardfn/pii`` imports is declared (with bounds), and the
private phonenumbers names it relies on exist, in the pinned range, and still do what it assumes."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement

pytest.importorskip("presidio_analyzer")
tomllib = pytest.importorskip("tomllib")  # Python 3.11+

ROOT = Path(__file__).resolve().parents[1]
PII = ROOT / "guardfn" / "pii"
MAINTAINER_ONLY = {"build_data.py"}  # regenerates the data files; its sources are documented there


def _project() -> dict:  # type: ignore[type-arg]
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]  # type: ignore[no-any-return]


def _requirements(*groups: str) -> dict[str, Requirement]:
    project = _project()
    lines = list(project["dependencies"]) if "core" in groups else []
    for group in groups:
        lines += project["optional-dependencies"].get(group, [])
    reqs = [Requirement(line) for line in lines]
    return {re.sub(r"[-_.]+", "-", r.name).lower(): r for r in reqs}


def _imported_modules() -> set[str]:
    """Top-level names of every module imported anywhere in guardfn/pii (functions included)."""
    names: set[str] = set()
    for path in PII.glob("*.py"):
        if path.name in MAINTAINER_ONLY:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return names - set(sys.stdlib_module_names) - {"guardfn", "__future__"}


def test_every_third_party_import_of_guardfn_pii_is_declared() -> None:
    declared = _requirements("core", "pii")
    distributions = importlib.metadata.packages_distributions()
    undeclared = {}
    for module in sorted(_imported_modules()):
        names = {re.sub(r"[-_.]+", "-", d).lower() for d in distributions.get(module, [module])}
        if not names & set(declared):
            undeclared[module] = sorted(names)
    assert undeclared == {}, f"imported by guardfn/pii but in neither the dependencies nor the pii extra: {undeclared}"
    # the modules the PII engine is known to need are among them (the walk above sees them)
    assert {"presidio_analyzer", "spacy", "phonenumbers", "regex", "tldextract", "re2"} <= _imported_modules()


def test_the_pii_extra_has_bounds_and_pins_phonenumbers() -> None:
    for name, requirement in _requirements("pii").items():
        assert any(s.operator in (">=", "==", "~=") for s in requirement.specifier), f"{name} has no lower bound"
    phonenumbers = _requirements("pii")["phonenumbers"]
    assert any(s.operator == "<" for s in phonenumbers.specifier), "phonenumbers' private names need an upper bound"
    installed = importlib.metadata.version("phonenumbers")
    assert phonenumbers.specifier.contains(installed), (installed, str(phonenumbers.specifier))


def test_the_private_phonenumbers_names_exist_and_behave_as_guardfn_assumes() -> None:
    from phonenumbers import phonenumbermatcher, phonenumberutil

    candidate = phonenumbermatcher._PATTERN
    found = candidate.search("call (415) 555-2671 today")
    assert found is not None and "415" in found.group() and "2671" in found.group()
    assert phonenumbermatcher._SLASH_SEPARATED_DATES.search("11/3/1995")
    assert not phonenumbermatcher._SLASH_SEPARATED_DATES.search("415 555 2671")
    assert phonenumbermatcher._TIME_STAMPS.search("2000-04-16 11")
    assert phonenumbermatcher._TIME_STAMPS_SUFFIX.match(":34")
    assert phonenumberutil._SECOND_NUMBER_START_PATTERN.search("415-555-2671 / x")


def test_the_first_group_rule_matches_phonenumbers_own_test_on_every_region() -> None:
    from phonenumbers import PhoneMetadata, phonenumberutil

    from guardfn.pii.phones import first_group_only

    private = getattr(phonenumberutil, "_formatting_rule_has_first_group_only", None)
    rules = {None, "", "\\1", "(\\1)", "0\\1", "8 (\\1)"}
    for region in phonenumberutil.SUPPORTED_REGIONS:
        meta = PhoneMetadata.metadata_for_region(region)
        rules.update(fmt.national_prefix_formatting_rule for fmt in (meta.number_format if meta else ()))
    for rule in rules:
        expected = private(rule) if private is not None else (rule is None or rule in ("\\1", "(\\1)"))
        assert first_group_only(rule) == expected, rule
