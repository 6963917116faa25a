"""The pipeline: the fixed order of steps one guarded call goes through.

::

    screen_input -> transform_input -> [ resolve key -> reserve -> call_model
        -> check_output (a Reask loops back to reserve) -> check_tool_call (each)
        -> settle ] -> run the tools -> screen_input, transform_input (the tool results)
        -> back to [ ... ] until the model answers -> transform_output
        -> record (always, exactly once)

The order is written once, in :meth:`Engine._flow`, a generator that yields *effects*
(run the implementations of a step, resolve the key, read the next chunk of a stream, run
the tools, hand a chunk to the caller) and receives their results. Two small drivers run
it: :func:`_advance_sync` executes the effects directly, :func:`_advance_async` awaits them
(async SDK clients, ``redis.asyncio``, async tools). So sync and async calls, streamed or
not, with or without tools, take exactly the same steps.

An :class:`Engine` is built once per guarded function (and again when
``guardfn.configure`` or the registered plugins change); a :class:`~guardfn.call.Call`
is fresh per invocation. A plugin (a stage module, or any plugin object) may declare
``active(settings) -> bool``: when it answers ``False`` for a function's settings, the
engine leaves that plugin's implementations out of the function's steps (it is still
configured), so a control that is off costs nothing per call. The engine walks each hook's
implementations itself, in hook order, so every stage's time is recorded on ``call.spans``
and an exception is attributed to the plugin that raised it.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Iterator
from typing import Any, NamedTuple

import pluggy

from guardfn.call import (
    Call,
    Reask,
    Reply,
    Response,
    StageSpan,
    StreamResponse,
    ToolCallReply,
    ToolRequest,
    ToolRun,
    text_message,
)
from guardfn.errors import (
    ConfigurationError,
    GuardError,
    InputRejected,
    OutputRejected,
    PluginError,
    ProviderAuthenticationError,
    RateLimitExceeded,
    ToolLoopExceeded,
)
from guardfn.keys import KeyCache
from guardfn.settings import Settings
from guardfn.tools import render_result

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
    "guardfn_check_tool_call",
    "guardfn_wrap_stream",
    "guardfn_transform_output",
    "guardfn_settle",
    "guardfn_record",
)
OBSERVERS = frozenset({"guardfn_settle", "guardfn_record"})
BLOCKING_ERRORS = (InputRejected, RateLimitExceeded, OutputRejected, ToolLoopExceeded)

# A control that is switched on must have its stage registered and enabled: an option
# that silently does nothing is a hole. Each entry: stage name -> "is it switched on?".
REQUIRED_STAGES: dict[str, Callable[[Settings], bool]] = {
    "limits": lambda s: bool(s.limits),
    "pii": lambda s: s.pii != "off",
    "injection": lambda s: s.injection != "off",
    "judge": lambda s: bool(s.injection_judge or s.output_policy),
    "secrets": lambda s: s.secrets != "off",
    "schema": lambda s: s.schema_ is not None,
    "tools": lambda s: bool(s.tools),
    "output_rules": lambda s: s.canary or any(k in s.output_rules for k in ("prohibited", "allowed_domains", "max_chars")),
    "html": lambda s: bool(s.output_rules.get("html")),
}
TOOL_ERROR_NOTE = "Error: the tool raised {name}; it did not complete."


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


class StreamClosed(Exception):
    """Thrown into the flow when the caller stops reading a stream early (not an error)."""


END = object()
"""What a ``_Next`` effect returns when the stream has no more chunks."""


# --- effects: what the flow asks a driver to do ------------------------------------------------


class _Hook(NamedTuple):
    """Run every implementation of ``step``."""

    step: str
    kwargs: dict[str, Any]


class _First(NamedTuple):
    """Run the implementations of ``step`` until one returns a result (a decision)."""

    step: str
    kwargs: dict[str, Any]


class _Key(NamedTuple):
    """Resolve the provider's API key (cached)."""


class _Chain(NamedTuple):
    """Wrap a stream's chunks with every ``guardfn_wrap_stream`` implementation in turn."""

    chunks: Any


class _Next(NamedTuple):
    """Read the next chunk of a (wrapped) stream, or :data:`END`."""

    chunks: Any


class _Close(NamedTuple):
    """Close a stream's chunk iterator and its HTTP response."""

    chunks: Any
    stream: StreamResponse


