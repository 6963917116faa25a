"""The PII entity types guardfn detects, and which detector each needs.

This module is light (no Presidio, no spaCy): the stage imports it to validate
settings when a guarded function is configured.
"""

from __future__ import annotations

PATTERN_ENTITIES: tuple[str, ...] = (
    "EMAIL_ADDRESS",
    "PHONE_NUMBER",
    "US_SSN",
    "CREDIT_CARD",
    "IBAN_CODE",
    "IP_ADDRESS",
    "US_PASSPORT",
    "US_BANK_NUMBER",
    "US_DRIVER_LICENSE",
    "UK_NHS",
    "CRYPTO",
)
"""Entities found by Presidio's pattern recognizers (regex plus validators); always available."""

CONTEXT_ENTITIES: tuple[str, ...] = ("DATE_OF_BIRTH", "URL")
"""Entities found by guardfn's own offline recognizers from context: a date after a birth label,
a profile or social link (:mod:`guardfn.pii.dates`, :mod:`guardfn.pii.urls`); always available."""

NER_ENTITIES: tuple[str, ...] = ("PERSON", "LOCATION", "NRP")
"""Entities a spaCy named-entity model finds (when one is installed)."""

NAME_ENTITIES: tuple[str, ...] = ("PERSON", "LOCATION")
"""NER entities guardfn also finds without a model (name lists, gazetteer, context: :mod:`guardfn.pii.names`)."""

MODEL_ONLY_ENTITIES: tuple[str, ...] = ("NRP",)
"""Entities only a spaCy model can find."""

ALL_ENTITIES: tuple[str, ...] = PATTERN_ENTITIES + CONTEXT_ENTITIES + NER_ENTITIES
"""Every entity type ``pii_entities`` may name."""

OFFLINE_ENTITIES: tuple[str, ...] = PATTERN_ENTITIES + CONTEXT_ENTITIES + NAME_ENTITIES
"""What the engine detects with the default install (Presidio, no spaCy model)."""

SPACY_MODEL_ENV = "GUARDFN_SPACY_MODEL"
"""Environment variable naming the spaCy model (a package name or a path) used for NER."""

DEFAULT_SPACY_MODEL = "en_core_web_sm"
"""The model used for NER when ``GUARDFN_SPACY_MODEL`` is unset and this one is installed."""


def unknown_entities(names: list[str] | tuple[str, ...]) -> list[str]:
    """The names in ``names`` that are not supported entity types, sorted."""
    return sorted(set(names) - set(ALL_ENTITIES))
