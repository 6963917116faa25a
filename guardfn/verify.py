"""Prove the configured API keys work before traffic arrives: ``guardfn.verify_keys()``.

For each configuration (a guarded function, a :class:`~guardfn.settings.Settings`, or
the global defaults) the key is resolved afresh through the same
``guardfn_resolve_api_key`` sources a call uses (``api_key=``, AWS Secrets Manager and
other plugins, the environment, ``.env``), then the provider's cheapest endpoint, the
model list, is called through the real SDK, and the models the configuration needs are
looked for in it. Configurations that share a provider, endpoint and key are checked
with one request. Keys are only ever shown as a 4-character suffix (``****abcd``).

Call it at application start-up (it is synchronous; from async code use
``await asyncio.to_thread(guardfn.verify_keys, ...)``); ``guardfn keys check`` runs the
same check from a shell.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from guardfn.errors import ConfigurationError, GuardError, ProviderAuthenticationError, ProviderError
from guardfn.keys import env_var_for, key_source_for, mask
from guardfn.settings import Settings

STAGE = "keys"
LISTABLE = ("openai", "anthropic")
"""Providers whose model list the check knows how to read."""

_DATED = re.compile(r"-\d{8}$")


@dataclass
class KeyCheck:
    """The outcome for one provider, endpoint and key.

    ``key`` is the masked key (``****abcd``, empty when none was found), ``source`` the
    plugin that supplied it (``env_keys``, ``aws_secrets`` ...) and ``detail`` where it
    keeps it (an env var name or a secret id). ``models`` are the models the
    configurations need, ``missing`` those the provider did not list, ``listed`` how
    many models it listed (``None`` when not checked). ``error`` says what failed.
    """

    provider: str
    endpoint: str
    key: str = ""
    source: str | None = None
    detail: str | None = None
    models: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    listed: int | None = None
    error: GuardError | None = None

    @property
    def ok(self) -> bool:
        """True when the key was found, accepted and every needed model is listed."""
        return self.error is None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe summary (the key only as its masked suffix)."""
        return {
            "provider": self.provider,
            "endpoint": self.endpoint,
            "key": self.key,
            "source": self.source,
            "detail": self.detail,
            "models": list(self.models),
            "missing": list(self.missing),
            "listed": self.listed,
            "ok": self.ok,
            "error": self.error.to_dict() if self.error is not None else None,
        }


