"""Applying a feed/flush text transformer to a stream of chunks, sync or async.

Stages that rewrite streamed text (PII restore, HTML sanitising) hold back what they
still need in ``feed`` and release the rest in ``flush``; this wraps the stream with
one, closing the upstream iterator however the consumer stops.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any, Protocol


class ChunkTransformer(Protocol):
    """Takes text as it arrives and returns what can be released now."""

    def feed(self, chunk: str) -> str:
        """Accept a chunk; return the text that is ready."""

    def flush(self) -> str:
        """The stream ended: return everything still held back."""


def transform_stream(chunks: Any, transformer: ChunkTransformer, is_async: bool) -> Any:
    """``chunks`` passed through ``transformer`` (an async iterator when ``is_async``)."""
    return _transform_async(chunks, transformer) if is_async else _transform_sync(chunks, transformer)


def _transform_sync(chunks: Iterator[str], transformer: ChunkTransformer) -> Iterator[str]:
    try:
        for chunk in chunks:
            out = transformer.feed(chunk)
            if out:
                yield out
        tail = transformer.flush()
        if tail:
            yield tail
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()


async def _transform_async(chunks: AsyncIterator[str], transformer: ChunkTransformer) -> AsyncIterator[str]:
    try:
        async for chunk in chunks:
            out = transformer.feed(chunk)
            if out:
                yield out
        tail = transformer.flush()
        if tail:
            yield tail
    finally:
        aclose = getattr(chunks, "aclose", None)
        if aclose is not None:
            await aclose()
