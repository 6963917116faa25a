"""guardfn's controls run on an agent's input and on its final output; nothing is sent anywhere.

:class:`InputCheck` runs the input steps (``guardfn_screen_input`` and
``guardfn_transform_input``: length limits, injection screening, secrets, PII and any
plugin's) on the agent's input, through the same plugin manager a guarded call uses, as
``guardfn scan`` does. :class:`OutputCheck` runs the ``pii`` stage (block mode) and the
output checks (``guardfn_check_output``: prohibited terms, allowed domains, ``max_chars`` and
any plugin's rules) on the final output.

A guardrail can only let a run continue or stop it: it cannot rewrite the input or the
output. So the modes that rewrite text become their refusing twins (secrets and PII
``"block"``, ``tool_output_injection="block"``, ``on_violation="raise"``) when they come from
``guardfn.configure`` or ``GUARDFN_*``, and are refused when passed to a guardrail: to
redact instead, give the agent a model client wrapped with ``guardfn.wrap``.

A :class:`Verdict` says whether the tripwire fires and what was found: stages, kinds, rule
ids and counts, never text.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from guardfn import plugins
from guardfn.call import Call, Finding, Reask, Response, text_message
from guardfn.decorator import EngineSlot
from guardfn.errors import ConfigurationError, GuardError, InvalidPrompt
from guardfn.pipeline import Engine, outcome_of
from guardfn.prompt import to_messages
from guardfn.settings import Settings, build_settings, global_defaults
from guardfn.wrapping.requests import plain

STAGE = "agents"

BLOCKING_TWIN: dict[str, dict[str, str]] = {
    "secrets": {"redact": "block"},
    "pii": {"redact": "block", "mask": "block", "pseudonymize": "block"},
    "tool_output_injection": {"quarantine": "block"},
    "on_violation": {"redact": "raise"},
}
"""For each option, the modes that rewrite text and the mode that refuses instead."""

_SCREENING = {"disable", "plugin_options", "model", "pii", "pii_entities", "pii_allow", "pii_allow_patterns", "pii_threshold"}
INPUT_OPTIONS = frozenset(
    _SCREENING
    | {
        "injection",
        "injection_block_at",
        "secrets",
        "max_input_chars",
        "max_context_chars",
        "max_input_tokens",
        "tool_output_injection",
        "allow_images",
    }
)
"""The guardfn options an input guardrail uses."""
OUTPUT_OPTIONS = frozenset(_SCREENING | {"output_rules", "on_violation"})
"""The guardfn options an output guardrail uses."""

_SKIPPED_ITEMS = frozenset({"reasoning"})
"""Input items that carry the model's own reasoning, not input: not screened, counted."""
_READABLE_ITEMS = frozenset({"message", "function_call", "function_call_output"})


@dataclass(frozen=True)
class Verdict:
    """Whether the tripwire fires, and ``info``: what was found (JSON-ready; no text)."""

    tripped: bool
    info: dict[str, Any] = field(default_factory=dict)


class _GuardrailSlot(EngineSlot):
    """The engine of one guardrail: its options checked once, text-rewriting modes turned
    into their refusing twins, rebuilt when ``guardfn.configure`` or the plugins change."""

    def __init__(self, options: dict[str, Any], allowed: frozenset[str], what: str) -> None:
        unused = sorted(set(options) - allowed)
        if unused:
            raise ConfigurationError(
                f"{what} does not use the option(s) {', '.join(unused)}",
                stage=STAGE,
                hint=f"it takes {', '.join(sorted(allowed))}; limits and the rest belong to the model's client "
                "(guardfn.wrap)",
            )
        for name, twins in BLOCKING_TWIN.items():
            value = options.get(name)
            if isinstance(value, str) and value in twins:
                raise ConfigurationError(
                    f"{what}: {name}={value!r} rewrites text, and a guardrail can only stop the run",
                    stage=STAGE,
                    hint=f"use {name}={twins[value]!r}; to rewrite instead, give the agent a model client "
                    f"wrapped with guardfn.wrap(..., {name}={value!r})",
                )
        rules = options.get("output_rules")
        if isinstance(rules, Mapping) and rules.get("html"):
            raise ConfigurationError(f"{what}: output_rules['html'] rewrites text", stage=STAGE, hint="drop it")
        super().__init__(options)
        self.get()  # every option and plugin check fails now, not on the first run

    def settings(self) -> Settings:
        """The settings, with any text-rewriting mode inherited from elsewhere made to refuse."""
        built = super().settings()
        twins = {n: BLOCKING_TWIN[n][getattr(built, n)] for n in BLOCKING_TWIN if getattr(built, n) in BLOCKING_TWIN[n]}
        return build_settings(global_defaults(), {**self.options, **twins}) if twins else built


def _call(engine: Engine, function: str, messages: list[Any]) -> Call:
    settings = engine.settings
    return Call(
        function=function,
        settings=settings,
        messages=messages,
        provider=engine.provider,
        model=settings.model,
        max_tokens=settings.max_tokens,
        is_async=True,
    )


