"""The newcomer's path: ``guardfn demo`` and the runnable examples work offline."""

from __future__ import annotations

import json
import runpy
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from guardfn.cli import main as cli

ROOT = Path(__file__).resolve().parent.parent


def _demo_records() -> list[dict]:
    result = CliRunner().invoke(cli, ["demo", "--json"])
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]


def test_demo_runs_every_scenario_against_the_fake_provider() -> None:
    records = {r["scenario"]: r for r in _demo_records()}
    ordinary = records["an ordinary question"]
    assert ordinary["outcome"] == "ok"
    assert ordinary["answer"] == "echo: Answer briefly: How do I reset my password?"
    pii = records["personal data in the prompt"]
    sent = " ".join(pii["sent_to_provider"])
    assert "ann@example.com" not in sent and "4111 1111 1111 1111" not in sent
    assert "ann@example.com" in pii["answer"]  # pseudonymized, then restored in the answer


def test_demo_agent_quarantines_a_poisoned_tool_result_and_round_trips_an_email_through_a_tool() -> None:
    agent = next(r for r in _demo_records() if r["scenario"].startswith("an agent"))
    assert agent["outcome"] == "ok"
    sent = "\n".join(agent["sent_to_provider"])
    assert "attacker@evil-mail.com" not in sent and "ignore all previous" not in sent.lower()
    assert "withheld this tool result" in sent
    assert "ann@example.com" not in sent and "<EMAIL_ADDRESS_1>" in sent  # the model only saw a placeholder
    assert agent["send_email received"] == "ann@example.com"  # the tool got the real address
    assert [(r["name"], r["round"]) for r in agent["tool_runs"]] == [("lookup_order", 1), ("send_email", 2)]
    assert agent["answer"] == "Order A-17 has shipped; I emailed the status to ann@example.com."
    assert any(f["kind"] == "tool_output_injection" for f in agent["findings"])


def test_demo_without_presidio_says_on_screen_that_pii_is_sent_unredacted(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from guardfn import extras

    monkeypatch.setitem(extras.EXTRAS, "pii", ("guardfn_no_such_module",))
    result = CliRunner().invoke(cli, ["demo"])
    assert result.exit_code == 0, result.output
    assert "PII redaction is OFF" in result.output and 'pip install "guardfn[pii]"' in result.output
    records = _demo_records()
    assert "PII redaction is OFF" in records[0]["notice"]


def test_demo_table_output_shows_stages() -> None:
    result = CliRunner().invoke(cli, ["demo"])
    assert result.exit_code == 0, result.output
    assert "call_model" in result.output and "openai" in result.output


def test_console_script_is_installed() -> None:
    out = subprocess.run([sys.executable, "-m", "guardfn.cli", "--help"], capture_output=True, text=True, check=True)
    assert "demo" in out.stdout and "plugins" in out.stdout


def test_quickstart_runs_offline(capsys) -> None:  # type: ignore[no-untyped-def]
    namespace = runpy.run_path(str(ROOT / "examples" / "quickstart.py"))
    assert namespace["main"]() == "echo: Answer briefly: How do I reset my password?"
    assert "fake provider" in capsys.readouterr().out


def test_the_wrap_example_runs_offline_and_keeps_the_address_from_the_provider(capsys) -> None:  # type: ignore[no-untyped-def]
    namespace = runpy.run_path(str(ROOT / "examples" / "wrap_client.py"))
    results = namespace["main"]()
    question = "Write two lines to ann@example.com: her order A-17 has shipped."
    assert results == {
        "answer": f"echo: {question}",  # the address was pseudonymized, then restored
        "streamed": f"echo: {question}",
        "with_tool": "echo: 21C and sunny in Paris",  # the application ran the tool guardfn handed back
    }
    assert "the provider saw ann@example.com: False" in capsys.readouterr().out
