"""The ``pricing`` stage: what each model request cost, and an alert for an expensive one.

After every request it adds the request's cost (the usage the provider reported, priced
by :func:`guardfn.pricing.price_of`, the same prices budgets use, resolved once per
guarded function and model) to ``call.cost_usd``.
A single request above ``alert_usd`` (default 0.50; 0 switches it off) fires the
``guardfn_alert`` hook with ``kind="cost"`` and ``details`` of numbers and the model
name; the built-in ``alerts`` stage answers it with one log warning on ``guardfn.alerts``.
"""

from __future__ import annotations

import logging

from guardfn.call import Call, Response, StreamResponse
from guardfn.hookspecs import hookimpl
from guardfn.observability.alerts import fire
from guardfn.pricing import price_of

NAME = "pricing"
log = logging.getLogger("guardfn.pricing")


def request_cost(call: Call, response: Response | StreamResponse) -> float:
    """USD for one request's reported usage."""
    price = price_of(call.settings, call.provider, call.model)
    return price.cost(response.usage.prompt_tokens, response.usage.completion_tokens)


@hookimpl
def guardfn_settle(call: Call, response: Response | StreamResponse | None) -> None:
    """Runs after each request: adds its cost to ``call.cost_usd``; alerts above ``alert_usd``."""
    if response is None:
        return
    cost = request_cost(call, response)
    call.cost_usd += cost
    threshold = call.settings.alert_usd
    if threshold and cost > threshold:
        fire("cost", call, {"cost_usd": round(cost, 6), "alert_usd": threshold, "model": call.model})
