"""The command line's small promises: -h, exit codes for usage errors, --json everywhere, disabled plugins shown."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from guardfn import plugins
from guardfn.cli import main
from guardfn.commands import COMMANDS


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


@pytest.mark.parametrize("flag", ["-h", "--help"])
def test_help_with_either_flag_lists_every_command(flag: str) -> None:
    result = run(flag)
    assert result.exit_code == 0
    for name in COMMANDS:
        assert name in result.output
    for command in [*sorted(set(COMMANDS) - {"keys"}), "keys check"]:
        sub = run(*command.split(), "-h")
        assert sub.exit_code == 0 and "Exit status: 0" in sub.output, command


def test_report_without_an_audit_file_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GUARDFN_AUDIT_FILE", raising=False)
    result = run("report")
    assert result.exit_code == 2 and "no audit file" in result.output


def test_purge_prints_json(tmp_path: Path) -> None:
    result = run("purge", "--path", str(tmp_path), "--older-than", "1d", "--json")
    assert result.exit_code == 0
    report = json.loads(result.output)
    assert report == {"dry_run": False, "older_than_s": 86400.0, "files": [], "bytes": 0}


def test_usage_on_redis_without_the_extra_is_a_clean_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from guardfn import extras

    monkeypatch.setitem(extras.EXTRAS, "redis", ("guardfn_no_such_module",))
    result = run("usage", "--user", "u-1", "--store", "redis://127.0.0.1:6379/0")
    assert result.exit_code == 2
    assert 'pip install "guardfn[redis]"' in result.output
    assert "Traceback" not in result.output


def test_a_plugin_disabled_by_the_environment_is_listed_as_disabled(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GUARDFN_DISABLE_PLUGINS", "html")
    plugins.reset()
    try:
        table = run("plugins")
        as_json = json.loads(run("plugins", "--json").output)
    finally:
        monkeypatch.delenv("GUARDFN_DISABLE_PLUGINS")
        plugins.reset()
    line = next(line for line in table.output.splitlines() if line.startswith("html "))
    assert "DISABLED by GUARDFN_DISABLE_PLUGINS" in line
    assert {p["name"]: p["disabled"] for p in as_json}["html"] is True
    assert {p["name"]: p["disabled"] for p in as_json}["pii"] is False


def test_child_processes_import_the_checkout_under_test() -> None:
    import subprocess
    import sys

    checkout = Path(__file__).resolve().parent.parent
    out = subprocess.run(
        [sys.executable, "-c", "import guardfn; print(guardfn.__file__)"], capture_output=True, text=True, check=True
    )
    assert Path(out.stdout.strip()).resolve().is_relative_to(checkout)
