"""``guardfn.wrap(client, **options)``: the caller's own SDK client, every model call guarded.

The wrapped client has the methods guardfn can guard, with the SDK's own signatures and
return types: ``chat.completions.create`` and ``responses.create`` (``OpenAI``,
``AsyncOpenAI``), ``messages.create`` (``Anthropic``, ``AsyncAnthropic``). Each call runs
through the same pipeline as a ``@guarded_llm`` function with the same options, sent with
a copy of the caller's client (``max_retries=0``: guardfn counts and bounds the retries).
Every other method (``embeddings``, ``files``, ``messages.stream``, ``responses.parse``,
``beta`` ...) is refused with :class:`UnguardedMethod`, never passed through; plain
attributes such as ``base_url`` are read from the caller's client.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import AsyncIterator, Iterator
from typing import Any, TypeVar, cast

from guardfn.call import Call
from guardfn.context import ANONYMOUS, current_user
from guardfn.decorator import EngineSlot
from guardfn.errors import ConfigurationError
from guardfn.wrapping.endpoint import Endpoint
from guardfn.wrapping.frames import Frames, sending_client
from guardfn.wrapping.requests import STAGE, Request, refuse
from guardfn.wrapping.streams import AsyncGuardedStream, GuardedStream, events_async, events_sync

ClientT = TypeVar("ClientT")

NOT_FOR_WRAP = {
    "model": "the model comes from each create() call",
    "provider": "the provider is the client's",
    "api": "the API is the method called: chat.completions.create or responses.create",
    "base_url": "the client's own base_url is used",
    "api_key": "the client's own key is used: build the client with the key you want",
    "key_source": "the client's own key is used: build the client with the key you want",
    "timeout": "the client's own timeout is used: OpenAI(timeout=...), or timeout= per create() call",
    "stream": "pass stream=True to create()",
    "params": "pass request parameters to create(), as with the SDK",
    "tools": "pass tools=[...] to create(); the caller runs them",
    "run_tools": "a wrapped client hands every tool call back to the caller, who runs it",
    "max_tool_rounds": "a wrapped client hands every tool call back to the caller, who runs it",
    "on_tool_error": "a wrapped client hands every tool call back to the caller, who runs it",
    "schema": "a wrapped client returns the SDK's own object; pass response_format= / text= to create()",
    "schema_retries": "a wrapped client returns the SDK's own object; pass response_format= / text= to create()",
    "native_structured_output": "a wrapped client returns the SDK's own object; pass response_format= / text= to create()",
    "user": "the user id comes from create(user=...) (OpenAI), metadata={'user_id': ...} (Anthropic) or guardfn.as_user",
}
"""Decorator options that have no meaning for a wrapped client, and what to do instead."""

PASSTHROUGH = frozenset({"api_key", "base_url", "organization", "project", "timeout"})
"""Plain attributes read from the caller's client (no request is made)."""


class UnguardedMethod(ConfigurationError, AttributeError):
    """A method of the SDK client that guardfn does not guard was used on a wrapped client.

    It is also an ``AttributeError``: to ``hasattr`` and ``getattr(..., default)`` the
    wrapped client does not have the method, so libraries that probe for it fall back.
    """


def _unguarded(path: str) -> UnguardedMethod:
    return UnguardedMethod(
        f"{path} is not guarded by guardfn.wrap, so the wrapped client does not offer it",
        stage=STAGE,
        hint="call it on the client you passed to guardfn.wrap, deliberately: guardfn does not guard it",
    )


def _sdk_of(client: Any) -> tuple[str, bool, str]:
    """``(provider, is_async, class name)`` of a supported SDK client (the SDKs are already
    imported when the caller holds one of their clients)."""
    openai = sys.modules.get("openai")
    anthropic = sys.modules.get("anthropic")
    for module, provider, sync_name, async_name in (
        (openai, "openai", "OpenAI", "AsyncOpenAI"),
        (anthropic, "anthropic", "Anthropic", "AsyncAnthropic"),
    ):
        if module is None:
            continue
        if isinstance(client, getattr(module, async_name)):
            return provider, True, async_name
        if isinstance(client, getattr(module, sync_name)):
            return provider, False, sync_name
    what = "an already wrapped client" if isinstance(client, _GuardedClient) else type(client).__name__
    raise ConfigurationError(
        f"guardfn.wrap takes an OpenAI, AsyncOpenAI, Anthropic or AsyncAnthropic client, not {what}",
        stage=STAGE,
    )


