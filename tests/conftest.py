"""Shared fixtures: a loopback provider, and isolation of keys, settings and plugins."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from guardfn import plugins, settings
from guardfn.testing import FakeLLMServer

PROVIDER_ENV = ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_BASE_URL")


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """No real keys or endpoints, no stray .env, no global options or plugins leak between tests."""
    for name in PROVIDER_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path_factory.mktemp("cwd"))
    from guardfn.stages import env_keys

    env_keys.dotenv_values.cache_clear()
    plugin_generation = plugins.generation()
    yield
    settings.configure(reset=True)
    if plugins.generation() != plugin_generation:
        plugins.reset()


@pytest.fixture
def server() -> Iterator[FakeLLMServer]:
    """A running fake OpenAI/Anthropic server on 127.0.0.1."""
    with FakeLLMServer() as srv:
        yield srv
