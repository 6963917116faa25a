"""Finding the guarded functions a command is about: ``MODULE[:NAME]`` on the command line."""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click


def load_functions(spec: str, option: str = "--function") -> list[Any]:
    """The guarded functions named by ``MODULE[:NAME]`` (every one in MODULE without NAME)."""
    from guardfn.decorator import GuardedFunction

    module_name, _, attr = spec.partition(":")
    if "" not in sys.path:
        sys.path.insert(0, "")  # like `python -m`: the working directory's modules are importable
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise click.BadParameter(f"cannot import {module_name!r}: {exc}", param_hint=option) from None
    if attr:
        found = getattr(module, attr, None)
        if not isinstance(getattr(found, "guard", None), GuardedFunction):
            raise click.BadParameter(f"{spec!r} is not a @guarded_llm function", param_hint=option)
        return [found]
    guarded = list(
        {id(v): v for v in vars(module).values() if isinstance(getattr(v, "guard", None), GuardedFunction)}.values()
    )
    if not guarded:
        raise click.BadParameter(f"module {module_name!r} has no @guarded_llm functions", param_hint=option)
    return guarded
