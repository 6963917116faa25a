"""Validate an answer against a schema: a pydantic model or any type ``TypeAdapter`` takes.

:class:`SchemaValidator` wraps one schema (``Recommendation``, ``list[Recommendation]``,
a ``TypedDict``, a dataclass, ``dict[str, int]`` ...) and gives:

* :meth:`~SchemaValidator.validate`: the validated value, or pydantic's errors, for a
  model's answer (JSON found robustly by :mod:`guardfn.output.extract`). Errors never
  contain input values (``include_input=False``), so they are safe to show the model
  again, to log, and to raise;
* the request that asks the provider for this shape natively: OpenAI's
  ``response_format`` (a JSON schema, ``strict`` when the schema fits strict mode) and
  Anthropic's forced tool whose ``input_schema`` is the schema. Both APIs want an object
  at the top, so a list or scalar schema is wrapped as ``{"result": ...}`` and unwrapped
  again when validating;
* the instruction to put in the prompt when native structured output is not used, and
  the re-ask message listing the validation errors.
"""

from __future__ import annotations

import copy
import functools
import json
import re
from dataclasses import dataclass, field
from typing import Any

from guardfn.call import OutputSchema
from guardfn.output.extract import candidates

__all__ = ["SchemaValidator", "Validation", "strict_json_schema", "validator_for"]

WRAPPER_KEY = "result"
"""The property a non-object schema is wrapped in for native structured output."""

MAX_ERRORS_SHOWN = 20
"""Validation errors listed in a re-ask message."""

# Keywords OpenAI's strict mode does not accept: a schema using one is sent with strict=false.
_NOT_STRICT = frozenset(
    {
        "not",
        "if",
        "then",
        "else",
        "dependentRequired",
        "dependentSchemas",
        "patternProperties",
        "unevaluatedProperties",
        "unevaluatedItems",
        "propertyNames",
        "minProperties",
        "maxProperties",
        "uniqueItems",
        "contains",
        "minContains",
        "maxContains",
        "prefixItems",
    }
)
_NAME_CHARS = re.compile(r"[^A-Za-z0-9_-]+")


@dataclass(frozen=True)
class Validation:
    """The outcome of validating one answer: ``ok`` with ``value``, or ``errors``."""

    ok: bool
    value: Any = None
    errors: list[dict[str, Any]] = field(default_factory=list)


def safe_errors(exc: Any) -> list[dict[str, Any]]:
    """Pydantic errors without input values, URLs or non-JSON context (exceptions)."""
    out = []
    for err in exc.errors(include_input=False, include_url=False):
        item: dict[str, Any] = {
            "type": err.get("type", "value_error"),
            "loc": list(err.get("loc", ())),
            "msg": err.get("msg", "invalid"),
        }
        ctx = {k: v for k, v in (err.get("ctx") or {}).items() if isinstance(v, (str, int, float, bool, type(None)))}
        if ctx:
            item["ctx"] = ctx
        out.append(item)
    return out


def _no_json_error() -> list[dict[str, Any]]:
    return [{"type": "json_invalid", "loc": [], "msg": "the answer contains no JSON value"}]


