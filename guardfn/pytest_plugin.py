"""pytest plugin (entry point ``pytest11``): fixtures for testing guarded functions offline.

``fake_llm`` is a running :class:`guardfn.testing.FakeLLMServer` with
``OPENAI_BASE_URL`` / ``ANTHROPIC_BASE_URL`` and dummy keys set for the test, so
guarded functions run through the real SDKs against loopback with no network or keys.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from guardfn.testing import FakeLLMServer


@pytest.fixture
def fake_llm(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeLLMServer]:
    """A loopback OpenAI/Anthropic server; guarded functions in the test talk to it."""
    from guardfn.testing import FakeLLMServer

    with FakeLLMServer() as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.openai_base_url)
        monkeypatch.setenv("ANTHROPIC_BASE_URL", server.anthropic_base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test-fake-llm-0000")
        monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-fake-llm-0000")
        yield server
