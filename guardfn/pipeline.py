"""The pipeline: the fixed order of steps one guarded call goes through.

::

    screen_input -> transform_input -> [ resolve key -> reserve -> call_model
        -> check_output (a Reask loops back to reserve) -> settle ] -> transform_output
        -> record (always, exactly once)

An :class:`Engine` is built once per guarded function (and again when
``guardfn.configure`` or the registered plugins change); a :class:`~guardfn.call.Call`
is fresh per invocation. A plugin (a stage module, or any plugin object) may declare
``active(settings) -> bool``: when it answers ``False`` for a function's settings, the
engine leaves that plugin's implementations out of the function's steps (it is still
configured), so a control that is off costs nothing per call. The engine walks each hook's implementations itself, in hook
order, so sync and async calls behave the same, every stage's time is recorded on
``call.spans``, and an exception is attributed to the plugin that raised it.
"""

from __future__ import annotations

import inspect
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import pluggy

from guardfn.call import Call, Reask, Response, StageSpan, StreamResponse
from guardfn.errors import (
    ConfigurationError,
    GuardError,
    InputRejected,
    OutputRejected,
    PluginError,
    ProviderAuthenticationError,
    RateLimitExceeded,
)
from guardfn.keys import KeyCache
from guardfn.settings import Settings

log = logging.getLogger("guardfn")
_time_ns = time.time_ns
_new_span = tuple.__new__
"""Builds a :class:`StageSpan` without the Python-level ``NamedTuple.__new__`` frame."""

STEPS = (
    "guardfn_configure",
    "guardfn_select_provider",
    "guardfn_resolve_api_key",
    "guardfn_screen_input",
    "guardfn_transform_input",
    "guardfn_reserve",
    "guardfn_call_model",
    "guardfn_check_output",
    "guardfn_wrap_stream",
    "guardfn_transform_output",
    "guardfn_settle",
    "guardfn_record",
)
OBSERVERS = frozenset({"guardfn_settle", "guardfn_record"})
BLOCKING_ERRORS = (InputRejected, RateLimitExceeded, OutputRejected)

# A control that is switched on must have its stage registered and enabled: an option
# that silently does nothing is a hole. Each entry: stage name -> "is it switched on?".
REQUIRED_STAGES: dict[str, Callable[[Settings], bool]] = {
    "limits": lambda s: bool(s.limits),
    "pii": lambda s: s.pii != "off",
    "injection": lambda s: s.injection != "off",
    "secrets": lambda s: s.secrets != "off",
    "schema": lambda s: s.schema_ is not None,
    "output_rules": lambda s: s.canary or any(k in s.output_rules for k in ("prohibited", "allowed_domains", "max_chars")),
    "html": lambda s: bool(s.output_rules.get("html")),
}


def _idle_plugins(settings: Settings, pm: pluggy.PluginManager, disabled: frozenset[str]) -> frozenset[str]:
    """Plugins that declare, by an ``active(settings) -> bool`` attribute, that they have nothing
    to do for these settings: their hook implementations are left out of this engine's steps."""
    idle = set()
    for name, plugin in pm.list_name_plugin():
        active = getattr(plugin, "active", None)
        if name is not None and name not in disabled and callable(active) and not active(settings):
            idle.add(name)
    return frozenset(idle)


def outcome_of(error: BaseException | None) -> str:
    """``"ok"``, ``"blocked"`` (a control refused) or ``"failed"`` (anything else)."""
    if error is None:
        return "ok"
    return "blocked" if isinstance(error, BLOCKING_ERRORS) else "failed"


