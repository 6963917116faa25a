"""Map a function over every string inside a parsed answer.

Used to check and rewrite the string fields of a validated object the same way as the
answer's text (output rules, HTML sanitising). Walks strings, dicts (values only),
lists, tuples (named tuples too), sets, dataclass instances and pydantic models; other
values are returned as they are. Containers are rebuilt only when a string in them
changed, so an untouched value comes back as the same object.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

__all__ = ["iter_strings", "map_strings"]

_MAX_DEPTH = 100


def map_strings(value: Any, fn: Callable[[str], str]) -> Any:
    """``value`` with ``fn`` applied to every string it contains (dict keys are left alone).

    A pydantic model is copied with ``model_copy`` (no re-validation); a dataclass with
    ``dataclasses.replace``.
    """
    return _map(value, fn, 0)


def iter_strings(value: Any) -> list[str]:
    """Every string inside ``value``, in order (dict keys excluded)."""
    found: list[str] = []

    def collect(text: str) -> str:
        found.append(text)
        return text

    _map(value, collect, 0)
    return found


def _map(value: Any, fn: Callable[[str], str], depth: int) -> Any:
    if isinstance(value, str):
        return fn(value)
    if depth > _MAX_DEPTH or value is None or isinstance(value, (int, float, bool, bytes)):
        return value
    nxt = depth + 1
    if isinstance(value, dict):
        items = {k: _map(v, fn, nxt) for k, v in value.items()}
        if all(items[k] is v for k, v in value.items()):
            return value
        return type(value)(items) if type(value) is not dict else items
    if isinstance(value, (list, tuple, set, frozenset)):
        mapped = [_map(v, fn, nxt) for v in value]
        if all(a is b for a, b in zip(mapped, value, strict=True)):
            return value
        if isinstance(value, tuple) and hasattr(value, "_fields"):
            return type(value)(*mapped)
        return type(value)(mapped)
    model_fields = getattr(type(value), "model_fields", None)
    if isinstance(model_fields, dict) and hasattr(value, "model_copy"):
        update = {}
        for name in model_fields:
            old = getattr(value, name, None)
            new = _map(old, fn, nxt)
            if new is not old:
                update[name] = new
        return value.model_copy(update=update) if update else value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes = {}
        for field in dataclasses.fields(value):
            if not field.init:
                continue
            old = getattr(value, field.name)
            new = _map(old, fn, nxt)
            if new is not old:
                changes[field.name] = new
        return dataclasses.replace(value, **changes) if changes else value
    return value
