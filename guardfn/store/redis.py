"""``redis://`` / ``rediss://``: counters shared by many machines, one round trip per check.

Each log is a sorted set (member: reservation id, score: timestamp) plus a hash of
amounts, both under the subject's hash tag (``guardfn:{u:<user>}:...``) so one Lua
script can prune, check and reserve every limit of a subject atomically, also on Redis
Cluster. Scripts are loaded once and called by SHA (EVALSHA).
"""

from __future__ import annotations

import asyncio
from typing import Any

from guardfn.errors import StoreUnavailable
from guardfn.store import Claim, Denied, redacted_url, retry_after

RESERVE = """
local now = tonumber(ARGV[1])
local rid = ARGV[2]
local n = tonumber(ARGV[3])
for i = 1, n do
  local z, h = KEYS[2 * i - 1], KEYS[2 * i]
  local base = 3 + 4 * (i - 1)
  local window, cap, amt = tonumber(ARGV[base + 1]), tonumber(ARGV[base + 2]), tonumber(ARGV[base + 3])
  local old = redis.call('ZRANGEBYSCORE', z, '-inf', now - window)
  if #old > 0 then
    redis.call('ZREMRANGEBYSCORE', z, '-inf', now - window)
    for j = 1, #old, 500 do
      redis.call('HDEL', h, unpack(old, j, math.min(j + 499, #old)))
    end
  end
  local used = 0
  if ARGV[base + 4] == '1' then
    used = redis.call('ZCARD', z)  -- a request log: every entry counts 1
  else
    for _, v in ipairs(redis.call('HVALS', h)) do used = used + tonumber(v) end
  end
  if used + amt > cap + 1e-9 then
    local entries = redis.call('ZRANGE', z, 0, -1, 'WITHSCORES')
    local out = {}
    for j = 1, #entries, 2 do
      out[#out + 1] = entries[j + 1]
      out[#out + 1] = redis.call('HGET', h, entries[j]) or '0'
    end
    return {i, tostring(used), out}
  end
end
for i = 1, n do
  local z, h = KEYS[2 * i - 1], KEYS[2 * i]
  local base = 3 + 4 * (i - 1)
  local ttl = math.ceil(tonumber(ARGV[base + 1]) * 1000) + 60000
  redis.call('ZADD', z, now, rid)
  redis.call('HSET', h, rid, ARGV[base + 3])
  redis.call('PEXPIRE', z, ttl)
  redis.call('PEXPIRE', h, ttl)
end
return 0
"""

SETTLE = """
for i = 1, #KEYS do
  if redis.call('HEXISTS', KEYS[i], ARGV[1]) == 1 then redis.call('HSET', KEYS[i], ARGV[1], ARGV[i + 1]) end
end
return 0
"""

RELEASE = """
for i = 1, #KEYS, 2 do
  redis.call('ZREM', KEYS[i], ARGV[1])
  redis.call('HDEL', KEYS[i + 1], ARGV[1])
end
return 0
"""


def _amounts(key: str) -> str:
    return key + ":a"


def _reserve_args(claims: list[Claim], rid: str, now: float) -> tuple[list[str], list[Any]]:
    keys: list[str] = []
    args: list[Any] = [repr(now), rid, len(claims)]
    for claim in claims:
        keys += [claim.key, _amounts(claim.key)]
        counted = "1" if claim.name.startswith("requests") else "0"
        args += [repr(claim.window), repr(claim.capacity), repr(claim.amount), counted]
    return keys, args


def _denied(claims: list[Claim], result: Any, now: float) -> Denied | None:
    if not result:
        return None
    index, used, flat = result
    claim = claims[int(index) - 1]
    entries = [(float(flat[j]), float(flat[j + 1])) for j in range(0, len(flat), 2)]
    wait = retry_after(entries, claim.amount, claim.capacity, claim.window, now)
    return Denied(claim.name, float(used), claim.capacity, wait)