def _key_of(client: Any) -> str:
    """The client's own key, for guardfn's error scrubbing (requests go out with the client's
    own credentials, whatever they are)."""
    key = getattr(client, "api_key", None) or getattr(client, "auth_token", None)
    return key if isinstance(key, str) and key else "client-credentials"


class _Route:
    """One guarded endpoint of one wrapped client: its engine, and the caller's method to send with."""

    def __init__(self, endpoint: Endpoint, slot: EngineSlot, sender: Any, is_async: bool) -> None:
        self.endpoint = endpoint
        self.slot = slot
        self.method = functools.reduce(getattr, endpoint.path, sender).create
        self.is_async = is_async
        self.function = f"{endpoint.provider}.{endpoint.name}"

    def _call(self, kwargs: dict[str, Any]) -> tuple[Any, Call, Request, Frames]:
        engine = self.slot.get()
        request = self.endpoint.parse(kwargs, engine.settings)
        if request.tools and not any(i.plugin_name == "tools" for i in engine.impls["guardfn_check_tool_call"]):
            raise refuse(self.endpoint.name, "tools=...", "the 'tools' stage that checks tool calls is disabled")
        frames = Frames()
        call = Call(
            function=self.function,
            settings=engine.settings,
            messages=request.messages,
            user_id=request.user_id or current_user() or ANONYMOUS,
            provider=engine.provider,
            model=request.model,
            max_tokens=request.max_tokens,
            is_async=self.is_async,
            stream=request.stream,
            tools=request.tools,
            client=sending_client(self.method, self.endpoint.path, frames, self.is_async),
            extra_request=request.extra,
        )
        return engine, call, request, frames

    def run_sync(self, kwargs: dict[str, Any]) -> Any:
        """One guarded ``create()``: the SDK's answer object, or a :class:`GuardedStream`."""
        engine, call, request, frames = self._call(kwargs)
        result = engine.run_sync(call)
        if not request.stream:
            return self.endpoint.result(call)
        if not isinstance(result, Iterator):  # no text came: the call has ended
            return GuardedStream(events_sync(None, None, self.endpoint.stream(call, request, frames)), None)
        # Take the first piece (ready: the pipeline ran up to it) so that the pipeline's stream
        # has started, and closing ours before any event was read still ends the call.
        first = next(result, None)
        return GuardedStream(events_sync(first, result, self.endpoint.stream(call, request, frames)), result)

    async def run_async(self, kwargs: dict[str, Any]) -> Any:
        """The async twin of :meth:`run_sync` (an :class:`AsyncGuardedStream` when streaming)."""
        engine, call, request, frames = self._call(kwargs)
        result = await engine.run_async(call)
        if not request.stream:
            return self.endpoint.result(call)
        if not isinstance(result, AsyncIterator):
            return AsyncGuardedStream(events_async(None, None, self.endpoint.stream(call, request, frames)), None)
        first = await anext(result, None)
        return AsyncGuardedStream(events_async(first, result, self.endpoint.stream(call, request, frames)), result)


class _Resource:
    """A namespace of the wrapped client (``client.chat``, ``client.chat.completions``): the
    guarded parts it holds; anything else is refused."""

    def __init__(self, path: str, children: dict[str, Any]) -> None:
        self._path = path
        self.__dict__.update(children)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        raise _unguarded(f"{self._path}.{name}")

    def __repr__(self) -> str:
        return f"<guarded {self._path}>"


def _create(route: _Route) -> Any:
    """The ``create`` method of a guarded endpoint (a coroutine function for async clients)."""
    if route.is_async:

        async def create_async(**kwargs: Any) -> Any:
            return await route.run_async(kwargs)

        create_async.__doc__ = f"``{route.endpoint.name}``, guarded by guardfn (the SDK's keywords and return type)."
        return create_async

    def create(**kwargs: Any) -> Any:
        return route.run_sync(kwargs)

    create.__doc__ = f"``{route.endpoint.name}``, guarded by guardfn (the SDK's keywords and return type)."
    return create


def _tree(routes: list[_Route], root: str) -> dict[str, Any]:
    """The attributes of the wrapped client: nested namespaces ending in ``create``."""
    tree: dict[str, Any] = {}
    for route in routes:
        node = tree
        for name in route.endpoint.path:
            node = node.setdefault(name, {})
        node["create"] = _create(route)

    def build(path: str, node: dict[str, Any]) -> dict[str, Any]:
        return {
            name: value if name == "create" else _Resource(f"{path}.{name}", build(f"{path}.{name}", value))
            for name, value in node.items()
        }

    return build(root, tree)


