"""Tools the model may call: built from Python callables or pydantic models, validated, run.

``tools=[get_weather, Refund]`` offers each item to the model:

* a **function** (sync or ``async def``) becomes a tool named after it, described by its
  docstring, whose JSON schema pydantic builds from the type hints (``Annotated[str,
  Field(description=...)]`` and a Google-style ``Args:`` section describe parameters);
  guardfn validates the model's arguments against it and runs the function;
* a **pydantic model** becomes a tool the caller handles: the model's call comes back as a
  :class:`guardfn.Reply` whose arguments are an instance of the model.

A tool's result goes back to the model as text: a ``str`` as it is, a pydantic model as
its JSON, anything else as JSON (``str()`` for what JSON cannot hold).
"""

from __future__ import annotations

import inspect
import json
import re
import typing
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from guardfn.errors import ConfigurationError

__all__ = ["Tool", "build_tools", "render_result", "tool_from"]

_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_ARGS_HEADER = re.compile(r"^\s*(Args|Arguments|Parameters):\s*$")
_ARG_LINE = re.compile(r"^\s+(\*{0,2}\w+)\s*(?:\([^)]*\))?\s*:\s*(.+)$")


@dataclass(frozen=True)
class Tool:
    """One tool offered to the model.

    ``parameters`` is the JSON schema sent to the provider; ``model`` the pydantic model that
    validates the arguments (``None`` for a tool known only by its JSON schema, as a wrapped
    client's ``tools=`` are: the caller validates); ``function`` what guardfn runs (``None``:
    the caller handles the call); ``is_async`` whether ``function`` is a coroutine function.
    """

    name: str
    description: str
    parameters: dict[str, Any]
    model: Any
    function: Callable[..., Any] | None = None
    is_async: bool = False

    def call_arguments(self, value: Any) -> dict[str, Any]:
        """The keyword arguments for ``function`` from a validated arguments model."""
        return {name: getattr(value, name) for name in type(value).model_fields}

    def reply_value(self, value: Any) -> Any:
        """What a :class:`guardfn.Reply` carries: the model instance, or a dict for a function."""
        return value if self.function is None else self.call_arguments(value)


def _summary(doc: str) -> tuple[str, dict[str, str]]:
    """The description (the docstring without its ``Args:`` section) and each argument's text."""
    lines = doc.splitlines()
    described: dict[str, str] = {}
    kept: list[str] = []
    in_args = False
    for line in lines:
        if _ARGS_HEADER.match(line):
            in_args = True
            continue
        if in_args:
            match = _ARG_LINE.match(line)
            if match:
                described[match.group(1).lstrip("*")] = match.group(2).strip()
                continue
            if line.strip() and not line.startswith((" ", "\t")):
                in_args = False
            else:
                continue
        kept.append(line)
    return "\n".join(kept).strip(), described


def _function_tool(fn: Callable[..., Any]) -> Tool:
    from pydantic import ConfigDict, Field, create_model

    name = getattr(fn, "__name__", "")
    description, described = _summary(inspect.getdoc(fn) or "")
    try:
        hints = typing.get_type_hints(fn, include_extras=True)
    except Exception as exc:
        raise ConfigurationError(
            f"tool {name!r}: its type hints cannot be resolved ({type(exc).__name__})", stage="tools"
        ) from None
    fields: dict[str, Any] = {}
    for param in inspect.signature(fn).parameters.values():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD, param.POSITIONAL_ONLY):
            raise ConfigurationError(
                f"tool {name!r}: parameter {param.name!r} must be a plain or keyword-only parameter",
                stage="tools",
                hint="a tool takes named arguments the model fills in: no *args, **kwargs or positional-only",
            )
        default = ... if param.default is inspect.Parameter.empty else param.default
        annotation = hints.get(param.name, Any)
        if param.name in described:
            fields[param.name] = (annotation, Field(default, description=described[param.name]))
        else:
            fields[param.name] = (annotation, default)
    model = create_model(f"{name}_arguments", __config__=ConfigDict(extra="forbid"), **fields)
    return Tool(name, description, _parameters(name, model), model, fn, inspect.iscoroutinefunction(fn))


def _parameters(name: str, model: Any) -> dict[str, Any]:
    """The arguments' JSON schema, without pydantic's generated ``title`` keys (tokens the
    model does not need; names and descriptions say it all)."""
    try:
        schema: dict[str, Any] = model.model_json_schema()
    except Exception as exc:
        raise ConfigurationError(
            f"tool {name!r}: no JSON schema can describe its arguments ({type(exc).__name__})", stage="tools"
        ) from None
    return _untitled(schema)


def _untitled(node: Any) -> Any:
    if isinstance(node, list):
        return [_untitled(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        if key == "title" and isinstance(value, str):
            continue
        if key in ("properties", "$defs", "definitions") and isinstance(value, dict):
            out[key] = {name: _untitled(sub) for name, sub in value.items()}  # a property may be named "title"
        else:
            out[key] = _untitled(value)
    return out


def tool_from(item: Any) -> Tool:
    """A :class:`Tool` from a function, a pydantic model class, or a :class:`Tool` as it is."""
    from pydantic import BaseModel

    if isinstance(item, Tool):
        tool = item
    elif isinstance(item, type) and issubclass(item, BaseModel):
        description = inspect.cleandoc(item.__doc__) if item.__doc__ else ""
        tool = Tool(item.__name__, description, _parameters(item.__name__, item), item)
    elif callable(item) and not isinstance(item, type):
        tool = _function_tool(item)
    else:
        raise ConfigurationError(
            f"a tool must be a function or a pydantic model class, not {type(item).__name__}", stage="tools"
        )
    if not _NAME.match(tool.name):
        raise ConfigurationError(
            f"tool name {tool.name!r} must be 1-64 letters, digits, '_' or '-'", stage="tools"
        )
    return tool


def build_tools(items: Iterable[Any]) -> tuple[Tool, ...]:
    """Every item as a :class:`Tool`; names must be unique."""
    tools = tuple(tool_from(item) for item in items)
    seen: set[str] = set()
    for tool in tools:
        if tool.name in seen:
            raise ConfigurationError(f"two tools are named {tool.name!r}", stage="tools")
        seen.add(tool.name)
    return tools


def render_result(value: Any) -> str:
    """A tool's return value as the text the model receives."""
    if isinstance(value, str):
        return value
    dump = getattr(value, "model_dump_json", None)
    if callable(dump):
        return str(dump())
    return json.dumps(value, default=str, ensure_ascii=False)
