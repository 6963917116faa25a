"""Defaults from a file: ``[tool.guardfn]`` in the nearest ``pyproject.toml``, or a ``guardfn.toml``.

Searched from the working directory upwards; in each directory a ``guardfn.toml`` (the whole
file is guardfn's table) wins over a ``pyproject.toml`` with a ``[tool.guardfn]`` table, and
the first directory holding either is used. Keys are the options of ``@guarded_llm``::

    [tool.guardfn]
    model = "gpt-4o-mini"
    max_tokens = 512
    pii = "redact"
    limits = { requests_per_minute = 20, tokens_per_day = 100000 }

    [tool.guardfn.functions."myapp.support.answer"]   # one function, by qualified name
    max_tokens = 1024

The file is the lowest layer above the built-in defaults: a function's own section over the
file's top level, then ``GUARDFN_*`` variables (and ``.env``), ``guardfn.configure()`` and
the decorator's keywords over both. An unknown key is a :class:`ConfigurationError` naming the
file and the key. The file is read again when it changes.
"""

from __future__ import annotations

import os
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from guardfn.errors import ConfigurationError

FILE_NAMES = ("guardfn.toml", "pyproject.toml")
FUNCTIONS_KEY = "functions"


@dataclass(frozen=True)
class ConfigFile:
    """The options found in one file: the top level and each function's own section."""

    path: Path | None = None
    options: dict[str, Any] = field(default_factory=dict)
    functions: dict[str, dict[str, Any]] = field(default_factory=dict)

    def values_for(self, function: str | None) -> dict[str, Any]:
        """The options for ``function`` (its section over the top level)."""
        if function is None or function not in self.functions:
            return self.options
        return {**self.options, **self.functions[function]}


EMPTY = ConfigFile()
_cache: dict[tuple[str, float], ConfigFile] = {}
_lock = threading.Lock()


def _toml(path: Path) -> dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except (OSError, ValueError) as exc:
        raise ConfigurationError(f"{path} cannot be read as TOML ({type(exc).__name__})", stage="configure") from None


def _table(path: Path) -> dict[str, Any] | None:
    """guardfn's table in ``path``, or ``None`` when the file has none."""
    document = _toml(path)
    if path.name == "guardfn.toml":
        return document
    table = document.get("tool", {}).get("guardfn")
    return table if isinstance(table, dict) else None


def find(start: Path | None = None) -> Path | None:
    """The nearest file with guardfn options, from ``start`` (the working directory) upwards."""
    directory = (start or Path.cwd()).resolve()
    for folder in (directory, *directory.parents):
        for name in FILE_NAMES:
            candidate = folder / name
            if candidate.is_file() and (name == "guardfn.toml" or _table(candidate) is not None):
                return candidate
    return None


def load(start: Path | None = None) -> ConfigFile:
    """The options of the nearest file (cached while the file is unchanged); empty when none."""
    path = find(start)
    if path is None:
        return EMPTY
    key = (str(path), os.stat(path).st_mtime)
    cached = _cache.get(key)
    if cached is not None:
        return cached
    table = dict(_table(path) or {})
    functions = table.pop(FUNCTIONS_KEY, {})
    if not isinstance(functions, dict) or not all(isinstance(v, dict) for v in functions.values()):
        raise ConfigurationError(
            f"{path}: [{FUNCTIONS_KEY}] must hold one table per function", stage="configure",
            hint=f'[tool.guardfn.{FUNCTIONS_KEY}."myapp.module.function"]',
        )  # fmt: skip
    loaded = ConfigFile(path, table, functions)
    with _lock:
        _cache.clear()
        _cache[key] = loaded
    return loaded
