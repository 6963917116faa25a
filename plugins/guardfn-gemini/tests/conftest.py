"""Fixtures: the fake Gemini API, and no real keys or endpoints leaking into a test."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from guardfn.testing import require_plugin

sys.path.insert(0, str(Path(__file__).parent))  # fake_gemini_api, whatever pytest's import mode

from fake_gemini_api import FakeGeminiServer

require_plugin("guardfn_gemini", install="pip install -e plugins/guardfn-gemini")


@pytest.fixture(autouse=True)
def _no_real_gemini(monkeypatch: pytest.MonkeyPatch, guardfn_isolation: None) -> None:
    """guardfn's isolation (keys, .env, global options, plugins) plus Google's own variables."""
    for name in ("GEMINI_API_KEY", "GOOGLE_API_KEY", "GEMINI_BASE_URL", "GOOGLE_GEMINI_BASE_URL",
                 "GOOGLE_GENAI_USE_VERTEXAI"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def gemini() -> Iterator[FakeGeminiServer]:
    """A running fake Gemini API on 127.0.0.1."""
    with FakeGeminiServer() as server:
        yield server