class _RunTools(NamedTuple):
    """Run these tool requests; returns ``(result or exception, milliseconds)`` for each."""

    requests: list[ToolRequest]


class _Emit(NamedTuple):
    """Hand a chunk of text to the caller of a stream."""

    text: str


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
        if settings.api == "responses" and provider != "openai":
            raise ConfigurationError(
                f"api='responses' is OpenAI's Responses API; provider {provider!r} has none", hint="drop api="
            )

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
            results.append(await self._invoke_async(call, step, impl, kwargs))
        return results

    async def first_async(self, call: Call, step: str, kwargs: dict[str, Any]) -> Any:
        """The first non-``None`` (awaited) result of ``step``."""
        for impl in self.impls[step]:
            result = await self._invoke_async(call, step, impl, kwargs)
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

    # --- keys --------------------------------------------------------------------------

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

    # --- one call ----------------------------------------------------------------------

    def run_sync(self, call: Call) -> Any:
        """Run the whole pipeline for a sync call: text, a parsed object, a :class:`Reply`,
        or (``stream=True``) an iterator of text chunks."""
        flow = self._flow(call)
        emitted, value = _advance_sync(self, call, flow, None, None)
        if not emitted:
            return value
        chunks = _chunks_sync(self, call, flow, value)
        next(chunks)
        return chunks

    async def run_async(self, call: Call) -> Any:
        """The async twin of :meth:`run_sync`; a stream is an async iterator."""
        flow = self._flow(call)
        emitted, value = await _advance_async(self, call, flow, None, None)
        if not emitted:
            return value
        chunks = _chunks_async(self, call, flow, value)
        await anext(chunks)
        return chunks

    def _flow(self, call: Call) -> Generator[Any, Any, Any]:
        """The whole call, step by step; records the call exactly once, however it ends.

        No step may run once the flow is being closed by ``GeneratorExit`` (a stream dropped
        before it was read): every cleanup below lets that one through untouched.
        """
        try:
            result = yield from self._conversation(call)
        except StreamClosed:
            result = None  # the caller stopped reading: not an error
        except GeneratorExit:
            raise
        except BaseException as exc:
            yield from self._record(call, exc)
            raise
        yield from self._record(call, None)
        return result

    def _record(self, call: Call, error: BaseException | None) -> Generator[Any, Any, None]:
        call.error = error
        call.outcome = outcome_of(error)  # type: ignore[assignment]
        yield _Hook("guardfn_record", {"call": call, "outcome": call.outcome})

    def _conversation(self, call: Call) -> Generator[Any, Any, Any]:
        settings = self.settings
        yield _Hook("guardfn_screen_input", {"call": call})
        yield _Hook("guardfn_transform_input", {"call": call})
        call.checked = len(call.messages)
        while True:
            response, requests = yield from self._request(call)
            if not requests:
                break
            if not settings.run_tools or any(r.tool.function is None for r in requests):
                if not call.stream:  # the caller runs the tools: hand them the calls
                    yield _Hook("guardfn_transform_output", {"call": call, "response": response})
                call.reply = Reply(response.text, [ToolCallReply(r.tool_call.id, r.tool_call.name, r.tool.reply_value(r.value)) for r in requests])
                return call.reply
            yield from self._tool_round(call, response, requests)
        if call.stream:
            return None
        yield _Hook("guardfn_transform_output", {"call": call, "response": response})
        return response.parsed if response.parsed is not None else response.text

    def _request(self, call: Call) -> Generator[Any, Any, tuple[Any, list[ToolRequest]]]:
        """One answer of the model, re-asked until it validates: reserve, call, check, settle."""
        while True:
            api_key = yield _Key()
            yield _Hook("guardfn_reserve", {"call": call})
            response = yield from self._call_model(call, api_key)
            try:
                if isinstance(response, StreamResponse):
                    yield from self._stream(call, response)
                else:
                    yield _Hook("guardfn_check_output", {"call": call, "response": response})
                requests = [ToolRequest(c, c.arguments) for c in response.tool_calls]
                for request in requests:
                    yield _Hook("guardfn_check_tool_call", {"call": call, "request": request})
            except Reask as reask:
                yield _Hook("guardfn_settle", {"call": call, "response": response})
                call.messages.extend(reask.messages)
                call.reasks += 1
                continue
            except GeneratorExit:
                raise
            except BaseException:
                yield _Hook("guardfn_settle", {"call": call, "response": response})
                raise
            yield _Hook("guardfn_settle", {"call": call, "response": response})
            return response, requests

    def _call_model(self, call: Call, api_key: str) -> Generator[Any, Any, Response | StreamResponse]:
        call.attempts += 1
        try:
            kwargs = {"call": call, "api_key": api_key}
            try:
                response = yield _First("guardfn_call_model", kwargs)
            except ProviderAuthenticationError:
                # The key may have been rotated: resolve it again once and retry with a new one.
                self.keys.invalidate(call.provider)
                fresh = yield _Key()
                if fresh == api_key:
                    raise
                call.retries += 1
                response = yield _First("guardfn_call_model", {"call": call, "api_key": fresh})
        except GeneratorExit:
            raise
        except BaseException:
            yield _Hook("guardfn_settle", {"call": call, "response": None})
            raise
        if response is None:
            raise ConfigurationError(
                f"no plugin serves provider {call.provider!r}", stage="call_model", hint="install its plugin"
            )
        call.response = response
        if isinstance(response, Response):
            call.usage.add(response.usage)
        return response

    def _stream(self, call: Call, stream: StreamResponse) -> Generator[Any, Any, None]:
        """Hand the caller one streamed answer's text as it arrives, through the stream wrappers."""
        chunks = stream.chunks
        try:
            chunks = yield _Chain(chunks)
            while True:
                chunk = yield _Next(chunks)
                if chunk is END:
                    break
                yield _Emit(chunk)
        except GeneratorExit:
            raise
        except BaseException:
            yield _Close(chunks, stream)
            call.usage.add(stream.usage)
            raise
        yield _Close(chunks, stream)
        call.usage.add(stream.usage)

    def _tool_round(self, call: Call, response: Any, requests: list[ToolRequest]) -> Generator[Any, Any, None]:
        """Run the model's tool calls, add their results to the conversation, screen them."""
        settings = self.settings
        if call.tool_round >= settings.max_tool_rounds:
            raise ToolLoopExceeded(
                f"the model asked for tools again after {call.tool_round} round(s), the max_tool_rounds limit",
                rounds=call.tool_round,
                hint="raise max_tool_rounds, or make the tools' results answer the question",
            )
        call.tool_round += 1
        outcomes = yield _RunTools(requests)
        call.messages.append(response.as_message())
        for request, (outcome, elapsed_ms) in zip(requests, outcomes, strict=True):
            name = request.tool_call.name
            failed = isinstance(outcome, BaseException)
            call.tool_runs.append(ToolRun(name, call.tool_round, elapsed_ms, "error" if failed else "ok"))
            if failed and settings.on_tool_error == "raise":
                raise outcome
            text = TOOL_ERROR_NOTE.format(name=type(outcome).__name__) if failed else render_result(outcome)
            call.messages.append(text_message("tool", text, tool_call_id=request.tool_call.id, name=name))
        yield _Hook("guardfn_screen_input", {"call": call})
        yield _Hook("guardfn_transform_input", {"call": call})
        call.checked = len(call.messages)


