"""The OpenAI Agents SDK side: guardfn's checks as ``InputGuardrail`` and ``OutputGuardrail`` objects.

Give them to an ``Agent`` (``input_guardrails=[...]``, ``output_guardrails=[...]``). When a
guardfn control refuses, the guardrail's tripwire fires and the run raises the SDK's
``InputGuardrailTripwireTriggered`` / ``OutputGuardrailTripwireTriggered``; the guardrail
result's ``output.output_info`` says what was found (stages, kinds, rule ids, counts; never
text).
"""

from __future__ import annotations

from typing import Any

from agents import (
    Agent,
    GuardrailFunctionOutput,
    InputGuardrail,
    OutputGuardrail,
    RunContextWrapper,
    TResponseInputItem,
)

from guardfn_agents.checks import InputCheck, OutputCheck


def guardfn_input_guardrail(
    *, name: str = "guardfn_input", run_in_parallel: bool = False, **options: Any
) -> InputGuardrail[Any]:
    """An input guardrail running guardfn's input screening on the agent's input.

    ``options`` are guardfn's (``injection``, ``injection_block_at``, ``secrets``, ``pii``,
    ``pii_entities``, ``max_input_chars`` ...), validated now; a guardrail cannot rewrite the
    input, so secrets and ``tool_output_injection`` refuse by default and only ``pii="block"``
    is accepted. ``run_in_parallel=False`` (the default) screens before the agent starts, so
    a refused input never reaches the model; ``True`` runs alongside the first model call.
    """
    check = InputCheck(**options)

    async def guardfn_input(
        context: RunContextWrapper[Any], agent: Agent[Any], input: str | list[TResponseInputItem]
    ) -> GuardrailFunctionOutput:
        """guardfn's input screening on the agent's input; trips when a control refuses."""
        verdict = await check.run(input)
        return GuardrailFunctionOutput(output_info=verdict.info, tripwire_triggered=verdict.tripped)

    return InputGuardrail(guardrail_function=guardfn_input, name=name, run_in_parallel=run_in_parallel)


def guardfn_output_guardrail(*, name: str = "guardfn_output", **options: Any) -> OutputGuardrail[Any]:
    """An output guardrail running guardfn's output checks on the agent's final output.

    ``options`` are guardfn's (``output_rules``, ``on_violation``, ``pii``, ``pii_entities``
    ...), validated now: the output rules trip (``on_violation="raise"``) or only report
    (``"flag"``); ``pii="block"`` trips on personal data in the output. Structured outputs
    (pydantic models, dataclasses, dicts) are checked field by field as well.
    """
    check = OutputCheck(**options)

    async def guardfn_output(context: RunContextWrapper[Any], agent: Agent[Any], output: Any) -> GuardrailFunctionOutput:
        """guardfn's output checks on the agent's final output; trips when a control refuses."""
        verdict = await check.run(output)
        return GuardrailFunctionOutput(output_info=verdict.info, tripwire_triggered=verdict.tripped)

    return OutputGuardrail(guardrail_function=guardfn_output, name=name)
