"""The ``input_limits`` stage: what goes to the model is clean text of bounded length.

Settings: ``max_input_chars`` (per user message, default 20,000), ``max_context_chars``
(all messages together, default 100,000) and ``max_input_tokens`` (all messages
together, counted offline; off by default).

It runs first among the screening stages and, for every message:

1. cleans text that would make an SDK fail deep inside ``json``/``httpx``: NUL bytes and
   other control characters (tab, newline and carriage return stay) are removed and
   lone surrogates replaced by U+FFFD (recorded as a change and a ``text_cleaned``
   finding with counts);
2. strips leading and trailing whitespace; a message left empty is refused
   (:class:`guardfn.errors.InputRejected`: providers reject empty turns);
3. measures: a user message over ``max_input_chars``, all messages over
   ``max_context_chars`` or over ``max_input_tokens`` raise
   :class:`guardfn.errors.InputTooLong` with the length and the limit, before any
   network call.
"""

from __future__ import annotations

import math
from typing import Any

from guardfn.call import Call, Finding
from guardfn.errors import InputRejected, InputTooLong
from guardfn.hookspecs import hookimpl
from guardfn.screening.normalize import clean_for_sdk

NAME = "input_limits"


def count_tokens(messages: list[dict[str, Any]], model: str) -> int:
    """Tokens in ``messages`` for ``model``, counted offline.

    Uses ``guardfn.tokens.count_tokens`` when it is available; otherwise a conservative
    estimate (one token per four characters, rounded up, plus four per message).
    """
    try:
        from guardfn.tokens import count_tokens as counter
    except ImportError:
        return sum(math.ceil(len(m.get("content") or "") / 4) + 4 for m in messages)
    return int(counter(messages, model))


@hookimpl
def guardfn_screen_input(call: Call) -> None:
    """Runs first on every call, before anything is sent: cleans and strips each message,
    then refuses with ``InputTooLong`` a user message over ``max_input_chars`` or a
    prompt over ``max_context_chars`` / ``max_input_tokens``."""
    settings = call.settings
    for index, message in enumerate(call.messages):
        content = message.get("content")
        if not isinstance(content, str):
            continue
        # ASCII printable text has no control character or surrogate: nothing to clean
        text = content.strip() if content.isascii() and content.isprintable() else _clean(call, index, content)
        if not text:
            call.add_finding(Finding(stage=NAME, kind="empty_message", blocked=True))
            raise InputRejected(
                f"message {index} ({message.get('role')}) is empty after stripping whitespace",
                stage=NAME,
                hint="return a prompt with text in every message",
            )
        message["content"] = text
    limit = settings.max_input_chars
    for index, message in enumerate(call.messages):
        length = len(message.get("content") or "")
        if message.get("role") == "user" and length > limit:
            _refuse(call, f"user message {index} is {length} characters, over max_input_chars={limit}", length, limit)
    total = call.prompt_chars
    if total > settings.max_context_chars:
        _refuse(
            call,
            f"the prompt is {total} characters in all, over max_context_chars={settings.max_context_chars}",
            total,
            settings.max_context_chars,
        )
    if settings.max_input_tokens is not None:
        tokens = count_tokens(call.messages, call.model)
        if tokens > settings.max_input_tokens:
            _refuse(
                call,
                f"the prompt is {tokens} tokens, over max_input_tokens={settings.max_input_tokens}",
                tokens,
                settings.max_input_tokens,
                unit="tokens",
            )


def _clean(call: Call, index: int, content: str) -> str:
    """``content`` cleaned for the SDK and stripped; what was removed is recorded."""
    cleaned = clean_for_sdk(content)
    if cleaned.changed:
        call.add_finding(
            Finding(
                stage=NAME,
                kind="text_cleaned",
                count=cleaned.changed,
                detail={"nul": cleaned.nul, "controls": cleaned.controls, "surrogates": cleaned.surrogates},
            )
        )
        call.record_change(NAME, f"messages[{index}]", cleaned.changed)
    return cleaned.text.strip()


def _refuse(call: Call, reason: str, length: int, limit: int, unit: str = "chars") -> None:
    call.add_finding(
        Finding(stage=NAME, kind="input_too_long", blocked=True, detail={"length": length, "limit": limit, "unit": unit})
    )
    raise InputTooLong(
        reason,
        length=length,
        limit=limit,
        unit=unit,
        stage=NAME,
        hint="shorten the input or raise the limit deliberately",
    )
