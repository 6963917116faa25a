"""``redis://`` / ``rediss://`` (and ``+cluster``): counters shared by many machines, one round trip each.

Each log is one hash: field ``t`` holds the running total, ``o`` the oldest bucket
present, and one field per bucket (its number) its amount; at most 121 buckets, so
Redis keeps it in its compact listpack form. Amounts are integers (requests, tokens,
and USD in nano-dollars, :data:`guardfn.limits.UNITS`: reservations rounded up), so
the script adds with ``HINCRBY`` and totals never drift. A reservation is one Lua
script (EVALSHA) over the hashes of all the call's limits: per limit it adds the amount
to its bucket and to ``t`` (two commands) and checks ``t`` against the capacity; the
first call in a bucket instead drops the buckets that left the window (every instant of
one bucket has the same live buckets, so that is enough), recomputes ``t`` from the rest
and extends the key's expiry. A limit over its capacity makes the script take back
what it added, so a refusal leaves nothing. It answers a bare ``0`` unless the caller
asked for each limit's usage. Settle and release are one script each way too (the same one: add a
difference to the reservation's bucket if it still counts) and settle returns every
limit's usage afterwards. A refusal names the bucket whose leaving frees enough room,
so it is one round trip as well and returns no log.

Redis Cluster (``redis+cluster://host:port``, or ``rediss+cluster://``): a subject's keys
share its hash tag (``{u:<user>}``, ``{global}``), so one script never crosses slots and
users spread over the cluster. A call with per-user and global limits makes one
script call per subject there (the global one second; a refusal by it releases the
first); on a single server all limits go in one script.

Time is the client's clock (bucket numbers are computed by the caller); machines
sharing a Redis should keep their clocks in sync (NTP).
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import threading
from collections.abc import Generator
from typing import Any

from guardfn.errors import StoreUnavailable
from guardfn.limits import UNITS, bucket_of, kind_of, leaves_at, oldest_live
from guardfn.loops import loop_bound
from guardfn.store import Claim, Denied, clamp_retry, redacted_url, resp

GRACE_MS = 60_000
"""A log's key outlives its newest bucket by this long (milliseconds)."""

PRUNE = """
local function prune(h, lo)
  -- drop the buckets older than lo; the total and the oldest bucket recomputed from the rest
  local all = redis.call('HGETALL', h)
  local gone, total, low = {}, 0, nil
  for j = 1, #all, 2 do
    local f = all[j]
    if f ~= 't' and f ~= 'o' then
      local s = tonumber(f)
      if s < lo then
        gone[#gone + 1] = f
      else
        total = total + tonumber(all[j + 1])
        if not low or s < low then low = s end
      end
    end
  end
  if not low then
    redis.call('DEL', h)
    return 0, nil
  end
  if #gone > 0 then redis.call('HDEL', h, unpack(gone)) end
  redis.call('HSET', h, 't', total, 'o', low)
  return total, low
end
"""

RESERVE = (
    PRUNE
    + """
-- KEYS: one hash per limit. ARGV[1]: '1' to return each limit's usage before the reservation;
-- then per limit: bucket, oldest live bucket, capacity, amount (integer units), ttl (ms).
-- Adds first and takes back on a refusal: two commands per limit when the bucket exists.
local n, used = #KEYS, {0}
for i = 1, n do
  local b = 1 + 5 * (i - 1)
  local h, s, amt, cap = KEYS[i], ARGV[b + 1], tonumber(ARGV[b + 4]), tonumber(ARGV[b + 3])
  local total
  if redis.call('HINCRBY', h, s, amt) == amt then
    -- the first call in this bucket: drop the buckets that left, recompute the total, keep the key alive
    total = prune(h, tonumber(ARGV[b + 2]))
    local ttl = tonumber(ARGV[b + 5])
    if redis.call('PTTL', h) < ttl then redis.call('PEXPIRE', h, ttl) end  -- never shortened
  else
    total = redis.call('HINCRBY', h, 't', amt)  -- a bucket that exists was pruned for when it began
  end
  if total > cap then
    for j = 1, i do  -- take back what this call added
      local bj = 1 + 5 * (j - 1)
      local hj, sj, aj = KEYS[j], ARGV[bj + 1], tonumber(ARGV[bj + 4])
      if redis.call('HINCRBY', hj, sj, -aj) == 0 then redis.call('HDEL', hj, sj) end
      redis.call('HINCRBY', hj, 't', -aj)
    end
    total = total - amt
    local frees = -1  -- this call alone is larger than the limit
    if amt <= cap then
      frees = -2  -- no bucket frees enough: a window
      local need, all, slots = total + amt - cap, redis.call('HGETALL', h), {}
      for j = 1, #all, 2 do
        if all[j] ~= 't' and all[j] ~= 'o' then slots[#slots + 1] = {tonumber(all[j]), tonumber(all[j + 1])} end
      end
      table.sort(slots, function(x, y) return x[1] < y[1] end)
      local freed = 0
      for _, e in ipairs(slots) do
        freed = freed + e[2]
        if freed >= need then
          frees = e[1]
          break
        end
      end
    end
    return {i, total, frees}
  end
  used[i + 1] = total - amt
end
if ARGV[1] == '1' then return used end  -- {0, usage of each limit before this reservation}
return 0
"""
)

