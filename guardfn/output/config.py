"""The ``output_rules={...}`` option, validated.

Keys (all optional):

``prohibited``
    terms that must not appear (case-insensitive, whole words, look-alikes folded).
``allowed_domains``
    hosts links may point at (``"acme.com"``, ``"*.acme.com"`` for its subdomains); when
    given, any other host in a URL or bare domain is a violation (``[]`` allows none).
``max_chars``
    the longest answer accepted, in characters.
``html``
    ``"sanitize"`` (keep only ``html_tags``) or ``"escape"``.
``html_tags``
    the tags ``"sanitize"`` keeps (default p, ul, ol, li, strong, em, code, pre).
``html_attributes``
    attributes kept per tag, e.g. ``{"code": ["class"]}`` (default: none).
``redaction``
    what a redacted span becomes with ``on_violation="redact"`` (default ``"[redacted]"``).

An unknown key is refused: a misspelled rule that silently checks nothing is a hole.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from guardfn.errors import ConfigurationError
from guardfn.output.html import DEFAULT_TAGS
from guardfn.output.rules import DEFAULT_REDACTION

if TYPE_CHECKING:
    from guardfn.settings import Settings

__all__ = ["OutputRulesConfig", "config_of"]


class OutputRulesConfig(BaseModel):
    """The parsed ``output_rules`` option (see the module docstring)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    prohibited: tuple[str, ...] = ()
    allowed_domains: tuple[str, ...] | None = None
    max_chars: int | None = Field(None, gt=0)
    html: Literal["sanitize", "escape"] | None = None
    html_tags: tuple[str, ...] = tuple(sorted(DEFAULT_TAGS))
    html_attributes: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    redaction: str = DEFAULT_REDACTION

    @field_validator("html", mode="before")
    @classmethod
    def _off_is_none(cls, value: Any) -> Any:
        return None if value in (False, "off", "none") else value

    @property
    def has_rules(self) -> bool:
        """Whether any text rule is configured (HTML handling is not a rule)."""
        return bool(self.prohibited) or self.allowed_domains is not None or self.max_chars is not None


_cache: dict[int, tuple[Any, OutputRulesConfig]] = {}
_lock = threading.Lock()


def config_of(settings: Settings) -> OutputRulesConfig:
    """The parsed ``output_rules`` of ``settings`` (cached per settings object).

    Raises :class:`ConfigurationError` naming the bad key (never its value).
    """
    hit = _cache.get(id(settings))
    if hit is not None and hit[0] is settings:
        return hit[1]
    try:
        config = OutputRulesConfig.model_validate(settings.output_rules or {})
    except Exception as exc:
        errors = getattr(exc, "errors", None)
        parts = []
        if callable(errors):
            for err in errors(include_input=False, include_url=False):
                loc = ".".join(str(p) for p in err.get("loc", ())) or "output_rules"
                parts.append(f"{loc}: {err.get('msg', 'invalid')}")
        raise ConfigurationError(
            "invalid output_rules: " + ("; ".join(parts) or type(exc).__name__),
            stage="output_rules",
            hint="keys: prohibited, allowed_domains, max_chars, html, html_tags, html_attributes, redaction",
        ) from None
    with _lock:
        if len(_cache) > 256:
            _cache.clear()
        _cache[id(settings)] = (settings, config)
    return config
