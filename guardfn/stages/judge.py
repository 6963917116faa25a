"""The ``judge`` stage: an LLM decides what the local checks leave open (see :mod:`guardfn.judge`).

Settings: ``injection_judge`` (the judge's model), ``injection_judge_band`` (the grey zone of
the injection score), ``output_policy`` (policies in words the answer must keep).

* **Injection in the grey zone.** The ``injection`` stage defers a text whose score falls in
  ``injection_judge_band`` (``call.state["injection_pending"]``); this stage, which runs
  right after it, asks the judge about each and hands the verdict back to the injection
  stage, which refuses, quarantines or flags exactly as it would have for a clear case.
* **Output policies.** After each final answer (not one that calls tools), the judge is asked
  whether it breaks each policy; a violation raises
  :class:`guardfn.GuardrailViolation` (rule ``output_policy``), or, with
  ``on_violation="flag"``, is recorded and the answer kept. A stream cannot be judged as a
  whole, so ``output_policy`` with ``stream=True`` is refused when decorated.

Findings carry the verdict (booleans, a category, a confidence) and whether it came from the
cache, never text. The judge's own call is audited and costed on its own.
"""

from __future__ import annotations

import time
from typing import Any

from guardfn.call import Call, Finding, Response
from guardfn.errors import ConfigurationError, GuardrailViolation
from guardfn.hookspecs import hookimpl
from guardfn.judge import Question, describe, judge_options
from guardfn.settings import Settings, build_settings
from guardfn.stages import injection

NAME = "judge"
clock = time.time
"""The time source of the verdict cache (tests replace it)."""


def active(settings: Settings) -> bool:
    """Whether this stage runs for a function with these settings (a judge or a policy is set)."""
    return bool(settings.injection_judge or settings.output_policy)


def policies(settings: Settings) -> list[str]:
    """The output policies, as a list."""
    value = settings.output_policy
    return [value] if isinstance(value, str) else list(value or [])


@hookimpl
def guardfn_configure(settings: Settings) -> None:
    """Runs when a guarded function is decorated: the judge's own options must hold, a policy
    cannot judge a stream, and a judge for injections needs injection screening on."""
    if not active(settings):
        return
    if settings.output_policy and settings.stream:
        raise ConfigurationError(
            "output_policy cannot judge a stream (an answer is judged whole)",
            stage=NAME,
            hint="drop stream=True, or express the policy as output_rules",
        )
    if settings.injection_judge and settings.injection == "off":
        raise ConfigurationError("injection_judge is set but injection screening is off", stage=NAME)
    for kind in ("injection_judge", "output_policy"):
        build_settings({}, judge_options(settings, kind))


@hookimpl
def guardfn_screen_input(call: Call) -> Any:
    """Runs right after the ``injection`` stage: asks the judge about each text the stage left
    in its grey zone and hands each verdict to :func:`guardfn.stages.injection.decide`, which
    refuses, quarantines or flags as for a clear case. A judge that cannot answer (provider
    down, budget spent) fails the call: an unjudged suspect text is not sent."""
    pending = call.state.pop(injection.PENDING, None)
    if not pending:
        return None
    questions = [Question(call, "injection_judge", ref.text) for ref, _ in pending]
    if call.is_async:
        return _judge_async(call, pending, questions)
    for (ref, result), question in zip(pending, questions, strict=True):
        injection.decide(call, ref, result, _verdict(*question.answer_sync(clock())))
    return None


async def _judge_async(call: Call, pending: list[Any], questions: list[Question]) -> None:
    for (ref, result), question in zip(pending, questions, strict=True):
        injection.decide(call, ref, result, _verdict(*await question.answer_async(clock())))


def _verdict(verdict: Any, cached: bool) -> dict[str, Any]:
    """A verdict as finding detail (booleans, a category, a confidence, whether cached: no text)."""
    return {**describe(verdict), "cached": cached}


@hookimpl(trylast=True)
def guardfn_check_output(call: Call, response: Response) -> Any:
    """Runs after each answer (after the schema and output rules): asks the judge whether the
    final answer breaks an ``output_policy``; raises ``GuardrailViolation`` or flags."""
    rules = policies(call.settings)
    if not rules or response.tool_calls:
        return None
    from guardfn.pii.restore import restore_text

    text = restore_text(response.text, call.vault) if call.vault else response.text
    questions = [Question(call, "output_policy", text, policy) for policy in rules]
    if call.is_async:
        return _ask_async(call, questions)
    _decide(call, [q.answer_sync(clock()) for q in questions])
    return None


async def _ask_async(call: Call, questions: list[Question]) -> None:
    _decide(call, [await q.answer_async(clock()) for q in questions])


def _decide(call: Call, verdicts: list[tuple[Any, bool]]) -> None:
    broken = 0
    for index, (verdict, cached) in enumerate(verdicts):
        violated = bool(verdict.violates)
        broken += violated
        call.add_finding(
            Finding(
                stage=NAME,
                kind="output_policy",
                rule=f"output_policy[{index}]",
                blocked=violated and call.settings.on_violation != "flag",
                detail=_verdict(verdict, cached),
            )
        )
    if broken and call.settings.on_violation != "flag":
        raise GuardrailViolation(
            f"the answer breaks {broken} of {len(verdicts)} output polic{'y' if len(verdicts) == 1 else 'ies'} "
            "(judged by the injection_judge model)",
            rules=["output_policy"],
            stage=NAME,
            hint="see the findings for which policy; on_violation='flag' records and keeps the answer",
        )
