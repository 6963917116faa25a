"""Hook specifications: every step of a guarded call, in the order the pipeline runs them.

A plugin is any object (a module, a class instance) with functions named like these
specs and decorated with :data:`guardfn.hookimpl`. The core fixes the order of the
steps; within one step pluggy orders plugins (``tryfirst`` / ``trylast``, later
registrations first). Built-in stages are registered first as ``trylast`` defaults.

Three result shapes:

* a **decision** (``firstresult``): the first non-``None`` result wins
  (``guardfn_resolve_api_key``, ``guardfn_call_model``, ``guardfn_select_provider``,
  ``guardfn_model_price``);
* a **collection**: every plugin's list is gathered (``guardfn_injection_rules``,
  ``guardfn_output_rules``, ``guardfn_secret_detectors``);
* a **transformation**: the plugin edits the :class:`~guardfn.call.Call` in place and
  records what it changed with ``call.record_change`` or ``call.add_finding``.

Messages are :class:`guardfn.call.Message` objects in one canonical form (text and image
parts, tool calls, tool results); walk their text with ``call.texts()`` and edit it with
``call.replace_text()``. After each round of tool calls the input hooks run again and
``call.texts(new=True)`` yields only the new messages (the tool results); each tool call the
model asks for passes ``guardfn_check_tool_call`` before any tool runs.

Blocking: a stage refuses a call by raising a :class:`guardfn.GuardError` subclass,
never by returning a magic value. Any other exception from a fail-closed hook refuses
the call as a :class:`guardfn.PluginError`.

Async rule: when the decorated function is ``async def``, ``call.is_async`` is true and
every hook implementation may return an awaitable (or be ``async def``). The pipeline
walks each step's implementations itself, one by one in hook order, awaiting each
awaitable result before the next implementation runs, so ordering is the same in sync
and async mode and a decision hook stops at the first non-``None`` awaited result.
Never block the event loop in async mode: use async clients (``redis.asyncio``, the
SDKs' async clients). In sync mode an implementation must not return an awaitable.
Because the pipeline walks implementations itself, hook wrappers (``wrapper=True``,
``hookwrapper=True``) are refused; every implementation's run is recorded on
``call.spans`` (step, plugin, start and end) and summed per step in ``call.timings``.

Secrecy: plugins see unredacted prompts before ``guardfn_transform_input``; they must
never log, export or raise with prompt text, PII or keys.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from guardfn.call import Call, Response, StreamResponse, ToolRequest
    from guardfn.settings import Settings

PROJECT = "guardfn"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


# --- configure -------------------------------------------------------------------


@hookspec
def guardfn_configure(settings: Settings) -> None:
    """Check the effective settings of a guarded function when they are built.

    Runs once per decorated function (again when ``guardfn.configure`` changes the
    global defaults), before its first call. May validate the settings and raise
    :class:`guardfn.ConfigurationError`; must not mutate them.

    Fail-closed: an exception refuses the call.
    """


@hookspec(firstresult=True)
def guardfn_select_provider(model: str, settings: Settings) -> str | None:
    """Name the provider that serves ``model`` when the decorator gave no ``provider=``.

    Runs when settings are built. Return a provider name (``"openai"``, ``"anthropic"``,
    or a plugin's own) or ``None`` to let the next plugin decide. The built-in sends
    models starting with ``claude`` to Anthropic and everything else to OpenAI.

    Fail-closed: an exception refuses the call.
    """


@hookspec(firstresult=True)
def guardfn_resolve_api_key(provider: str, settings: Settings) -> str | None:
    """Return the API key for ``provider``, or ``None`` to let the next source try.

    Runs before the model is called (cached by the key stage). Built-ins, in order: the
    ``api_key=`` callable or string, then ``<PROVIDER>_API_KEY`` from the environment,
    then from a ``.env`` file. Never log or raise with the key.

    Fail-closed: an exception refuses the call.
    """


# --- input ------------------------------------------------------------------------


@hookspec
def guardfn_screen_input(call: Call) -> None:
    """Inspect the prompt before anything is changed or sent.

    Runs after the prompt function returned and the messages were normalised, and again
    after each round of tool calls for the messages it added (the tool results): walk
    ``call.texts(new=True)`` to see each text part once. May append
    findings (``call.add_finding``) and raise an :class:`guardfn.InputRejected` subclass
    to refuse; may clean text that would crash an SDK (recording the change). Built-ins:
    input limits, injection screening, secrets in prompts.

    Fail-closed: an exception refuses the call.
    """


@hookspec
def guardfn_transform_input(call: Call) -> None:
    """Rewrite the messages before they leave the process (PII redaction and the like).

    Runs after screening and before reservation, so everything later (the provider,
    audit, metrics) only sees transformed text; again after each round of tool calls for the
    new messages (``call.texts(new=True)``). Edit text with ``call.replace_text`` and
    record each edit with ``call.record_change``; reversible replacements go into
    ``call.vault`` (one vault per call, across every round).

    Fail-closed: an exception refuses the call.
    """


@hookspec
def guardfn_reserve(call: Call) -> None:
    """Claim quota for the call (rate limits, token and USD budgets) before it is sent.

    Runs once per model request (a schema re-ask reserves again). Raise
    :class:`guardfn.RateLimitExceeded` / :class:`guardfn.BudgetExceeded` to refuse; a
    refusal must leave nothing consumed. Keep what must be settled in
    ``call.state[<plugin name>]``.

    Fail-closed: an exception refuses the call.
    """


# --- model ------------------------------------------------------------------------


@hookspec(firstresult=True)
def guardfn_call_model(call: Call, api_key: str) -> Response | StreamResponse | None:
    """Send ``call.messages`` to the model and return the answer.

    Runs once per model request. Return ``None`` when ``call.provider`` is not yours.
    Send ``call.max_tokens`` always. Retries of transient failures happen here and are
    counted in ``call.retries``; failures raise :class:`guardfn.ProviderError` with keys
    scrubbed. When ``call.stream`` is true return a :class:`~guardfn.call.StreamResponse`.

    Fail-closed: an exception refuses the call.
    """


# --- output -----------------------------------------------------------------------


@hookspec
def guardfn_check_output(call: Call, response: Response) -> None:
    """Validate the model's answer (schema, semantic rules, canary leaks).

    Runs after each model request, before the output is transformed. May set
    ``response.parsed``, append findings, edit ``response.text`` (recording the change)
    or raise an :class:`guardfn.OutputRejected` subclass. A schema stage that wants to
    re-ask raises :class:`guardfn.call.Reask` (the pipeline settles the request,
    appends the messages it carries and calls the model again).

    Fail-closed: an exception refuses the call.
    """


@hookspec
def guardfn_check_tool_call(call: Call, request: ToolRequest) -> None:
    """Judge one tool call the model asked for, before anything runs.

    Runs for each tool call of an answer, after ``guardfn_check_output``; all calls of the
    answer are judged before any tool runs. ``request.tool_call`` is the call as the model
    wrote it; ``request.arguments`` is a working copy a stage may rewrite (the ``pii`` stage
    restores pseudonymized values so the tool gets the real ones); the ``tools`` stage finds
    the offered tool (``request.tool``) and validates the arguments (``request.value``).
    Raise :class:`guardfn.ToolCallRejected` or :class:`guardfn.GuardrailViolation` to refuse
    (nothing runs), or :class:`~guardfn.call.Reask` to ask the model again.

    Fail-closed: an exception refuses the call.
    """


@hookspec
def guardfn_wrap_stream(call: Call, chunks: Any) -> Any:
    """Wrap the stream of text chunks of a streamed answer (``stream=True``).

    Runs once per streamed call, after the model returned a stream. Return a new
    iterator of text chunks (an async iterator when ``call.is_async``) that consumes
    ``chunks``, or ``None`` to leave it alone. Wrappers chain in hook order: each gets
    the previous one's iterator. Hold back only as much text as a rule needs.

    Fail-closed: an exception refuses the call.
    """


@hookspec
def guardfn_transform_output(call: Call, response: Response) -> None:
    """Rewrite the answer before the caller gets it (restore PII placeholders, sanitise HTML).

    Runs after the output checks passed. Edit ``response.text`` and ``response.parsed``
    in place.

    Fail-closed: an exception refuses the call.
    """


@hookspec
def guardfn_settle(call: Call, response: Response | StreamResponse | None) -> None:
    """Settle the reservation against the usage the provider reported.

    Runs after each model request that was reserved, with ``response`` set on success
    and ``None`` when the request failed (then release the whole reservation). Also
    computes ``call.cost_usd`` (the built-in pricing stage).

    Observer: an exception is logged, never raised into the call.
    """


@hookspec
def guardfn_record(call: Call, outcome: str) -> None:
    """Observe a finished call: metrics, audit log, alerts.

    Runs exactly once per call, on success (``"ok"``), refusal (``"blocked"``) and
    failure (``"failed"``); ``call.error`` holds the exception for the last two. Must
    not read ``call.vault`` or export message text.

    Observer: an exception is logged, never raised into the call.
    """


# --- data hooks -------------------------------------------------------------------


@hookspec(firstresult=True)
def guardfn_model_price(provider: str, model: str) -> Any:
    """Return a :class:`guardfn.pricing.Price` (USD per million input/output tokens).

    Runs when a cost is estimated or settled. Return ``None`` to use the next source;
    the built-in table is the last.

    Fail-closed: an exception refuses the call.
    """


@hookspec
def guardfn_injection_rules() -> list[Any]:
    """Return extra injection rules (:class:`guardfn.screening.patterns.Rule`).

    Runs once, when the injection screener is built. Collected from every plugin.

    Fail-closed: an exception refuses the call.
    """


@hookspec
def guardfn_secret_detectors() -> list[Any]:
    """Return extra secret detectors (:class:`guardfn.screening.secrets.Detector`).

    Runs once, when the secret scanner is built. Collected from every plugin.

    Fail-closed: an exception refuses the call.
    """


@hookspec
def guardfn_output_rules(settings: Settings) -> list[Any]:
    """Return output rules (:class:`guardfn.output.rules.OutputRule`) for these settings.

    Runs when a guarded function's output rules are built. Collected from every plugin.

    Fail-closed: an exception refuses the call.
    """


@hookspec
def guardfn_alert(kind: str, call: Call | None, details: dict[str, Any]) -> None:
    """React to an alert: ``"cost"`` (one request above ``alert_usd``), ``"budget"``
    (a user crossed 80% of a budget), ``"injection_burst"`` (many injection blocks).

    Runs when a stage raises an alert. ``details`` holds numbers and names, never text.
    The built-in logs a warning.

    Observer: an exception is logged, never raised into the call.
    """
