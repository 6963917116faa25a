"""``@guarded_llm``: turns a function that returns a prompt into a guarded model call.

The decorator validates its options once (a ``max_tokens`` above the ceiling fails
here, at decoration time), keeps them, and builds its :class:`~guardfn.pipeline.Engine`
lazily on the first call (again when ``guardfn.configure`` or the plugins change).
"""

from __future__ import annotations

import functools
import inspect
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from guardfn import plugins
from guardfn import settings as settings_mod
from guardfn.call import Call
from guardfn.context import ANONYMOUS, current_user
from guardfn.errors import ConfigurationError
from guardfn.pipeline import Engine
from guardfn.prompt import to_messages

F = TypeVar("F", bound=Callable[..., Any])


class EngineSlot:
    """The :class:`Engine` for one set of options, built on first use and rebuilt when
    ``guardfn.configure`` or the registered plugins change (shared by ``@guarded_llm`` and
    ``guardfn.wrap``)."""

    def __init__(self, options: dict[str, Any], function: str | None = None) -> None:
        self.options = options
        self.function = function
        self._engine: Engine | None = None
        self._version: tuple[int, int] = (-1, -1)
        self._lock = threading.Lock()

    def settings(self) -> settings_mod.Settings:
        """The settings the engine is built with: global defaults, then the options (a
        subclass may adjust them); ``function`` names the config file's section that applies."""
        return settings_mod.build_settings(settings_mod.global_defaults(), self.options, self.function)

    def get(self) -> Engine:
        """The engine for the current global settings and plugins."""
        version = (settings_mod.generation(), plugins.generation())
        engine = self._engine
        if engine is None or self._version != version:
            with self._lock:
                if self._engine is None or self._version != version:
                    self._engine = Engine(self.settings(), plugins.get_plugin_manager())
                    self._version = version
                engine = self._engine
        assert engine is not None
        return engine


class GuardedFunction:
    """The configuration of one decorated function (the decorator layer)."""

    def __init__(self, fn: Callable[..., Any], options: dict[str, Any]) -> None:
        self.fn = fn
        if "api_key" in options:  # a literal key is masked from the moment it is received
            options = {**options, "api_key": settings_mod.secret_key(options["api_key"])}
        self.options = options
        self.name = f"{fn.__module__}.{fn.__qualname__}"
        self.signature = inspect.signature(fn)
        self.is_async = inspect.iscoroutinefunction(fn)
        self.user_param = self._user_param(options.get("user"))
        self._binder = ArgumentBinder(self.signature)
        self._slot = EngineSlot(options, self.name)
        engine = self.engine  # every option and plugin check fails now, not on the first call
        if not self.is_async and any(t.is_async for t in engine.settings.tools):
            raise ConfigurationError(
                f"{fn.__qualname__} is a sync function but a tool is async def",
                stage="tools",
                hint="make the prompt function async def (its async tools are awaited), or the tool sync",
            )

    def _user_param(self, name: str | None) -> str | None:
        params = self.signature.parameters
        if name is not None:
            if name not in params:
                raise ConfigurationError(f"user={name!r} is not a parameter of {self.fn.__qualname__}")
            return name
        return "user_id" if "user_id" in params else None

    @property
    def engine(self) -> Engine:
        """The engine for the current global settings and plugins (rebuilt when they change)."""
        return self._slot.get()

    def new_call(self, args: tuple[Any, ...], kwargs: dict[str, Any], prompt: Any) -> Call:
        """A fresh :class:`Call` for one invocation."""
        engine = self.engine
        settings = engine.settings
        arguments = self._binder.bind(args, kwargs)
        return Call(
            function=self.name,
            settings=settings,
            messages=to_messages(prompt, settings.system),
            user_id=self._user_id(arguments),
            provider=engine.provider,
            model=settings.model,
            max_tokens=settings.max_tokens,
            arguments=arguments,
            is_async=self.is_async,
            stream=settings.stream,
            tools=settings.tools,
        )

    def _user_id(self, arguments: dict[str, Any]) -> str:
        if self.user_param is not None and arguments.get(self.user_param) is not None:
            return str(arguments[self.user_param])
        return current_user() or ANONYMOUS


class ArgumentBinder:
    """``signature.bind(*args, **kwargs)`` plus ``apply_defaults()``, as a plain dict.

    Functions whose parameters are all positional-or-keyword or keyword-only (the usual
    case) are bound by a direct walk over the parameters; anything else (``*args``,
    ``**kwargs``, positional-only parameters, or arguments that would not bind) goes
    through :meth:`inspect.Signature.bind`, so the result and errors are the same.
    """

    def __init__(self, signature: inspect.Signature) -> None:
        self.signature = signature
        params = list(signature.parameters.values())
        simple = all(p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) for p in params)
        self._params: tuple[tuple[str, Any], ...] | None = (
            tuple((p.name, p.default) for p in params) if simple else None
        )
        self._positional = sum(1 for p in params if p.kind is p.POSITIONAL_OR_KEYWORD)

    def bind(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        """The arguments by parameter name, in signature order, defaults filled in."""
        params = self._params
        if params is not None and len(args) <= self._positional:
            arguments: dict[str, Any] = {}
            given = len(args)
            used = 0
            empty = inspect.Parameter.empty
            for index, (name, default) in enumerate(params):
                if index < given:
                    if name in kwargs:
                        break  # given twice: let Signature.bind raise its TypeError
                    arguments[name] = args[index]
                elif name in kwargs:
                    arguments[name] = kwargs[name]
                    used += 1
                elif default is not empty:
                    arguments[name] = default
                else:
                    break  # missing: let Signature.bind raise its TypeError
            else:
                if used == len(kwargs):
                    return arguments
        bound = self.signature.bind(*args, **kwargs)
        bound.apply_defaults()
        return dict(bound.arguments)


def guarded_llm(fn: Callable[..., Any] | None = None, /, **options: Any) -> Any:
    """Decorate a function that returns a prompt; calling it runs the guarded pipeline.

    The function returns a ``str`` (sent as one user message) or a list of messages
    (:mod:`guardfn.prompt`: the vocabularies of Chat Completions, Messages and Responses,
    with images, tool calls and tool results). The decorated function returns the model's
    final text (after running ``tools=`` in a loop), the validated object when ``schema=``
    is given, a :class:`guardfn.Reply` when the caller runs the tools, or an iterator of
    text chunks when ``stream=True``. ``async def`` functions give an awaitable that uses
    the SDKs' async clients. Options are the fields of :class:`guardfn.settings.Settings`.
    """
    if fn is None:
        return functools.partial(_decorate, options=options)
    return _decorate(fn, options)


def _decorate(fn: Callable[..., Any], options: dict[str, Any]) -> Any:
    settings_mod.warn_if_literal_key(options, stacklevel=3)
    guard = GuardedFunction(fn, options)

    if guard.is_async:

        @functools.wraps(fn)
        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            prompt = await fn(*args, **kwargs)
            call = guard.new_call(args, kwargs, prompt)
            return await guard.engine.run_async(call)

        async_wrapper.guard = guard  # type: ignore[attr-defined]
        return async_wrapper

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        prompt = fn(*args, **kwargs)
        call = guard.new_call(args, kwargs, prompt)
        return guard.engine.run_sync(call)

    wrapper.guard = guard  # type: ignore[attr-defined]
    return wrapper