def strict_json_schema(schema: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """A copy of ``schema`` fitted to OpenAI's strict mode, and whether strict mode is possible.

    Every object gets ``additionalProperties: false`` and lists all its properties as
    required (a field with a default is then always produced, which still validates);
    ``default`` values are dropped; a ``$ref`` loses its sibling keywords. Strict mode is
    impossible (``False``) for free-form objects (``dict[str, X]``) and for keywords strict
    mode does not support; the schema is then sent as a hint (``strict: false``).
    """
    fitted = copy.deepcopy(schema)
    possible = True

    def visit(node: Any) -> None:
        nonlocal possible
        if isinstance(node, list):
            for item in node:
                visit(item)
            return
        if not isinstance(node, dict):
            return
        if _NOT_STRICT & node.keys():
            possible = False
        if "$ref" in node and len(node) > 1:
            for key in [k for k in node if k != "$ref"]:
                del node[key]
            return
        node.pop("default", None)
        if node.get("type") == "object" or "properties" in node:
            extra = node.get("additionalProperties", False)
            if extra not in (False, None) or ("properties" not in node and extra is not False):
                possible = False
            node["additionalProperties"] = False
            node["required"] = list(node.get("properties", {}))
        all_of = node.get("allOf")
        if isinstance(all_of, list) and len(all_of) > 1:
            possible = False
        for key, child in node.items():
            if key in ("properties", "$defs", "definitions") and isinstance(child, dict):
                for sub in child.values():
                    visit(sub)
            elif key in ("items", "anyOf", "oneOf", "allOf", "additionalProperties"):
                visit(child)
        if "oneOf" in node:
            node["anyOf"] = node.pop("oneOf")

    visit(fitted)
    return fitted, possible


class SchemaValidator:
    """Validation, native request parameters and messages for one schema (thread-safe)."""

    def __init__(self, schema: Any) -> None:
        from pydantic import TypeAdapter

        self.schema = schema
        self.adapter: Any = TypeAdapter(schema)
        self.name = _NAME_CHARS.sub("_", getattr(schema, "__name__", "") or "")[:64].strip("_") or "response"
        if isinstance(getattr(schema, "__args__", None), tuple):  # list[Model], dict[str, int] ...
            self.name = "response"
        try:
            self.json_schema: dict[str, Any] | None = self.adapter.json_schema()
        except Exception:  # a type pydantic can validate but not describe
            self.json_schema = None
        self.wrapped = self.json_schema is not None and self.json_schema.get("type") != "object"

    # --- validating ----------------------------------------------------------------------

    def validate(self, text: str, *, unwrap: bool = False) -> Validation:
        """Validate a model's answer.

        Tries the whole answer as JSON first, then every JSON value found in it (code
        fences, values inside prose); the first that validates wins. Otherwise returns
        the errors for the largest value found (the likeliest intended answer), or a
        ``json_invalid`` error when there is none. ``unwrap``: the answer came from a
        native request for a wrapped schema, so ``{"result": X}`` means ``X``.
        """
        from pydantic import ValidationError

        parse_errors = _no_json_error()
        if not (unwrap and self.wrapped):
            stripped = text.strip()
            if stripped[:1] in ("{", "["):
                try:
                    return Validation(True, self.adapter.validate_json(stripped))
                except ValidationError as exc:
                    errors = safe_errors(exc)
                    if not any(e["type"] == "json_invalid" for e in errors):
                        return Validation(False, errors=errors)
                    parse_errors = errors
        best: tuple[int, list[dict[str, Any]]] | None = None
        for candidate in candidates(text):
            raw = text[candidate.start : candidate.end]
            value = candidate.value
            if unwrap and self.wrapped and isinstance(value, dict) and set(value) == {WRAPPER_KEY}:
                raw = json.dumps(value[WRAPPER_KEY])
            try:
                return Validation(True, self.adapter.validate_json(raw))
            except ValidationError as exc:
                size = candidate.end - candidate.start
                if best is None or size > best[0]:
                    best = (size, safe_errors(exc))
        return Validation(False, errors=best[1] if best is not None else parse_errors)

    # --- native structured output ----------------------------------------------------------

    @functools.cached_property
    def _object_schema(self) -> dict[str, Any] | None:
        """The schema with an object at the top (wrapped in ``{"result": ...}`` if need be)."""
        if self.json_schema is None:
            return None
        if not self.wrapped:
            return copy.deepcopy(self.json_schema)
        inner = copy.deepcopy(self.json_schema)
        defs = inner.pop("$defs", None)
        wrapper: dict[str, Any] = {
            "type": "object",
            "properties": {WRAPPER_KEY: inner},
            "required": [WRAPPER_KEY],
            "additionalProperties": False,
        }
        if defs:
            wrapper["$defs"] = defs
        return wrapper

    @functools.cached_property
    def _output_schema(self) -> OutputSchema | None:
        schema = self._object_schema
        if schema is None:
            return None
        fitted, strict = strict_json_schema(schema)
        return OutputSchema(self.name, schema, fitted if strict else None)

    def output_schema(self) -> OutputSchema | None:
        """The schema for native structured output (each provider sends it its own way), or
        ``None`` when no JSON schema can describe the type. Built once; do not mutate it."""
        return self._output_schema

    # --- messages ----------------------------------------------------------------------------

    @functools.cached_property
    def _instruction(self) -> str:
        """What to add to the system prompt when the provider is not asked natively."""
        text = "Answer with a single JSON value only: no prose, no code fences."
        if self.json_schema is not None:
            text += " It must match this JSON Schema:\n" + json.dumps(self.json_schema, separators=(",", ":"))
        return text

    def instruction(self) -> str:
        """What to add to the system prompt when the provider is not asked natively."""
        return self._instruction

    def reask_message(self, errors: list[dict[str, Any]], *, truncated: bool = False) -> str:
        """The follow-up user message: what was wrong (locations and messages, no values)."""
        lines = ["Your previous answer was not valid. Problems:"]
        for err in errors[:MAX_ERRORS_SHOWN]:
            loc = ".".join(str(part) for part in err.get("loc", ())) or "(answer)"
            lines.append(f"- {loc}: {err.get('msg', 'invalid')}")
        if len(errors) > MAX_ERRORS_SHOWN:
            lines.append(f"- and {len(errors) - MAX_ERRORS_SHOWN} more")
        if truncated:
            lines.append("The answer was cut off at the length limit: make it shorter.")
        lines.append("Reply again with only the corrected JSON value, nothing else.")
        return "\n".join(lines)


@functools.lru_cache(maxsize=256)
def _cached(schema: Any) -> SchemaValidator:
    return SchemaValidator(schema)


def validator_for(schema: Any) -> SchemaValidator:
    """The (cached) :class:`SchemaValidator` for ``schema``."""
    try:
        return _cached(schema)
    except TypeError:  # unhashable schema object
        return SchemaValidator(schema)
