"""The ``limits`` stage: per-user rate limits and token / USD budgets (see :mod:`guardfn.limits`).

Before each model request it reserves, in one atomic store operation: one request in
every request limit, a bound of the tokens (the prompt's UTF-8 bytes plus
``max_tokens``: :func:`guardfn.tokens.prompt_bound`, no tokenizer) in every token
budget, and that bound's cost in every USD budget, per user and global alike. A
refusal raises :class:`~guardfn.errors.RateLimitExceeded` (requests) or
:class:`~guardfn.errors.BudgetExceeded` (tokens, USD) with ``.limit``,
``.retry_after``, ``.usage`` and ``.capacity`` before anything is sent, and consumes
nothing. After the request, one store operation settles the budgets to the usage the
provider reported (kept at the reservation when a stream ended before reporting it)
and returns each budget's usage, from which this stage raises the ``"budget"`` alert
when the request pushed a budget across ``budget_alert_ratio``; a failed request
releases its reservation in one operation. Request-only limits need no settle.

When the store cannot be reached the call is refused with
:class:`~guardfn.errors.StoreUnavailable`; ``on_store_error="allow"`` lets it through
and records a ``store_unavailable`` finding. Async calls use ``redis.asyncio``; the
memory and diskcache stores are local and fast (tens of microseconds), and run inline.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any, NamedTuple

from guardfn.call import Call, Finding, Response, StreamResponse
from guardfn.errors import BudgetExceeded, RateLimitExceeded, StoreUnavailable
from guardfn.hookspecs import hookimpl
from guardfn.limits import LimitSpec, counter_key, parse_limits, subject
from guardfn.observability.alerts import budget_crossings, fire
from guardfn.pricing import price_of
from guardfn.settings import PerSettings, Settings
from guardfn.store import Claim, Denied, Store, open_store
from guardfn.tokens import prompt_bound

NAME = "limits"
clock: Callable[[], float] = time.time
"""The time source (seconds since the epoch); tests replace it to step across windows."""



def active(settings: Settings) -> bool:
    """Whether this stage has anything to do for a function with these settings (any limit set)."""
    return bool(settings.limits)


class Limits:
    """The limits of one settings object, parsed once, ready to turn a call into claims.

    Per-user limits come first and global ones after them (a cheap per-user refusal never
    touches the shared global key on a Redis Cluster, where they are two operations).
    """

    def __init__(self, settings: Settings) -> None:
        self.specs = tuple(sorted(parse_limits(settings.limits), key=lambda s: s.scope == "global"))
        self.scope = settings.limit_scope
        self.names = [_name(s) for s in self.specs]
        self.by_name = dict(zip(self.names, self.specs, strict=True))
        self.budgets = [i for i, s in enumerate(self.specs) if s.kind != "requests"]
        self.priced = any(s.kind == "usd" for s in self.specs)
        # a user key is head + subject + tail; a global key is fixed
        self._parts = [tuple(counter_key("\0", s).split("\0")) for s in self.specs]
        self._keys: dict[tuple[str, str], list[str]] = {}

    def keys(self, user_id: str, function: str) -> list[str]:
        """The store keys of this user's (and the global) limits, remembered for the busiest 4,096 users."""
        keys = self._keys.get((user_id, function))
        if keys is None:
            if len(self._keys) >= 4096:
                self._keys.clear()
            who = subject(user_id, function, self.scope)
            keys = self._keys[(user_id, function)] = [who.join(parts) for parts in self._parts]
        return keys

    def claims(self, call: Call) -> list[Claim]:
        """One claim per limit: a request, or the bound of the call's tokens or cost."""
        tokens = usd = 0.0
        if self.budgets:
            prompt = prompt_bound(call.messages, call.model, call.tools)
            tokens = float(prompt + call.max_tokens)
            if self.priced:
                usd = price_of(call.settings, call.provider, call.model).cost(prompt, call.max_tokens)
        amounts = {"requests": 1.0, "tokens": tokens, "usd": usd}
        return [
            Claim(key, name, s.window, s.capacity, amounts[s.kind])
            for key, name, s in zip(self.keys(call.user_id, call.function), self.names, self.specs, strict=True)
        ]


class Reservation(NamedTuple):
    """What one request reserved: its claims, in the order of :attr:`Limits.specs`, and when."""

    claims: list[Claim]
    limits: Limits
    at: float


_limits = PerSettings(lambda settings: Limits(settings))