@dataclass
class KeyReport:
    """Every :class:`KeyCheck` of one :func:`verify_keys` run."""

    checks: list[KeyCheck] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every check passed."""
        return all(check.ok for check in self.checks)

    @property
    def errors(self) -> list[GuardError]:
        """The errors of the failed checks, in order."""
        return [check.error for check in self.checks if check.error is not None]

    def raise_for_errors(self) -> None:
        """Raise the first failed check's error (``ConfigurationError`` / ``ProviderError``)."""
        if self.errors:
            raise self.errors[0]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe summary of every check."""
        return {"ok": self.ok, "checks": [check.to_dict() for check in self.checks]}


@dataclass
class _Target:
    settings: Settings
    provider: str
    engine: Any


def verify_keys(
    functions_or_settings: Any = None, *, models: Iterable[str] = (), raise_errors: bool = True
) -> KeyReport:
    """Resolve each configured key, list the provider's models, check the needed ones are there.

    ``functions_or_settings``: guarded functions, :class:`Settings`, or a list of them;
    ``None`` checks the global defaults (``guardfn.configure`` and ``GUARDFN_*``).
    ``models`` adds models to check with the global defaults (the provider is chosen per
    model as for a call). Raises the first failure as :class:`guardfn.ConfigurationError`
    (no key, a secret that cannot be read, a model not listed) or
    :class:`guardfn.ProviderAuthenticationError` (the provider refused the key; other
    :class:`guardfn.ProviderError` when it could not be reached), unless ``raise_errors``
    is false; returns the :class:`KeyReport` either way.
    """
    from guardfn.stages.aws_secrets import sync_mode

    report = KeyReport()
    with sync_mode():
        targets = _targets(functions_or_settings, list(models))
        groups: dict[tuple[str, str, str], tuple[str, KeyCheck, Settings]] = {}
        for target in targets:
            check, key = _resolve(target)
            if key is None:
                report.checks.append(check)
                continue
            group = (target.provider, check.endpoint, hashlib.sha256(key.encode()).hexdigest())
            if group in groups:
                existing = groups[group][1]
                existing.models.extend(m for m in check.models if m not in existing.models)
                continue
            groups[group] = (key, check, target.settings)
            report.checks.append(check)
        for key, check, settings in groups.values():
            _check_models(check, key, settings)
    if raise_errors:
        report.raise_for_errors()
    return report


def _targets(given: Any, models: list[str]) -> list[_Target]:
    from guardfn.pipeline import Engine
    from guardfn.plugins import get_plugin_manager
    from guardfn.settings import build_settings, global_defaults

    pm = get_plugin_manager()
    items: list[Any]
    if given is None:
        items = [] if models else [build_settings(global_defaults(), {})]
    elif isinstance(given, (list, tuple, set, frozenset)):
        items = list(given)
    else:
        items = [given]
    items.extend(build_settings(global_defaults(), {"model": model}) for model in models)
    targets = []
    for item in items:
        guard = getattr(item, "guard", item)
        engine = getattr(guard, "engine", None)
        if engine is None:
            if not isinstance(item, Settings):
                raise TypeError(f"verify_keys takes guarded functions or Settings, not {type(item).__name__}")
            engine = Engine(item, pm)
        targets.append(_Target(engine.settings, engine.provider, engine))
    return targets


def endpoint_of(provider: str, settings: Settings) -> str:
    """The base URL a call to ``provider`` goes to (``base_url=``, ``<PROVIDER>_BASE_URL``, or the SDK's default)."""
    return settings.base_url or os.environ.get(f"{provider.upper().replace('-', '_')}_BASE_URL") or "default"


def _resolve(target: _Target) -> tuple[KeyCheck, str | None]:
    """The check for one configuration, with the key it resolved (``None`` and an error when none)."""
    settings, provider, engine = target.settings, target.provider, target.engine
    check = KeyCheck(provider=provider, endpoint=endpoint_of(provider, settings), models=[settings.model])
    kwargs = {"provider": provider, "settings": settings}
    try:
        source = key_source_for(provider, settings)
        key = None
        step = "guardfn_resolve_api_key"
        for impl, result in zip(engine.impls[step], engine.walk_sync(None, step, kwargs), strict=False):
            if result is not None:
                key, check.source = str(result), impl.plugin_name
                break
    except GuardError as exc:
        check.error = exc
        return check, None
    if check.source == "aws_secrets" and source is not None:
        check.detail = source.describe()
    elif check.source == "env_keys":
        var = env_var_for(provider)
        check.detail = var if os.environ.get(var) else f"{var} (.env)"
    elif check.source == "api_key":
        check.detail = "api_key="
    if not key:
        var = env_var_for(provider)
        check.error = ConfigurationError(
            f"no API key for provider {provider!r}: {var} is not set",
            stage=STAGE,
            hint=f"set {var} in the environment or a .env file, or GUARDFN_{provider.upper()}_KEY_SOURCE, "
            "or pass api_key=<callable>",
        )
        return check, None
    check.key = mask(key)
    return check, key


def _check_models(check: KeyCheck, key: str, settings: Settings) -> None:
    if check.provider not in LISTABLE:
        return  # a plugin's provider: the key was found, its model list is unknown here
    try:
        available = _list_models(check.provider, key, settings)
    except GuardError as exc:
        check.error = exc
        return
    check.listed = len(available)
    check.missing = [m for m in check.models if not model_listed(check.provider, m, available)]
    if check.missing:
        check.error = ConfigurationError(
            f"model(s) {', '.join(check.missing)} not available to the {check.provider} key {check.key} "
            f"at {check.endpoint} ({len(available)} models listed)",
            stage=STAGE,
            hint="check the model name, or give the key's project access to the model",
        )


def model_listed(provider: str, model: str, available: set[str]) -> bool:
    """Whether ``model`` is in the list; Anthropic aliases (``claude-sonnet-4-5``,
    ``...-latest``) match their dated ids (``claude-sonnet-4-5-20250929``)."""
    if model in available:
        return True
    if provider != "anthropic":
        return False
    base = model.removesuffix("-latest")
    return any(_DATED.sub("", listed) == base for listed in available)


def _list_models(provider: str, key: str, settings: Settings) -> set[str]:
    """The model ids the provider lists for ``key``, through the real SDK."""
    if provider == "openai":
        import openai

        client: Any = openai.OpenAI(
            api_key=key, base_url=settings.base_url, timeout=settings.timeout, max_retries=settings.retries
        )
        sdk: Any = openai
    else:
        import anthropic

        client = anthropic.Anthropic(
            api_key=key, base_url=settings.base_url, timeout=settings.timeout, max_retries=settings.retries
        )
        sdk = anthropic
    endpoint = endpoint_of(provider, settings)
    try:
        with client:
            return {model.id for model in client.models.list()}
    except sdk.APIStatusError as exc:
        status = exc.status_code
        from guardfn.providers.base import error_details

        detail = error_details(exc).describe([key])
        if status in (401, 403):
            raise ProviderAuthenticationError(
                f"{provider} refused the key {mask(key)} at {endpoint}: {detail}",
                stage=STAGE,
                status_code=status,
                hint="the key is wrong, revoked or lacks permission: rotate it in its source",
            ) from None
        raise ProviderError(f"{provider} model list failed at {endpoint}: {detail}", stage=STAGE, status_code=status) from None
    except sdk.APIError as exc:
        raise ProviderError(
            f"{provider} could not be reached at {endpoint}: {type(exc).__name__}",
            stage=STAGE,
            retryable=True,
            hint="check the network and base_url / the SDK's *_BASE_URL",
        ) from None


