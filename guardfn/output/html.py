"""HTML in the answer: sanitise it to an allow-list of tags (nh3), or escape it.

``html="sanitize"`` keeps only the allowed tags (default :data:`DEFAULT_TAGS`: p, ul,
ol, li, strong, em, code, pre), drops every attribute unless allowed, removes
``<script>`` and ``<style>`` elements with their content, strips comments, and escapes
stray ``<`` / ``>``. ``html="escape"`` escapes everything (``<`` -> ``&lt;``), for
answers shown as text inside a page.

Streams: :class:`StreamSanitizer` sanitises complete pieces as they arrive, holding
back an unfinished tag (``<scr`` ...) and an unclosed ``<script>`` / ``<style>``
element, so what it emits is always sanitised HTML. Escaping needs no hold-back.
"""

from __future__ import annotations

import html as _html
import re
from collections.abc import Iterable, Mapping
from typing import Literal

__all__ = ["DEFAULT_TAGS", "HtmlCleaner", "StreamSanitizer", "escape"]

DEFAULT_TAGS: frozenset[str] = frozenset({"p", "ul", "ol", "li", "strong", "em", "code", "pre"})
"""Tags ``html="sanitize"`` keeps by default."""

HtmlMode = Literal["sanitize", "escape"]
_CONTENT_TAGS = frozenset({"script", "style"})
# An element whose content is dropped, opened and not closed yet.
_OPEN_CONTENT_TAG = re.compile(r"(?i)<(script|style)\b")


def escape(text: str) -> str:
    """``text`` with ``& < > " '`` escaped."""
    return _html.escape(text, quote=True)


class HtmlCleaner:
    """An nh3 sanitiser for one allow-list (built once per settings; thread-safe)."""

    def __init__(
        self, tags: Iterable[str] = DEFAULT_TAGS, attributes: Mapping[str, Iterable[str]] | None = None
    ) -> None:
        import nh3

        self.tags = frozenset(t.lower() for t in tags)
        allowed = {tag: set(attrs) for tag, attrs in (attributes or {}).items()}
        allowed.setdefault("*", set())  # no generic attributes (nh3 keeps lang/title by default)
        self._cleaner = nh3.Cleaner(
            tags=set(self.tags),
            attributes=allowed,
            clean_content_tags=set(_CONTENT_TAGS - self.tags),
            strip_comments=True,
        )

    def clean(self, text: str) -> str:
        """Sanitised ``text``."""
        if "<" not in text and ">" not in text and "&" not in text:
            return text
        return str(self._cleaner.clean(text))


class StreamSanitizer:
    """Sanitise or escape a stream of HTML chunks: ``feed(chunk)`` -> text to emit now,
    ``flush()`` -> the rest.

    Each emitted piece is sanitised on its own, so nothing unsafe is ever emitted; a tag
    split across chunks is held back until it is complete, and a ``<script>`` or
    ``<style>`` element until it is closed (or the stream ends), so its content is
    dropped rather than emitted as text.
    """

    def __init__(self, mode: HtmlMode, cleaner: HtmlCleaner | None = None) -> None:
        self.mode = mode
        self.cleaner = cleaner
        self._held = ""

    def feed(self, chunk: str) -> str:
        """Add a chunk; return the sanitised text that can be emitted now."""
        if self.mode == "escape":
            return escape(chunk)
        text = self._held + chunk
        cut = _holdback(text, self._cleaner_tags())
        self._held = text[cut:]
        return self._clean(text[:cut])

    def flush(self) -> str:
        """End of stream: sanitise and return what is held back."""
        rest, self._held = self._held, ""
        return self._clean(rest) if rest else ""

    def _clean(self, text: str) -> str:
        if not text:
            return ""
        assert self.cleaner is not None
        return self.cleaner.clean(text)

    def _cleaner_tags(self) -> frozenset[str]:
        return self.cleaner.tags if self.cleaner is not None else frozenset()


def _holdback(text: str, allowed: frozenset[str]) -> int:
    """Where the part of ``text`` that may still change meaning begins."""
    cut = len(text)
    lt = text.rfind("<")
    if lt >= 0 and text.find(">", lt) < 0:
        cut = lt  # an unfinished tag (or a bare "<" that may become one)
    for m in _OPEN_CONTENT_TAG.finditer(text):
        name = m.group(1).lower()
        if name in allowed:
            continue
        if re.search(rf"(?i)</{name}\s*>", text[m.end() :]) is None:
            return min(cut, m.start())
    amp = text.rfind("&")
    if amp >= 0 and ";" not in text[amp:] and len(text) - amp < 12:
        cut = min(cut, amp)  # an unfinished character reference
    return cut
