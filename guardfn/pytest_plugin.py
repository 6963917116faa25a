"""pytest plugin (entry point ``pytest11``): fixtures for testing guarded functions offline.

Installed with guardfn; nothing to import or configure. Every fixture is opt-in:

* ``fake_llm``: a running :class:`guardfn.testing.FakeLLMServer` with
  ``OPENAI_BASE_URL`` / ``ANTHROPIC_BASE_URL`` and dummy keys set for the test, so guarded
  functions run through the real SDKs against loopback, with no network or keys. Script
  replies with ``fake_llm.reply(...)`` / ``fake_llm.fail(...)``; read what was sent in
  ``fake_llm.requests``.
* ``guardfn_memory_store``: rate limits and budgets counted in a fresh in-memory store of
  this test only (``GUARDFN_STORE=memory://<unique name>``): no disk, no Redis, nothing
  shared with another test.
* ``guardfn_isolation``: no provider keys or base URLs from the environment, no ``.env``
  from the working directory, and global options (``guardfn.configure``) and plugin
  registrations (``guardfn.register``) put back after the test.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from guardfn.testing import FakeLLMServer

PROVIDER_ENV = ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_BASE_URL")


@pytest.fixture
def fake_llm(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeLLMServer]:
    """A loopback OpenAI/Anthropic server; guarded functions in the test talk to it."""
    from guardfn.testing import FakeLLMServer

    if "guardfn_isolation" in request.fixturenames:
        request.getfixturevalue("guardfn_isolation")  # clear the environment first, then point it here

    with FakeLLMServer() as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.openai_base_url)
        monkeypatch.setenv("ANTHROPIC_BASE_URL", server.anthropic_base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test-fake-llm-0000")
        monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-fake-llm-0000")
        yield server


@pytest.fixture
def guardfn_memory_store(monkeypatch: pytest.MonkeyPatch) -> str:
    """Count limits and budgets in an in-memory store private to this test; returns its URL.

    Sets ``GUARDFN_STORE`` for the test. A guarded function whose ``store=`` is given
    explicitly keeps its own store.
    """
    url = f"memory://guardfn-test-{uuid.uuid4().hex}"
    monkeypatch.setenv("GUARDFN_STORE", url)
    return url


@pytest.fixture
def guardfn_isolation(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> Iterator[None]:
    """No keys or endpoints from the environment, no stray ``.env``; global state restored after."""
    from guardfn import plugins, settings
    from guardfn.stages import env_keys

    for name in PROVIDER_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(str(tmp_path))
    env_keys.dotenv_values.cache_clear()
    saved = settings.global_defaults()
    plugin_generation = plugins.generation()
    yield
    env_keys.dotenv_values.cache_clear()
    settings.configure(reset=True, **saved)
    if plugins.generation() != plugin_generation:
        plugins.reset()
