"""guardfn's pytest plugin, as a user's test suite sees it: run in a separate pytest process."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from guardfn.testing import FakeLLMServer

USER_TESTS = '''
import os

import pytest

import guardfn
from guardfn import RateLimitExceeded, guarded_llm, hookimpl
from guardfn.call import Call


class Tagger:
    @hookimpl
    def guardfn_transform_input(self, call: Call) -> None:
        for ref in call.texts(new=True):
            if ref.role == "user":
                call.replace_text(ref, ref.text + " [tagged]")


def test_fake_llm_serves_guarded_functions_through_the_real_sdk(fake_llm):
    fake_llm.reply("scripted", usage=(3, 1))

    @guarded_llm(model="gpt-4o-mini", max_tokens=64)
    def ask(q: str) -> str:
        return q

    assert ask("hi") == "scripted"
    assert ask("again") == "echo: again"
    assert [r.body["max_tokens"] for r in fake_llm.requests] == [64, 64]


def test_fake_llm_speaks_anthropic_too(fake_llm):
    @guarded_llm(model="claude-haiku-4-5")
    def ask(q: str) -> str:
        return q

    assert ask("hi") == "echo: hi"
    assert fake_llm.requests[-1].path == "/v1/messages"


def test_isolation_changes_global_state(guardfn_isolation, fake_llm):
    assert "OPENAI_API_KEY" in os.environ  # fake_llm set it after isolation cleared it
    guardfn.register(Tagger(), name="tagger")
    guardfn.configure(max_tokens=99)

    @guarded_llm(model="gpt-4o-mini")
    def ask(q: str) -> str:
        return q

    assert ask("hi") == "echo: hi [tagged]"
    assert fake_llm.requests[-1].body["max_tokens"] == 99


def test_isolation_put_global_state_back(guardfn_isolation, fake_llm):
    @guarded_llm(model="gpt-4o-mini")
    def ask(q: str) -> str:
        return q

    assert ask("hi") == "echo: hi"
    assert fake_llm.requests[-1].body["max_tokens"] == 1024


def test_isolation_hides_real_keys(guardfn_isolation):
    assert "OPENAI_API_KEY" not in os.environ and "OPENAI_BASE_URL" not in os.environ


@pytest.mark.parametrize("run", [1, 2])
def test_memory_store_is_private_to_each_test(fake_llm, guardfn_memory_store, run):
    assert os.environ["GUARDFN_STORE"] == guardfn_memory_store
    assert guardfn_memory_store.startswith("memory://")

    @guarded_llm(model="gpt-4o-mini", limits={"requests_per_minute": 2})
    def ask(user_id: str, q: str) -> str:
        return q

    ask("u-1", "one")
    ask("u-1", "two")
    with pytest.raises(RateLimitExceeded):
        ask("u-1", "three")
    assert len(fake_llm.requests) == 2
'''


def test_fixtures_in_a_users_test_suite(tmp_path: Path) -> None:
    (tmp_path / "test_user.py").write_text(textwrap.dedent(USER_TESTS))
    env_clean = "import os; [os.environ.pop(k, None) for k in list(os.environ) if k.startswith(('GUARDFN_', 'OPENAI_'))]"
    code = f"{env_clean}; import sys, pytest; sys.exit(pytest.main(['-q', '-p', 'no:cacheprovider', '-p', 'no:randomly', sys.argv[1]]))"
    result = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "test_user.py")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "7 passed" in result.stdout


def test_fake_llm_fixture_is_the_loopback_server(fake_llm: FakeLLMServer) -> None:
    assert isinstance(fake_llm, FakeLLMServer)
    assert fake_llm.url.startswith("http://127.0.0.1:")
