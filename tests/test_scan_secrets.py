"""``guardfn scan-secrets``: hardcoded keys in source files and notebooks, with the screening detectors."""

from __future__ import annotations

import json
import os
import random
import shutil
import string
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from guardfn.cli import main
from guardfn.commands import COMMANDS

ROOT = Path(__file__).resolve().parent.parent
_rng = random.Random(8)


def token(n: int, alphabet: str = string.ascii_letters + string.digits) -> str:
    return "".join(_rng.choice(alphabet) for _ in range(n))


# Keys of the real shapes, assembled at run time so this file holds none.
OPENAI = "sk-" + "proj-" + token(48)
ANTHROPIC = "sk-" + "ant-api03-" + token(80, string.ascii_letters + string.digits + "_-") + "AA"
AWS_ID = "AKIA" + token(16, string.ascii_uppercase + "234567")


def scan(*args: str) -> Any:
    return CliRunner().invoke(main, ["scan-secrets", *args], catch_exceptions=False)


def notebook(cells: list[dict[str, Any]]) -> str:
    return json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}, indent=1)


def code_cell(source: str, outputs: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "cell_type": "code", "metadata": {}, "execution_count": 1,
        "source": source.splitlines(keepends=True), "outputs": outputs or [],
    }


def test_source_file_hits_show_file_line_kind_and_the_masked_key(tmp_path: Path) -> None:
    app = tmp_path / "app.py"
    app.write_text(f'import openai\n\nclient = openai.OpenAI(\n    api_key="{OPENAI}",\n)\nAWS = "{AWS_ID}"\n')
    result = scan(str(app))
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines == [f"{app}:4: openai ****{OPENAI[-4:]}", f"{app}:6: aws_access_key ****{AWS_ID[-4:]}"]
    assert "2 secret(s) in 1 of 1 file(s)" in result.stderr
    assert OPENAI not in result.output and OPENAI[:-4] not in result.output and AWS_ID not in result.output


def test_clean_files_and_placeholders_pass(tmp_path: Path) -> None:
    (tmp_path / "ok.py").write_text(
        'import os\nkey = os.environ["OPENAI_API_KEY"]\nexample = "sk-proj-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"\n'
    )
    result = scan(str(tmp_path / "ok.py"))
    assert result.exit_code == 0 and result.output == ""


def test_notebook_cells_and_outputs_are_scanned_by_cell_and_line(tmp_path: Path) -> None:
    nb = tmp_path / "explore.ipynb"
    nb.write_text(
        notebook(
            [
                {"cell_type": "markdown", "metadata": {}, "source": ["# Exploring\n", f"my key: {OPENAI}\n"]},
                code_cell(
                    f"import os\n\nos.environ['ANTHROPIC_API_KEY'] = '{ANTHROPIC}'\n",
                    outputs=[
                        {"output_type": "stream", "name": "stdout", "text": ["ready\n", f"{OPENAI}\n"]},
                        {"output_type": "execute_result", "execution_count": 1, "metadata": {},
                         "data": {"text/plain": [f"'{AWS_ID}'"], "image/png": "iVBORw0KGgo" + token(400)}},
                    ],
                ),
            ]
        )
    )
    result = scan(str(nb))
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        f"{nb}:cell_1:2: openai ****{OPENAI[-4:]}",
        f"{nb}:cell_2:3: anthropic ****{ANTHROPIC[-4:]}",
        f"{nb}:cell_2:output_1:2: openai ****{OPENAI[-4:]}",
        f"{nb}:cell_2:output_2:1: aws_access_key ****{AWS_ID[-4:]}",
    ]


def test_a_file_that_is_not_a_notebook_is_scanned_as_text(tmp_path: Path) -> None:
    broken = tmp_path / "broken.ipynb"
    broken.write_text(f'{{"cells": [ truncated\nkey = "{OPENAI}"\n')
    result = scan(str(broken))
    assert result.stdout.splitlines() == [f"{broken}:2: openai ****{OPENAI[-4:]}"]