def limits_for(settings: Settings) -> Limits:
    """The :class:`Limits` of these settings (built once per live settings object)."""
    return _limits.get(settings)


def specs_for(settings: Settings) -> tuple[LimitSpec, ...]:
    """The parsed limits of these settings, per-user first (see :func:`limits_for`)."""
    return limits_for(settings).specs


def _name(spec: LimitSpec) -> str:
    return spec.name if spec.scope == "user" else f"{spec.scope}.{spec.name}"


def _refusal(denied: Denied, limits: Limits) -> RateLimitExceeded:
    kind = limits.by_name[denied.name].kind
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
    """Runs before each model request: reserves every limit atomically or refuses, consuming nothing.

    May raise :class:`RateLimitExceeded`, :class:`BudgetExceeded` or
    :class:`StoreUnavailable`; returns a coroutine for async calls.
    """
    limits = limits_for(call.settings)
    if not limits.specs:
        return None
    plan = Reservation(limits.claims(call), limits, clock())
    if call.is_async:
        return _areserve(call, plan)
    try:
        denied = open_store(call.settings.store).reserve(plan.claims, plan.at)
    except StoreUnavailable as exc:
        return _store_failed(call, exc)
    if denied is not None:
        raise _refusal(denied, limits)
    call.state[NAME] = plan
    return None


async def _areserve(call: Call, plan: Reservation) -> None:
    try:
        denied = await _astore(open_store(call.settings.store), "reserve", plan.claims, plan.at)
    except StoreUnavailable as exc:
        _store_failed(call, exc)
        return
    if denied is not None:
        raise _refusal(denied, plan.limits)
    call.state[NAME] = plan


async def _astore(store: Store, op: str, *args: Any) -> Any:
    """``store.a<op>`` when the store has an async form (Redis), else the local sync one inline."""
    method = getattr(store, "a" + op, None)
    if method is not None:
        return await method(*args)
    return getattr(store, op)(*args)


def _budgets(call: Call, plan: Reservation, response: Response | StreamResponse) -> tuple[list[Claim], list[float]]:
    """The budget claims of ``plan`` and the amounts the provider's reported usage makes them."""
    usage = response.usage
    if usage.total_tokens == 0:
        return [], []  # the provider reported nothing (a stream closed early): keep the reservation
    tokens = float(usage.total_tokens)
    usd = 0.0
    if plan.limits.priced:
        usd = price_of(call.settings, call.provider, call.model).cost(usage.prompt_tokens, usage.completion_tokens)
    specs = plan.limits.specs
    claims = [plan.claims[i] for i in plan.limits.budgets]
    return claims, [tokens if specs[i].kind == "tokens" else usd for i in plan.limits.budgets]


def _alert(call: Call, plan: Reservation, claims: list[Claim], actual: list[float], used: list[float]) -> None:
    """Fire ``"budget"`` for every budget this request pushed across ``budget_alert_ratio``."""
    by_name = plan.limits.by_name
    settled = [
        (by_name[c.name].name, by_name[c.name].scope, c.capacity, u, a)
        for c, a, u in zip(claims, actual, used, strict=True)
    ]
    for details in budget_crossings(call, settled):
        fire("budget", call, details)


@hookimpl
def guardfn_settle(call: Call, response: Response | StreamResponse | None) -> Any:
    """Runs after each reserved request: settles budgets to the reported usage, or releases on failure.

    One store operation either way; settling also raises the ``"budget"`` alert. An
    observer: a store error here is logged by the pipeline and never fails a call
    whose response already arrived. Returns a coroutine for async calls.
    """
    plan: Reservation | None = call.state.pop(NAME, None)
    if plan is None:
        return None
    store = open_store(call.settings.store)
    if response is None:
        if call.is_async:
            return _astore(store, "release", plan.claims, plan.at, clock())
        store.release(plan.claims, plan.at, clock())
        return None
    claims, actual = _budgets(call, plan, response)
    if not claims:
        return None
    if call.is_async:
        return _asettle(call, store, plan, claims, actual)
    _alert(call, plan, claims, actual, store.settle(claims, plan.at, actual, clock()))
    return None


async def _asettle(call: Call, store: Store, plan: Reservation, claims: list[Claim], actual: list[float]) -> None:
    used: Awaitable[list[float]] = _astore(store, "settle", claims, plan.at, actual, clock())
    _alert(call, plan, claims, actual, await used)
