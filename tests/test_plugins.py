"""The plugin system: adding, replacing, disabling stages; entry points; the plugins command."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pluggy
import pytest
from click.testing import CliRunner

import guardfn
from guardfn import ConfigurationError, InputRejected, PluginError, guarded_llm, hookimpl, plugins
from guardfn.call import Call, Finding, Response
from guardfn.cli import main as cli
from guardfn.testing import FakeLLMServer

KEY = "sk-test-plugins-0000000000"


def _ask(server: FakeLLMServer, **options: Any) -> Any:
    @guarded_llm(model="gpt-4o-mini", base_url=server.openai_base_url, api_key=lambda: KEY, **options)
    def ask(user_id: str, q: str) -> str:
        return q

    return ask


class NoCaps:
    """A third-party input stage: refuses prompts written in capitals."""

    @hookimpl
    def guardfn_screen_input(self, call: Call) -> None:
        for text in call.user_texts():
            if text.isupper():
                call.add_finding(Finding(stage="no_caps", kind="shouting", blocked=True))
                raise InputRejected("the prompt is all capitals", stage="no_caps")


def test_an_added_stage_refuses_before_any_request_and_can_be_disabled(server: FakeLLMServer) -> None:
    guardfn.register(NoCaps(), name="no_caps")
    ask = _ask(server)
    with pytest.raises(InputRejected) as info:
        ask("u-1", "HELLO THERE")
    assert info.value.stage == "no_caps"
    assert server.requests == []
    assert ask("u-1", "hello there") == "echo: hello there"
    relaxed = _ask(server, disable=["no_caps"])
    assert relaxed("u-1", "HELLO AGAIN") == "echo: HELLO AGAIN"


def test_disable_names_must_exist() -> None:
    with pytest.raises(ConfigurationError, match="no_such_stage"):

        @guarded_llm(model="gpt-4o-mini", disable=["no_such_stage"])
        def ask(q: str) -> str:
            return q



def test_a_plugin_under_a_builtin_name_replaces_it(server: FakeLLMServer) -> None:
    class CannedOpenAI:
        @hookimpl
        def guardfn_call_model(self, call: Call, api_key: str) -> Response | None:
            if call.provider != "openai":
                return None
            return Response(text="canned", model=call.model)

    guardfn.register(CannedOpenAI(), name="openai")
    assert _ask(server)("u-1", "hi") == "canned"
    assert server.requests == []
    assert [i.source for i in plugins.plugin_infos() if i.name == "openai"] == ["explicit"]


def test_transform_stages_run_in_order_and_record_changes(server: FakeLLMServer) -> None:
    order: list[str] = []

    def make(name: str) -> Any:
        class Upper:
            @hookimpl
            def guardfn_transform_input(self, call: Call) -> None:
                order.append(name)
                last = next(call.texts(new=True))
                call.replace_text(last, last.text + f"+{name}")
                call.record_change(name, "messages[-1]", 1)

        return Upper()

    guardfn.register(make("first"), name="first")
    guardfn.register(make("second"), name="second")  # registered later: runs first
    assert _ask(server)("u-1", "x") == "echo: x+second+first"
    assert order == ["second", "first"]


def test_a_crashing_fail_closed_plugin_refuses_the_call(server: FakeLLMServer) -> None:
    class Broken:
        @hookimpl
        def guardfn_screen_input(self, call: Call) -> None:
            raise ValueError("secret prompt text leaked into a message")

    guardfn.register(Broken(), name="broken")
    with pytest.raises(PluginError) as info:
        _ask(server)("u-1", "hello")
    assert info.value.stage == "broken"
    assert "secret prompt text" not in str(info.value)
    assert server.requests == []


def test_a_crashing_observer_never_breaks_the_call(server: FakeLLMServer, caplog: pytest.LogCaptureFixture) -> None:
    class BrokenRecorder:
        @hookimpl
        def guardfn_record(self, call: Call, outcome: str) -> None:
            raise RuntimeError("boom")

    guardfn.register(BrokenRecorder(), name="broken_recorder")
    assert _ask(server)("u-1", "hello") == "echo: hello"
    assert "broken_recorder" in caplog.text


def test_misspelled_hook_fails_loudly() -> None:
    class Typo:
        @hookimpl
        def guardfn_screen_inputs(self, call: Call) -> None:
            pass

    with pytest.raises(pluggy.PluginValidationError):
        guardfn.register(Typo(), name="typo")


async def test_async_hooks_are_awaited_in_order(server: FakeLLMServer) -> None:
    seen: list[str] = []

    class AsyncStage:
        @hookimpl
        def guardfn_screen_input(self, call: Call) -> Any:
            async def check() -> None:
                seen.append(f"async:{call.is_async}")

            return check() if call.is_async else None

    guardfn.register(AsyncStage(), name="async_stage")

    @guarded_llm(model="gpt-4o-mini", base_url=server.openai_base_url, api_key=lambda: KEY)
    async def ask(q: str) -> str:
        return q

    assert await ask("hi") == "echo: hi"
    assert seen == ["async:True"]


def test_sync_call_refuses_an_awaitable_from_a_plugin(server: FakeLLMServer) -> None:
    class AlwaysAsync:
        @hookimpl
        async def guardfn_screen_input(self, call: Call) -> None:
            return None

    guardfn.register(AlwaysAsync(), name="always_async")
    with pytest.raises(PluginError, match="awaitable"):
        _ask(server)("u-1", "hi")
    assert server.requests == []


def test_every_stage_is_timed_on_the_call(server: FakeLLMServer) -> None:
    calls: list[Call] = []

    class Rec:
        @hookimpl
        def guardfn_record(self, call: Call, outcome: str) -> None:
            calls.append(call)

    guardfn.register(Rec(), name="rec")
    _ask(server)("u-1", "hi")
    (call,) = calls
    steps = {(s.step, s.plugin) for s in call.spans}
    assert ("guardfn_call_model", "openai") in steps
    assert call.timings["call_model"] > 0
    assert call.outcome == "ok"


def _make_entry_point_dist(root: Path, name: str, body: str) -> None:
    (root / f"{name}.py").write_text(textwrap.dedent(body))
    dist = root / f"{name}-0.3.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.3.1\n")
    (dist / "entry_points.txt").write_text(f"[guardfn]\n{name} = {name}\n")


def test_entry_point_plugins_load_and_show_in_the_cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, server: FakeLLMServer
) -> None:
    _make_entry_point_dist(
        tmp_path,
        "guardfn_tagger",
        """
        from guardfn import hookimpl

        @hookimpl
        def guardfn_transform_input(call):
            for ref in call.texts(new=True):
                if ref.role == "user":
                    call.replace_text(ref, ref.text + " [tagged]")
        """,
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    plugins.reset()
    assert _ask(server)("u-1", "hi") == "echo: hi [tagged]"
    result = CliRunner().invoke(cli, ["plugins", "--json"])
    assert result.exit_code == 0, result.output
    listed = {p["name"]: p for p in json.loads(result.output)}
    assert listed["guardfn_tagger"]["source"] == "entrypoint"
    assert listed["guardfn_tagger"]["distribution"] == "guardfn_tagger"
    assert listed["guardfn_tagger"]["version"] == "0.3.1"
    assert listed["guardfn_tagger"]["hooks"] == ["guardfn_transform_input"]
    assert listed["openai"]["source"] == "builtin"
    monkeypatch.setenv("GUARDFN_DISABLE_PLUGINS", "guardfn_tagger")
    plugins.reset()
    assert _ask(server)("u-1", "hi") == "echo: hi"


def test_plugins_command_table() -> None:
    result = CliRunner().invoke(cli, ["plugins"])
    assert result.exit_code == 0
    assert "openai" in result.output and "call_model" in result.output


def test_import_guardfn_stays_light() -> None:
    heavy = ["openai", "anthropic", "presidio_analyzer", "spacy", "redis", "datadog", "pydantic", "httpx"]
    code = f"import sys, guardfn; print([m for m in {heavy!r} if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_a_switched_on_control_whose_stage_is_disabled_is_refused(server: FakeLLMServer) -> None:
    with pytest.raises(ConfigurationError, match="pii"):

        @guarded_llm(model="gpt-4o-mini", base_url=server.openai_base_url, api_key=lambda: KEY,
                     pii="redact", disable=["pii"])
        def ask(q: str) -> str:
            return q

    assert server.requests == []
