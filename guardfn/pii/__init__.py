"""PII detection (Microsoft Presidio, offline) and replacement for guardfn.

* :mod:`guardfn.pii.entities` — the supported entity types (light).
* :mod:`guardfn.pii.engine` — the offline analyzer, built once per process, lazily.
* :mod:`guardfn.pii.recognizers` — Presidio's recognizers configured for speed and offline scoring;
  :mod:`guardfn.pii.phones` (phone numbers) and :mod:`guardfn.pii.context` (context words).
* :mod:`guardfn.pii.names`, :mod:`guardfn.pii.name_context`, :mod:`guardfn.pii.lexicon` — names and
  places without a model; :mod:`guardfn.pii.dates`, :mod:`guardfn.pii.urls`,
  :mod:`guardfn.pii.licences`, :mod:`guardfn.pii.ids` — dates of birth, personal links, labelled
  licences, identifiers that are no personal data.
* :mod:`guardfn.pii.anonymize` — redact / mask / pseudonymize.
* :mod:`guardfn.pii.restore` — put pseudonymized values back (text, objects, streams).

Importing this package does not import Presidio or spaCy.
"""

from __future__ import annotations

from guardfn.pii.anonymize import Pseudonymizer, mask_value, replace
from guardfn.pii.entities import ALL_ENTITIES, NER_ENTITIES, PATTERN_ENTITIES
from guardfn.pii.restore import StreamRestorer, restore_object, restore_text

__all__ = [
    "ALL_ENTITIES",
    "NER_ENTITIES",
    "PATTERN_ENTITIES",
    "Pseudonymizer",
    "StreamRestorer",
    "mask_value",
    "replace",
    "restore_object",
    "restore_text",
]
