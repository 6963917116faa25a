"""``redis://`` / ``rediss://``: counters shared by many machines, one round trip per check.

Each log is a sorted set (member: reservation id, score: timestamp). A token or USD
budget also has a hash ``<log>:a`` holding each reservation's amount and, in field
``""``, their running total, so a check costs O(log n) whatever the size of the log.
All keys of a subject share its hash tag (``guardfn:{u:<user>}:...``), so one Lua script
prunes, checks and reserves every limit of the subject atomically, also on Redis
Cluster, and every key it touches is declared in ``KEYS``. Scripts are registered once
per client and called by SHA (EVALSHA; redis-py reloads them after a ``SCRIPT FLUSH``).
A refusal computes ``retry_after`` inside the script from the oldest entries it needs,
so a refused call is also one round trip and returns no log.

Time is the client's clock, passed in as ``now`` (tests control it); machines sharing a
Redis should keep their clocks in sync (NTP), as a skew of s seconds shifts a window by s.
"""

from __future__ import annotations

import math
import re
from typing import Any

from guardfn.errors import StoreUnavailable
from guardfn.loops import loop_bound
from guardfn.store import Claim, Denied, clamp_retry, is_request_log, redacted_url

RESERVE = """
-- ARGV: now, rid, then per limit: window, capacity, amount, kind ('r' request log, 'w' budget)
-- KEYS: per limit its sorted set, and for a budget also its amounts hash
local now, rid = tonumber(ARGV[1]), ARGV[2]
local n = (#ARGV - 2) / 4
local k, plan = 1, {}
for i = 1, n do
  local b = 2 + 4 * (i - 1)
  local w, cap, amt = tonumber(ARGV[b + 1]), tonumber(ARGV[b + 2]), tonumber(ARGV[b + 3])
  local z, h = KEYS[k], false
  local edge = now - w
  local used
  if ARGV[b + 4] == 'r' then
    k = k + 1
    redis.call('ZREMRANGEBYSCORE', z, '-inf', edge)
    used = redis.call('ZCARD', z)
  else
    h = KEYS[k + 1]
    k = k + 2
    local old = redis.call('ZRANGEBYSCORE', z, '-inf', edge)
    if #old > 0 then
      redis.call('ZREMRANGEBYSCORE', z, '-inf', edge)
      if redis.call('ZCARD', z) == 0 then
        redis.call('DEL', h)
      else
        local freed = 0
        for j = 1, #old, 500 do
          local part = {unpack(old, j, math.min(j + 499, #old))}
          for _, v in ipairs(redis.call('HMGET', h, unpack(part))) do freed = freed + (tonumber(v) or 0) end
          redis.call('HDEL', h, unpack(part))
        end
        redis.call('HINCRBYFLOAT', h, '', -freed)
      end
    end
    used = tonumber(redis.call('HGET', h, '') or '0')
  end
  if used + amt > cap + 1e-9 then
    local wait = -1  -- -1: this call alone is larger than the limit
    if amt <= cap + 1e-9 then
      local need = used + amt - cap
      if not h then
        local nth = math.max(math.ceil(need - 1e-9), 1) - 1
        local e = redis.call('ZRANGE', z, nth, nth, 'WITHSCORES')
        wait = w
        if #e == 2 then wait = tonumber(e[2]) + w - now end
      else
        local freed, start = 0, 0
        wait = w
        while true do
          local e = redis.call('ZRANGE', z, start, start + 99, 'WITHSCORES')
          if #e == 0 then break end
          local found = false
          for j = 1, #e, 2 do
            freed = freed + (tonumber(redis.call('HGET', h, e[j])) or 0)
            if freed >= need - 1e-9 then
              wait = tonumber(e[j + 1]) + w - now
              found = true
              break
            end
          end
          if found then break end
          start = start + 100
        end
      end
    end
    return {i, tostring(used), tostring(wait)}
  end
  plan[i] = {z, h, math.floor(w * 1000) + 60000, ARGV[b + 3], tostring(used)}
end
local usage = {0}
for i = 1, n do
  local z, h, ttl, amt = plan[i][1], plan[i][2], plan[i][3], plan[i][4]
  usage[i + 1] = plan[i][5]
  redis.call('ZADD', z, now, rid)
  redis.call('PEXPIRE', z, ttl)
  if h then
    redis.call('HSET', h, rid, amt)
    redis.call('HINCRBYFLOAT', h, '', amt)
    redis.call('PEXPIRE', h, ttl)
  end
end
return usage  -- {0, usage of each limit before this reservation}
"""

