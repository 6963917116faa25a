"""Putting pseudonymized values back: in text, in parsed objects, and across stream chunks.

Only placeholders present in the call's vault are replaced; a placeholder the model
invented (``<EMAIL_ADDRESS_7>`` when only ``_1`` was issued) is left as it is.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from guardfn.pii.anonymize import PLACEHOLDER_RE


def restore_text(text: str, vault: Mapping[str, str]) -> str:
    """``text`` with every issued placeholder replaced by its original value."""
    if not vault or "<" not in text:
        return text
    return PLACEHOLDER_RE.sub(lambda m: vault.get(m.group(0), m.group(0)), text)


def restore_object(value: Any, vault: Mapping[str, str]) -> Any:
    """``value`` with placeholders restored in every string it contains.

    Walks strings, dicts (keys and values), lists, tuples, sets, dataclass instances
    and pydantic models, returning new containers and objects; anything else is
    returned unchanged. A pydantic model is copied with ``model_copy`` (no
    re-validation: the values are the ones the model originally had).
    """
    if not vault:
        return value
    return _restore(value, vault, 0)


_MAX_DEPTH = 100


def _restore(value: Any, vault: Mapping[str, str], depth: int) -> Any:
    if depth > _MAX_DEPTH:
        return value
    if isinstance(value, str):
        return restore_text(value, vault)
    if isinstance(value, (int, float, bool, bytes, type(None))):
        return value
    nxt = depth + 1
    if isinstance(value, dict):
        return type(value)((_restore(k, vault, nxt), _restore(v, vault, nxt)) for k, v in value.items())
    if isinstance(value, list):
        return [_restore(v, vault, nxt) for v in value]
    if isinstance(value, tuple):
        items = [_restore(v, vault, nxt) for v in value]
        return type(value)(*items) if hasattr(value, "_fields") else type(value)(items)
    if isinstance(value, (set, frozenset)):
        return type(value)(_restore(v, vault, nxt) for v in value)
    model_fields = getattr(type(value), "model_fields", None)
    if isinstance(model_fields, dict) and hasattr(value, "model_copy"):
        update = {name: _restore(getattr(value, name), vault, nxt) for name in model_fields}
        extra = getattr(value, "__pydantic_extra__", None) or {}
        update.update({name: _restore(v, vault, nxt) for name, v in extra.items()})
        return value.model_copy(update=update)
    if hasattr(type(value), "__dataclass_fields__") and not isinstance(value, type):
        import dataclasses  # only for dataclass instances: importing it costs more than the rest of this module

        fields = dataclasses.fields(value)
        changes = {f.name: _restore(getattr(value, f.name), vault, nxt) for f in fields if f.init}
        copy = dataclasses.replace(value, **changes)
        for f in fields:
            if not f.init and hasattr(value, f.name):
                object.__setattr__(copy, f.name, _restore(getattr(value, f.name), vault, nxt))
        return copy
    return value


class StreamRestorer:
    """Restores placeholders in a stream of text chunks, even one split across chunks.

    ``feed(chunk)`` returns the text that is safe to emit now; it holds back only a
    trailing ``<...`` that could still become an issued placeholder. ``flush()`` returns
    what is left at the end of the stream.
    """

    def __init__(self, vault: Mapping[str, str]) -> None:
        self._vault = vault
        self._max_len = max((len(p) for p in vault), default=0)
        self._buffer = ""

    def feed(self, chunk: str) -> str:
        """Add a chunk; return the restored text that can be emitted now."""
        if not self._vault:
            return chunk
        buffer = self._buffer + chunk
        cut = self._holdback(buffer)
        self._buffer = buffer[cut:]
        return restore_text(buffer[:cut], self._vault)

    def flush(self) -> str:
        """Return the rest of the stream (an unfinished placeholder is emitted as it is)."""
        rest, self._buffer = self._buffer, ""
        return restore_text(rest, self._vault)

    def _holdback(self, buffer: str) -> int:
        start = buffer.rfind("<")
        if start < 0:
            return len(buffer)
        tail = buffer[start:]
        if len(tail) < self._max_len and _is_placeholder_prefix(tail):
            return start
        return len(buffer)


def _is_placeholder_prefix(tail: str) -> bool:
    """True when ``tail`` (starting with ``<``) could be the start of a placeholder."""
    body = tail[1:]
    if not body:
        return True
    if not ("A" <= body[0] <= "Z"):
        return False
    return all(("A" <= ch <= "Z") or ch == "_" or ("0" <= ch <= "9") for ch in body)