# --- the drivers ---------------------------------------------------------------------------------


def _run_effect_sync(engine: Engine, call: Call, effect: Any) -> Any:
    kind = type(effect)
    if kind is _Hook:
        return engine.run_step_sync(call, effect.step, effect.kwargs)
    if kind is _First:
        return engine.first_sync(call, effect.step, effect.kwargs)
    if kind is _Key:
        return engine._api_key(call)
    if kind is _Next:
        return next(effect.chunks, END)
    if kind is _Chain:
        chunks = effect.chunks
        for impl in engine.impls["guardfn_wrap_stream"]:
            wrapped = engine._invoke(call, "guardfn_wrap_stream", impl, {"call": call, "chunks": chunks})
            if wrapped is not None and inspect.isawaitable(wrapped):
                engine._refuse_awaitable(impl, "guardfn_wrap_stream", wrapped)
            if wrapped is not None:
                chunks = wrapped
        return chunks
    if kind is _Close:
        try:
            close = getattr(effect.chunks, "close", None)
            if close is not None:
                close()
        finally:
            effect.stream.close()
        return None
    if kind is _RunTools:
        return [_run_tool_sync(request) for request in effect.requests]
    raise TypeError(f"unknown effect {kind.__name__}")


def _run_tool_sync(request: ToolRequest) -> tuple[Any, float]:
    tool = request.tool
    start = time.perf_counter()
    try:
        result: Any = tool.function(**tool.call_arguments(request.value))
    except Exception as exc:
        result = exc
    return result, (time.perf_counter() - start) * 1000.0


