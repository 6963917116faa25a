"""The ``tools`` stage: every tool call the model asks for is one guardfn offered, with valid arguments.

Settings: ``tools`` (functions and pydantic models, :mod:`guardfn.tools`), ``run_tools``,
``max_tool_rounds``, ``tool_retries``, ``on_tool_error``.

For each tool call of an answer (``guardfn_check_tool_call``, after the ``pii`` stage put
real values back into the arguments) it finds the offered tool and validates the
arguments against its schema. A tool that was not offered refuses the call with
:class:`guardfn.ToolCallRejected` at once (a model steered into calling something else is
an attack signal, not a typo). Arguments that do not validate are sent back to the model
with the validation errors (locations and messages, never values) up to ``tool_retries``
times, each re-ask reserving and settling like any request; then ``ToolCallRejected``.
Nothing runs until every call of the answer passed. Findings carry tool names and error
types, never arguments.
"""

from __future__ import annotations

import re
from typing import Any

from guardfn.call import Call, Finding, Reask, ToolRequest, text_message
from guardfn.errors import ConfigurationError, ToolCallRejected
from guardfn.hookspecs import hookimpl
from guardfn.output.schema import safe_errors
from guardfn.settings import Settings

NAME = "tools"
_SHOWABLE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
NOT_RUN = "Not run: another tool call in this answer had invalid arguments. Call it again if it is still needed."


@hookimpl
def guardfn_configure(settings: Settings) -> None:
    """Runs when a guarded function is decorated: a stream needs guardfn to run every tool
    (a stream cannot hand tool calls back to the caller)."""
    if settings.stream and settings.tools and (not settings.run_tools or any(t.function is None for t in settings.tools)):
        raise ConfigurationError(
            "stream=True cannot return tool calls to the caller (run_tools=False, or a pydantic model tool)",
            stage=NAME,
            hint="stream with function tools guardfn runs, or drop stream=True to get a Reply",
        )


def _shown(name: str) -> str:
    """A tool name the model wrote, safe to put in a message (it is model output)."""
    return repr(name) if _SHOWABLE.match(name) else "an unnamed tool"


@hookimpl
def guardfn_check_tool_call(call: Call, request: ToolRequest) -> None:
    """Runs for each tool call, before any tool runs: finds the offered tool and validates the
    arguments (``request.value``); re-asks with the errors, or raises ``ToolCallRejected``."""
    name = request.tool_call.name
    tool = next((t for t in call.tools if t.name == name), None)
    if tool is None:
        call.add_finding(Finding(stage=NAME, kind="tool_not_offered", blocked=True))
        raise ToolCallRejected(
            f"the model asked for {_shown(name)}, which was not offered; nothing was run",
            tool=name if _SHOWABLE.match(name) else "",
            stage=NAME,
            hint="offer the tool in tools=, or check the prompt and tool results for injected instructions",
        )
    request.tool = tool
    errors = _validate(request)
    if errors is None:
        return
    state = call.state.setdefault(NAME, {"reasks": 0})
    kinds = sorted({str(e.get("type")) for e in errors})
    call.add_finding(Finding(stage=NAME, kind="invalid_tool_arguments", count=len(errors), detail={"tool": name, "types": kinds}))
    if state["reasks"] < call.settings.tool_retries:
        state["reasks"] += 1
        raise Reask(_reask_messages(call, request, errors), reason=f"tool {name} got invalid arguments; asking again")
    call.findings[-1].blocked = True
    raise ToolCallRejected(
        f"the model's arguments for tool {name!r} did not validate after {state['reasks']} re-ask(s): "
        f"{len(errors)} error(s) ({', '.join(kinds)}); nothing was run",
        tool=name,
        errors=errors,
        stage=NAME,
        hint="see .errors; raise tool_retries, or describe the parameters better (docstring, Field descriptions)",
    )


def _validate(request: ToolRequest) -> list[dict[str, Any]] | None:
    """``None`` when the arguments validate (``request.value`` set), else the errors."""
    from pydantic import ValidationError

    if request.arguments is None:
        return [{"type": "json_invalid", "loc": [], "msg": "the arguments are not a JSON object"}]
    if request.tool.model is None:  # a tool known by its JSON schema only (guardfn.wrap): the caller validates
        request.value = request.arguments
        return None
    try:
        request.value = request.tool.model.model_validate(request.arguments)
    except ValidationError as exc:
        return safe_errors(exc)
    return None


def _reask_messages(call: Call, request: ToolRequest, errors: list[dict[str, Any]]) -> list[Any]:
    """The answer as it was, and a result for each of its tool calls: the errors for the bad
    one, "not run" for the others (every call must be answered)."""
    listed = "; ".join(f"{'.'.join(str(p) for p in e.get('loc', [])) or 'arguments'}: {e.get('msg')}" for e in errors)
    response = call.response
    assert response is not None
    messages: list[Any] = [response.as_message()]
    for tool_call in response.tool_calls:
        if tool_call.id == request.tool_call.id:
            text = f"Error: the arguments did not validate ({listed}). Call the tool again with valid arguments."
        else:
            text = NOT_RUN
        messages.append(text_message("tool", text, tool_call_id=tool_call.id, name=tool_call.name))
    return messages
