"""API keys: a short-lived in-memory cache, masking, and scrubbing keys out of text.

A key is never written to disk, never logged, and never shown beyond a 4-character
suffix (``****abcd``).
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from guardfn.errors import ConfigurationError

if TYPE_CHECKING:
    from guardfn.settings import Settings

KEY_TTL_SECONDS = 300.0
"""How long a resolved key is reused before it is resolved again (rotation pick-up)."""

_KEY_SHAPES = re.compile(
    r"\b(?:sk-(?:ant-|proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{8,}"
    r"|(?:AKIA|ASIA)[0-9A-Z]{16}"
    r"|gh[pousr]_[A-Za-z0-9]{20,}"
    r"|AIza[0-9A-Za-z_\-]{30,})"
)


def env_var_for(provider: str) -> str:
    """The environment variable that holds ``provider``'s key (``OPENAI_API_KEY``)."""
    return f"{provider.upper().replace('-', '_')}_API_KEY"


def mask(key: str) -> str:
    """``****`` and the last 4 characters of ``key`` (only ``****`` for short keys)."""
    return "****" + key[-4:] if len(key) >= 12 else "****"


def scrub(text: str, known: Iterable[str] = ()) -> str:
    """Replace ``known`` keys and anything shaped like a provider key with its mask."""
    for key in known:
        if key and len(key) >= 8:
            text = text.replace(key, mask(key))
    return _KEY_SHAPES.sub(lambda m: mask(m.group(0)), text)


_HEADER_SAFE = re.compile(r"[\x21-\x7e]+")
"""What a key may hold: visible ASCII. Anything else cannot go in an HTTP header, and the
HTTP library's own error (logged at DEBUG) would print the whole header value."""


def clean_key(key: str | None) -> str | None:
    """The key with surrounding whitespace removed (a key read from a file ends in a newline).

    Raises :class:`ConfigurationError`, showing only the masked suffix, when what is left
    holds a character that cannot be sent in an HTTP header (a space, a control character,
    non-ASCII text).
    """
    if key is None:
        return None
    key = key.strip()
    if key and not _HEADER_SAFE.fullmatch(key):
        raise ConfigurationError(
            f"the API key {mask(key)} holds a character that cannot be sent in an HTTP header",
            stage="api_key",
            hint="check the variable or secret for stray spaces, quotes or line breaks inside the key",
        )
    return key


class KeyCache:
    """Resolved keys per provider, reused for :data:`KEY_TTL_SECONDS`, in memory only."""

    def __init__(self, ttl: float = KEY_TTL_SECONDS) -> None:
        self.ttl = ttl
        self._keys: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def cached(self, provider: str) -> str | None:
        """The cached key if it is still fresh, else ``None``."""
        cached = self._keys.get(provider)
        if cached is not None and cached[1] > time.monotonic():
            return cached[0]
        return None

    def get(self, provider: str, resolve: Callable[[], str | None]) -> str:
        """The cached key, or a fresh one from ``resolve``; raises if none is found."""
        cached = self.cached(provider)
        if cached is not None:
            return cached
        key = clean_key(resolve())
        if not key:
            var = env_var_for(provider)
            raise ConfigurationError(
                f"no API key for provider {provider!r}: {var} is not set",
                stage="api_key",
                hint=f"set {var} in the environment or a .env file, or pass api_key=<callable>",
            )
        with self._lock:
            self._keys[provider] = (key, time.monotonic() + self.ttl)
        return key

    def invalidate(self, provider: str) -> None:
        """Forget the cached key so the next call resolves it again (after a 401)."""
        with self._lock:
            self._keys.pop(provider, None)


# --- key sources (issue 8) ------------------------------------------------------------

_SCHEME = re.compile(r"^[a-z][a-z0-9+.\-]*$")
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
PLACEHOLDERS = ("env", "provider")
"""The names a key source may use in braces: ``{env}`` (``GUARDFN_ENV``) and ``{provider}``."""


def key_source_var(provider: str) -> str:
    """The environment variable naming ``provider``'s key source (``GUARDFN_OPENAI_KEY_SOURCE``)."""
    return f"GUARDFN_{provider.upper().replace('-', '_')}_KEY_SOURCE"


@dataclass(frozen=True)
class KeySource:
    """Where a provider's key is kept: ``<scheme>:<ref>[#<field>]``, placeholders expanded.

    ``scheme`` picks the backend (``aws-secretsmanager`` is built in; plugins handle
    others such as ``vault`` or ``gcp-secretmanager``), ``ref`` names the secret there,
    ``field`` selects one field of a JSON secret, ``origin`` says where the source was
    configured (``key_source=`` or the environment variable). Holds no key.
    """

    scheme: str
    ref: str
    field: str | None
    origin: str

    def describe(self) -> str:
        """``scheme:ref#field`` as configured (expanded), safe to show: it names the secret only."""
        return f"{self.scheme}:{self.ref}" + (f"#{self.field}" if self.field else "")


def parse_key_source(text: str, *, provider: str, env: str | None, origin: str = "key_source") -> KeySource:
    """Parse ``<scheme>:<ref>[#<field>]``, expanding ``{env}`` and ``{provider}``.

    Raises :class:`ConfigurationError` for a malformed source, an unknown placeholder,
    or ``{env}`` without ``GUARDFN_ENV``.
    """
    scheme, sep, rest = text.strip().partition(":")
    scheme = scheme.strip().lower()
    if not sep or not _SCHEME.match(scheme) or not rest.strip():
        raise ConfigurationError(
            f"{origin} is not '<scheme>:<secret>[#field]'",
            stage="api_key",
            hint="e.g. aws-secretsmanager:{env}/openai/api-key or aws-secretsmanager:prod/llm#openai",
        )

    def expand(match: re.Match[str]) -> str:
        name = match.group(1).strip()
        if name == "provider":
            return provider
        if name == "env":
            if not env:
                raise ConfigurationError(
                    f"{origin} uses {{env}} but no environment is set",
                    stage="api_key",
                    hint="set GUARDFN_ENV (e.g. GUARDFN_ENV=prod) or pass env=",
                )
            return env
        raise ConfigurationError(
            f"{origin} uses an unknown placeholder {{{name}}}",
            stage="api_key",
            hint="only {env} and {provider} are expanded",
        )

    expanded = _PLACEHOLDER.sub(expand, rest.strip())
    ref, hash_, field = expanded.rpartition("#") if "#" in expanded else (expanded, "", "")
    if not ref.strip() or (hash_ and not field.strip()):
        raise ConfigurationError(f"{origin} names no secret", stage="api_key", hint="write <scheme>:<secret>[#field]")
    return KeySource(scheme, ref.strip(), field.strip() or None, origin)


def key_source_for(provider: str, settings: Settings) -> KeySource | None:
    """The key source configured for ``provider``, or ``None`` when keys come from elsewhere.

    In order: the ``key_source=`` option (decorator, ``guardfn.configure`` or
    ``GUARDFN_KEY_SOURCE``), then ``GUARDFN_<PROVIDER>_KEY_SOURCE`` from the environment,
    then from a ``.env`` file. ``{env}`` expands to ``settings.env`` (``GUARDFN_ENV``).
    """
    if settings.key_source:
        return parse_key_source(settings.key_source, provider=provider, env=settings.env, origin="key_source")
    from guardfn.stages.env_keys import dotenv_values

    var = key_source_var(provider)
    text = os.environ.get(var) or dotenv_values().get(var)
    if not text:
        return None
    return parse_key_source(text, provider=provider, env=settings.env, origin=var)
