"""Offline prompt-token counts for reservations: bundled encodings, never a download, a documented fallback."""

from __future__ import annotations

import math
import socket
import sys
import warnings
from collections.abc import Iterator
from typing import Any

import pytest

from guardfn import tokens
from guardfn.call import text_message
from guardfn.errors import OfflineFallbackWarning


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> Iterator[None]:
    """Any connection attempt fails, and tiktoken's cache is empty: a download would be noticed."""

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("guardfn tried to use the network while counting tokens")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("DATA_GYM_CACHE_DIR", str(tmp_path))
    yield
    assert list(tmp_path.iterdir()) == []


@pytest.fixture
def fresh_encodings() -> Iterator[None]:
    tokens._encoding.cache_clear()
    yield
    tokens._encoding.cache_clear()


def test_openai_counts_are_exact_and_offline(no_network: None, fresh_encodings: None) -> None:
    assert tokens.count_text("hello world", "gpt-4o") == 2  # o200k_base
    assert tokens.count_text("hello world", "gpt-4") == 2  # cl100k_base
    assert tokens.encoding_name("gpt-4o-mini") == "o200k_base"
    assert tokens.encoding_name("gpt-3.5-turbo") == "cl100k_base"
    assert tokens.count_text("", "gpt-4o") == 0


def test_chat_counts_add_per_message_overhead(no_network: None) -> None:
    messages = [text_message("system", "Be brief."), text_message("user", "hello world")]
    expected = tokens.count_text("Be brief.", "gpt-4o") + 2 + 2 * tokens.PER_MESSAGE_OVERHEAD
    assert tokens.count_tokens(messages, "gpt-4o") == expected


def test_other_providers_get_a_safety_margin(no_network: None) -> None:
    text = "The quick brown fox jumps over the lazy dog. " * 20
    assert tokens.count_text(text, "claude-sonnet-4-5") == math.ceil(
        tokens.count_text(text, "gpt-4o") * tokens.NON_OPENAI_MARGIN
    )


def test_without_bpe_openai_a_documented_estimate_warns_once(
    monkeypatch: pytest.MonkeyPatch, fresh_encodings: None
) -> None:
    monkeypatch.setitem(sys.modules, "bpe_openai", None)  # import fails
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert tokens.count_text("a" * 30, "gpt-4o") == 10  # one token per three characters, rounded up
        assert tokens.count_text("a" * 31, "gpt-4o") == 11
    fallback = [w for w in caught if issubclass(w.category, OfflineFallbackWarning)]
    assert len(fallback) == 1
    assert "pip install bpe-openai" in str(fallback[0].message)
    assert "\n" not in str(fallback[0].message)