ADJUST = (
    PRUNE
    + """
-- KEYS: one hash per limit; ARGV per limit: bucket of the reservation, oldest live bucket, difference
local out = {}
for i = 1, #KEYS do
  local b = 3 * (i - 1)
  local h, s = KEYS[i], ARGV[b + 1]
  local v = redis.call('HMGET', h, 't', 'o')
  local total, o = tonumber(v[1]) or 0, tonumber(v[2])
  if o and o < tonumber(ARGV[b + 2]) then total, o = prune(h, tonumber(ARGV[b + 2])) end
  -- the reservation's bucket is still there exactly when it is not older than the oldest one
  if o and ARGV[b + 3] ~= '0' and tonumber(s) >= o then
    redis.call('HINCRBY', h, s, ARGV[b + 3])
    total = redis.call('HINCRBY', h, 't', ARGV[b + 3])
  end
  if total < 0 then total = 0 end
  out[i] = total
end
return out  -- each limit's usage afterwards
"""
)

SCRIPTS = {"reserve": resp.Script(RESERVE), "adjust": resp.Script(ADJUST)}
_GLOB = re.compile(r"([*?\[\]\\])")
_TAG = re.compile(r"\{([^}]*)\}")


def _scale(claim: Claim) -> float:
    return UNITS[kind_of(claim.name)]


def _units(amount: float, scale: float) -> int:
    """``amount`` in whole units, rounded up (float noise below a thousandth of a unit ignored)."""
    return math.ceil(amount * scale - 1e-3)


def _reserve_args(claims: list[Claim], now: float, usage: bool = False) -> tuple[list[str], list[Any]]:
    keys: list[str] = []
    args: list[Any] = ["1" if usage else "0"]
    for claim in claims:
        scale = _scale(claim)
        slot = bucket_of(now, claim.window)
        ttl = max(1, math.ceil((leaves_at(slot, claim.window) - now) * 1000)) + GRACE_MS
        keys.append(claim.key)
        capacity = math.floor(claim.capacity * scale + 1e-3)
        args += (slot, oldest_live(now, claim.window), capacity, _units(claim.amount, scale), ttl)
    return keys, args


def _adjust_args(claims: list[Claim], at: float, targets: list[float | None], now: float) -> tuple[list[str], list[Any]]:
    """Per claim: move its bucket of ``at`` from the reserved amount to ``target`` (``None``: to nothing)."""
    args: list[Any] = []
    for claim, target in zip(claims, targets, strict=True):
        scale = _scale(claim)
        after = 0 if target is None else round(target * scale)
        args += (bucket_of(at, claim.window), oldest_live(now, claim.window), after - _units(claim.amount, scale))
    return [c.key for c in claims], args


