"""The ``schema`` stage: the answer must validate against ``schema=``, or the model is asked again.

Settings: ``schema`` (a pydantic model, or any type pydantic's ``TypeAdapter`` takes:
``list[Model]``, a ``TypedDict``, a dataclass ...), ``schema_retries`` (re-asks after the
first answer, default 2), ``native_structured_output`` (default on).

* Before the call, the provider is asked for the shape natively when it can be: OpenAI
  gets ``response_format`` with the JSON schema (``strict`` where the schema allows it),
  Anthropic a forced tool whose ``input_schema`` is the schema (the provider returns the
  tool's input as JSON text). Otherwise the system prompt says to answer with JSON
  matching the schema. The answer is always validated locally as well.
* After each answer, the JSON is found (code fences, prose around it) and validated;
  the validated object is what the guarded function returns. On failure the stage
  raises :class:`Reask` with the bad answer and a user message listing the validation
  errors (locations and messages, never input values); the pipeline settles that
  request, appends the messages, reserves again (a re-ask counts against limits and
  budgets, and in ``call.reasks``) and calls the model again. When ``schema_retries``
  re-asks are used up, :class:`guardfn.OutputValidationError` carries pydantic's errors.

``schema=`` with ``stream=True`` is refused: a stream cannot be validated as a whole.
"""

from __future__ import annotations

from guardfn.call import Call, Finding, Reask, Response, TextPart, text_message
from guardfn.errors import ConfigurationError, OutputValidationError
from guardfn.hookspecs import hookimpl
from guardfn.output.schema import validator_for
from guardfn.settings import Settings

NAME = "schema"


def active(settings: Settings) -> bool:
    """Whether this stage runs for a function with these settings (a ``schema=`` is set)."""
    return settings.schema_ is not None

__all__ = ["NAME", "Reask", "add_system_text"]

_TRUNCATED = frozenset({"length", "max_tokens"})


def add_system_text(call: Call, text: str, stage: str, *, first: bool = False) -> None:
    """Add ``text`` to the first system message (inserting one if there is none): as a text
    part at its end, or at its start with ``first=True``."""
    messages = call.messages
    if messages and messages[0].role == "system":
        content = messages[0].content
        content.insert(0 if first else len(content), TextPart(text))
    else:
        messages.insert(0, text_message("system", text))
    call.record_change(stage, "messages[0]", 1)


@hookimpl
def guardfn_configure(settings: Settings) -> None:
    """Runs when a guarded function's settings are built: the schema must be a type
    pydantic can validate, and cannot be combined with ``stream=True``."""
    if settings.schema_ is None:
        return
    try:
        validator_for(settings.schema_)
    except Exception as exc:
        raise ConfigurationError(
            f"schema= is not a type pydantic can validate ({type(exc).__name__})",
            stage=NAME,
            hint="pass a pydantic model, a dataclass, a typing_extensions.TypedDict or a type such as list[Model]",
        ) from None
    if settings.stream:
        raise ConfigurationError(
            "schema= cannot be combined with stream=True (a stream cannot be validated as a whole)",
            stage=NAME,
            hint="drop stream=True to get a validated object, or drop schema= to stream text",
        )


@hookimpl
def guardfn_transform_input(call: Call) -> None:
    """Runs once per call, before the first request: asks the provider for the schema's
    shape natively (``call.extra_request``) or adds the JSON instruction to the system prompt."""
    schema = call.settings.schema_
    if schema is None or call.tool_round:
        return
    validator = validator_for(schema)
    state = call.state.setdefault(NAME, {"reasks": 0})
    if call.settings.native_structured_output and _native(call):
        call.output_schema = validator.output_schema()
    if call.output_schema is not None:
        state["native"] = call.provider
        return
    add_system_text(call, validator.instruction(), NAME)


def _native(call: Call) -> bool:
    """Whether the provider is asked for the shape natively: OpenAI always (with tools too),
    Anthropic through a forced tool, which only works when no tools of the caller's are offered."""
    return call.provider == "openai" or (call.provider == "anthropic" and not call.tools)


@hookimpl
def guardfn_check_output(call: Call, response: Response) -> None:
    """Runs after each answer: validates it and sets ``response.parsed``; raises
    :class:`Reask` while re-asks are left, then :class:`OutputValidationError`."""
    schema = call.settings.schema_
    if schema is None or response.tool_calls:
        return  # an answer calling tools is not the final answer yet
    validator = validator_for(schema)
    state = call.state.setdefault(NAME, {"reasks": 0})
    native = state.get("native")
    result = validator.validate(response.text, unwrap=native is not None)
    if result.ok:
        response.parsed = result.value
        return
    errors = result.errors
    kinds = sorted({str(e.get("type")) for e in errors})
    call.add_finding(
        Finding(
            stage=NAME, kind="invalid_output", count=len(errors), detail={"types": kinds, "attempt": state["reasks"] + 1}
        )
    )
    if state["reasks"] < call.settings.schema_retries:
        state["reasks"] += 1
        follow_up = validator.reask_message(errors, truncated=response.finish_reason in _TRUNCATED)
        raise Reask(
            [text_message("assistant", response.text or "(no answer)"), text_message("user", follow_up)],
            reason=f"the answer did not match the schema ({len(errors)} error(s)); asking again",
        )
    call.findings[-1].blocked = True
    raise OutputValidationError(
        f"the answer did not match the schema after {state['reasks']} re-ask(s): "
        f"{len(errors)} error(s) ({', '.join(kinds)})",
        errors=errors,
        stage=NAME,
        hint="see .errors; raise schema_retries, simplify the schema or make the prompt more specific",
    )
