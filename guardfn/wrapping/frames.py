"""What the provider sends with for a wrapped client: the caller's client, watched.

The provider modules send with ``call.client`` when it is set. For a wrapped client that is
a :func:`sending_client`: it calls the caller's own SDK method (retries off) and, for a
stream, records the *frames* of the events as they pass (:class:`Frames`): the ids, the
model, the usage and, for the Responses API, the finished response object. The stream the
caller reads is rebuilt from these frames around the guarded text; the raw text the events
carry is never handed out.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from types import SimpleNamespace
from typing import Any


class Frames:
    """The first event of each kind in one streamed answer (``type``, or ``type:item-type``
    for events about an output item), and the last usage seen. Reset for each request."""

    def __init__(self) -> None:
        self.seen: dict[str, Any] = {}
        self.usage: Any = None

    def clear(self) -> None:
        """Forget the previous request's events (a retry or a re-ask sends again)."""
        self.seen.clear()
        self.usage = None

    def record(self, event: Any) -> None:
        """Note one event of the raw stream."""
        kind = getattr(event, "type", None) or "chunk"
        item = getattr(event, "item", None)
        if item is not None:
            kind = f"{kind}:{getattr(item, 'type', '')}"
        self.seen.setdefault(kind, event)
        usage = getattr(event, "usage", None)
        if usage is not None:
            self.usage = usage

    def get(self, kind: str) -> Any:
        """The first event of ``kind`` (``None`` if none came)."""
        return self.seen.get(kind)


class _Recorded:
    """A raw SDK stream whose events are noted in ``frames`` as they are read."""

    def __init__(self, raw: Any, frames: Frames) -> None:
        self._raw = raw
        self._frames = frames

    def __iter__(self) -> Iterator[Any]:
        for event in self._raw:
            self._frames.record(event)
            yield event

    async def _aiter(self) -> AsyncIterator[Any]:
        async for event in self._raw:
            self._frames.record(event)
            yield event

    def __aiter__(self) -> AsyncIterator[Any]:
        return self._aiter()

    def close(self) -> Any:
        """Close the HTTP stream (an awaitable for an async stream)."""
        return self._raw.close()


def sending_client(method: Callable[..., Any], path: tuple[str, ...], frames: Frames, is_async: bool) -> Any:
    """An object with ``method`` at ``path`` (``("chat", "completions")`` + ``create``) that
    records the frames of streamed answers; what ``call.client`` is for a wrapped call."""

    if is_async:

        async def create_async(**params: Any) -> Any:
            """The caller's async ``create``; a stream comes back recording its frames."""
            frames.clear()
            raw = await method(**params)
            return _Recorded(raw, frames) if params.get("stream") else raw

        create: Callable[..., Any] = create_async
    else:

        def create_sync(**params: Any) -> Any:
            """The caller's ``create``; a stream comes back recording its frames."""
            frames.clear()
            raw = method(**params)
            return _Recorded(raw, frames) if params.get("stream") else raw

        create = create_sync
    node = SimpleNamespace(create=create)
    for name in reversed(path):
        node = SimpleNamespace(**{name: node})
    return node