SETTLE = """
-- KEYS: amounts hashes; ARGV: rid, then the actual amount for each hash
for i = 1, #KEYS do
  local old = redis.call('HGET', KEYS[i], ARGV[1])
  if old then
    redis.call('HSET', KEYS[i], ARGV[1], ARGV[i + 1])
    redis.call('HINCRBYFLOAT', KEYS[i], '', tonumber(ARGV[i + 1]) - tonumber(old))
  end
end
return 0
"""

RELEASE = """
-- KEYS: (sorted set, amounts hash) pairs; ARGV: rid
for i = 1, #KEYS, 2 do
  if redis.call('ZREM', KEYS[i], ARGV[1]) == 1 then
    local old = redis.call('HGET', KEYS[i + 1], ARGV[1])
    if old then
      if redis.call('ZCARD', KEYS[i]) == 0 then
        redis.call('DEL', KEYS[i + 1])
      else
        redis.call('HDEL', KEYS[i + 1], ARGV[1])
        redis.call('HINCRBYFLOAT', KEYS[i + 1], '', -tonumber(old))
      end
    end
  end
end
return 0
"""

SCRIPTS = {"reserve": RESERVE, "settle": SETTLE, "release": RELEASE}
_GLOB = re.compile(r"([*?\[\]\\])")


def _amounts(key: str) -> str:
    return key + ":a"


def _reserve_args(claims: list[Claim], rid: str, now: float) -> tuple[list[str], list[Any]]:
    keys: list[str] = []
    args: list[Any] = [repr(now), rid]
    for claim in claims:
        if claim.counted:
            keys.append(claim.key)
        else:
            keys += [claim.key, _amounts(claim.key)]
        args += [repr(claim.window), repr(claim.capacity), repr(claim.amount), "r" if claim.counted else "w"]
    return keys, args


def _settle_args(claims: list[Claim], rid: str) -> tuple[list[str], list[Any]]:
    weighted = [c for c in claims if not c.counted]
    return [_amounts(c.key) for c in weighted], [rid, *(repr(c.amount) for c in weighted)]


def _release_keys(keys: list[str]) -> list[str]:
    return [k for key in keys for k in (key, _amounts(key))]


def _denied(claims: list[Claim], result: Any, usage: list[float] | None) -> Denied | None:
    if int(result[0]) == 0:
        if usage is not None:
            usage[:] = [float(u) for u in result[1:]]
        return None
    index, used, wait = result
    claim = claims[int(index) - 1]
    seconds = float(wait)
    retry = math.inf if seconds < 0 else clamp_retry(seconds)
    return Denied(claim.name, float(used), claim.capacity, retry)


