"""guardfn-agents: guardfn's controls as OpenAI Agents SDK guardrails.

``guardfn_input_guardrail(**options)`` screens an agent's input (prompt injection,
secrets, PII in block mode, input limits) and ``guardfn_output_guardrail(**options)``
checks its final output (output rules, PII), with guardfn's options and plugins; a refusal
fires the guardrail's tripwire. :mod:`guardfn_agents.checks` holds the checks themselves,
usable without the SDK's types.
"""

from __future__ import annotations

from guardfn_agents.checks import InputCheck, OutputCheck, Verdict
from guardfn_agents.guardrails import guardfn_input_guardrail, guardfn_output_guardrail

__version__ = "0.1.0"
__all__ = ["InputCheck", "OutputCheck", "Verdict", "__version__", "guardfn_input_guardrail", "guardfn_output_guardrail"]
