"""``max_lines``: refuse a prompt whose user message has more lines than a limit.

A pasted log, stack trace or data dump is the usual way a prompt grows to thousands of
lines (and takes secrets and personal data along). This input stage refuses such a
message before anything is sent, with :class:`guardfn.InputTooLong` (``unit="lines"``),
so code that already handles guardfn's length limits handles it too.

Options, read from ``plugin_options["max_lines"]`` (unknown keys are refused):

* ``limit`` (default :data:`DEFAULT_LIMIT`): the most lines one user message may have.
  Lines are counted as :meth:`str.splitlines` does, so ``\\r``, ``\\u2028`` and the other
  Unicode line breaks count too. System and assistant messages are not counted.

::

    @guarded_llm(model="gpt-4o-mini", plugin_options={"max_lines": {"limit": 50}})  # one function
    guardfn.configure(plugin_options={"max_lines": {"limit": 50}})                  # every function
    GUARDFN_PLUGIN_OPTIONS='{"max_lines": {"limit": 50}}'                           # environment

Turn it off for one function with ``disable=["max_lines"]``, everywhere with
``GUARDFN_DISABLE_PLUGINS=max_lines``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from guardfn.call import Call, Finding, Message
from guardfn.errors import ConfigurationError, InputTooLong
from guardfn.hookspecs import hookimpl
from guardfn.settings import Settings

NAME = "max_lines"
"""The plugin's name: the entry point's name, ``disable=[...]``, the errors' ``stage``."""

DEFAULT_LIMIT = 200
"""Lines one user message may have when no ``limit`` is configured."""


class Options(BaseModel):
    """This plugin's options, validated from ``settings.plugin_options["max_lines"]``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    limit: int = Field(DEFAULT_LIMIT, gt=0, description="the most lines one user message may have")


def options(settings: Settings) -> Options:
    """The validated options for ``settings``; :class:`ConfigurationError` if they are wrong.

    The error names the option and what is wrong with it, never the value given.
    """
    raw = settings.plugin_options.get(NAME, {})
    try:
        return Options.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or NAME}: {err['msg']}"
            for err in exc.errors(include_input=False, include_url=False)
        )
        raise ConfigurationError(
            f"invalid plugin_options[{NAME!r}]: {problems}",
            stage=NAME,
            hint=f"expected {{'limit': <positive int>}}; see the {NAME} plugin's README",
        ) from None


def count_lines(text: str) -> int:
    """The number of lines in ``text`` (0 for an empty string), as :meth:`str.splitlines` counts."""
    return len(text.splitlines())


def longest_user_message(messages: Sequence[Message]) -> tuple[int, int] | None:
    """``(index, lines)`` of the user message with the most lines, or ``None`` if there is none."""
    best: tuple[int, int] | None = None
    for index, message in enumerate(messages):
        if message.role != "user":
            continue
        lines = count_lines(message.text)
        if best is None or lines > best[1]:
            best = (index, lines)
    return best


@hookimpl
def guardfn_configure(settings: Settings) -> None:
    """Runs when a guarded function's settings are built: refuses bad ``max_lines`` options early."""
    options(settings)


@hookimpl
def guardfn_screen_input(call: Call) -> Any:
    """Runs on every call, before anything is sent: refuses a user message over the line limit.

    Records a blocking :class:`~guardfn.call.Finding` (the line count and the limit, never
    the text) and raises :class:`guardfn.InputTooLong`. Pure CPU work on text already in
    memory, so it runs as is in async calls too (it never needs to return an awaitable).
    """
    limit = options(call.settings).limit
    longest = longest_user_message(call.messages)
    if longest is None or longest[1] <= limit:
        return None
    index, lines = longest
    call.add_finding(
        Finding(stage=NAME, kind="too_many_lines", count=lines, blocked=True, detail={"limit": limit, "message": index})
    )
    raise InputTooLong(
        f"message {index} has {lines} lines; the limit is {limit}",
        length=lines,
        limit=limit,
        unit="lines",
        stage=NAME,
        hint=f'shorten the input or raise plugin_options={{"{NAME}": {{"limit": ...}}}}',
    )
