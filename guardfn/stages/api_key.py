"""Built-in key source: the ``api_key=`` option (a callable returning the key, or a string)."""

from __future__ import annotations

from pydantic import SecretStr

from guardfn.hookspecs import hookimpl
from guardfn.settings import Settings

NAME = "api_key"


@hookimpl(tryfirst=True)
def guardfn_resolve_api_key(provider: str, settings: Settings) -> str | None:
    """Runs first when a key is needed: the caller's explicit choice wins over every other source."""
    source = settings.api_key
    if source is None:
        return None
    if isinstance(source, SecretStr):
        return source.get_secret_value()
    return source()