class RedisStore:
    """Sliding logs in Redis through Lua scripts; sync and ``redis.asyncio`` clients."""

    def __init__(self, url: str) -> None:
        import redis

        self.url = url
        self.client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        self._scripts = {name: self.client.register_script(body) for name, body in SCRIPTS.items()}

    def _fail(self, exc: Exception) -> StoreUnavailable:
        return StoreUnavailable(f"redis store {redacted_url(self.url)} is unavailable: {type(exc).__name__}")

    def _run(self, name: str, keys: list[str], args: list[Any]) -> Any:
        try:
            return self._scripts[name](keys=keys, args=args)
        except Exception as exc:
            raise self._fail(exc) from None

    # --- sync ----------------------------------------------------------------------------

    def reserve(self, claims: list[Claim], rid: str, now: float, usage: list[float] | None = None) -> Denied | None:
        """One EVALSHA: prune, check and reserve every claim, or nothing."""
        keys, args = _reserve_args(claims, rid, now)
        return _denied(claims, self._run("reserve", keys, args), usage)

    def settle(self, claims: list[Claim], rid: str) -> None:
        """Set the actual amounts of ``rid`` in the budgets among ``claims`` (one EVALSHA)."""
        keys, args = _settle_args(claims, rid)
        if keys:
            self._run("settle", keys, args)

    def release(self, keys: list[str], rid: str) -> None:
        """Remove ``rid`` from these logs (one EVALSHA)."""
        if keys:
            self._run("release", _release_keys(keys), [rid])

    def entries(self, key: str, window: float, now: float) -> list[tuple[float, float]]:
        """Live entries, oldest first."""
        try:
            members: Any = self.client.zrangebyscore(key, f"({now - window!r}", "+inf", withscores=True)
            amounts: Any = {} if is_request_log(key) else self.client.hgetall(_amounts(key))
        except Exception as exc:
            raise self._fail(exc) from None
        if is_request_log(key):
            return [(float(score), 1.0) for _, score in members]
        return [(float(score), float(amounts.get(m, 0))) for m, score in members]

    def used(self, key: str, window: float, now: float) -> float:
        """The live total of one log: ZCOUNT for requests, the budget's running total otherwise.

        A budget's total is kept by the scripts and pruned at each reservation of its
        subject, so entries that left the window since then still count until the next one.
        """
        try:
            if is_request_log(key):
                return float(self.client.zcount(key, f"({now - window!r}", "+inf"))
            total: Any = self.client.hget(_amounts(key), "")
        except Exception as exc:
            raise self._fail(exc) from None
        return float(total or 0.0)

    def keys(self, prefix: str) -> list[str]:
        """Log keys with this prefix (glob characters in it match literally)."""
        try:
            found = [k.decode() for k in self.client.scan_iter(match=_GLOB.sub(r"\\\1", prefix) + "*", count=500)]
        except Exception as exc:
            raise self._fail(exc) from None
        return [k for k in found if not k.endswith(":a")]

    def delete(self, keys: list[str]) -> None:
        """Drop these logs."""
        if not keys:
            return
        try:
            self.client.delete(*_release_keys(keys))
        except Exception as exc:
            raise self._fail(exc) from None

    # --- async (redis.asyncio, one client per event loop, closed with it: guardfn.loops) -------

    def _aclient(self) -> tuple[Any, dict[str, Any]]:
        import redis.asyncio

        def make() -> tuple[Any, dict[str, Any]]:
            client = redis.asyncio.Redis.from_url(self.url, socket_timeout=5, socket_connect_timeout=5)
            return client, {name: client.register_script(body) for name, body in SCRIPTS.items()}

        return loop_bound(("redis-store", self.url), make, lambda entry: entry[0].aclose())

    async def _arun(self, name: str, keys: list[str], args: list[Any]) -> Any:
        try:
            return await self._aclient()[1][name](keys=keys, args=args)
        except Exception as exc:
            raise self._fail(exc) from None

    async def areserve(
        self, claims: list[Claim], rid: str, now: float, usage: list[float] | None = None
    ) -> Denied | None:
        """Async :meth:`reserve` on ``redis.asyncio``."""
        keys, args = _reserve_args(claims, rid, now)
        return _denied(claims, await self._arun("reserve", keys, args), usage)

    async def asettle(self, claims: list[Claim], rid: str) -> None:
        """Async :meth:`settle`."""
        keys, args = _settle_args(claims, rid)
        if keys:
            await self._arun("settle", keys, args)

    async def arelease(self, keys: list[str], rid: str) -> None:
        """Async :meth:`release`."""
        if keys:
            await self._arun("release", _release_keys(keys), [rid])
