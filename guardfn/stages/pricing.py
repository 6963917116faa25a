"""The ``pricing`` stage: what each model request cost, and an alert for an expensive one.

After every request it adds the request's cost (the usage the provider reported, priced
by :func:`guardfn.pricing.price_for`) to ``call.cost_usd``. A single request above
``alert_usd`` (default 0.50) logs a warning and fires the ``guardfn_alert`` hook
(``kind="cost"``).
"""

from __future__ import annotations

import logging

from guardfn.call import Call, Response, StreamResponse
from guardfn.hookspecs import hookimpl
from guardfn.pricing import price_for

NAME = "pricing"
log = logging.getLogger("guardfn.pricing")


def request_cost(call: Call, response: Response | StreamResponse) -> float:
    """USD for one request's reported usage."""
    price = price_for(call.provider, call.model, call.settings.pricing)
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
        log.warning(
            "guardfn: request %s to %s cost %.4f USD, above alert_usd=%.2f", call.request_id, call.model, cost, threshold
        )
        from guardfn.plugins import get_plugin_manager

        get_plugin_manager().hook.guardfn_alert(
            kind="cost", call=call, details={"cost_usd": cost, "alert_usd": threshold, "model": call.model}
        )
