"""The ``injection`` stage: screens user-controlled text for attempts to take the model over.

Settings: ``injection`` (``"block"`` default, ``"flag"``, ``"off"``),
``injection_block_at`` (``"low"``, ``"medium"`` default, ``"high"``), ``injection_model``
(fuse the learned screen shipped in the wheel with the rules; default ``True``) and
``injection_untrusted_block_at`` (the level for untrusted content, see
:func:`screen_text` and :func:`block_level`).

What is screened: every message with role ``user``. That includes document text the
prompt function interpolated into its prompt (a ``str`` prompt is one user message),
so a prompt template itself is screened too (``guardfn scan`` checks templates in CI).
The system prompt (``system=`` or a ``system`` message) is written by the developer and
trusted; ``assistant`` turns are not screened either.

It runs in ``guardfn_screen_input``, after ``input_limits`` and before anything is
changed, so it sees the original text (secrets are redacted later). Each message gets a
:class:`guardfn.screening.injection.ScreenResult`; the call's risk is the highest.
Findings (kind ``prompt_injection``) carry rule ids and counts, never the matched text;
``call.state["injection"]`` holds the risk, score and rule ids. ``"block"`` raises
:class:`guardfn.errors.InjectionDetected` when the risk is at or above
``injection_block_at``; ``"flag"`` records the findings and lets the call through.

Rules are :data:`guardfn.screening.patterns.RULES` plus those plugins return from
``guardfn_injection_rules`` (a plugin rule with a built-in id replaces it; weight 0
disables it); the learned screen's probability is fused with them
(:mod:`guardfn.screening.injection`).

One text is scored by :func:`screen_text` with a profile: ``"prompt"`` for what the user
asks, ``"untrusted"`` for data the prompt carries (retrieved documents, tool results),
where the screen looks for instructions addressed to the assistant with thresholds of
its own; :func:`block_level` is the level at which a profile's text is refused.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

from guardfn.call import Call, Finding
from guardfn.errors import ConfigurationError, InjectionDetected
from guardfn.hookspecs import hookimpl
from guardfn.plugins import PerGeneration, get_plugin_manager
from guardfn.screening.injection import CLEAN, RISK_LEVELS, Profile, Screener, ScreenResult, default_screener
from guardfn.screening.patterns import RULES
from guardfn.settings import Settings

NAME = "injection"
OFFLOAD_CHARS = 50_000
"""In async mode, prompts longer than this are screened in a worker thread."""


def _build_screener() -> Screener:
    extra = [r for result in get_plugin_manager().hook.guardfn_injection_rules() for r in result or ()]
    try:
        built = Screener([*RULES, *extra]) if extra else default_screener()
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(f"a plugin's injection rule is invalid: {exc}", stage=NAME) from None
    return built


_current = PerGeneration(_build_screener)


def screener() -> Screener:
    """The screener with the built-in rules and every plugin's (rebuilt when plugins change)."""
    return _current.get()


def screen_text(text: str, settings: Settings, profile: Profile = "prompt") -> ScreenResult:
    """Score one text under ``settings`` (rules and, unless ``injection_model=False``,
    the learned screen) for ``profile`` (``"prompt"`` or ``"untrusted"``)."""
    return screener().screen(text, profile=profile, use_model=settings.injection_model)


def block_level(settings: Settings, profile: Profile = "prompt") -> str:
    """The risk level at which a text of ``profile`` is refused in ``"block"`` mode."""
    return settings.injection_untrusted_block_at if profile == "untrusted" else settings.injection_block_at


@hookimpl
def guardfn_configure(settings: Settings) -> None:
    """Runs when a guarded function's settings are built: compiles the rules (plugins' too)
    so a bad rule fails here rather than on a call."""
    if settings.injection != "off":
        screener()


@hookimpl
def guardfn_screen_input(call: Call) -> Any:
    """Runs before anything is changed or sent: screens every user message, records the
    findings, and in ``"block"`` mode raises ``InjectionDetected`` at or above
    ``injection_block_at``."""
    if call.settings.injection == "off":
        return None
    if call.is_async and call.prompt_chars > OFFLOAD_CHARS:
        return asyncio.to_thread(_screen, call)
    _screen(call)
    return None


def _screen(call: Call) -> None:
    settings = call.settings
    worst: ScreenResult = CLEAN
    worst_index: int | None = None
    counts: Counter[str] = Counter()
    flagged: list[int] = []
    for index, message in enumerate(call.messages):
        content = message.get("content")
        if message.get("role") != "user" or not isinstance(content, str):
            continue
        result = screen_text(content, settings)
        if worst_index is None and (worst.probability or 0.0) < (result.probability or 0.0):
            worst = result  # the highest probability so far, reported even when nothing matched
        if not result.matched:
            continue
        flagged.append(index)
        counts.update(result.counts)
        if worst_index is None or result.score > worst.score:
            worst, worst_index = result, index
    rules = sorted(counts, key=lambda rid: (list(worst.rules).index(rid) if rid in worst.rules else len(counts), rid))
    call.state[NAME] = {
        "risk": worst.risk,
        "score": worst.score,
        "probability": worst.probability,
        "rules": rules,
        "messages": flagged,
    }
    if not counts:
        return
    block = settings.injection == "block" and worst.at_least(settings.injection_block_at)
    for rid in rules:
        call.add_finding(
            Finding(
                stage=NAME,
                kind="prompt_injection",
                rule=rid,
                count=counts[rid],
                score=worst.score,
                blocked=block,
                detail={"risk": worst.risk, "probability": worst.probability, "contexts": list(worst.contexts)},
            )
        )
    if block:
        shown = ", ".join(rules[:6]) + (f" and {len(rules) - 6} more" if len(rules) > 6 else "")
        raise InjectionDetected(
            f"possible prompt injection in message {worst_index}: risk {worst.risk} "
            f"(score {worst.score:.2f}); rules: {shown}",
            risk=worst.risk,
            score=worst.score,
            rules=rules,
            stage=NAME,
            hint=(
                f"if this is legitimate text, raise injection_block_at (now {settings.injection_block_at!r}; "
                f"levels {', '.join(RISK_LEVELS)}), use injection='flag', or re-weight a rule through the "
                "guardfn_injection_rules hook"
            ),
        )
