"""Offline token counting for ``max_input_tokens``, and the cheap bound budgets reserve.

:func:`prompt_bound` is what token and USD budgets reserve before a request: the
prompt's UTF-8 bytes plus a per-message overhead. Every token of a byte-level BPE
vocabulary (OpenAI's ``o200k_base`` and ``cl100k_base``, and Anthropic's) stands for at
least one byte, so the bound is never below the real count; it costs a length, not a
tokenizer, and the settle step corrects the reservation to the usage the provider
reports. Nothing here loads the tokenizer until an exact count is asked for
(:func:`count_tokens`, used by ``max_input_tokens``).

OpenAI models are counted with the ``bpe-openai`` package, whose tiktoken-compatible
encodings (``o200k_base``, ``cl100k_base``) ship inside the wheel: nothing is
downloaded. Other models (Anthropic, plugins) are estimated with ``o200k_base`` plus a
15% margin, which over-reserves rather than under-reserves. If ``bpe-openai`` cannot be
loaded, a documented estimate is used (one token per three characters, rounded up) and
a one-line :class:`~guardfn.errors.OfflineFallbackWarning` says how to enable the full path.
"""

from __future__ import annotations

import functools
import json
import math
import threading
import warnings
from typing import Any

from guardfn.errors import OfflineFallbackWarning

PER_MESSAGE_OVERHEAD = 4
"""Tokens a chat format adds per message (role markers), as OpenAI documents."""
NON_OPENAI_MARGIN = 1.15

_lock = threading.Lock()


@functools.lru_cache(maxsize=4)
def _encoding(name: str) -> Any:
    try:
        with warnings.catch_warnings():  # bpe-openai reads its bundled files with a deprecated API
            warnings.simplefilter("ignore", DeprecationWarning)
            import bpe_openai

            encoding = bpe_openai.get_encoding(name)
            encoding.encode("warm up")
            return encoding
    except Exception:
        warnings.warn(
            "guardfn: offline tokenizer unavailable, estimating 1 token per 3 characters; "
            "`pip install bpe-openai` for exact OpenAI counts",
            OfflineFallbackWarning,
            stacklevel=3,
        )
        return None


def encoding_name(model: str) -> str:
    """The BPE encoding of an OpenAI model (o200k for gpt-4o and later, cl100k before)."""
    legacy = model.startswith(("gpt-4-", "gpt-3.5")) or model == "gpt-4"
    return "cl100k_base" if legacy else "o200k_base"


def count_text(text: str, model: str = "gpt-4o") -> int:
    """Tokens in ``text`` for ``model``, counted offline."""
    if not text:
        return 0
    with _lock:
        encoding = _encoding(encoding_name(model))
    if encoding is None:
        return math.ceil(len(text) / 3)
    count = len(encoding.encode(text))
    if not model.startswith(("gpt", "o1", "o3", "o4", "chatgpt")):
        count = math.ceil(count * NON_OPENAI_MARGIN)
    return count


IMAGE_TOKENS = {"anthropic": 1_600, "openai": 1_105}
"""A conservative count per image part (the settle step corrects it to what the provider
reports): Anthropic bills about (width x height) / 750 tokens and scales images down to at
most about 1.15 megapixels (~1,600 tokens); OpenAI's gpt-4o family bills 85 + 170 per 512 px
tile of a high-detail image, 1,105 at most (6 tiles). Other providers use the larger figure."""


def image_tokens(model: str) -> int:
    """Tokens reserved for one image part sent to ``model``."""
    return IMAGE_TOKENS["anthropic"] if model.startswith("claude") or not model.startswith(("gpt", "o", "chatgpt")) else IMAGE_TOKENS["openai"]


def count_tokens(messages: list[Any], model: str) -> int:
    """Prompt tokens of a chat for ``model``: every text (tool call arguments included), a
    conservative figure per image, and each message's overhead."""
    total = 0
    for message in messages:
        text = "".join(getattr(p, "text", "") for p in message.content)
        text += "".join(c.arguments_json() for c in message.tool_calls)
        total += count_text(text, model) + PER_MESSAGE_OVERHEAD + image_tokens(model) * len(message.images)
    return total


def _bytes(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


def prompt_bound(messages: list[Any], model: str, tools: tuple[Any, ...] = ()) -> int:
    """An upper bound of the prompt tokens of ``messages`` (and the ``tools`` offered) for any
    byte-level BPE model, without a tokenizer: one token per UTF-8 byte of text, tool call
    arguments and tool schemas, a conservative figure per image, and each message's overhead."""
    total = sum(_bytes(t.name) + _bytes(t.description) + _bytes(json.dumps(t.parameters)) for t in tools)
    for message in messages:
        total += PER_MESSAGE_OVERHEAD + image_tokens(model) * len(message.images)
        total += sum(_bytes(p.text) for p in message.content if hasattr(p, "text"))
        total += sum(_bytes(c.arguments_json()) for c in message.tool_calls)
    return total