def test_allowlisted_lines_are_not_reported(tmp_path: Path) -> None:
    f = tmp_path / "fixtures.py"
    f.write_text(
        f'A = "{OPENAI}"  # pragma: allowlist secret\nB = "{ANTHROPIC}"  # guardfn: ignore-secret\nC = "{AWS_ID}"\n'
    )
    result = scan(str(f))
    assert result.stdout.splitlines() == [f"{f}:3: aws_access_key ****{AWS_ID[-4:]}"]


def test_directories_are_walked_skipping_vcs_venvs_env_files_and_binaries(tmp_path: Path) -> None:
    line = f'KEY = "{OPENAI}"\n'
    (tmp_path / "src" / "pkg").mkdir(parents=True)
    (tmp_path / "src" / "pkg" / "settings.py").write_text(line)
    (tmp_path / "config.yaml").write_text(f"openai:\n  key: {OPENAI}\n")
    for skipped in (".git", "node_modules", "__pycache__", "custom-venv"):
        (tmp_path / skipped).mkdir()
        (tmp_path / skipped / "leak.py").write_text(line)
    (tmp_path / "custom-venv" / "pyvenv.cfg").write_text("home = /usr/bin\n")
    (tmp_path / ".env").write_text(f"OPENAI_API_KEY={OPENAI}\n")
    (tmp_path / "blob.bin").write_bytes(b"\0\1\2" + line.encode())

    result = scan(str(tmp_path))
    assert result.exit_code == 1
    assert sorted(result.stdout.splitlines()) == sorted(
        [f"{tmp_path}/config.yaml:2: openai ****{OPENAI[-4:]}", f"{tmp_path}/src/pkg/settings.py:1: openai ****{OPENAI[-4:]}"]
    )
    explicit = scan(str(tmp_path / ".env"))  # named explicitly, a .env file is scanned
    assert explicit.stdout.splitlines() == [f"{tmp_path / '.env'}:1: openai ****{OPENAI[-4:]}"]


@pytest.mark.timeout(30)
def test_devices_fifos_and_broken_links_are_skipped_and_reported_and_the_scan_goes_on(tmp_path: Path) -> None:
    (tmp_path / "zero").symlink_to("/dev/zero")  # would feed endless bytes
    os.mkfifo(tmp_path / "pipe")  # would block forever on open
    (tmp_path / "dangling").symlink_to(tmp_path / "gone")
    (tmp_path / "loop_a").symlink_to(tmp_path / "loop_b")
    (tmp_path / "loop_b").symlink_to(tmp_path / "loop_a")
    (tmp_path / "big.txt").write_text("x" * 2048 + f' KEY = "{OPENAI}"\n')
    (tmp_path / "blob.bin").write_bytes(b"\0\1" + OPENAI.encode())
    (tmp_path / "app.py").write_text(f'KEY = "{AWS_ID}"\n')
    result = scan("--max-size", "1KiB", "--json", str(tmp_path))
    assert result.exit_code == 1  # the secret in app.py is still found
    report = json.loads(result.stdout)
    assert [h["path"] for h in report["findings"]] == [str(tmp_path / "app.py")]
    reasons = {Path(s["path"]).name: s["reason"] for s in report["skipped"]}
    assert reasons == {
        "zero": "not a regular file (a device, FIFO or socket)",
        "pipe": "not a regular file (a device, FIFO or socket)",
        "dangling": "broken symlink",
        "loop_a": "symlink loop",
        "loop_b": "symlink loop",
        "big.txt": "larger than 1024 bytes",
        "blob.bin": "binary (holds a NUL byte)",
    }
    assert "7 file(s) not scanned" in result.stderr
    raised = scan("--max-size", "1MiB", str(tmp_path / "big.txt"))  # --max-size raises the bound
    assert raised.exit_code == 1 and f"****{OPENAI[-4:]}" in raised.stdout


