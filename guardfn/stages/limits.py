"""The ``limits`` stage: per-user rate limits and token / USD budgets (see :mod:`guardfn.limits`).

Before each model request it reserves, in one atomic store operation per subject: one
request in every request limit, the estimated tokens (prompt counted offline plus
``max_tokens``) in every token budget, and the estimated cost in every USD budget. A
refusal raises :class:`~guardfn.errors.RateLimitExceeded` (requests) or
:class:`~guardfn.errors.BudgetExceeded` (tokens, USD) with ``.limit``, ``.retry_after``,
``.usage`` and ``.capacity`` before anything is sent, and consumes nothing. After the
request, the reservation is settled to the usage the provider reported (kept at the
estimate when a stream ended before reporting it); a failed request releases it.

When the store cannot be reached the call is refused with
:class:`~guardfn.errors.StoreUnavailable`; ``on_store_error="allow"`` lets it through
and records a ``store_unavailable`` finding. Async calls use ``redis.asyncio``; the
memory and diskcache stores are local and fast, and run inline.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from guardfn.call import Call, Finding, Response, StreamResponse
from guardfn.errors import BudgetExceeded, ConfigurationError, RateLimitExceeded, StoreUnavailable
from guardfn.hookspecs import hookimpl
from guardfn.limits import LimitSpec, counter_key, parse_limits, subject
from guardfn.pricing import price_for
from guardfn.settings import Settings
from guardfn.store import Claim, Denied, open_store
from guardfn.tokens import count_tokens

NAME = "limits"
STORE_SCHEMES = ("memory", "diskcache", "redis", "rediss")
clock: Callable[[], float] = time.time
"""The time source (seconds since the epoch); tests replace it to step across windows."""

_specs: dict[int, tuple[LimitSpec, ...]] = {}


@dataclass
class Reservation:
    """What one request reserved: claims grouped by subject, the id, and the estimates."""

    rid: str
    groups: list[list[Claim]]
    specs: tuple[LimitSpec, ...]


def specs_for(settings: Settings) -> tuple[LimitSpec, ...]:
    """The parsed limits of these settings (parsed once per settings object)."""
    specs = _specs.get(id(settings))
    if specs is None:
        specs = _specs[id(settings)] = parse_limits(settings.limits)
    return specs


@hookimpl
def guardfn_configure(settings: Settings) -> None:
    """Runs when settings are built: refuses unknown limit names and non-positive values."""
    parse_limits(settings.limits)
    scheme = (settings.store or "diskcache:").split(":", 1)[0]
    if scheme not in STORE_SCHEMES:
        raise ConfigurationError(
            f"unknown store URL scheme {scheme!r}", stage=NAME, hint="use memory://, diskcache:///path or redis://"
        )


def _plan(call: Call, specs: tuple[LimitSpec, ...]) -> Reservation:
    tokens = usd = 0.0
    if any(s.kind != "requests" for s in specs):
        prompt = count_tokens(call.messages, call.model)
        tokens = float(prompt + call.max_tokens)
        usd = price_for(call.provider, call.model, call.settings.pricing).cost(prompt, call.max_tokens)
    who = subject(call.user_id, call.function, "", call.settings.limit_scope)
    amounts = {"requests": 1.0, "tokens": tokens, "usd": usd}
    groups: dict[str, list[Claim]] = {}
    for spec in specs:
        claim = Claim(counter_key(who, spec), spec.name, spec.window, spec.capacity, amounts[spec.kind])
        groups.setdefault(spec.scope, []).append(claim)
    return Reservation(f"{call.request_id}#{call.reasks}", list(groups.values()), specs)


def _refusal(denied: Denied, specs: tuple[LimitSpec, ...]) -> RateLimitExceeded:
    kind = next(s.kind for s in specs if s.name == denied.name)
    cls = RateLimitExceeded if kind == "requests" else BudgetExceeded
    unit = {"requests": "requests", "tokens": "tokens", "usd": "USD"}[kind]
    wait = denied.retry_after
    when = "this request alone is larger than the limit" if wait == float("inf") else f"retry in {wait:.1f}s"
    return cls(
        f"{denied.name} exceeded: {denied.usage:g} of {denied.capacity:g} {unit} used in the window; {when}",
        limit=denied.name,
        retry_after=wait,
        usage=denied.usage,
        capacity=denied.capacity,
        stage=NAME,
        hint="nothing was consumed by this refused call",
    )


def _store_failed(call: Call, exc: StoreUnavailable) -> None:
    if call.settings.on_store_error != "allow":
        raise exc
    call.add_finding(Finding(stage=NAME, kind="store_unavailable", detail={"allowed": True}))


@hookimpl
def guardfn_reserve(call: Call) -> Any:
    """Runs before each model request: reserves every limit atomically or refuses, consuming nothing."""
    specs = specs_for(call.settings)
    if not specs:
        return None
    plan = _plan(call, specs)
    if call.is_async:
        return _areserve(call, plan)
    try:
        store = open_store(call.settings.store)
        done: list[list[Claim]] = []
        for group in plan.groups:
            denied = store.reserve(group, plan.rid, clock())
            if denied is not None:
                for claims in done:
                    store.release([c.key for c in claims], plan.rid)
                raise _refusal(denied, specs)
            done.append(group)
    except StoreUnavailable as exc:
        return _store_failed(call, exc)
    call.state[NAME] = plan
    return None


async def _areserve(call: Call, plan: Reservation) -> None:
    try:
        store = open_store(call.settings.store)
        done: list[list[Claim]] = []
        for group in plan.groups:
            if hasattr(store, "areserve"):
                denied = await store.areserve(group, plan.rid, clock())
            else:
                denied = store.reserve(group, plan.rid, clock())
            if denied is not None:
                for claims in done:
                    await _arelease(store, [c.key for c in claims], plan.rid)
                raise _refusal(denied, plan.specs)
            done.append(group)
    except StoreUnavailable as exc:
        _store_failed(call, exc)
        return
    call.state[NAME] = plan


async def _arelease(store: Any, keys: list[str], rid: str) -> None:
    if hasattr(store, "arelease"):
        await store.arelease(keys, rid)
    else:
        store.release(keys, rid)


def _actual(call: Call, plan: Reservation, response: Response | StreamResponse) -> list[list[Claim]]:
    usage = response.usage
    if usage.total_tokens == 0:
        return []  # the provider reported nothing (a stream closed early): keep the estimate
    tokens = float(usage.total_tokens)
    usd = price_for(call.provider, call.model, call.settings.pricing).cost(usage.prompt_tokens, usage.completion_tokens)
    kinds = {s.name: s.kind for s in plan.specs}
    settled = []
    for group in plan.groups:
        weighted = [
            replace(c, amount=tokens if kinds[c.name] == "tokens" else usd)
            for c in group
            if kinds[c.name] != "requests"
        ]
        if weighted:
            settled.append(weighted)
    return settled


@hookimpl
def guardfn_settle(call: Call, response: Response | StreamResponse | None) -> Any:
    """Runs after each reserved request: settles to reported usage, or releases on failure."""
    plan: Reservation | None = call.state.pop(NAME, None)
    if plan is None:
        return None
    store = open_store(call.settings.store)
    if response is None:
        keys = [c.key for group in plan.groups for c in group]
        if call.is_async:
            return _arelease(store, keys, plan.rid)
        store.release(keys, plan.rid)
        return None
    settled = _actual(call, plan, response)
    if call.is_async and hasattr(store, "asettle"):

        async def settle_all() -> None:
            for claims in settled:
                await store.asettle(claims, plan.rid)

        return settle_all()
    for claims in settled:
        store.settle(claims, plan.rid)
    return None
