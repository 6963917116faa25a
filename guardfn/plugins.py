"""The plugin manager: built-in stages, entry-point plugins and explicitly registered ones.

Order of registration: built-ins first (``trylast`` defaults, see
:data:`guardfn.stages.BUILTIN_STAGES`), then plugins from the entry-point group
``guardfn``, then those passed to :func:`register`. A plugin registered under a
built-in's name replaces it. ``GUARDFN_PLUGINS`` (comma-separated entry-point names)
limits which entry-point plugins load; ``GUARDFN_DISABLE_PLUGINS`` disables any plugin
by name. Plugins see unredacted prompts, so what loaded is logged once.
"""

from __future__ import annotations

import dataclasses
import importlib
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from typing import Any, Generic, TypeVar

import pluggy

from guardfn import hookspecs
from guardfn.errors import ConfigurationError
from guardfn.stages import BUILTIN_STAGES

ENTRY_POINT_GROUP = "guardfn"
T = TypeVar("T")
log = logging.getLogger("guardfn.plugins")


@dataclass(frozen=True)
class PluginInfo:
    """What ``guardfn plugins`` shows about one registered plugin."""

    name: str
    hooks: tuple[str, ...]
    source: str  # "builtin" | "entrypoint" | "explicit"
    distribution: str | None = None
    version: str | None = None
    disabled: bool = False
    """Installed but switched off everywhere by ``GUARDFN_DISABLE_PLUGINS`` (not registered)."""


_lock = threading.RLock()
_pm: pluggy.PluginManager | None = None
_sources: dict[str, PluginInfo] = {}
_generation = 0


def _split_env(name: str) -> list[str] | None:
    value = os.environ.get(name)
    if value is None:
        return None
    return [part.strip() for part in value.split(",") if part.strip()]


def get_plugin_manager() -> pluggy.PluginManager:
    """The process-wide plugin manager, built on first use."""
    global _pm
    if _pm is None:
        with _lock:
            if _pm is None:
                _pm = _build()
    return _pm


def _build() -> pluggy.PluginManager:
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    _sources.clear()
    # pluggy calls later registrations first: register built-ins in reverse so that the
    # order of BUILTIN_STAGES is the execution order within a step.
    for name, module_name in reversed(BUILTIN_STAGES):
        module = importlib.import_module(module_name)
        pm.register(module, name=name)
        _sources[name] = PluginInfo(name, _hook_names(pm, module), "builtin")
    _load_entry_points(pm)
    for name in _split_env("GUARDFN_DISABLE_PLUGINS") or []:
        info = _sources.get(name)
        _unregister(pm, name)
        if info is not None:
            _sources[name] = dataclasses.replace(info, disabled=True)
    pm.check_pending()
    _log_loaded(pm)
    return pm


def _load_entry_points(pm: pluggy.PluginManager) -> None:
    wanted = _split_env("GUARDFN_PLUGINS")
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        if wanted is not None and ep.name not in wanted:
            continue
        try:
            plugin = ep.load()
        except Exception as exc:
            raise ConfigurationError(
                f"plugin {ep.name!r} from entry point {ep.value!r} failed to load: {type(exc).__name__}",
                stage="plugins",
                hint="uninstall it or exclude it with GUARDFN_PLUGINS / GUARDFN_DISABLE_PLUGINS",
            ) from exc
        _unregister(pm, ep.name)
        pm.register(plugin, name=ep.name)
        dist = getattr(ep, "dist", None)
        _sources[ep.name] = PluginInfo(
            ep.name,
            _hook_names(pm, plugin),
            "entrypoint",
            distribution=getattr(dist, "name", None),
            version=getattr(dist, "version", None),
        )


def _unregister(pm: pluggy.PluginManager, name: str) -> None:
    plugin = pm.get_plugin(name)
    if plugin is not None:
        pm.unregister(plugin, name=name)
    _sources.pop(name, None)


def _hook_names(pm: pluggy.PluginManager, plugin: Any) -> tuple[str, ...]:
    callers = pm.get_hookcallers(plugin) or []
    return tuple(sorted(caller.name for caller in callers))


def _log_loaded(pm: pluggy.PluginManager) -> None:
    active = [info for info in _sources.values() if not info.disabled]
    external = [info.name for info in active if info.source != "builtin"]
    disabled = [info.name for info in _sources.values() if info.disabled]
    log.info(
        "guardfn plugins loaded: %d built-in, external: %s; disabled: %s",
        sum(1 for info in active if info.source == "builtin"),
        ", ".join(sorted(external)) or "none",
        ", ".join(sorted(disabled)) or "none",
    )


def register(plugin: Any, name: str | None = None) -> str:
    """Register a plugin object (module or instance) for every guarded function.

    A plugin registered under a built-in's name (``"pii"``, ``"openai"`` ...) replaces
    it. Returns the name it was registered under.
    """
    global _generation
    pm = get_plugin_manager()
    with _lock:
        plugin_name = name or pm.get_canonical_name(plugin)
        _unregister(pm, plugin_name)
        pm.register(plugin, name=plugin_name)
        try:
            pm.check_pending()
        except pluggy.PluginValidationError:
            pm.unregister(plugin, name=plugin_name)
            raise
        _sources[plugin_name] = PluginInfo(plugin_name, _hook_names(pm, plugin), "explicit")
        _generation += 1
        log.info("guardfn plugin registered: %s", plugin_name)
    return plugin_name


def unregister(name: str) -> None:
    """Remove the plugin registered under ``name`` (built-in or not)."""
    global _generation
    pm = get_plugin_manager()
    with _lock:
        _unregister(pm, name)
        _generation += 1


def reset() -> None:
    """Forget every registration and rebuild from built-ins and entry points (for tests)."""
    global _pm, _generation
    with _lock:
        _pm = None
        _generation += 1


def generation() -> int:
    """A counter that changes whenever the set of registered plugins changes."""
    return _generation


def plugin_infos() -> list[PluginInfo]:
    """Every registered plugin, built-ins first, in registration order, and those disabled
    by ``GUARDFN_DISABLE_PLUGINS`` (``disabled=True``)."""
    get_plugin_manager()
    return list(_sources.values())


class PerGeneration(Generic[T]):
    """A value built from plugin contributions, rebuilt whenever the registered plugins change."""

    def __init__(self, build: Callable[[], T]) -> None:
        self._build = build
        self._cached: tuple[int, T] | None = None
        self._lock = threading.Lock()

    def get(self) -> T:
        """The value for the current plugins (built on first use and after a change)."""
        generation = _generation
        cached = self._cached
        if cached is not None and cached[0] == generation:
            return cached[1]
        with self._lock:
            built = self._build()
            self._cached = (generation, built)
        return built


def hook_caller(pm: pluggy.PluginManager, hook_name: str, disabled: frozenset[str]) -> Any:
    """The caller of ``hook_name`` without the plugins named in ``disabled``."""
    if not disabled:
        return getattr(pm.hook, hook_name)
    remove = [p for p in (pm.get_plugin(n) for n in disabled) if p is not None]
    return pm.subset_hook_caller(hook_name, remove_plugins=remove)
