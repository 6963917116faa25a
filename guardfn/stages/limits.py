"""The ``limits`` stage: per-user rate limits and token / USD budgets (see :mod:`guardfn.limits`).

Before each model request it reserves, in one atomic store operation per subject: one
request in every request limit, the estimated tokens (prompt counted offline plus
``max_tokens``) in every token budget, and the estimated cost in every USD budget. A
refusal raises :class:`~guardfn.errors.RateLimitExceeded` (requests) or
:class:`~guardfn.errors.BudgetExceeded` (tokens, USD) with ``.limit``, ``.retry_after``,
``.usage`` and ``.capacity`` before anything is sent, and consumes nothing. After the
request, the reservation is settled to the usage the provider reported (kept at the
estimate when a stream ended before reporting it); a failed request releases it.

Per-user limits of a call are reserved in one store operation; global limits
(``limits={"global": {...}}``, reported as ``.limit == "global.requests_per_minute"``)
in a second one, after which a refusal releases the first again.

When the store cannot be reached the call is refused with
:class:`~guardfn.errors.StoreUnavailable`; ``on_store_error="allow"`` lets it through
and records a ``store_unavailable`` finding. Async calls use ``redis.asyncio``; the
memory and diskcache stores are local and fast (tens of microseconds), and run inline.
"""

from __future__ import annotations

import contextlib
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from guardfn.call import Call, Finding, Response, StreamResponse
from guardfn.errors import BudgetExceeded, RateLimitExceeded, StoreUnavailable
from guardfn.hookspecs import hookimpl
from guardfn.limits import LimitSpec, counter_key, parse_limits, subject
from guardfn.pricing import price_for
from guardfn.settings import Settings
from guardfn.store import Claim, Denied, Store, open_store
from guardfn.tokens import count_text, count_tokens

NAME = "limits"
clock: Callable[[], float] = time.time
"""The time source (seconds since the epoch); tests replace it to step across windows."""

_specs: dict[int, tuple[weakref.ref[Settings], tuple[LimitSpec, ...]]] = {}


@dataclass
class Reservation:
    """What one request reserved: its id, its claims grouped by subject, and each claim's kind."""

    rid: str
    groups: list[list[Claim]]
    kinds: dict[str, str]


def specs_for(settings: Settings) -> tuple[LimitSpec, ...]:
    """The parsed limits of these settings (parsed once per live settings object).

    The cache checks a weak reference, so a new settings object that reuses a freed
    object's ``id`` never inherits its limits.
    """
    cached = _specs.get(id(settings))
    if cached is not None and cached[0]() is settings:
        return cached[1]
    specs = parse_limits(settings.limits)
    key = id(settings)

    def forget(ref: weakref.ref[Settings]) -> None:
        if _specs.get(key, (None,))[0] is ref:
            del _specs[key]

    _specs[key] = (weakref.ref(settings, forget), specs)
    return specs


@hookimpl
def guardfn_configure(settings: Settings) -> None:
    """Runs when settings are built (limits and the store URL are already validated then).

    With a token or USD budget it loads the offline tokenizer in a background thread, so
    the first call does not pay for it.
    """
    specs = specs_for(settings)
    if any(spec.kind != "requests" for spec in specs):
        threading.Thread(target=count_text, args=("warm up", "gpt-4o"), daemon=True).start()


def _plan(call: Call, specs: tuple[LimitSpec, ...]) -> Reservation:
    tokens = usd = 0.0
    if any(s.kind != "requests" for s in specs):
        prompt = count_tokens(call.messages, call.model)
        tokens = float(prompt + call.max_tokens)
        usd = price_for(call.provider, call.model, call.settings.pricing, call.settings.base_url).cost(prompt, call.max_tokens)
    who = subject(call.user_id, call.function, call.settings.limit_scope)
    amounts = {"requests": 1.0, "tokens": tokens, "usd": usd}
    groups: dict[str, list[Claim]] = {}
    kinds: dict[str, str] = {}
    for spec in specs:
        name = spec.name if spec.scope == "user" else f"{spec.scope}.{spec.name}"
        kinds[name] = spec.kind
        claim = Claim(counter_key(who, spec), name, spec.window, spec.capacity, amounts[spec.kind])
        groups.setdefault(spec.scope, []).append(claim)
    return Reservation(f"{call.request_id}#{call.reasks}.{call.tool_round}", list(groups.values()), kinds)


