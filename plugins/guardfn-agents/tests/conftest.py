"""Every test starts clean (guardfn's ``guardfn_isolation``), with the Agents SDK's tracing
switched off so that nothing leaves the machine, and a model pointed at the fake provider."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from guardfn.testing import FakeLLMServer, require_plugin

require_plugin("guardfn_agents", "agents", install="pip install -e plugins/guardfn-agents")


@pytest.fixture(autouse=True)
def _clean(guardfn_isolation: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """guardfn's isolation in every test, and no trace export."""
    from agents import set_tracing_disabled

    monkeypatch.setenv("OPENAI_AGENTS_DISABLE_TRACING", "1")
    set_tracing_disabled(True)
    yield


@pytest.fixture
def server() -> Iterator[FakeLLMServer]:
    """guardfn's loopback fake provider."""
    with FakeLLMServer() as fake:
        yield fake


@pytest.fixture
def model(server: FakeLLMServer) -> Any:
    """The Agents SDK's Chat Completions model, with an ``AsyncOpenAI`` client pointed at the fake."""
    from agents import OpenAIChatCompletionsModel
    from openai import AsyncOpenAI

    client = AsyncOpenAI(base_url=server.openai_base_url, api_key="sk-test-agents-0000")
    return OpenAIChatCompletionsModel(model="gpt-4o-mini", openai_client=client)
