"""Loop-bound clients: one per event loop, closed inside that loop when it shuts down.

A serverless handler or a script that calls ``asyncio.run`` again and again must neither
reuse a client bound to a finished loop nor leak one client (and its sockets) per loop.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from typing import Any

from guardfn import loops
from guardfn.store import Claim
from guardfn.store.redis import RedisStore
from tests._redis import redis_url

REDIS = redis_url(15)


class _Client:
    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.closed_in: asyncio.AbstractEventLoop | None = None

    async def close(self) -> None:
        await asyncio.sleep(0)  # a real close awaits; it must run inside the owning loop
        self.closed_in = asyncio.get_running_loop()


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_one_value_per_loop_closed_inside_its_loop_at_shutdown() -> None:
    made: list[_Client] = []

    def make() -> _Client:
        made.append(_Client())
        return made[-1]

    async def use() -> tuple[_Client, _Client]:
        first = loops.loop_bound("k", make, _Client.close)
        await asyncio.sleep(0)
        return first, loops.loop_bound("k", make, _Client.close)

    baseline = loops.open_values()
    a1, a2 = asyncio.run(use())
    b1, _ = asyncio.run(use())
    assert a1 is a2 and b1 is not a1 and len(made) == 2  # reused within a loop, never across loops
    assert a1.closed_in is a1.loop and b1.closed_in is b1.loop
    assert loops.open_values() == baseline


def test_a_value_made_just_before_the_loop_ends_is_still_closed() -> None:
    holder: list[_Client] = []

    async def make_and_return() -> None:
        holder.append(loops.loop_bound("late", _Client, _Client.close))

    asyncio.run(make_and_return())
    assert holder[0].closed_in is holder[0].loop


def test_a_failing_close_does_not_stop_the_others() -> None:
    closed: list[str] = []

    async def broken(_: Any) -> None:
        raise RuntimeError("cannot close")

    async def fine(name: str) -> None:
        closed.append(name)

    async def use() -> None:
        loops.loop_bound("broken", lambda: "b", broken)
        loops.loop_bound("fine", lambda: "f", fine)

    asyncio.run(use())
    assert closed == ["f"]


def test_redis_store_async_client_per_loop_leaks_no_sockets() -> None:
    store = RedisStore(REDIS)
    user = uuid.uuid4().hex
    claim = Claim(f"guardfn:b:{{u:{user}}}:requests_per_day", "requests_per_day", 86400.0, 10_000, 1.0)

    async def reserve() -> None:
        assert await store.areserve([claim], time.time()) is None

    asyncio.run(reserve())  # the first run opens whatever is opened once per process
    before = _open_fds()
    for _ in range(25):
        asyncio.run(reserve())
    assert _open_fds() <= before + 1
    assert store.used(claim.key, 86400.0, time.time()) == 26
    store.client.delete(claim.key)