def _verdict(call: Call | None, error: BaseException | None, **more: Any) -> Verdict:
    """The verdict of one check: tripped when a control refused; the findings, never text."""
    findings = [] if call is None else call.findings
    info: dict[str, Any] = {
        "tripped_by": getattr(error, "stage", STAGE) if error is not None else None,
        "error": type(error).__name__ if error is not None else None,
        "findings": [
            {"stage": f.stage, "kind": f.kind, "rule": f.rule, "count": f.count, "blocked": f.blocked}
            for f in findings
        ],
        **more,
    }
    injection = call.state.get("injection") if call is not None else None
    if isinstance(injection, Mapping):
        info["risk"] = injection.get("risk")
        info["rules"] = list(injection.get("rules") or [])
    return Verdict(error is not None, info)


def _refusing(error: GuardError) -> bool:
    """A control refused (rather than guardfn failing to run: a missing engine, a bad plugin)."""
    return outcome_of(error) == "blocked" or isinstance(error, InvalidPrompt)


def _input_items(value: Any) -> tuple[Any, int, str | None]:
    """``(prompt, skipped, unreadable)``: the input as guardfn reads it, how many reasoning
    items were left out, and the type of the first item guardfn cannot screen (if any)."""
    if isinstance(value, str):
        return value, 0, None
    kept: list[Any] = []
    skipped = 0
    for item in plain(list(value)):
        kind = item.get("type", "message") if isinstance(item, dict) else type(item).__name__
        if kind in _SKIPPED_ITEMS:
            skipped += 1
        elif kind in _READABLE_ITEMS:
            kept.append(item)
        else:
            return kept, skipped, str(kind)
    return kept, skipped, None


class InputCheck:
    """guardfn's input screening for an agent's input, with guardfn options (``injection``,
    ``secrets``, ``pii``, ``max_input_chars`` ...; see :data:`INPUT_OPTIONS`), checked now."""

    def __init__(self, **options: Any) -> None:
        self._slot = _GuardrailSlot(options, INPUT_OPTIONS, "the guardfn input guardrail")

    async def run(self, value: Any) -> Verdict:
        """Screen the input (a string, or a list of input items); trips when a control refuses."""
        engine = self._slot.get()
        prompt, skipped, unreadable = _input_items(value)
        more = {"skipped_items": skipped} if skipped else {}
        if unreadable is not None:
            return _unscreenable(unreadable, more)
        try:
            call = _call(engine, "guardfn_agents.input", to_messages(prompt, None))
        except InvalidPrompt as exc:
            return _verdict(None, exc, **more)
        try:
            for step in ("guardfn_screen_input", "guardfn_transform_input"):
                await engine.walk_async(call, step, {"call": call})
        except GuardError as exc:
            if not _refusing(exc):
                raise
            return _verdict(call, exc, **more)
        return _verdict(call, None, **more)


def _unscreenable(kind: str, more: dict[str, Any]) -> Verdict:
    finding = {"stage": STAGE, "kind": "unscreenable_input", "rule": kind[:64], "count": 1, "blocked": True}
    return Verdict(True, {"tripped_by": STAGE, "error": "InvalidPrompt", "findings": [finding], **more})


def render(output: Any) -> tuple[str, Any]:
    """The final output as text the rules read, and as the object whose strings they read too."""
    if isinstance(output, str):
        return output, None
    dump_json = getattr(output, "model_dump_json", None)
    if callable(dump_json):
        return str(dump_json()), output
    import json

    return json.dumps(plain(output), default=str, ensure_ascii=False), output


class OutputCheck:
    """guardfn's output checks for an agent's final output, with guardfn options
    (``output_rules``, ``on_violation``, ``pii``; see :data:`OUTPUT_OPTIONS`), checked now.

    ``pii="block"`` trips on personal data in the output; the output rules trip
    (``on_violation="raise"``, the default) or only report (``"flag"``).
    """

    def __init__(self, **options: Any) -> None:
        self._slot = _GuardrailSlot(options, OUTPUT_OPTIONS, "the guardfn output guardrail")

    async def run(self, output: Any) -> Verdict:
        """Check the final output (a string, a pydantic model, or JSON-like data)."""
        engine = self._slot.get()
        text, parsed = render(output)
        call = _call(engine, "guardfn_agents.output", [text_message("assistant", text)])
        response = Response(text=text, model=call.model, parsed=parsed)
        call.response = response
        try:
            await self._pii(engine, call)
            await engine.walk_async(call, "guardfn_check_output", {"call": call, "response": response})
        except Reask as reask:  # a check asking the model again: an agent's final output cannot be re-asked
            call.add_finding(Finding(stage=STAGE, kind="reask", blocked=True))
            return _verdict(call, reask)
        except GuardError as exc:
            if not _refusing(exc):
                raise
            return _verdict(call, exc)
        return _verdict(call, None)

    @staticmethod
    async def _pii(engine: Engine, call: Call) -> None:
        """The ``pii`` stage (whichever plugin is registered under that name), in block mode."""
        settings = engine.settings
        if settings.pii != "block" or "pii" in settings.disable:
            return
        stage = plugins.get_plugin_manager().get_plugin("pii")
        hook = getattr(stage, "guardfn_transform_input", None)
        if hook is None:
            raise ConfigurationError("pii='block' but no 'pii' stage is registered", stage=STAGE)
        result = hook(call=call)
        if inspect.isawaitable(result):
            await result
