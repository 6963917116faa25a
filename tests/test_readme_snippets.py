"""Every Python snippet in README.md runs as pasted (imports included), against the fake provider
(the OpenAI Agents SDK snippets need ``plugins/guardfn-agents`` installed, as the README says)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from guardfn.testing import FakeLLMServer

ROOT = Path(__file__).resolve().parent.parent
SNIPPET = re.compile(r"```python\n(.*?)```", re.DOTALL)


def snippets(path: Path) -> list[tuple[int, str]]:
    """``(line number, code)`` of every fenced Python block of a Markdown file."""
    text = path.read_text(encoding="utf-8")
    return [(text.count("\n", 0, m.start()) + 1, m.group(1)) for m in SNIPPET.finditer(text)]


README_SNIPPETS = snippets(ROOT / "README.md")


def test_the_readme_has_snippets() -> None:
    assert len(README_SNIPPETS) >= 5


@pytest.mark.parametrize(("line", "code"), README_SNIPPETS, ids=[f"README.md:{n}" for n, _ in README_SNIPPETS])
def test_a_readme_snippet_runs_as_pasted(
    line: int, code: str, fake_llm: FakeLLMServer, guardfn_memory_store: str, tmp_path: Path
) -> None:
    if "from agents import" in code:  # the OpenAI Agents SDK: no trace export (the keys are dummies)
        from agents import set_tracing_disabled

        set_tracing_disabled(True)
    namespace: dict[str, object] = {"__name__": f"readme_snippet_{line}"}
    exec(compile(code, f"README.md:{line}", "exec"), namespace)  # the README's own code
