"""Which PII entities the installed engine can detect, and by which recognizer.

Light: answers from what is installed (Presidio, spaCy, a spaCy model) without building the
engine, unless it is already built. Used by the ``pii`` stage at decoration time (an entity
that cannot be detected is a ``ConfigurationError``), by ``guardfn scan`` and by
``guardfn plugins``.
"""

from __future__ import annotations

import importlib.util
from functools import lru_cache

from guardfn.pii.entities import ALL_ENTITIES, MODEL_ONLY_ENTITIES, NER_ENTITIES

PATTERN_RECOGNIZERS: dict[str, tuple[str, ...]] = {
    "EMAIL_ADDRESS": ("presidio:EmailRecognizer (offline suffix list)",),
    "PHONE_NUMBER": ("presidio:PhoneRecognizer (phonenumbers)",),
    "US_SSN": ("presidio:UsSsnRecognizer",),
    "CREDIT_CARD": ("presidio:CreditCardRecognizer",),
    "IBAN_CODE": ("presidio:IbanRecognizer",),
    "IP_ADDRESS": ("presidio:IpRecognizer",),
    "US_PASSPORT": ("presidio:UsPassportRecognizer",),
    "US_BANK_NUMBER": ("presidio:UsBankRecognizer",),
    "US_DRIVER_LICENSE": ("presidio:UsLicenseRecognizer", "guardfn.licences"),
    "UK_NHS": ("presidio:NhsRecognizer",),
    "CRYPTO": ("presidio:CryptoRecognizer",),
    "DATE_OF_BIRTH": ("guardfn.dates",),
    "URL": ("guardfn.urls",),
    "PERSON": ("guardfn.names",),
    "LOCATION": ("guardfn.names",),
}
"""The recognizers of every entity detected without a spaCy model."""


def presidio_installed() -> bool:
    """True when Presidio and spaCy (the ``pii`` extra) can be imported (nothing is imported)."""
    return all(importlib.util.find_spec(name) is not None for name in ("presidio_analyzer", "spacy"))


@lru_cache(maxsize=1)
def _model() -> str | None:
    from guardfn.pii.engine import resolve_model_name

    return resolve_model_name()


def spacy_model() -> str | None:
    """The spaCy NER model the engine uses (package name or path), or ``None``.

    Read from the built engine when there is one; otherwise resolved as the engine would
    (this imports spaCy, so it is asked only when an answer needs it).
    """
    from guardfn.pii import engine

    if engine.engine_ready():
        return engine.get_engine().model
    if not presidio_installed():
        return None
    return _model()


def coverage(model: str | bool | None = True) -> dict[str, list[str]]:
    """Entity type -> the recognizers that detect it with what is installed (empty: not detectable).

    ``model`` is the spaCy model to assume: ``True`` (default) resolves it as the engine
    would, ``None`` or ``False`` assumes none.
    """
    if not presidio_installed():
        return {entity: [] for entity in ALL_ENTITIES}
    name = spacy_model() if model is True else (model or None)
    out: dict[str, list[str]] = {}
    for entity in ALL_ENTITIES:
        recognizers = list(PATTERN_RECOGNIZERS.get(entity, ()))
        if name is not None and entity in NER_ENTITIES:
            recognizers.append(f"spacy:{name}")
        out[entity] = recognizers
    return out


def undetectable(entities: list[str] | tuple[str, ...]) -> list[str]:
    """The entities in ``entities`` that nothing installed can detect, sorted.

    Resolves the spaCy model only when a model-only entity (NRP) is asked for.
    """
    if not presidio_installed():
        return sorted(set(entities))
    needs_model = [e for e in entities if e in MODEL_ONLY_ENTITIES]
    if needs_model and spacy_model() is None:
        return sorted(set(needs_model))
    return []


def active(entities: list[str] | tuple[str, ...] | None) -> dict[str, list[str]]:
    """The entities a guarded function with ``pii_entities=entities`` detects, with their recognizers."""
    table = coverage()
    names = list(entities) if entities is not None else [e for e, r in table.items() if r]
    return {e: table.get(e, []) for e in names}