def _advance_sync(
    engine: Engine, call: Call, flow: Generator[Any, Any, Any], value: Any, error: BaseException | None
) -> tuple[bool, Any]:
    """Run the flow's effects until it hands out a chunk ``(True, chunk)`` or ends ``(False, result)``."""
    while True:
        try:
            effect = flow.throw(error) if error is not None else flow.send(value)
        except StopIteration as stop:
            return False, stop.value
        if type(effect) is _Emit:
            return True, effect.text
        try:
            value, error = _run_effect_sync(engine, call, effect), None
        except BaseException as exc:
            value, error = None, exc


def _chunks_sync(engine: Engine, call: Call, flow: Generator[Any, Any, Any], first: str) -> Iterator[str]:
    """The stream the caller reads; closing it early lets the flow close, settle and record.

    It is handed out primed (advanced past its first ``yield``), so closing it, or dropping
    it, before reading a single chunk cleans up too.
    """
    chunk = first
    try:
        yield ""  # the priming step: consumed by _primed, never seen by the caller
        while True:
            yield chunk
            emitted, chunk = _advance_sync(engine, call, flow, None, None)
            if not emitted:
                return
    except GeneratorExit:
        _advance_sync(engine, call, flow, None, StreamClosed())
        raise


async def _run_effect_async(engine: Engine, call: Call, effect: Any) -> Any:
    kind = type(effect)
    if kind is _Hook:
        return await engine.walk_async(call, effect.step, effect.kwargs)
    if kind is _First:
        return await engine.first_async(call, effect.step, effect.kwargs)
    if kind is _Key:
        return await engine._api_key_async(call)
    if kind is _Next:
        return await anext(effect.chunks, END)
    if kind is _Chain:
        chunks = effect.chunks
        for impl in engine.impls["guardfn_wrap_stream"]:
            wrapped = await engine._invoke_async(call, "guardfn_wrap_stream", impl, {"call": call, "chunks": chunks})
            if wrapped is not None:
                chunks = wrapped
        return chunks
    if kind is _Close:
        try:
            aclose = getattr(effect.chunks, "aclose", None)
            if aclose is not None:
                await aclose()
        finally:
            closed = effect.stream.close()
            if inspect.isawaitable(closed):
                await closed
        return None
    if kind is _RunTools:
        return await asyncio.gather(*(_run_tool_async(request) for request in effect.requests))
    raise TypeError(f"unknown effect {kind.__name__}")


async def _run_tool_async(request: ToolRequest) -> tuple[Any, float]:
    """An async tool awaited; a sync one in a worker thread, never blocking the event loop."""
    tool = request.tool
    arguments = tool.call_arguments(request.value)
    start = time.perf_counter()
    try:
        if tool.is_async:
            result: Any = await tool.function(**arguments)
        else:
            result = await asyncio.to_thread(tool.function, **arguments)
    except Exception as exc:
        result = exc
    return result, (time.perf_counter() - start) * 1000.0


async def _advance_async(
    engine: Engine, call: Call, flow: Generator[Any, Any, Any], value: Any, error: BaseException | None
) -> tuple[bool, Any]:
    """The async twin of :func:`_advance_sync`."""
    while True:
        try:
            effect = flow.throw(error) if error is not None else flow.send(value)
        except StopIteration as stop:
            return False, stop.value
        if type(effect) is _Emit:
            return True, effect.text
        try:
            value, error = await _run_effect_async(engine, call, effect), None
        except BaseException as exc:
            value, error = None, exc


async def _chunks_async(engine: Engine, call: Call, flow: Generator[Any, Any, Any], first: str) -> AsyncIterator[str]:
    """The async twin of :func:`_chunks_sync`."""
    chunk = first
    try:
        yield ""  # the priming step
        while True:
            yield chunk
            emitted, chunk = await _advance_async(engine, call, flow, None, None)
            if not emitted:
                return
    except GeneratorExit:
        await _advance_async(engine, call, flow, None, StreamClosed())
        raise


def _close_awaitable(value: Awaitable[Any]) -> None:
    close: Callable[[], None] | None = getattr(value, "close", None)
    if close is not None:
        close()
