"""Clients bound to an asyncio event loop, closed when that loop shuts down.

An async SDK or Redis client belongs to the loop it first ran on. A process that runs
one loop after another (``asyncio.run`` per request in a serverless handler, per batch
in a script) must not reuse a client across loops, and must not leak one client with
its open sockets per loop. :func:`loop_bound` keeps one value per key per running loop
and closes the loop's values when the loop shuts down its async generators, which
``asyncio.run`` always does before it closes the loop (``loop.shutdown_asyncgens()``):
a tiny async generator registered with the loop holds the values and closes them in
its ``finally`` block, inside the loop they belong to.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import weakref
from collections.abc import AsyncGenerator, Awaitable, Callable, Hashable
from typing import Any, TypeVar

T = TypeVar("T")
Closer = Callable[[Any], Awaitable[Any]]


class _LoopValues:
    """One loop's values and the async generator that closes them at loop shutdown."""

    def __init__(self) -> None:
        self.values: dict[Hashable, tuple[Any, Closer]] = {}
        self.guard: AsyncGenerator[None, None] | None = None

    async def close_all(self) -> None:
        values, self.values = self.values, {}
        for value, close in values.values():
            with contextlib.suppress(Exception):
                await close(value)


_loops: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopValues] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


async def _guard(entry: _LoopValues) -> AsyncGenerator[None, None]:
    try:
        yield
    finally:
        await entry.close_all()


def _start_guard(entry: _LoopValues) -> None:
    """Register the closing generator with the running loop and run it to its ``yield``."""
    entry.guard = _guard(entry)
    step = entry.guard.__anext__()  # the loop's first-iteration hook registers the generator here
    with contextlib.suppress(StopIteration):
        step.send(None)  # no await before the yield: this runs it there synchronously


def loop_bound(key: Hashable, make: Callable[[], T], close: Callable[[T], Awaitable[Any]]) -> T:
    """The value for ``key`` on the running loop, made by ``make`` on first use.

    ``close(value)`` is awaited inside the loop when it shuts down (``asyncio.run`` does
    this); a failure to close is ignored. Must be called with a loop running.
    """
    loop = asyncio.get_running_loop()
    entry = _loops.get(loop)
    if entry is not None and key in entry.values:
        return entry.values[key][0]
    with _lock:
        entry = _loops.get(loop)
        if entry is None:
            entry = _loops[loop] = _LoopValues()
            _start_guard(entry)
        if key not in entry.values:
            entry.values[key] = (make(), close)
        return entry.values[key][0]


def open_values() -> int:
    """How many loop-bound values are open in this process, on all loops (for tests)."""
    return sum(len(entry.values) for entry in list(_loops.values()))
