"""Built-in provider choice: models starting with ``claude`` go to Anthropic, the rest to OpenAI."""

from __future__ import annotations

from guardfn.hookspecs import hookimpl
from guardfn.settings import Settings

NAME = "provider_select"


@hookimpl
def guardfn_select_provider(model: str, settings: Settings) -> str:
    """Runs when settings are built and no ``provider=`` was given; always decides."""
    return "anthropic" if model.lower().startswith("claude") else "openai"
