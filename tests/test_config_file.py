"""Defaults from ``[tool.guardfn]`` in pyproject.toml or a guardfn.toml, under the environment,
``guardfn.configure()`` and the decorator; ``guardfn config`` says where each value came from."""

from __future__ import annotations

import json
import os
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

import guardfn
from guardfn import ConfigurationError, guarded_llm
from guardfn.cli import main as cli
from guardfn.errors import HardcodedKeyWarning

KEY = "sk-test-config-file-000000000wxyz"


def write(path: Path, text: str) -> None:
    path.write_text(textwrap.dedent(text), encoding="utf-8")


def settings_of(**options: object) -> guardfn.Settings:
    @guarded_llm(model="gpt-4o-mini", api_key=lambda: KEY, **options)
    def answer(q: str) -> str:
        return q

    return answer.guard.engine.settings  # type: ignore[no-any-return]


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "project"
    (root / "src" / "app").mkdir(parents=True)
    monkeypatch.chdir(root / "src" / "app")  # the nearest file is found from here upwards
    return root


def test_pyproject_sets_defaults_under_every_other_layer(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(project / "pyproject.toml", """
        [project]
        name = "app"

        [tool.guardfn]
        max_tokens = 300
        timeout = 12
        retries = 4
        pii_threshold = 0.8
        limits = { requests_per_minute = 7 }
    """)  # fmt: skip
    settings = settings_of()
    assert (settings.max_tokens, settings.timeout, settings.limits) == (300, 12.0, {"requests_per_minute": 7})
    monkeypatch.setenv("GUARDFN_TIMEOUT", "30")  # the environment over the file
    guardfn.configure(retries=1)  # configure() over both
    settings = settings_of(pii_threshold=0.9)  # the decorator over everything
    assert (settings.timeout, settings.retries, settings.pii_threshold, settings.max_tokens) == (30.0, 1, 0.9, 300)


def test_a_functions_own_section_applies_to_it_only(project: Path) -> None:
    write(project / "pyproject.toml", """
        [tool.guardfn]
        max_tokens = 300

        [tool.guardfn.functions."test_config_file.settings_of.<locals>.answer"]
        max_tokens = 900
    """)  # fmt: skip
    assert settings_of().max_tokens == 900

    @guarded_llm(model="gpt-4o-mini", api_key=lambda: KEY)
    def other(q: str) -> str:
        return q

    assert other.guard.engine.settings.max_tokens == 300


def test_guardfn_toml_wins_in_its_directory_and_the_nearest_directory_wins(project: Path) -> None:
    write(project / "pyproject.toml", "[tool.guardfn]\nmax_tokens = 300\n")
    write(project / "guardfn.toml", "max_tokens = 400\n")
    assert settings_of().max_tokens == 400
    write(project / "src" / "pyproject.toml", "[tool.guardfn]\nmax_tokens = 500\n")
    assert settings_of().max_tokens == 500
    write(project / "src" / "app" / "pyproject.toml", "[project]\nname = 'no-guardfn-table'\n")
    assert settings_of().max_tokens == 500  # a pyproject.toml without [tool.guardfn] is passed over


def test_an_unknown_or_bad_option_in_the_file_is_refused_when_decorated(project: Path) -> None:
    write(project / "pyproject.toml", "[tool.guardfn]\nmax_tokns = 300\n")
    with pytest.raises(ConfigurationError) as info:
        settings_of()
    assert "max_tokns" in str(info.value) and "pyproject.toml" in str(info.value)
    write(project / "pyproject.toml", "[tool.guardfn]\nlimits = { requests_per_minute = nan }\n")
    with pytest.raises(ConfigurationError, match="requests_per_minute"):
        settings_of()


def test_guardfn_config_shows_every_value_and_its_source_without_secrets(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(project / "pyproject.toml", """
        [tool.guardfn]
        max_tokens = 300
        store = "redis://:hunter2@127.0.0.1:6379/3"

        [tool.guardfn.functions."app_module.answer"]
        pii = "redact"
    """)  # fmt: skip
    write(project / "src" / "app" / "app_module.py", f"""
        from guardfn import guarded_llm

        @guarded_llm(model="gpt-4o", api_key="{KEY}")
        def answer(q: str) -> str:
            return q
    """)  # fmt: skip
    monkeypatch.setenv("GUARDFN_TIMEOUT", "9")
    monkeypatch.syspath_prepend(str(project / "src" / "app"))
    sys.modules.pop("app_module", None)
    with pytest.warns(HardcodedKeyWarning):  # the literal key is the point here: it must come out masked
        result = CliRunner().invoke(cli, ["config", "app_module:answer", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    settings = report["settings"]
    assert settings["model"] == {"value": "gpt-4o", "source": "decorator"}
    assert settings["timeout"] == {"value": 9.0, "source": "environment GUARDFN_TIMEOUT"}
    assert settings["max_tokens"]["value"] == 300 and settings["max_tokens"]["source"].endswith("pyproject.toml")
    assert settings["pii"]["source"].endswith('[functions."app_module.answer"]')
    assert settings["retries"] == {"value": 2, "source": "default"}
    assert settings["api_key"]["value"] == "****wxyz"
    assert KEY not in result.output and "hunter2" not in result.output
    assert report["config_file"] == os.fspath(project / "pyproject.toml")
