"""One-pass prefilters for the screeners: is there any match at all?

Most prompts match no rule. Asking RE2 once whether anything matches, before asking
which rule matches where, keeps the common case to a single call into the engine.

* :func:`presence_test`: whether one pattern matches anywhere in a text.
* :class:`JoinedGate`: whether any of many patterns matches any of several texts, in
  one pass over the texts joined with newlines. The patterns are compiled in
  multi-line mode, so a match inside one text is also a match of the joined text:
  ``^`` and ``$`` match at the newlines as they do at either end of a text, and ``\\b``
  sees a newline as it sees either end of a text. No match therefore means no pattern
  matches any of the texts; a match (possibly a spurious one across two texts) means
  the caller must run its exact per-text passes. Patterns that can tell the joined text
  from its parts (``\\A``, ``\\z``, a cleared flag such as ``(?-m)``) disable the gate.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import re2


def presence_test(pattern: str) -> Callable[[str], bool]:
    """A function telling whether ``pattern`` (RE2 syntax) matches anywhere in a text.

    The same answer as ``re2.compile(pattern).search(text) is not None``, through a
    one-pattern RE2 set: a single C call, without building a match object.
    """
    regex_set = re2.Set.SearchSet(re2.Options())
    regex_set.Add(pattern)
    regex_set.Compile()

    def test(text: str) -> bool:
        return bool(regex_set.Match(text))

    return test


class JoinedGate:
    """Many RE2 patterns in one set, matched once over several texts (see the module docstring)."""

    def __init__(self, regex_set: re2.Set) -> None:
        self._set = regex_set

    @classmethod
    def build(cls, patterns: Iterable[str], max_mem: int) -> JoinedGate | None:
        """The gate for ``patterns``, or ``None`` when one of them could tell the joined
        text from its parts or the set does not compile."""
        patterns = list(patterns)
        if any("\\A" in p or "\\z" in p or "(?-" in p for p in patterns):
            return None
        options = re2.Options()
        options.max_mem = max_mem
        regex_set = re2.Set.SearchSet(options)
        try:
            for pattern in patterns:
                regex_set.Add("(?m)" + pattern)
            regex_set.Compile()
        except re2.error:
            return None
        return cls(regex_set)

    def clear(self, texts: Iterable[str]) -> bool:
        """True when no pattern matches any of ``texts``; False means "run the exact passes"."""
        return not self._set.Match("\n".join(texts))

    def hits(self, texts: Iterable[str]) -> list[int]:
        """The indices (in the order given to :meth:`build`) of the patterns that may
        match one of ``texts``; a pattern not listed matches none of them."""
        return self._set.Match("\n".join(texts)) or []


__all__ = ["JoinedGate", "presence_test"]
