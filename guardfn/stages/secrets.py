"""The ``secrets`` stage: credentials pasted into a prompt never leave the process.

Setting ``secrets``: ``"redact"`` (default) replaces each credential in every text of every
message (system, user, assistant, tool results, tool call arguments) with ``[SECRET:<kind>]``
during ``guardfn_transform_input``,
so the provider, audit and metrics only see the redacted text; ``"block"`` refuses the
call with :class:`guardfn.errors.SecretDetected` during ``guardfn_screen_input``;
``"off"`` does nothing. Detectors are :data:`guardfn.screening.secrets.DETECTORS` plus
those plugins return from ``guardfn_secret_detectors``. Findings and errors carry
kinds and counts, never the values.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

from guardfn.call import Call, Finding
from guardfn.errors import ConfigurationError, SecretDetected
from guardfn.hookspecs import hookimpl
from guardfn.plugins import PerGeneration, get_plugin_manager
from guardfn.screening.secrets import DETECTORS, SecretScanner, default_scanner
from guardfn.settings import Settings

NAME = "secrets"
OFFLOAD_CHARS = 50_000
"""In async mode, prompts longer than this are scanned in a worker thread."""


def _build_scanner() -> SecretScanner:
    extra = [d for result in get_plugin_manager().hook.guardfn_secret_detectors() for d in result or ()]
    try:
        built = SecretScanner([*DETECTORS, *extra]) if extra else default_scanner()
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(f"a plugin's secret detector is invalid: {exc}", stage=NAME) from None
    return built


_current = PerGeneration(_build_scanner)


def scanner() -> SecretScanner:
    """The scanner with the built-in detectors and every plugin's (rebuilt when plugins change)."""
    return _current.get()


@hookimpl
def guardfn_configure(settings: Settings) -> None:
    """Runs when a guarded function's settings are built: compiles the detectors (plugins'
    too) so a bad one fails here rather than on a call."""
    if settings.secrets != "off":
        scanner()


@hookimpl
def guardfn_screen_input(call: Call) -> Any:
    """Runs before anything is sent; in ``"block"`` mode refuses a prompt holding a
    credential with ``SecretDetected`` (kinds only)."""
    if call.settings.secrets != "block":
        return None
    if call.is_async and call.prompt_chars > OFFLOAD_CHARS:
        return asyncio.to_thread(_block, call)
    _block(call)
    return None


@hookimpl
def guardfn_transform_input(call: Call) -> Any:
    """Runs before anything leaves the process; in ``"redact"`` mode replaces every
    credential in every message with ``[SECRET:<kind>]`` and records the change."""
    if call.settings.secrets != "redact":
        return None
    if call.is_async and call.prompt_chars > OFFLOAD_CHARS:
        return asyncio.to_thread(_redact, call)
    _redact(call)
    return None


def _block(call: Call) -> None:
    scan = scanner()
    refs = list(call.texts(new=True))
    if scan.clear(ref.text for ref in refs):
        return
    found: Counter[str] = Counter()
    for ref in refs:
        found.update(m.kind for m in scan.find(ref.text))
    if not found:
        return
    for kind, count in sorted(found.items()):
        call.add_finding(Finding(stage=NAME, kind=kind, count=count, blocked=True))
    summary = ", ".join(f"{count} {kind}" for kind, count in sorted(found.items()))
    raise SecretDetected(
        f"the prompt contains credentials: {summary}",
        kinds=sorted(found),
        stage=NAME,
        hint="remove them, or use secrets='redact' to send [SECRET:<kind>] in their place",
    )


def _redact(call: Call) -> None:
    scan = scanner()
    refs = list(call.texts(new=True))
    if scan.clear(ref.text for ref in refs):
        return
    totals: Counter[str] = Counter()
    for ref in refs:
        redaction = scan.redact(ref.text)
        if redaction.total:
            call.replace_text(ref, redaction.text)
            call.record_change(NAME, ref.target, redaction.total)
            totals.update(redaction.counts)
    for kind, count in sorted(totals.items()):
        call.add_finding(Finding(stage=NAME, kind=kind, count=count))