def test_a_file_that_fails_to_read_is_an_io_error_with_exit_status_2(tmp_path: Path) -> None:
    mem = Path("/proc/self/mem")  # a regular file whose first page cannot be read (EIO), even as root
    if not mem.exists():
        pytest.skip("needs Linux /proc")
    (tmp_path / "failing.py").symlink_to(mem)
    (tmp_path / "ok.py").write_text("x = 1\n")
    result = scan(str(tmp_path))
    assert result.exit_code == 2
    assert "failing.py: cannot be read (OSError)" in result.stderr and "1 file(s) not scanned" in result.stderr


def test_help_states_the_exit_codes() -> None:
    result = scan("--help")
    flat = " ".join(result.output.split())
    assert "Exit status: 0 no secret found, 1 secrets found, 2 a usage error or a file that could not be read" in flat


def test_kind_filter_and_json_output(tmp_path: Path) -> None:
    f = tmp_path / "mixed.py"
    f.write_text(f'a = "{OPENAI}"\nb = "{AWS_ID}"\n')
    result = scan("--kind", "aws_access_key", "--json", str(f))
    assert result.exit_code == 1
    assert json.loads(result.stdout) == {
        "findings": [{"path": str(f), "location": "2", "kind": "aws_access_key", "masked": f"****{AWS_ID[-4:]}"}],
        "skipped": [],
    }
    bad = scan("--kind", "nope", str(f))
    assert bad.exit_code == 2 and "unknown kind(s) nope" in bad.output


def test_detectors_added_by_plugins_are_used(tmp_path: Path) -> None:
    import guardfn
    from guardfn.screening.secrets import Detector

    class AcmeTokens:
        @guardfn.hookimpl
        def guardfn_secret_detectors(self) -> list[Detector]:
            return [Detector("acme", r"\bacme_[0-9a-f]{32}\b", "ACME internal tokens")]

    acme = "acme_" + token(32, "0123456789abcdef")
    f = tmp_path / "deploy.sh"
    f.write_text(f"export ACME={acme}\n")
    assert scan(str(f)).exit_code == 0
    guardfn.register(AcmeTokens(), name="acme")
    result = scan(str(f))
    assert result.exit_code == 1 and result.stdout.splitlines() == [f"{f}:1: acme ****{acme[-4:]}"]


_LINE = st.text(st.characters(blacklist_categories=["Cs", "Cc"]), max_size=40)


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(before=st.lists(_LINE, max_size=12), after=st.lists(_LINE, max_size=5))
def test_the_reported_line_is_the_line_of_the_key(before: list[str], after: list[str]) -> None:
    from guardfn.commands.scan_secrets import scan_text
    from guardfn.stages.secrets import scanner

    text = "\n".join([*before, f"key = '{OPENAI}'", *after])
    hits = [h for h in scan_text(text, scanner()) if h[1] == "openai"]
    assert hits == [(str(len(before) + 1), "openai", f"****{OPENAI[-4:]}")]


def test_the_pre_commit_hook_runs_the_console_script(tmp_path: Path) -> None:
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    (hook,) = [h for h in hooks if h["id"] == "guardfn-scan-secrets"]
    assert hook["language"] == "python" and hook["entry"] == "guardfn scan-secrets"
    assert "scan-secrets" in COMMANDS

    leaky, clean = tmp_path / "leaky.py", tmp_path / "clean.py"
    leaky.write_text(f'KEY = "{OPENAI}"\n')
    clean.write_text("print('hello')\n")
    exe = shutil.which("guardfn")
    command = [exe] if exe else [sys.executable, "-m", "guardfn.cli"]
    entry = [*command, *hook["entry"].split()[1:]]
    # pre-commit appends the staged file names to the entry
    bad = subprocess.run([*entry, str(clean), str(leaky)], capture_output=True, text=True, timeout=60)
    good = subprocess.run([*entry, str(clean)], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 1 and f"{leaky}:1: openai ****{OPENAI[-4:]}" in bad.stdout
    assert OPENAI not in bad.stdout + bad.stderr
    assert good.returncode == 0, good.stderr
