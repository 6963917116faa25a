"""The ``content_log`` stage: full conversations, encrypted, for security review (opt-in).

With ``content_log="<directory>"`` and ``GUARDFN_CONTENT_LOG_KEY`` set, every call's
messages as sent to the provider and the model's raw answers are appended, encrypted,
to an hourly segment file (see :mod:`guardfn.observability.content_log`). Without a
usable key the function refuses to build, so nothing is ever written in the clear.
"""

from __future__ import annotations

import asyncio
from typing import Any

from guardfn.call import Call, Response, StreamResponse
from guardfn.hookspecs import hookimpl
from guardfn.observability import content_log
from guardfn.observability.facts import facts_of
from guardfn.settings import Settings

NAME = "content_log"


def active(settings: Settings) -> bool:
    """Whether this stage runs for a function with these settings (a content log is set)."""
    return bool(settings.content_log)


@hookimpl
def guardfn_configure(settings: Settings) -> None:
    """Runs when settings are built: checks the key and ``cryptography`` when the log is on."""
    if settings.content_log:
        content_log.open_log(settings.content_log, settings.content_log_retention_days)


@hookimpl(tryfirst=True)
def guardfn_check_output(call: Call, response: Response) -> None:
    """Runs first after each model answer: keeps the raw answer (before any output edit) for the log."""
    if call.settings.content_log:
        call.state.setdefault(NAME, []).append(response.text)


def record_of(call: Call, outcome: str) -> dict[str, Any]:
    """The content-log record of a call: ids, outcome, the messages sent and the answers received."""
    facts = facts_of(call, outcome)
    answers: list[str] = list(call.state.get(NAME, []))
    if isinstance(call.response, StreamResponse):
        answers.append(call.response.text)
    return {
        "v": 1,
        "request_id": facts.request_id,
        "timestamp": facts.timestamp,
        "started_at": facts.started_at,
        "user_id": facts.user_id,
        "function": facts.function,
        "provider": facts.provider,
        "model": facts.model,
        "outcome": outcome,
        "stage": facts.stage,
        "reason_code": facts.reason_code,
        "messages": [m.to_dict() for m in call.messages],
        "responses": answers,
    }


@hookimpl
def guardfn_record(call: Call, outcome: str) -> Any:
    """Runs once per finished call: appends its encrypted record (fsync; a worker thread when async)."""
    settings = call.settings
    if not settings.content_log:
        return None
    log = content_log.open_log(settings.content_log, settings.content_log_retention_days)
    record = record_of(call, outcome)
    if call.is_async:
        return asyncio.to_thread(log.append, record)
    log.append(record)
    return None
