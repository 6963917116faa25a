"""What the pipeline decided about an answer, as the endpoint modules put it back into the SDK's objects."""

from __future__ import annotations

import json
from typing import Any

from guardfn.call import Call, Response

REFUSAL_WITHHELD = "The model refused. guardfn withheld the wording: it did not pass the output controls."
"""What a model's refusal text (``message.refusal``) becomes: the pipeline guards the answer's
text, not the refusal, so its wording is not handed out; that the model refused still shows."""


def final_text(call: Call) -> str:
    """The answer's text after the output stages (PII restored, rules applied)."""
    response = call.response
    assert isinstance(response, Response)
    return response.text


def raw_answer(call: Call) -> Any:
    """A deep copy of the SDK's answer object, to carry the guarded answer back to the caller."""
    response = call.response
    assert isinstance(response, Response)
    return response.raw.model_copy(deep=True)


def tool_arguments(call: Call) -> dict[str, dict[str, Any]]:
    """The arguments of each tool call handed back, by call id, with placeholders restored."""
    reply = call.reply
    if reply is None:
        return {}
    return {c.id: dict(c.arguments) for c in reply.tool_calls if isinstance(c.arguments, dict)}


def arguments_json(arguments: dict[str, Any]) -> str:
    """Tool-call arguments as the JSON text the SDKs carry."""
    return json.dumps(arguments, ensure_ascii=False)


def handed_back(call: Call) -> list[tuple[str, str, dict[str, Any]]]:
    """``(id, name, arguments)`` of each tool call handed back, in the model's order."""
    reply = call.reply
    if reply is None:
        return []
    return [(c.id, c.name, dict(c.arguments)) for c in reply.tool_calls if isinstance(c.arguments, dict)]
