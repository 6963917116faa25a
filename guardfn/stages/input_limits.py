"""The ``input_limits`` stage: what goes to the model is clean text of bounded length.

Settings: ``max_input_chars`` (per user message, default 20,000), ``max_context_chars``
(all messages together, default 100,000) and ``max_input_tokens`` (all messages
together, counted offline; off by default).

It runs first among the screening stages and, for every message (after a tool round, for
every tool result):

1. cleans text that would make an SDK fail deep inside ``json``/``httpx``: NUL bytes and
   other control characters (tab, newline and carriage return stay) are removed and
   lone surrogates replaced by U+FFFD (recorded as a change and a ``text_cleaned``
   finding with counts);
2. strips leading and trailing whitespace of each text part; empty parts beside other
   content are dropped, a message left with nothing is refused
   (:class:`guardfn.errors.InputRejected`: providers reject empty turns), and an empty tool
   result says so in words;
3. refuses image parts when ``allow_images=False``;
4. measures: a user message or tool result over ``max_input_chars``, all messages over
   ``max_context_chars`` or over ``max_input_tokens`` raise
   :class:`guardfn.errors.InputTooLong` with the length and the limit, before any
   network call.
"""

from __future__ import annotations

from typing import Any

from guardfn.call import Call, Finding, TextPart
from guardfn.errors import InputRejected, InputTooLong
from guardfn.hookspecs import hookimpl
from guardfn.screening.normalize import clean_for_sdk

NAME = "input_limits"
EMPTY_TOOL_RESULT = "(the tool returned nothing)"


def count_tokens(messages: list[Any], model: str) -> int:
    """Tokens in ``messages`` for ``model``, counted offline (:func:`guardfn.tokens.count_tokens`)."""
    from guardfn.tokens import count_tokens as counter

    return int(counter(messages, model))


@hookimpl
def guardfn_screen_input(call: Call) -> None:
    """Runs first on every call, before anything is sent (and again for the tool results of
    each round): cleans and strips each text part, refuses an empty message, image parts when
    ``allow_images=False``, a user message or tool result over ``max_input_chars`` and a prompt
    over ``max_context_chars`` / ``max_input_tokens`` (``InputTooLong``)."""
    settings = call.settings
    for ref in call.texts(new=True, arguments=False):
        text = ref.text
        # ASCII printable text has no control character or surrogate: nothing to clean
        cleaned = text.strip() if text.isascii() and text.isprintable() else _clean(call, ref.target, text)
        if cleaned != text:
            call.replace_text(ref, cleaned)
    limit = settings.max_input_chars
    for index in range(call.checked, len(call.messages)):
        message = call.messages[index]
        empty = [p for p in message.content if isinstance(p, TextPart) and not p.text]
        if empty and len(empty) < len(message.content) + len(message.tool_calls):
            message.content = [p for p in message.content if p not in empty]  # providers refuse empty parts
        elif empty or not (message.content or message.tool_calls):
            if message.role == "tool":  # a tool that returned nothing: say so rather than send an empty turn
                message.content = [TextPart(EMPTY_TOOL_RESULT)]
                continue
            call.add_finding(Finding(stage=NAME, kind="empty_message", blocked=True))
            raise InputRejected(
                f"message {index} ({message.role}) is empty after stripping whitespace",
                stage=NAME,
                hint="return a prompt with text in every message",
            )
        if message.images and not settings.allow_images:
            call.add_finding(Finding(stage=NAME, kind="image_refused", count=len(message.images), blocked=True))
            raise InputRejected(
                f"message {index} holds {len(message.images)} image(s) and allow_images=False",
                stage=NAME,
                hint="remove the images or set allow_images=True",
            )
        length = sum(len(p.text) for p in message.content if isinstance(p, TextPart))
        if message.role in ("user", "tool") and length > limit:
            what = "tool result" if message.role == "tool" else "user message"
            _refuse(call, f"{what} {index} is {length} characters, over max_input_chars={limit}", length, limit)
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


def _clean(call: Call, target: str, content: str) -> str:
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
        call.record_change(NAME, target, cleaned.changed)
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
