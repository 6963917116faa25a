"""API keys: a short-lived in-memory cache, masking, and scrubbing keys out of text.

A key is never written to disk, never logged, and never shown beyond a 4-character
suffix (``****abcd``).
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterable

from guardfn.errors import ConfigurationError

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
        key = resolve()
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
