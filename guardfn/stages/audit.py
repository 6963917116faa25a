"""The ``audit`` stage: one JSON record per call on ``guardfn.audit`` and ``audit_file``.

On by default (``audit=True``); records carry ids, counts, cost, the outcome and the
refusal's stage and reason, never text or keys, and a hashed user id unless
``audit_user_id`` says otherwise. See :mod:`guardfn.observability.audit`.
"""

from __future__ import annotations

import logging

from guardfn.call import Call
from guardfn.hookspecs import hookimpl
from guardfn.observability import audit
from guardfn.observability.facts import facts_of
from guardfn.settings import Settings

NAME = "audit"


def active(settings: Settings) -> bool:
    """Whether this stage runs for a function with these settings (``audit=True``, the default)."""
    return settings.audit


@hookimpl
def guardfn_record(call: Call, outcome: str) -> None:
    """Runs once per finished call (ok, blocked, failed): writes its audit record.

    Skipped when there is no audit file and nothing listens on ``guardfn.audit`` at INFO.
    A failure to write the file is logged by the pipeline, never raised into the call.
    """
    settings = call.settings
    if settings.audit and (settings.audit_file or audit.audit_log.isEnabledFor(logging.INFO)):
        audit.write(facts_of(call, outcome), settings)