class _GuardedClient:
    """The wrapped client (see the module doc). ``with_options(...)`` gives a wrapped copy."""

    def __init__(self, client: Any, options: dict[str, Any], engines: dict[str, EngineSlot], kind: tuple[str, bool, str]) -> None:
        from guardfn.wrapping import ENDPOINTS

        provider, is_async, name = kind
        self._client = client
        self._options = options
        self._engines = engines
        self._kind = kind
        sender = client.with_options(max_retries=0)
        routes = [_Route(e, engines[e.name], sender, is_async) for e in ENDPOINTS[provider]]
        self.__dict__.update(_tree(routes, "client"))
        self._label = f"guardfn.wrap({name}): {', '.join(e.name for e in ENDPOINTS[provider])}"

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        if name in PASSTHROUGH:
            return getattr(self._client, name)
        raise _unguarded(f"client.{name}")

    def with_options(self, **options: Any) -> Any:
        """A wrapped copy of the client with other SDK options (``timeout=`` ...), the same
        guardfn options; ``max_retries`` is refused (guardfn retries: ``retries=`` in ``wrap``)."""
        if "max_retries" in options:
            raise ConfigurationError(
                "with_options(max_retries=...) on a wrapped client: guardfn retries requests itself",
                stage=STAGE,
                hint="pass retries= to guardfn.wrap(...)",
            )
        return type(self)(self._client.with_options(**options), self._options, self._engines, self._kind)

    def __repr__(self) -> str:
        return f"<{self._label}>"


class GuardedClient(_GuardedClient):
    """A wrapped ``OpenAI`` or ``Anthropic`` client; ``close()`` and ``with`` close the caller's client."""

    def close(self) -> None:
        """Close the caller's client (and its HTTP connections)."""
        self._client.close()

    def __enter__(self) -> GuardedClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncGuardedClient(_GuardedClient):
    """A wrapped ``AsyncOpenAI`` or ``AsyncAnthropic`` client; ``await close()`` and ``async with``
    close the caller's client."""

    async def close(self) -> None:
        """Close the caller's client (and its HTTP connections)."""
        await self._client.close()

    async def __aenter__(self) -> AsyncGuardedClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


def wrap(client: ClientT, **options: Any) -> ClientT:
    """Guard an ``OpenAI``, ``AsyncOpenAI``, ``Anthropic`` or ``AsyncAnthropic`` client.

    ``client = guardfn.wrap(OpenAI(), pii="pseudonymize", limits={...})`` returns a client
    whose ``chat.completions.create`` / ``responses.create`` / ``messages.create`` (sync,
    async, streaming) run through the pipeline with the options of ``@guarded_llm``, and
    return the SDK's own objects carrying the guarded text. Options are validated now.
    Keywords of ``create()`` the pipeline cannot guard (``n=2``, ``previous_response_id``,
    hosted tools ...) raise :class:`guardfn.ConfigurationError` before any request; other
    methods raise :class:`UnguardedMethod`. Tool calls are checked and handed back (the
    caller runs them, as with the raw SDK). Refusals raise the decorator's ``GuardError`` s.
    """
    from guardfn.wrapping import ENDPOINTS

    kind = _sdk_of(client)
    refused = sorted(set(options) & NOT_FOR_WRAP.keys())
    if refused:
        name = refused[0]
        raise ConfigurationError(f"guardfn.wrap(..., {name}=...): {NOT_FOR_WRAP[name]}", stage=STAGE)
    fixed: dict[str, Any] = {
        "provider": kind[0],
        "api_key": functools.partial(_key_of, client),
        # what a global guardfn.configure(...) sets for decorated functions does not reshape
        # the requests of a wrapped client
        "schema": None,
        "params": {},
        "tools": (),
        "stream": False,
        "system": options.get("system"),
    }
    engines = {}
    for endpoint in ENDPOINTS[kind[0]]:
        slot = EngineSlot({**options, **fixed, "api": endpoint.api})
        slot.get()  # every option and plugin check fails now, not on the first call
        engines[endpoint.name] = slot
    cls = AsyncGuardedClient if kind[1] else GuardedClient
    return cast(ClientT, cls(client, options, engines, kind))