class Engine:
    """The settings and ordered hook implementations shared by every call of one function."""

    def __init__(self, settings: Settings, pm: pluggy.PluginManager) -> None:
        self.settings = settings
        disabled = frozenset(settings.disable)
        unknown = disabled - {name for name, _ in pm.list_name_plugin() if name is not None}
        if unknown:
            raise ConfigurationError(
                f"disable names unknown plugin(s): {', '.join(sorted(unknown))}",
                hint="`guardfn plugins` lists the registered names",
            )
        registered = {name for name, _ in pm.list_name_plugin()}
        for stage, switched_on in REQUIRED_STAGES.items():
            if switched_on(settings) and (stage in disabled or stage not in registered):
                raise ConfigurationError(
                    f"the {stage!r} control is configured but its stage is "
                    f"{'disabled' if stage in disabled else 'not registered'}",
                    hint=f"remove the {stage} options or enable the {stage!r} plugin",
                )
        self.impls: dict[str, list[pluggy.HookImpl]] = {}
        for step in STEPS:
            impls = [i for i in reversed(getattr(pm.hook, step).get_hookimpls()) if i.plugin_name not in disabled]
            for impl in impls:
                if impl.hookwrapper or impl.wrapper:
                    raise ConfigurationError(
                        f"plugin {impl.plugin_name!r} implements {step} as a wrapper; guardfn runs "
                        "hooks in order and does not support wrappers",
                        stage="plugins",
                    )
            self.impls[step] = impls
        self.keys = KeyCache()
        self.run_step_sync(None, "guardfn_configure", {"settings": settings})
        idle = _idle_plugins(settings, pm, disabled)  # asked once the options are validated
        for step in STEPS[1:]:  # an idle stage is still configured (above), then left out
            self.impls[step] = [i for i in self.impls[step] if i.plugin_name not in idle]
        provider = settings.provider or self.first_sync(
            None, "guardfn_select_provider", {"model": settings.model, "settings": settings}
        )
        if not provider:
            raise ConfigurationError(f"no provider serves model {settings.model!r}", hint="pass provider=")
        self.provider: str = provider

    # --- walking hooks ---------------------------------------------------------------

    def _invoke(self, call: Call | None, step: str, impl: pluggy.HookImpl, kwargs: dict[str, Any]) -> Any:
        """Run one implementation, timing it as a span on ``call`` (runs ~20 times a call)."""
        start = _time_ns()
        error: str | None = None
        try:
            return impl.function(*map(kwargs.__getitem__, impl.argnames))
        except (GuardError, Reask) as exc:
            error = type(exc).__name__
            raise
        except Exception as exc:
            error = type(exc).__name__
            return self._plugin_failed(step, impl, exc)
        finally:
            if call is not None:
                call.spans.append(_new_span(StageSpan, (step, impl.plugin_name, start, _time_ns(), error)))

    @staticmethod
    def _plugin_failed(step: str, impl: pluggy.HookImpl, exc: Exception) -> None:
        """An observer's crash is logged (type only); a fail-closed hook's refuses the call."""
        if step in OBSERVERS:
            log.warning("guardfn plugin %s failed in %s: %s", impl.plugin_name, step, type(exc).__name__)
            return
        raise PluginError(
            f"plugin {impl.plugin_name!r} raised {type(exc).__name__} in {step}", stage=impl.plugin_name
        ) from exc

    def walk_sync(self, call: Call | None, step: str, kwargs: dict[str, Any]) -> Iterator[Any]:
        """Run every implementation of ``step`` in order, yielding each result."""
        for impl in self.impls[step]:
            result = self._invoke(call, step, impl, kwargs)
            if result is not None and inspect.isawaitable(result):
                self._refuse_awaitable(impl, step, result)
            yield result

    def run_step_sync(self, call: Call | None, step: str, kwargs: dict[str, Any]) -> None:
        """Run every implementation of ``step`` in order, discarding results."""
        for impl in self.impls[step]:
            result = self._invoke(call, step, impl, kwargs)
            if result is not None and inspect.isawaitable(result):
                self._refuse_awaitable(impl, step, result)

    @staticmethod
    def _refuse_awaitable(impl: pluggy.HookImpl, step: str, result: Any) -> None:
        _close_awaitable(result)
        raise PluginError(
            f"plugin {impl.plugin_name!r} returned an awaitable from {step} in a sync call", stage=impl.plugin_name
        )

    def first_sync(self, call: Call | None, step: str, kwargs: dict[str, Any]) -> Any:
        """The first non-``None`` result of ``step`` (a decision hook)."""
        for impl in self.impls[step]:
            result = self._invoke(call, step, impl, kwargs)
            if result is not None:
                if inspect.isawaitable(result):
                    self._refuse_awaitable(impl, step, result)
                return result
        return None

    async def walk_async(self, call: Call, step: str, kwargs: dict[str, Any]) -> list[Any]:
        """Run every implementation of ``step`` in order, awaiting awaitable results."""
        results = []
        for impl in self.impls[step]:
            result = self._invoke(call, step, impl, kwargs)
            if result is not None and inspect.isawaitable(result):
                result = await self._await_result(call, step, impl, result)
            results.append(result)
        return results

    async def first_async(self, call: Call, step: str, kwargs: dict[str, Any]) -> Any:
        """The first non-``None`` (awaited) result of ``step``."""
        for impl in self.impls[step]:
            result = self._invoke(call, step, impl, kwargs)
            if result is not None and inspect.isawaitable(result):
                result = await self._await_result(call, step, impl, result)
            if result is not None:
                return result
        return None

    async def _invoke_async(self, call: Call, step: str, impl: pluggy.HookImpl, kwargs: dict[str, Any]) -> Any:
        result = self._invoke(call, step, impl, kwargs)
        if result is None or not inspect.isawaitable(result):
            return result
        return await self._await_result(call, step, impl, result)

    async def _await_result(self, call: Call, step: str, impl: pluggy.HookImpl, result: Awaitable[Any]) -> Any:
        """Await what an implementation returned, timed as a second span of that plugin."""
        start = _time_ns()
        error: str | None = None
        try:
            return await result
        except (GuardError, Reask) as exc:
            error = type(exc).__name__
            raise
        except Exception as exc:
            error = type(exc).__name__
            return self._plugin_failed(step, impl, exc)
        finally:
            call.spans.append(_new_span(StageSpan, (step, impl.plugin_name, start, _time_ns(), error)))

    # --- one call --------------------------------------------------------------------

    def _api_key(self, call: Call) -> str:
        def resolve() -> str | None:
            result = self.first_sync(
                call, "guardfn_resolve_api_key", {"provider": call.provider, "settings": self.settings}
            )
            return result if result is None else str(result)

        return self.keys.get(call.provider, resolve)

    async def _api_key_async(self, call: Call) -> str:
        cached = self.keys.cached(call.provider)
        if cached is not None:
            return cached
        kwargs = {"provider": call.provider, "settings": self.settings}
        result = await self.first_async(call, "guardfn_resolve_api_key", kwargs)
        return self.keys.get(call.provider, lambda: None if result is None else str(result))

    def run_sync(self, call: Call) -> Any:
        """Run the whole pipeline for a sync call; returns text, a parsed object or a stream."""
        try:
            for step in ("guardfn_screen_input", "guardfn_transform_input"):
                self.run_step_sync(call, step, {"call": call})
            while True:
                api_key = self._api_key(call)
                self.run_step_sync(call, "guardfn_reserve", {"call": call})
                response = self._call_model_sync(call, api_key)
                if isinstance(response, StreamResponse):
                    return self._stream_sync(call, response)
                try:
                    self.run_step_sync(call, "guardfn_check_output", {"call": call, "response": response})
                except Reask as reask:
                    self._settle_sync(call, response)
                    call.messages.extend(reask.messages)
                    call.reasks += 1
                    continue
                except BaseException:
                    self._settle_sync(call, response)
                    raise
                self._settle_sync(call, response)
                break
            self.run_step_sync(call, "guardfn_transform_output", {"call": call, "response": response})
        except BaseException as exc:
            self._record_sync(call, exc)
            raise
        self._record_sync(call, None)
        return response.parsed if response.parsed is not None else response.text

    def _call_model_sync(self, call: Call, api_key: str) -> Response | StreamResponse:
        call.attempts += 1
        try:
            try:
                response = self.first_sync(call, "guardfn_call_model", {"call": call, "api_key": api_key})
            except ProviderAuthenticationError:
                # The key may have been rotated: resolve it again once and retry with a new one.
                self.keys.invalidate(call.provider)
                fresh = self._api_key(call)
                if fresh == api_key:
                    raise
                call.retries += 1
                response = self.first_sync(call, "guardfn_call_model", {"call": call, "api_key": fresh})
        except BaseException:
            self._settle_sync(call, None)
            raise
        return self._accept_response(call, response)

    def _accept_response(self, call: Call, response: Any) -> Response | StreamResponse:
        if response is None:
            raise ConfigurationError(
                f"no plugin serves provider {call.provider!r}", stage="call_model", hint="install its plugin"
            )
        call.response = response
        if isinstance(response, Response):
            call.usage.add(response.usage)
        return response

    def _settle_sync(self, call: Call, response: Response | StreamResponse | None) -> None:
        self.run_step_sync(call, "guardfn_settle", {"call": call, "response": response})

    def _record_sync(self, call: Call, error: BaseException | None) -> None:
        call.error = error
        call.outcome = outcome_of(error)  # type: ignore[assignment]
        self.run_step_sync(call, "guardfn_record", {"call": call, "outcome": call.outcome})

    def _stream_sync(self, call: Call, stream: StreamResponse) -> Iterator[str]:
        chunks: Any = stream.chunks
        try:
            # Wrappers chain: each one wraps the iterator the previous one returned.
            for impl in self.impls["guardfn_wrap_stream"]:
                wrapped = self._invoke(call, "guardfn_wrap_stream", impl, {"call": call, "chunks": chunks})
                if wrapped is not None and inspect.isawaitable(wrapped):
                    self._refuse_awaitable(impl, "guardfn_wrap_stream", wrapped)
                if wrapped is not None:
                    chunks = wrapped
        except BaseException as exc:
            stream.close()
            self._settle_sync(call, stream)
            self._record_sync(call, exc)
            raise
        return self._drive_stream_sync(call, stream, chunks)

    def _drive_stream_sync(self, call: Call, stream: StreamResponse, chunks: Iterator[str]) -> Iterator[str]:
        error: BaseException | None = None
        try:
            yield from chunks
        except BaseException as exc:
            error = exc
            raise
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
            stream.close()
            call.usage.add(stream.usage)
            self._settle_sync(call, stream)
            self._record_sync(call, None if isinstance(error, GeneratorExit) else error)

    # --- async -------------------------------------------------------------------------

    async def run_async(self, call: Call) -> Any:
        """Run the whole pipeline for an async call, never blocking the event loop."""
        try:
            for step in ("guardfn_screen_input", "guardfn_transform_input"):
                await self.walk_async(call, step, {"call": call})
            while True:
                api_key = await self._api_key_async(call)
                await self.walk_async(call, "guardfn_reserve", {"call": call})
                response = await self._call_model_async(call, api_key)
                if isinstance(response, StreamResponse):
                    return await self._stream_async(call, response)
                try:
                    await self.walk_async(call, "guardfn_check_output", {"call": call, "response": response})
                except Reask as reask:
                    await self.walk_async(call, "guardfn_settle", {"call": call, "response": response})
                    call.messages.extend(reask.messages)
                    call.reasks += 1
                    continue
                except BaseException:
                    await self.walk_async(call, "guardfn_settle", {"call": call, "response": response})
                    raise
                await self.walk_async(call, "guardfn_settle", {"call": call, "response": response})
                break
            await self.walk_async(call, "guardfn_transform_output", {"call": call, "response": response})
        except BaseException as exc:
            await self._record_async(call, exc)
            raise
        await self._record_async(call, None)
        return response.parsed if response.parsed is not None else response.text

    async def _call_model_async(self, call: Call, api_key: str) -> Response | StreamResponse:
        call.attempts += 1
        try:
            try:
                response = await self.first_async(call, "guardfn_call_model", {"call": call, "api_key": api_key})
            except ProviderAuthenticationError:
                self.keys.invalidate(call.provider)
                fresh = await self._api_key_async(call)
                if fresh == api_key:
                    raise
                call.retries += 1
                response = await self.first_async(call, "guardfn_call_model", {"call": call, "api_key": fresh})
        except BaseException:
            await self.walk_async(call, "guardfn_settle", {"call": call, "response": None})
            raise
        return self._accept_response(call, response)

    async def _record_async(self, call: Call, error: BaseException | None) -> None:
        call.error = error
        call.outcome = outcome_of(error)  # type: ignore[assignment]
        await self.walk_async(call, "guardfn_record", {"call": call, "outcome": call.outcome})

    async def _stream_async(self, call: Call, stream: StreamResponse) -> AsyncIterator[str]:
        chunks: Any = stream.chunks
        try:
            for impl in self.impls["guardfn_wrap_stream"]:
                wrapped = await self._invoke_async(call, "guardfn_wrap_stream", impl, {"call": call, "chunks": chunks})
                if wrapped is not None:
                    chunks = wrapped
        except BaseException as exc:
            await _maybe_await(stream.close())
            await self.walk_async(call, "guardfn_settle", {"call": call, "response": stream})
            await self._record_async(call, exc)
            raise
        return self._drive_stream_async(call, stream, chunks)

    async def _drive_stream_async(
        self, call: Call, stream: StreamResponse, chunks: AsyncIterator[str]
    ) -> AsyncIterator[str]:
        error: BaseException | None = None
        try:
            async for chunk in chunks:
                yield chunk
        except BaseException as exc:
            error = exc
            raise
        finally:
            aclose = getattr(chunks, "aclose", None)
            if aclose is not None:
                await aclose()
            await _maybe_await(stream.close())
            call.usage.add(stream.usage)
            await self.walk_async(call, "guardfn_settle", {"call": call, "response": stream})
            await self._record_async(call, None if isinstance(error, GeneratorExit) else error)


async def _maybe_await(value: Any) -> Any:
    if inspect.isawaitable(value):
        return await value
    return value


def _close_awaitable(value: Awaitable[Any]) -> None:
    close: Callable[[], None] | None = getattr(value, "close", None)
    if close is not None:
        close()