class RedisStore:
    """Sliding logs in Redis through Lua scripts; sync and ``redis.asyncio`` clients."""

    def __init__(self, url: str) -> None:
        import redis

        self.url = url
        self.client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        self._async: dict[int, Any] = {}
        self._scripts = {
            name: self.client.register_script(body)
            for name, body in (("reserve", RESERVE), ("settle", SETTLE), ("release", RELEASE))
        }

    def _fail(self, exc: Exception) -> StoreUnavailable:
        return StoreUnavailable(f"redis store {redacted_url(self.url)} is unavailable: {type(exc).__name__}")

    def _run(self, name: str, keys: list[str], args: list[Any]) -> Any:
        try:
            return self._scripts[name](keys=keys, args=args)
        except Exception as exc:
            raise self._fail(exc) from None

    # --- sync ----------------------------------------------------------------------------

    def reserve(self, claims: list[Claim], rid: str, now: float) -> Denied | None:
        """One EVALSHA: prune, check and reserve every claim, or nothing."""
        keys, args = _reserve_args(claims, rid, now)
        return _denied(claims, self._run("reserve", keys, args), now)

    def settle(self, claims: list[Claim], rid: str) -> None:
        """Set the actual amounts of ``rid``."""
        self._run("settle", [_amounts(c.key) for c in claims], [rid, *(repr(c.amount) for c in claims)])

    def release(self, keys: list[str], rid: str) -> None:
        """Remove ``rid`` from these logs."""
        self._run("release", [k for key in keys for k in (key, _amounts(key))], [rid])

    def entries(self, key: str, window: float, now: float) -> list[tuple[float, float]]:
        """Live entries, oldest first."""
        try:
            members: Any = self.client.zrangebyscore(key, now - window, "+inf", withscores=True)
            amounts: Any = self.client.hgetall(_amounts(key))
        except Exception as exc:
            raise self._fail(exc) from None
        return [(float(score), float(amounts.get(m, 0))) for m, score in members if float(score) > now - window]

    def keys(self, prefix: str) -> list[str]:
        """Log keys with this prefix."""
        try:
            found = [k.decode() for k in self.client.scan_iter(match=prefix + "*", count=500)]
        except Exception as exc:
            raise self._fail(exc) from None
        return [k for k in found if not k.endswith(":a")]

    def delete(self, keys: list[str]) -> None:
        """Drop these logs."""
        if keys:
            self.client.delete(*keys, *(_amounts(k) for k in keys))

    # --- async (redis.asyncio, one client per event loop) -------------------------------------

    def _aclient(self) -> Any:
        import redis.asyncio

        loop_id = id(asyncio.get_running_loop())
        client = self._async.get(loop_id)
        if client is None:
            client = redis.asyncio.Redis.from_url(self.url, socket_timeout=5, socket_connect_timeout=5)
            client._guardfn_scripts = {  # type: ignore[attr-defined]
                name: client.register_script(body)
                for name, body in (("reserve", RESERVE), ("settle", SETTLE), ("release", RELEASE))
            }
            self._async[loop_id] = client
        return client

    async def _arun(self, name: str, keys: list[str], args: list[Any]) -> Any:
        try:
            return await self._aclient()._guardfn_scripts[name](keys=keys, args=args)
        except Exception as exc:
            raise self._fail(exc) from None

    async def areserve(self, claims: list[Claim], rid: str, now: float) -> Denied | None:
        """Async :meth:`reserve` on ``redis.asyncio``."""
        keys, args = _reserve_args(claims, rid, now)
        return _denied(claims, await self._arun("reserve", keys, args), now)

    async def asettle(self, claims: list[Claim], rid: str) -> None:
        """Async :meth:`settle`."""
        await self._arun("settle", [_amounts(c.key) for c in claims], [rid, *(repr(c.amount) for c in claims)])

    async def arelease(self, keys: list[str], rid: str) -> None:
        """Async :meth:`release`."""
        await self._arun("release", [k for key in keys for k in (key, _amounts(key))], [rid])
