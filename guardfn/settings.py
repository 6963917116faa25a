"""Settings: one validated object per guarded function.

Layers, lowest first: built-in defaults, the nearest ``[tool.guardfn]`` table (``pyproject.toml``
or ``guardfn.toml``, :mod:`guardfn.config_file`; a function's own section over its top level),
``GUARDFN_*`` environment variables (and the same names in a ``.env`` file, which never
override the real environment), global defaults from :func:`guardfn.configure`, then the
decorator's keyword arguments.
Every field below is also a decorator keyword and, for simple types, an environment
variable (``GUARDFN_MAX_TOKENS=512``; lists and dicts as JSON).
"""

from __future__ import annotations

import threading
import warnings
import weakref
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any, Generic, Literal, TypeVar

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from guardfn.errors import ConfigurationError, GuardError, HardcodedKeyWarning

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
        allow_inf_nan=False,  # a NaN bound compares false with everything: it would switch a control off
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
    api: Literal["chat", "responses"] = "chat"
    """OpenAI only: Chat Completions (default) or the Responses API."""
    params: dict[str, Any] = Field(default_factory=dict)
    """Provider parameters passed through as given (``temperature``, ``top_p``, ``stop``, ``seed``,
    ``reasoning_effort``, ``tool_choice``, ``metadata``, ``service_tier``, ``extra_body`` ...);
    the keys guardfn owns (:data:`OWNED_PARAMS`) are refused."""
    allow_images: bool = True
    """``False`` refuses prompts with image parts."""

    # --- tools (issue 15) -----------------------------------------------------------------
    tools: tuple[Any, ...] = Field(default=(), exclude=True)
    """Functions and pydantic models the model may call (:mod:`guardfn.tools`)."""
    run_tools: bool = True
    """``True``: guardfn runs the function tools and loops until the model answers; ``False``:
    the call returns a :class:`guardfn.Reply` with the validated tool calls."""
    max_tool_rounds: int = Field(8, ge=1, le=100)
    tool_retries: int = Field(1, ge=0, le=10)
    """Re-asks (carrying the validation error) when a tool call's arguments do not validate."""
    on_tool_error: Literal["note", "raise"] = "note"
    """A tool that raises: the model gets a note naming the exception type, or the call raises it."""
    tool_output_injection: Literal["quarantine", "block", "flag", "off"] = "quarantine"
    """What an injection found in a tool result does: replace it by a notice, refuse, record, nothing."""

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
    injection_judge: str | None = None
    """A model (any provider serves) asked about texts whose injection score falls in
    ``injection_judge_band``, and about ``output_policy`` (opt-in; :mod:`guardfn.judge`)."""
    injection_judge_band: tuple[float, float] = (0.35, 0.8)
    """The grey zone of the injection score where the judge decides (below: pass; above: refuse)."""
    output_policy: str | list[str] | None = None
    """Policies in words the answer must keep (``"Never give medical dosages."``), judged by
    ``injection_judge`` (or the function's own model)."""

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
    metrics: Literal["off", "datadog", "prometheus"] = "off"
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

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Keywords, then the environment and ``.env``, then the config file (lowest)."""
        return init_settings, env_settings, dotenv_settings, file_secret_settings, ConfigFileSource(settings_cls)

    @field_validator("api_key", mode="before")
    @classmethod
    def _wrap_key(cls, value: Any) -> Any:
        return secret_key(value)

    @field_validator("tools", mode="before")
    @classmethod
    def _build_tools(cls, value: Any) -> Any:
        from guardfn.tools import build_tools

        if value is None:
            return ()
        if not isinstance(value, (list, tuple)):
            raise ValueError("tools must be a list of functions and pydantic models")
        return build_tools(value)

    @field_validator("injection_judge_band")
    @classmethod
    def _check_band(cls, value: tuple[float, float]) -> tuple[float, float]:
        low, high = value
        if not 0.0 <= low < high <= 1.0:
            raise ValueError("injection_judge_band must be (low, high) with 0 <= low < high <= 1")
        return value

    @field_validator("params")
    @classmethod
    def _check_params(cls, value: dict[str, Any]) -> dict[str, Any]:
        owned = sorted(OWNED_PARAMS & value.keys())
        if owned:
            raise ConfigurationError(
                f"params may not set {', '.join(owned)}: guardfn owns them",
                hint="use the options model=, max_tokens=, stream=, tools=, schema=, system= instead",
            )
        return value

    @field_validator("limits")
    @classmethod
    def _check_limits(cls, value: dict[str, Any]) -> dict[str, Any]:
        from guardfn.limits import parse_limits

        parse_limits(value)  # raises ConfigurationError naming the bad limit
        return value

    @field_validator("store")
    @classmethod
    def _check_store(cls, value: str | None) -> str | None:
        from guardfn.store import check_url

        check_url(value)  # scheme, host, port, db, and the redis extra
        return value

    @field_validator("pricing")
    @classmethod
    def _check_pricing(cls, value: dict[str, tuple[float, float]]) -> dict[str, tuple[float, float]]:
        for model, prices in value.items():
            if any(price < 0 for price in prices):
                raise ValueError(f"the price of {model!r} must not be negative")
        return value

    @model_validator(mode="after")
    def _check_max_tokens(self) -> Settings:
        if self.max_tokens > self.max_tokens_limit:
            raise ValueError(
                f"max_tokens={self.max_tokens} is above the ceiling max_tokens_limit="
                f"{self.max_tokens_limit}; lower it or raise max_tokens_limit deliberately"
            )
        if self.temperature is not None and "temperature" in self.params:
            raise ValueError("temperature is given twice: as an option and in params")
        text = self.params.get("text")
        if self.schema_ is not None and ("response_format" in self.params or (isinstance(text, dict) and "format" in text)):
            raise ValueError("schema= sets the answer's format: drop response_format / text.format from params")
        return self


OWNED_PARAMS = frozenset(
    {
        "model", "messages", "input", "instructions", "system", "max_tokens", "max_completion_tokens",
        "max_output_tokens", "stream", "stream_options", "tools", "functions",
    }
)
"""Request fields guardfn sets itself; ``params=`` may not set them (each has its own option)."""

_function: ContextVar[str | None] = ContextVar("guardfn_settings_function", default=None)
"""The qualified name of the function whose settings are being built (for its file section)."""


class ConfigFileSource(PydanticBaseSettingsSource):
    """The options of the nearest config file, for the function being built (see :mod:`guardfn.config_file`)."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        """Unused: the whole table is returned by ``__call__``."""
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        from guardfn import config_file

        found = config_file.load()
        values = found.values_for(_function.get())
        unknown = sorted(set(values) - _option_names())
        if unknown:
            raise ConfigurationError(
                f"{found.path}: unknown option(s) {', '.join(unknown)}", hint="see the settings table in README.md"
            )
        return dict(values)


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
    if "api_key" in options:
        warn_if_literal_key(options, stacklevel=3)
        options["api_key"] = secret_key(options["api_key"])
    candidate.update(options)
    if candidate:
        build_settings(candidate, {})  # validate before committing (a reset to nothing has nothing to check)
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


def build_settings(global_options: dict[str, Any], local_options: dict[str, Any], function: str | None = None) -> Settings:
    """Merge the layers and validate, raising :class:`ConfigurationError` on bad options.

    ``function`` is the qualified name whose own section of the config file applies.
    """
    merged = {**global_options, **local_options}
    unknown = sorted(set(merged) - _option_names())
    if unknown:
        raise ConfigurationError(f"unknown option(s): {', '.join(unknown)}", hint="see the settings table in README.md")
    token = _function.set(function)
    try:
        return Settings(**merged)
    except GuardError:
        raise  # a validator's own ConfigurationError, which names the option
    except Exception as exc:  # pydantic.ValidationError, without echoing input values
        raise ConfigurationError(_describe_validation_error(exc)) from None
    finally:
        _function.reset(token)


class ApiKey(SecretStr):
    """A literal ``api_key=`` string: masked in every ``repr``, and never pickled.

    Pickling settings (multiprocessing, caches) would write the key out; an unpickled
    copy holds a :class:`WithheldKey` instead, which refuses to be used.
    """

    def __reduce__(self) -> tuple[Any, ...]:
        return (WithheldKey, ())


class WithheldKey(SecretStr):
    """What an unpickled ``api_key`` becomes: using it raises :class:`ConfigurationError`."""

    def __init__(self) -> None:
        super().__init__("")

    def get_secret_value(self) -> str:
        """Refuses: the key was not carried through pickling."""
        raise ConfigurationError(
            "api_key was given as a string and is never pickled",
            stage="api_key",
            hint="pass api_key=<callable> or set the provider's *_API_KEY variable in the receiving process",
        )


def secret_key(value: Any) -> Any:
    """``api_key`` as kept from the moment it is received: a string becomes an :class:`ApiKey`."""
    if isinstance(value, SecretStr) and not isinstance(value, ApiKey):
        return value if isinstance(value, WithheldKey) else ApiKey(value.get_secret_value())
    if isinstance(value, str):
        return ApiKey(value)
    return value


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


def display(name: str, value: Any) -> Any:
    """A setting's value as it may be shown: keys masked, store passwords removed, tools and
    schemas by name, callables as ``(callable)``; JSON-ready."""
    if name == "api_key":
        if value is None:
            return None
        if isinstance(value, SecretStr):
            from guardfn.keys import mask

            return mask(value.get_secret_value()) if not isinstance(value, WithheldKey) else "(withheld)"
        return "(callable)"
    if name == "store" and isinstance(value, str):
        from guardfn.store import redacted_url

        return redacted_url(value)
    if name == "tools":
        return [tool.name for tool in value]
    if name == "schema":
        return None if value is None else getattr(value, "__name__", repr(value))
    if callable(value):
        return "(callable)"
    if isinstance(value, tuple):
        return list(value)
    return value


def explain(local_options: dict[str, Any], function: str | None = None) -> list[tuple[str, Any, str]]:
    """``(option, value as shown, where it came from)`` for every option of the settings that
    ``local_options`` (a decorator's keywords) and ``function`` (its qualified name) get."""
    import os

    from guardfn import config_file
    from guardfn.stages.env_keys import dotenv_values

    global_options = global_defaults()
    settings = build_settings(global_options, local_options, function)
    found = config_file.load()
    in_file = found.options
    in_section = found.functions.get(function or "", {})
    dotenv = {k.upper(): v for k, v in dotenv_values().items()}
    environment = {k.upper() for k in os.environ}
    rows = []
    for field_name, info in Settings.model_fields.items():
        name = info.alias or field_name
        var = f"GUARDFN_{name.upper()}"
        if name in local_options:
            origin = "decorator"
        elif name in global_options:
            origin = "guardfn.configure()"
        elif var in environment:
            origin = f"environment {var}"
        elif var in dotenv:
            origin = f".env {var}"
        elif name in in_section:
            origin = f'{found.path} [functions."{function}"]'
        elif name in in_file:
            origin = f"{found.path}"
        else:
            origin = "default"
        rows.append((name, display(name, getattr(settings, field_name)), origin))
    return rows


T = TypeVar("T")


class PerSettings(Generic[T]):
    """A value derived from a settings object, built once per live settings object.

    Settings are frozen, so what is derived from them (parsed limits, resolved prices, a
    judge's engine) can be kept for as long as the object lives. The cache holds a weak
    reference: a new settings object that reuses a freed one's ``id`` never inherits it.
    """

    def __init__(self, build: Callable[[Settings], T]) -> None:
        self._build = build
        self._values: dict[int, tuple[weakref.ref[Settings], T]] = {}
        self._lock = threading.Lock()

    def get(self, settings: Settings) -> T:
        """The value for ``settings`` (built on first use)."""
        key = id(settings)
        hit = self._values.get(key)
        if hit is not None and hit[0]() is settings:
            return hit[1]
        value = self._build(settings)

        def forget(ref: weakref.ref[Settings]) -> None:
            with self._lock:
                if self._values.get(key, (None,))[0] is ref:
                    del self._values[key]

        with self._lock:
            self._values[key] = (weakref.ref(settings, forget), value)
        return value
