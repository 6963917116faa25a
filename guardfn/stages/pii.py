"""The ``pii`` stage: personal data never leaves the process unless the user chose so.

Settings: ``pii`` (``"off"``, ``"redact"``, ``"mask"``, ``"pseudonymize"``, ``"block"``),
``pii_entities`` (default: every type the engine can detect), ``pii_allow`` (values
left alone), ``pii_allow_patterns`` (regexes; a value that fully matches one is left
alone), ``pii_threshold`` (minimum detection score, default 0.7).

Every text is covered: system, user and earlier assistant turns, tool results and the
strings in tool call arguments (after each tool round, the new messages). In
``"pseudonymize"`` mode the placeholder map lives in ``call.vault`` for this call only (one
vault across every round), placeholders the model writes into a tool call's arguments are
restored before the tool runs (the tool gets the real address), and the answer gets the
real values back: in ``response.text``, in every string of ``response.parsed``, and across
the chunks of a stream.

Fail closed: if the engine cannot be built or a recognizer fails, the call is refused
with :class:`guardfn.errors.PIIEngineUnavailable` before anything is sent. Findings,
changes and errors carry entity types and counts, never values.
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from typing import Any

from guardfn import extras
from guardfn.call import Call, Finding, Response, TextRef, ToolRequest
from guardfn.errors import ConfigurationError, GuardError, PIIDetected, PIIEngineUnavailable
from guardfn.hookspecs import hookimpl
from guardfn.pii.anonymize import Pseudonymizer, replace
from guardfn.pii.entities import unknown_entities
from guardfn.pii.restore import StreamRestorer, restore_object, restore_text
from guardfn.settings import Settings
from guardfn.streams import transform_stream

NAME = "pii"

_ENABLE_HINT = "install guardfn[pii] (presidio-analyzer, spacy), or set pii='off' to send personal data as is"


@hookimpl
def guardfn_configure(settings: Settings) -> None:
    """Runs when a guarded function's settings are built: rejects unknown entity names, entities
    nothing installed can detect (with PII detection on), and bad allow patterns."""
    if settings.pii != "off":
        extras.require("pii", f"pii={settings.pii!r}", NAME)  # refused when decorated, never sent unredacted
    if settings.pii_entities is not None:
        unknown = unknown_entities(settings.pii_entities)
        if unknown:
            raise ConfigurationError(
                f"pii_entities names unsupported entity type(s): {', '.join(unknown)}",
                stage=NAME,
                hint="see guardfn.pii.ALL_ENTITIES",
            )
        if settings.pii != "off":
            from guardfn.pii.coverage import presidio_installed, undetectable

            missing = undetectable(settings.pii_entities)
            if missing:
                raise ConfigurationError(
                    f"pii_entities names entity type(s) nothing installed can detect: {', '.join(missing)}",
                    stage=NAME,
                    hint=_ENABLE_HINT
                    if not presidio_installed()
                    else "install a spaCy English model with NER (e.g. en_core_web_sm) and set GUARDFN_SPACY_MODEL, "
                    "or leave these out of pii_entities; `guardfn plugins` lists what is detected",
                )
    for index, pattern in enumerate(settings.pii_allow_patterns):
        try:
            re.compile(pattern)
        except re.error:
            raise ConfigurationError(
                f"pii_allow_patterns[{index}] is not a valid regular expression", stage=NAME
            ) from None


@hookimpl
def guardfn_transform_input(call: Call) -> Any:
    """Runs before anything leaves the process: detects PII in every message and redacts,
    masks, pseudonymizes (filling ``call.vault``) or refuses with ``PIIDetected``.

    In async mode the first call builds the engine in a worker thread (it imports
    Presidio and spaCy), so the event loop is never blocked for long.
    """
    if call.settings.pii == "off":
        return None
    from guardfn.pii.engine import engine_ready

    if call.is_async and not engine_ready():
        return _transform_async(call)
    _transform(call, _engine())
    return None


async def _transform_async(call: Call) -> None:
    engine = await asyncio.to_thread(_engine)
    _transform(call, engine)


def _engine() -> Any:
    try:
        from guardfn.pii.engine import get_engine

        return get_engine()
    except Exception as exc:
        raise PIIEngineUnavailable(
            f"PII detection is on but its engine could not start ({type(exc).__name__})",
            stage=NAME,
            hint=_ENABLE_HINT,
        ) from None


def _transform(call: Call, engine: Any) -> None:
    settings = call.settings
    mode = settings.pii
    allow_patterns = [re.compile(p) for p in settings.pii_allow_patterns]
    refs = list(call.texts(new=True))
    found: list[tuple[TextRef, list[Any]]] = []
    for ref in refs:
        if not ref.text:
            continue
        try:
            detections = engine.analyze(
                ref.text,
                entities=settings.pii_entities,
                threshold=settings.pii_threshold,
                allow=settings.pii_allow,
                allow_patterns=allow_patterns,
            )
        except GuardError:
            raise
        except Exception as exc:
            # Never chain: some third-party errors quote the text they were looking at.
            raise PIIEngineUnavailable(
                f"PII detection failed on message {ref.index} ({type(exc).__name__}); nothing was sent",
                stage=NAME,
                hint=_ENABLE_HINT,
            ) from None
        if detections:
            found.append((ref, detections))

    totals: Counter[str] = Counter()
    for _, detections in found:
        totals.update(d.entity_type for d in detections)
    if mode == "block":
        if totals:
            for kind, count in sorted(totals.items()):
                call.add_finding(Finding(stage=NAME, kind=kind, count=count, blocked=True))
            summary = ", ".join(f"{count} {kind}" for kind, count in sorted(totals.items()))
            raise PIIDetected(
                f"personal data in the prompt: {summary}",
                entities=dict(totals),
                stage=NAME,
                hint="remove it, allow-list it (pii_allow), or use pii='redact', 'mask' or 'pseudonymize'",
            )
        return

    assert mode in ("redact", "mask", "pseudonymize")
    pseudonymizer: Pseudonymizer | None = None
    if mode == "pseudonymize":
        # one pseudonymizer per call, across every tool round: a value keeps its placeholder
        pseudonymizer = call.state.setdefault(NAME, {}).setdefault("pseudonymizer", Pseudonymizer())
        for ref in refs:
            pseudonymizer.reserve_from(ref.text)
    for ref, detections in found:
        new_text, counts = replace(ref.text, detections, mode, pseudonymizer)
        call.replace_text(ref, new_text)
        call.record_change(NAME, ref.target, sum(counts.values()))
    for kind, count in sorted(totals.items()):
        call.add_finding(Finding(stage=NAME, kind=kind, count=count, detail={"mode": mode}))
    if pseudonymizer is not None:
        call.vault.update(pseudonymizer.vault)


@hookimpl
def guardfn_check_tool_call(call: Call, request: ToolRequest) -> None:
    """Runs for each tool call before the checks that judge it: puts the real values back
    into the arguments (the model wrote placeholders), so the tool gets the real e-mail
    address and the rules and validation see what the tool will see."""
    if call.settings.pii != "pseudonymize" or not call.vault or request.arguments is None:
        return
    restored = restore_object(request.arguments, call.vault)
    if restored != request.arguments:
        request.arguments = restored
        call.record_change(NAME, f"tool_call[{request.tool_call.name}].arguments", 1)


@hookimpl
def guardfn_transform_output(call: Call, response: Response) -> None:
    """Runs after the output checks: puts pseudonymized values back into the answer's text
    and every string field of the parsed object. Unknown placeholders are left alone."""
    if call.settings.pii != "pseudonymize" or not call.vault:
        return
    restored = restore_text(response.text, call.vault)
    if restored != response.text:
        call.record_change(NAME, "response.text", 1)
    response.text = restored
    if response.parsed is not None:
        response.parsed = restore_object(response.parsed, call.vault)


@hookimpl
def guardfn_wrap_stream(call: Call, chunks: Any) -> Any:
    """Runs once per streamed call: restores pseudonymized values in the chunks, holding back
    only a trailing fragment that could be the start of a placeholder."""
    if call.settings.pii != "pseudonymize" or not call.vault:
        return None
    return transform_stream(chunks, StreamRestorer(call.vault), call.is_async)

