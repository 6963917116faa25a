"""examples/agents_guardrails.py runs offline: the wrapped model client redacts, the guardrails refuse."""

from __future__ import annotations

import asyncio
import runpy
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "agents_guardrails.py"


def test_the_agents_example_runs_offline(capsys: pytest.CaptureFixture[str]) -> None:
    namespace = runpy.run_path(str(EXAMPLE))
    answer, injection, leak = asyncio.run(namespace["main"]())
    assert answer == "echo: order A-17: shipped yesterday"  # the agent ran its tool through the wrapped client
    assert injection.startswith("refused by the input guardrail: injection")
    assert leak == "refused by the output guardrail: output_rules ['prohibited']"
    assert "the provider saw ann@example.com: False" in capsys.readouterr().out
