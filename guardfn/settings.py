"""Settings: one validated object per guarded function.

Layers, lowest first: built-in defaults, ``GUARDFN_*`` environment variables (and the
same names in a ``.env`` file, which never override the real environment), global
defaults from :func:`guardfn.configure`, then the decorator's keyword arguments.
Every field below is also a decorator keyword and, for simple types, an environment
variable (``GUARDFN_MAX_TOKENS=512``; lists and dicts as JSON).
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from guardfn.errors import ConfigurationError, HardcodedKeyWarning

DEFAULT_MAX_TOKENS = 1024
"""``max_tokens`` sent when the decorator gives none: every request is bounded."""

DEFAULT_MAX_TOKENS_LIMIT = 16_384
"""The ceiling a decorator's ``max_tokens`` is refused against (``max_tokens_limit``)."""

RiskLevel = Literal["low", "medium", "high"]


class Settings(BaseSettings):
    """The effective configuration of one guarded function (see the module docstring)."""

    model_config = SettingsConfigDict(
        env_prefix="GUARDFN_",
        env_file=".env",
        extra="ignore",  # unknown keyword options are refused by build_settings
        arbitrary_types_allowed=True,
        validate_default=True,
        frozen=True,
    )

    # --- the call (issue: the guarded call) ------------------------------------------
    model: str = "gpt-4o-mini"
    provider: str | None = None
    max_tokens: int = Field(DEFAULT_MAX_TOKENS, gt=0)
    max_tokens_limit: int = Field(DEFAULT_MAX_TOKENS_LIMIT, gt=0)
    system: str | None = None
    temperature: float | None = Field(None, ge=0.0, le=2.0)
    base_url: str | None = None
    api_key: SecretStr | Callable[[], str] | None = Field(None, repr=False, exclude=True)
    timeout: float = Field(60.0, gt=0)
    retries: int = Field(2, ge=0, le=10)
    retry_backoff: float = Field(0.5, ge=0)
    retry_max_delay: float = Field(30.0, ge=0)
    user: str | None = None
    disable: list[str] = Field(default_factory=list)
    stream: bool = False

    # --- API keys (issue 8) -------------------------------------------------------------
    key_source: str | None = None
    """Where the key comes from, e.g. ``"aws-secretsmanager:{env}/billing/openai#api_key"``
    (``{env}``, ``{provider}`` expand); default ``GUARDFN_<PROVIDER>_KEY_SOURCE``, then env/.env."""
    env: str | None = None
    """The deployment environment (``GUARDFN_ENV=prod``), the ``{env}`` of a key source."""

    # --- rate limits and budgets ------------------------------------------------------
    limits: dict[str, Any] = Field(default_factory=dict)
    limit_scope: Literal["user", "user+function"] = "user"
    store: str | None = None
    on_store_error: Literal["deny", "allow"] = "deny"
    alert_usd: float = Field(0.50, ge=0)
    pricing: dict[str, tuple[float, float]] = Field(default_factory=dict)

    # --- input screening ----------------------------------------------------------------
    max_input_chars: int = Field(20_000, gt=0)
    max_context_chars: int = Field(100_000, gt=0)
    max_input_tokens: int | None = Field(None, gt=0)
    injection: Literal["block", "flag", "off"] = "block"
    injection_block_at: RiskLevel = "medium"
    injection_model: bool = True
    """Fuse the learned screen (the model shipped in the wheel) with the rules; ``False``: rules only."""
    injection_untrusted_block_at: RiskLevel = "medium"
    """The level at which untrusted content (documents, tool results) is refused, screened
    with the ``untrusted`` profile (its own calibrated thresholds)."""
    secrets: Literal["redact", "block", "off"] = "redact"

    # --- PII ------------------------------------------------------------------------------
    pii: Literal["off", "redact", "mask", "pseudonymize", "block"] = "off"
    pii_entities: list[str] | None = None
    pii_allow: list[str] = Field(default_factory=list)
    pii_allow_patterns: list[str] = Field(default_factory=list)
    pii_threshold: float = Field(0.7, ge=0.0, le=1.0)

    # --- output validation ----------------------------------------------------------------
    schema_: Any = Field(None, alias="schema", exclude=True)
    schema_retries: int = Field(2, ge=0, le=10)
    native_structured_output: bool = True
    output_rules: dict[str, Any] = Field(default_factory=dict)
    on_violation: Literal["raise", "redact", "flag"] = "raise"
    canary: bool = False

    # --- observability --------------------------------------------------------------------
    metrics: Literal["off", "datadog"] = "off"
    metrics_user_tag: bool = False
    audit: bool = True
    audit_file: str | None = None
    content_log: str | None = None
    content_log_retention_days: int = Field(30, gt=0)
    audit_user_id: Literal["hash", "raw", "omit"] = "hash"
    """How audit records carry the user id: a keyed hash (default; ``GUARDFN_USER_HASH_KEY``), raw, or not at all."""
    injection_burst: int = Field(10, ge=0)
    """Alert when this many injection blocks happen within ``injection_burst_window`` seconds (0: off)."""
    injection_burst_window: float = Field(60.0, gt=0)
    budget_alert_ratio: float = Field(0.8, gt=0, le=1)
    """Alert when a user's token or USD budget usage crosses this fraction of the budget."""

    # --- third-party plugins (issue 9) ------------------------------------------------------
    plugin_options: dict[str, dict[str, Any]] = Field(default_factory=dict)
    """Options for entry-point plugins, keyed by plugin name: ``{"max_lines": {"limit": 50}}``."""

    @field_validator("api_key", mode="before")
    @classmethod
    def _wrap_key(cls, value: Any) -> Any:
        if isinstance(value, str):
            return SecretStr(value)
        return value

    @model_validator(mode="after")
    def _check_max_tokens(self) -> Settings:
        if self.max_tokens > self.max_tokens_limit:
            raise ValueError(
                f"max_tokens={self.max_tokens} is above the ceiling max_tokens_limit="
                f"{self.max_tokens_limit}; lower it or raise max_tokens_limit deliberately"
            )
        return self