def _refusal(denied: Denied, plan: Reservation) -> RateLimitExceeded:
    kind = plan.kinds[denied.name]
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


def _keys(groups: list[list[Claim]]) -> list[str]:
    return [c.key for group in groups for c in group]


@hookimpl
def guardfn_reserve(call: Call) -> Any:
    """Runs before each model request: reserves every limit atomically or refuses, consuming nothing.

    May raise :class:`RateLimitExceeded`, :class:`BudgetExceeded` or
    :class:`StoreUnavailable`; returns a coroutine for async calls.
    """
    specs = specs_for(call.settings)
    if not specs:
        return None
    plan = _plan(call, specs)
    if call.is_async:
        return _areserve(call, plan)
    done: list[list[Claim]] = []
    try:
        store = open_store(call.settings.store)
        for group in plan.groups:
            denied = store.reserve(group, plan.rid, clock())
            if denied is not None:
                if done:
                    store.release(_keys(done), plan.rid)
                raise _refusal(denied, plan)
            done.append(group)
    except StoreUnavailable as exc:
        if done:
            with contextlib.suppress(StoreUnavailable):
                store.release(_keys(done), plan.rid)
        return _store_failed(call, exc)
    call.state[NAME] = plan
    return None


async def _areserve(call: Call, plan: Reservation) -> None:
    done: list[list[Claim]] = []
    try:
        store = open_store(call.settings.store)
        for group in plan.groups:
            denied = await _astore(store, "reserve", group, plan.rid, clock())
            if denied is not None:
                if done:
                    await _astore(store, "release", _keys(done), plan.rid)
                raise _refusal(denied, plan)
            done.append(group)
    except StoreUnavailable as exc:
        if done:
            with contextlib.suppress(StoreUnavailable):
                await _astore(store, "release", _keys(done), plan.rid)
        _store_failed(call, exc)
        return
    call.state[NAME] = plan


async def _astore(store: Store, op: str, *args: Any) -> Any:
    """``store.a<op>`` when the store has an async form (Redis), else the local sync one inline."""
    method = getattr(store, "a" + op, None)
    if method is not None:
        return await method(*args)
    return getattr(store, op)(*args)


def _actual(call: Call, plan: Reservation, response: Response | StreamResponse) -> list[list[Claim]]:
    usage = response.usage
    if usage.total_tokens == 0:
        return []  # the provider reported nothing (a stream closed early): keep the estimate
    tokens = float(usage.total_tokens)
    usd = price_for(call.provider, call.model, call.settings.pricing, call.settings.base_url).cost(usage.prompt_tokens, usage.completion_tokens)
    settled = []
    for group in plan.groups:
        weighted = [
            replace(c, amount=tokens if plan.kinds[c.name] == "tokens" else usd)
            for c in group
            if plan.kinds[c.name] != "requests"
        ]
        if weighted:
            settled.append(weighted)
    return settled


@hookimpl
def guardfn_settle(call: Call, response: Response | StreamResponse | None) -> Any:
    """Runs after each reserved request: settles budgets to the reported usage, or releases on failure.

    An observer: a store error here is logged by the pipeline and never fails a call
    whose response already arrived. Returns a coroutine for async calls.
    """
    plan: Reservation | None = call.state.pop(NAME, None)
    if plan is None:
        return None
    store = open_store(call.settings.store)
    if response is None:
        if call.is_async:
            return _astore(store, "release", _keys(plan.groups), plan.rid)
        store.release(_keys(plan.groups), plan.rid)
        return None
    settled = _actual(call, plan, response)
    if call.is_async:

        async def settle_all() -> None:
            for claims in settled:
                await _astore(store, "settle", claims, plan.rid)

        return settle_all()
    for claims in settled:
        store.settle(claims, plan.rid)
    return None