def _denied(claims: list[Claim], result: Any, now: float, usage: list[float] | None) -> Denied | None:
    if not isinstance(result, list):
        return None
    if int(result[0]) == 0:
        if usage is not None:
            usage[:] = [int(u) / _scale(c) for u, c in zip(result[1:], claims, strict=True)]
        return None
    index, used, frees = result
    claim = claims[int(index) - 1]
    slot = int(frees)
    if slot == -1:
        wait = math.inf
    elif slot == -2:
        wait = claim.window
    else:
        wait = clamp_retry(leaves_at(slot, claim.window) - now)
    return Denied(claim.name, int(used) / _scale(claim), claim.capacity, wait)


def subjects(claims: list[Claim]) -> list[list[Claim]]:
    """``claims`` grouped by hash tag (one Redis Cluster slot each), in order of first appearance."""
    groups: dict[str, list[Claim]] = {}
    for claim in claims:
        match = _TAG.search(claim.key)
        groups.setdefault(match.group(1) if match else claim.key, []).append(claim)
    return list(groups.values())


def _plain_url(url: str) -> str:
    """``redis+cluster://`` -> ``redis://`` (what redis-py parses)."""
    return url.replace("+cluster://", "://", 1)


Step = tuple[str, list[str], list[Any]]
"""One script call: its name, keys and arguments."""
Plan = Generator[Step, Any, Any]
"""The script calls of one operation: a generator sent each result (see :meth:`RedisStore._drive`)."""


