"""Shared fixtures: a loopback provider, and isolation of keys, settings and plugins."""

from __future__ import annotations

import os
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


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[str]:
    """A real 3-node Redis Cluster started for this test session; yields its ``redis+cluster://`` URL."""
    from tests._redis import LocalCluster, cluster_tools_missing

    reason = cluster_tools_missing()
    if reason is not None:
        if os.environ.get("GUARDFN_TEST_CLUSTER") == "required":  # CI: a missing tool fails, never skips
            pytest.fail(reason)
        pytest.skip(reason)
    cluster = LocalCluster().start()
    try:
        yield cluster.url
    finally:
        cluster.stop()
