"""Built-in key source: ``<PROVIDER>_API_KEY`` from the environment, then from a ``.env`` file.

The ``.env`` file (found from the working directory upwards) is read once with
python-dotenv and never overrides or modifies ``os.environ``.
"""

from __future__ import annotations

import functools
import os

from guardfn.hookspecs import hookimpl
from guardfn.keys import env_var_for
from guardfn.settings import Settings

NAME = "env_keys"


@functools.lru_cache(maxsize=1)
def dotenv_values() -> dict[str, str]:
    """The values of the nearest ``.env`` file (empty when there is none), read once."""
    from dotenv import dotenv_values as read
    from dotenv import find_dotenv

    path = find_dotenv(usecwd=True)
    if not path:
        return {}
    return {k: v for k, v in read(path).items() if v is not None}


@hookimpl(trylast=True)
def guardfn_resolve_api_key(provider: str, settings: Settings) -> str | None:
    """Runs last when a key is needed: the environment first, then ``.env``."""
    var = env_var_for(provider)
    return os.environ.get(var) or dotenv_values().get(var) or None