class RedisStore:
    """Bucketed logs in Redis hashes through Lua scripts; sync and ``redis.asyncio`` clients.

    Each operation is written once, as a plan that yields the script calls it needs and
    is sent their results; :meth:`_drive` runs a plan on this thread's connection and
    :meth:`_adrive` on the event loop's async client. On a plain ``redis://`` server the
    sync connection is :mod:`guardfn.store.resp` (one socket per thread, nothing of
    redis-py imported); TLS and Cluster use redis-py.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        scheme = url.split("://", 1)[0]
        self.cluster = scheme.endswith("+cluster")
        self.lean = scheme == "redis"
        """Whether sync script calls use the minimal client (plain TCP, one server)."""
        self._local = threading.local()
        self._client: Any = None

    @property
    def client(self) -> Any:
        """The shared redis-py client (a connection pool, or the cluster client), made on first use:
        the reads of ``guardfn usage`` and, on TLS or a cluster, the script calls."""
        if self._client is None:
            self._client = self._make_client(sync=True)
        return self._client

    def connection(self) -> Any:
        """This thread's connection for script calls (made again after a fork)."""
        local = self._local
        if getattr(local, "pid", None) != os.getpid():
            if self.lean:
                local.conn = resp.Connection(_plain_url(self.url), timeout=5.0)
            elif self.cluster:
                local.conn = self.client
            else:
                local.conn = self._make_client(sync=True, single_connection_client=True)
            local.pid = os.getpid()
        return local.conn

    def eval(self, script: resp.Script, keys: list[str], args: list[Any]) -> Any:
        """Run ``script`` on this thread's connection, as the store's own scripts run (one round trip)."""
        conn = self.connection()
        if self.lean:
            return conn.evalsha(script, keys, args)
        scripts = self._local.__dict__.setdefault("scripts", {})
        registered = scripts.get(script.sha)
        if registered is None:
            registered = scripts[script.sha] = conn.register_script(script.body)
        return registered(keys=keys, args=args)

    def eval_many(self, script: resp.Script, calls: list[tuple[list[str], list[Any]]]) -> list[Any]:
        """Run ``script`` once per ``(keys, args)``, pipelined in one round trip where the connection can."""
        if not self.lean or not calls:
            return [self.eval(script, keys, args) for keys, args in calls]
        conn = self.connection()
        first = self.eval(script, *calls[0])  # loads it if the server does not know it
        commands = [("EVALSHA", script.sha, len(keys), *keys, *args) for keys, args in calls[1:]]
        return [first, *conn.pipeline(commands)] if commands else [first]

    def _make_client(self, sync: bool, **more: Any) -> Any:
        options: dict[str, Any] = {"socket_timeout": 5, "socket_connect_timeout": 5, **more}
        url = _plain_url(self.url)
        if sync:
            import redis
            import redis.cluster

            if self.cluster:
                return redis.cluster.RedisCluster.from_url(url, **options)
            return redis.Redis.from_url(url, **options)
        import redis.asyncio
        import redis.asyncio.cluster

        if self.cluster:
            return redis.asyncio.cluster.RedisCluster.from_url(url, **options)
        return redis.asyncio.Redis.from_url(url, **options)

    def _fail(self, exc: BaseException) -> StoreUnavailable:
        return StoreUnavailable(f"redis store {redacted_url(self.url)} is unavailable: {type(exc).__name__}")

    def _groups(self, claims: list[Claim]) -> list[list[Claim]]:
        return subjects(claims) if self.cluster else [claims]

    # --- the operations, once ----------------------------------------------------------------

    def _reserve_plan(self, claims: list[Claim], now: float, usage: list[float] | None) -> Plan:
        """One script per subject (one in all on a single server); a refusal releases the subjects before it."""
        done: list[Claim] = []
        before: list[float] = []
        try:
            for group in self._groups(claims):
                seen: list[float] = []
                keys, args = _reserve_args(group, now, usage is not None)
                denied = _denied(group, (yield ("reserve", keys, args)), now, seen)
                if denied is not None:
                    if done:
                        yield from self._adjust_plan(done, now, [None] * len(done), now)
                    return denied
                done += group
                before += seen
        except StoreUnavailable:
            if done:
                with contextlib.suppress(StoreUnavailable):
                    yield from self._adjust_plan(done, now, [None] * len(done), now)
            raise
        if usage is not None:
            usage[:] = before
        return None

    def _adjust_plan(self, claims: list[Claim], at: float, targets: list[float | None], now: float) -> Plan:
        """Move the buckets of ``at`` to ``targets`` (``None``: release); each limit's usage afterwards."""
        totals: dict[str, float] = {}
        by_key = dict(zip((c.key for c in claims), targets, strict=True))
        for group in self._groups(claims):
            keys, args = _adjust_args(group, at, [by_key[c.key] for c in group], now)
            result = yield ("adjust", keys, args)
            totals.update((c.key, int(t) / _scale(c)) for c, t in zip(group, result, strict=True))
        return [totals[c.key] for c in claims]

    # --- sync ----------------------------------------------------------------------------

    def _drive(self, plan: Plan) -> Any:
        """Run a plan's script calls on the sync client; what the plan returns."""
        try:
            step = next(plan)
            while True:
                name, keys, args = step
                try:
                    result = self.eval(SCRIPTS[name], keys, args)
                except Exception as exc:
                    step = plan.throw(self._fail(exc))
                else:
                    step = plan.send(result)
        except StopIteration as stop:
            return stop.value

    def reserve(self, claims: list[Claim], now: float, usage: list[float] | None = None) -> Denied | None:
        """One EVALSHA (one per subject on a cluster): prune, check and reserve every claim, or nothing."""
        if not claims:
            return None
        if self.cluster:
            return self._drive(self._reserve_plan(claims, now, usage))
        keys, args = _reserve_args(claims, now, usage is not None)  # the plan's only step, without the generator
        try:
            result = self.eval(SCRIPTS["reserve"], keys, args)
        except Exception as exc:
            raise self._fail(exc) from None
        return _denied(claims, result, now, usage)

    def settle(self, claims: list[Claim], at: float, actual: list[float], now: float) -> list[float]:
        """Move each bucket of ``at`` from the reserved amount to the actual one (one EVALSHA); usage afterwards."""
        if not claims:
            return []
        if self.cluster:
            return self._drive(self._adjust_plan(claims, at, list(actual), now))
        keys, args = _adjust_args(claims, at, list(actual), now)  # the plan's only step, without the generator
        try:
            result = self.eval(SCRIPTS["adjust"], keys, args)
        except Exception as exc:
            raise self._fail(exc) from None
        return [int(t) / _scale(c) for c, t in zip(claims, result, strict=True)]

    def release(self, claims: list[Claim], at: float, now: float) -> None:
        """Take the amounts reserved at ``at`` back out of their buckets (one EVALSHA)."""
        if claims:
            self._drive(self._adjust_plan(claims, at, [None] * len(claims), now))

    def buckets(self, key: str, window: float, now: float) -> list[tuple[float, float]]:
        """Live buckets, oldest first."""
        try:
            fields: Any = self.client.hgetall(key)
        except Exception as exc:
            raise self._fail(exc) from None
        oldest = oldest_live(now, window)
        scale = UNITS[kind_of(key.rpartition(":")[2])]
        live = sorted((int(f), int(a)) for f, a in fields.items() if f not in (b"t", b"o") and int(f) >= oldest)
        return [(leaves_at(slot, window), amount / scale) for slot, amount in live if amount > 0]

    def used(self, key: str, window: float, now: float) -> float:
        """The live total of one log."""
        return max(sum(amount for _, amount in self.buckets(key, window, now)), 0.0)

    def keys(self, prefix: str) -> list[str]:
        """Log keys with this prefix (glob characters in it match literally)."""
        try:
            found = self.client.scan_iter(match=_GLOB.sub(r"\\\1", prefix) + "*", count=500)
            return sorted(k.decode() if isinstance(k, bytes) else k for k in found)
        except Exception as exc:
            raise self._fail(exc) from None

    def delete(self, keys: list[str]) -> None:
        """Drop these logs."""
        try:
            for key in keys:  # one key per command: keys of several users live on several cluster slots
                self.client.delete(key)
        except Exception as exc:
            raise self._fail(exc) from None

    def recall(self, key: str, now: float) -> str | None:
        """A live note (Redis expires them), or ``None``."""
        try:
            conn = self.connection()
            value = conn.call("GET", key) if self.lean else conn.get(key)
        except Exception as exc:
            raise self._fail(exc) from None
        return value.decode() if isinstance(value, bytes) else value

    def remember(self, key: str, value: str, ttl: float, now: float) -> None:
        """Keep a note for ``ttl`` seconds (``SET ... PX``)."""
        millis = max(1, int(ttl * 1000))
        try:
            conn = self.connection()
            if self.lean:
                conn.call("SET", key, value, "PX", millis)
            else:
                conn.set(key, value, px=millis)
        except Exception as exc:
            raise self._fail(exc) from None

    async def arecall(self, key: str, now: float) -> str | None:
        """Async :meth:`recall`."""
        try:
            value = await self._aclient()[0].get(key)
        except Exception as exc:
            raise self._fail(exc) from None
        return value.decode() if isinstance(value, bytes) else value

    async def aremember(self, key: str, value: str, ttl: float, now: float) -> None:
        """Async :meth:`remember`."""
        try:
            await self._aclient()[0].set(key, value, px=max(1, int(ttl * 1000)))
        except Exception as exc:
            raise self._fail(exc) from None

    # --- async (redis.asyncio, one client per event loop, closed with it: guardfn.loops) -------

    def _aclient(self) -> tuple[Any, dict[str, Any]]:
        def make() -> tuple[Any, dict[str, Any]]:
            client = self._make_client(sync=False)
            return client, {name: client.register_script(script.body) for name, script in SCRIPTS.items()}

        return loop_bound(("redis-store", self.url), make, lambda entry: entry[0].aclose())

    async def _adrive(self, plan: Plan) -> Any:
        """Run a plan's script calls on this event loop's async client; what the plan returns."""
        try:
            step = next(plan)
            while True:
                name, keys, args = step
                try:
                    result = await self._aclient()[1][name](keys=keys, args=args)
                except Exception as exc:
                    step = plan.throw(self._fail(exc))
                else:
                    step = plan.send(result)
        except StopIteration as stop:
            return stop.value

    async def areserve(self, claims: list[Claim], now: float, usage: list[float] | None = None) -> Denied | None:
        """Async :meth:`reserve` on ``redis.asyncio``."""
        return await self._adrive(self._reserve_plan(claims, now, usage)) if claims else None

    async def asettle(self, claims: list[Claim], at: float, actual: list[float], now: float) -> list[float]:
        """Async :meth:`settle`."""
        targets: list[float | None] = list(actual)
        return await self._adrive(self._adjust_plan(claims, at, targets, now)) if claims else []

    async def arelease(self, claims: list[Claim], at: float, now: float) -> None:
        """Async :meth:`release`."""
        if claims:
            await self._adrive(self._adjust_plan(claims, at, [None] * len(claims), now))
