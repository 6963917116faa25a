"""What a streamed ``create(..., stream=True)`` of a wrapped client returns.

The pipeline hands out the guarded text in pieces (PII restored across piece boundaries,
output rules applied as it arrives); the endpoint's :class:`StreamEvents` turns each piece
into the SDK's own event type, and adds the opening events, then the tool calls handed
back and the finish reason and usage once the pipeline has checked them. Closing the
stream early (``close()``, leaving a ``with`` block, or dropping it) ends the pipeline's
stream, which closes the HTTP response and settles the limits.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

from guardfn.wrapping.endpoint import StreamEvents


def events_sync(first: str | None, chunks: Iterator[str] | None, events: StreamEvents) -> Iterator[Any]:
    """The SDK events of a sync stream: ``first`` is the first piece of guarded text (``None``
    when none came), ``chunks`` the pipeline's stream of the rest (already started)."""
    try:
        yield from events.opening()
        if first is not None:
            yield from events.text(first)
        for text in chunks or ():
            yield from events.text(text)
        yield from events.closing()
    finally:
        if chunks is not None:
            chunks.close()  # type: ignore[attr-defined]


async def events_async(first: str | None, chunks: AsyncIterator[str] | None, events: StreamEvents) -> AsyncIterator[Any]:
    """The async twin of :func:`events_sync`."""
    try:
        for event in events.opening():
            yield event
        if first is not None:
            for event in events.text(first):
                yield event
        if chunks is not None:
            async for text in chunks:
                for event in events.text(text):
                    yield event
        for event in events.closing():
            yield event
    finally:
        if chunks is not None:
            await chunks.aclose()  # type: ignore[attr-defined]


class GuardedStream:
    """A sync stream of the SDK's event objects carrying the guarded answer. Iterate it, or
    use it as a context manager; ``close()`` ends it early."""

    def __init__(self, events: Iterator[Any], chunks: Iterator[str] | None) -> None:
        self._events = events
        self._chunks = chunks

    def __iter__(self) -> Iterator[Any]:
        return self

    def __next__(self) -> Any:
        return next(self._events)

    def close(self) -> None:
        """Stop reading: the HTTP response is closed and the call settled."""
        self._events.close()  # type: ignore[attr-defined]
        if self._chunks is not None:  # also when no event was read yet
            self._chunks.close()  # type: ignore[attr-defined]

    def __enter__(self) -> GuardedStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return "GuardedStream()"


class AsyncGuardedStream:
    """An async stream of the SDK's event objects carrying the guarded answer. Iterate it with
    ``async for``, or use it as an async context manager; ``await close()`` ends it early."""

    def __init__(self, events: AsyncIterator[Any], chunks: AsyncIterator[str] | None) -> None:
        self._events = events
        self._chunks = chunks

    def __aiter__(self) -> AsyncIterator[Any]:
        return self

    async def __anext__(self) -> Any:
        return await self._events.__anext__()

    async def close(self) -> None:
        """Stop reading: the HTTP response is closed and the call settled."""
        await self._events.aclose()  # type: ignore[attr-defined]
        if self._chunks is not None:  # also when no event was read yet
            await self._chunks.aclose()  # type: ignore[attr-defined]

    async def __aenter__(self) -> AsyncGuardedStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def __repr__(self) -> str:
        return "AsyncGuardedStream()"