_global_lock = threading.Lock()
_global_defaults: dict[str, Any] = {}
_generation = 0


def configure(**options: Any) -> None:
    """Set global defaults for every guarded function (overridden per decorator).

    Takes the same keywords as :func:`guardfn.guarded_llm`. Calling it again merges;
    ``guardfn.configure(reset=True)`` clears everything set before. Functions decorated
    earlier pick the new defaults up on their next call.
    """
    global _generation
    reset = options.pop("reset", False)
    candidate = {} if reset else dict(_global_defaults)
    candidate.update(options)
    build_settings(candidate, {})  # validate before committing
    with _global_lock:
        _global_defaults.clear()
        _global_defaults.update(candidate)
        _generation += 1


def generation() -> int:
    """A counter that changes whenever :func:`configure` changes the global defaults."""
    return _generation


def global_defaults() -> dict[str, Any]:
    """A copy of the options given to :func:`configure`."""
    return dict(_global_defaults)


def build_settings(global_options: dict[str, Any], local_options: dict[str, Any]) -> Settings:
    """Merge the layers and validate, raising :class:`ConfigurationError` on bad options."""
    merged = {**global_options, **local_options}
    unknown = sorted(set(merged) - _option_names())
    if unknown:
        raise ConfigurationError(f"unknown option(s): {', '.join(unknown)}", hint="see the settings table in README.md")
    try:
        return Settings(**merged)
    except Exception as exc:  # pydantic.ValidationError, without echoing input values
        raise ConfigurationError(_describe_validation_error(exc)) from None


def warn_if_literal_key(options: dict[str, Any], stacklevel: int = 3) -> None:
    """Warn with :class:`HardcodedKeyWarning` when ``api_key`` is a literal string."""
    if isinstance(options.get("api_key"), str):
        warnings.warn(
            "api_key was given as a literal string: keep keys out of code; pass a callable "
            "or set the provider's *_API_KEY environment variable",
            HardcodedKeyWarning,
            stacklevel=stacklevel,
        )


def _option_names() -> set[str]:
    names = set()
    for name, field in Settings.model_fields.items():
        names.add(field.alias or name)
    return names


def _describe_validation_error(exc: Exception) -> str:
    errors = getattr(exc, "errors", None)
    if not callable(errors):
        return "invalid settings"
    parts = []
    for err in errors(include_input=False, include_url=False):
        loc = ".".join(str(p) for p in err.get("loc", ())) or "settings"
        parts.append(f"{loc}: {err.get('msg', 'invalid')}")
    return "invalid settings: " + "; ".join(parts)
