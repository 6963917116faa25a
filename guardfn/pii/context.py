"""Context words for Presidio's recognizers, answered without tokenizing the whole text.

Presidio's context enhancer (``LemmaContextAwareEnhancer``) lifts a match when one of its
recognizer's context words is among the lemmas just before it: the token covering the
match and the keywords (lemmas that are no stop words) walking back from it, six at most
(:data:`CONTEXT_PREFIX_COUNT` + 1). :class:`RequestContext` answers the same question for
one analysis request: with a regex tokenization of only the text just before the match
when no NLP pass ran (the default install), or from the NLP artifacts when one did. The
engine applies the lift itself (:func:`boost`), with the enhancer's arithmetic.

Imports Presidio (only :mod:`guardfn.pii.engine` and the recognizer modules import this).
"""

from __future__ import annotations

import bisect
import contextvars
import re
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

from presidio_analyzer import RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

CONTEXT_SCORE = 0.75
"""Score a match gets at least when one of its recognizer's context words is near it."""

CONTEXT_SIMILARITY_FACTOR = 0.35
"""What a context word adds to a match's score (then floored at :data:`CONTEXT_SCORE`, capped at 1)."""

CONTEXT_PREFIX_COUNT = 5
"""Keywords before a match's own token that the context step looks at."""

_LIMIT = CONTEXT_PREFIX_COUNT + 1


def naive_lemma(lower: str) -> str:
    """A crude English lemma for context matching when no lemmatizer is installed."""
    if len(lower) > 3 and lower.endswith("s") and not lower.endswith(("ss", "us", "is")):
        return lower[:-1]
    return lower


_TOKEN = re.compile(r"(\w+|'\w+)|[^\w\s]")
_WORD_RUN = re.compile(r"\w+")


def _is_word(char: str) -> bool:
    """Whether ``char`` is a word character as ``re``'s ``\\w`` sees it (alphanumeric or "_")."""
    return char.isalnum() or char == "_"


def _odd_word(lowered: str) -> bool:
    """A context word :meth:`RequestContext.has_keyword` leaves to the tokenizer: non-ASCII
    (lower-casing may turn a run of word characters into other characters) or an "'s"-like one."""
    return not lowered.isascii() or lowered.startswith("'")


def fast_artifacts(text: str, nlp_engine: Any = None) -> NlpArtifacts:
    """NLP artifacts for context words from a regex tokenizer (no spaCy pass; lemmas are crude).

    Keywords follow Presidio's rule (lemmas that are not stop words or punctuation),
    with spaCy's English stop-word list.
    """
    tokens: list[str] = []
    indices: list[int] = []
    lemmas: list[str] = []
    keywords: list[str] = []
    stop = _stop_words()
    lowered = text.lower()
    # lower() can change lengths (e.g. "İ"): then offsets would shift, so lower per token
    lower: str | None = lowered if len(lowered) == len(text) else None
    for m in _TOKEN.finditer(text):
        start, end = m.span()
        token = m.group()
        tokens.append(token)
        indices.append(start)
        lemma = lower[start:end] if lower is not None else token.lower()
        if len(lemma) > 3 and lemma[-1] == "s" and lemma[-2] not in "sui":  # _naive_lemma, inlined
            lemma = lemma[:-1]
        lemmas.append(lemma)
        if m.lastindex and lemma not in stop and lemma != "be":
            keywords.append(lemma)
    # Presidio's enhancer only needs len() of each token and its offset: strings will do.
    artifacts = NlpArtifacts(
        entities=[],
        tokens=tokens,  # type: ignore[arg-type]
        tokens_indices=indices,
        lemmas=lemmas,
        nlp_engine=None,
        language="en",
    )
    artifacts.keywords = keywords
    artifacts.nlp_engine = nlp_engine
    return artifacts


@lru_cache(maxsize=1)
def _stop_words() -> frozenset[str]:
    from spacy.lang.en.stop_words import STOP_WORDS

    return frozenset(STOP_WORDS)


class RequestContext:
    """What one analysis request shares with the recognizers: its threshold and, lazily, its tokens."""

    def __init__(self, text: str, threshold: float, artifacts: NlpArtifacts | None = None) -> None:
        self.text = text
        self.threshold = threshold
        self._artifacts = artifacts
        self.real_lemmas = artifacts is not None
        self._first_positions: dict[str, int] = {}
        self._mentions: dict[tuple[str, ...], int | None] = {}
        self._lower: str | None = None
        self._lower_exact = True
        self.covered: list[tuple[int, int]] = []
        """Spans of detections that win any overlap with a phone number (set between recognizer rounds)."""
        self._ends: list[int] | None = None
        self._lemmas_lower: list[str] = []
        self._keywords: set[str] = set()
        self._surrounding: dict[int, tuple[list[str], list[str]]] = {}

    @property
    def artifacts(self) -> NlpArtifacts:
        """The request's NLP artifacts (a regex tokenization unless an NLP pass ran)."""
        if self._artifacts is None:
            self._artifacts = fast_artifacts(self.text)
        return self._artifacts

    def supportive_word(self, start: int, context: list[str]) -> str:
        """The context word Presidio's enhancer would find for a match at ``start``, or ``""``.

        The first of ``context`` (in its order, compared in lower case) among
        :meth:`surrounding`. A text that mentions none of them needs no tokens; one that
        mentions them only after ``start`` can only have the forward keyword match.
        """
        first = self.first_mention(context)
        if first is None:
            return ""  # no context word anywhere: no tokenizing needed
        near = self.surrounding(start) if first <= start else self._forward(start)
        for word in context:
            if word.lower() in near:
                return word
        return ""

    def has_context(self, start: int, context: list[str]) -> bool:
        """Whether Presidio's context enhancer would find one of ``context`` for a match at ``start``."""
        return self.supportive_word(start, context) != ""

    def surrounding(self, start: int) -> list[str]:
        """The lemmas Presidio's context enhancer collects for a match at ``start`` (lower case).

        The keywords (lemmas that are no stop words) among the token covering ``start`` and
        the tokens before it, walking back, six at most; then the first keyword from the
        covering token on (its "suffix" of one word). None when no token covers ``start``.
        """
        backward, forward = self._walk(start)
        return backward + forward

    def _forward(self, start: int) -> list[str]:
        """The forward keyword alone (what :meth:`surrounding` ends with), tokenizing only from the covering token on."""
        text = self.text
        if start in self._surrounding or start >= len(text) or text[start].isspace():
            return self._walk(start)[1]
        first = start
        char = text[start]
        if char == "'" and start + 1 < len(text) and _is_word(text[start + 1]):
            pass  # an "'s"-like token starts here
        elif _is_word(char):
            while first > 0 and _is_word(text[first - 1]):
                first -= 1
            if first > 0 and text[first - 1] == "'":
                first -= 1  # the token is "'" and the run of word characters after it
        else:
            return self._next_keyword(_TOKEN.finditer(text, start + 1))  # a one-character punctuation token
        return self._next_keyword(_TOKEN.finditer(text, first))

    def _walk(self, start: int) -> tuple[list[str], list[str]]:
        found = self._surrounding.get(start)
        if found is None:
            found = self._walk_nearby(start) if self._artifacts is None else self._walk_indexed(start)
            self._surrounding[start] = found
        return found

    def _walk_indexed(self, start: int) -> tuple[list[str], list[str]]:
        if self._ends is None:
            self._index_keywords()
        assert self._ends is not None
        index = bisect.bisect_right(self._ends, start)
        lemmas, keywords = self._lemmas_lower, self._keywords
        backward: list[str] = []
        i = index if index < len(lemmas) else -1
        while i >= 0 and len(backward) < _LIMIT:
            if lemmas[i] in keywords:
                backward.append(lemmas[i])
            i -= 1
        forward = next(([lemma] for lemma in lemmas[index:] if lemma in keywords), [])
        return backward, forward

    def _walk_nearby(self, start: int) -> tuple[list[str], list[str]]:
        """:meth:`_walk` for the regex tokenizer, tokenizing only the text around ``start``.

        Tokens never cross whitespace, so tokenizing from just after a whitespace character
        up to the end of the token covering ``start`` gives the same tokens as tokenizing the
        whole text. The window grows until it holds the six keywords the enhancer would look
        at, or reaches the start of the text.
        """
        text = self.text
        if start >= len(text) or text[start].isspace():
            return self._walk_indexed(start)  # never for a match: it starts on a token
        run = _WORD_RUN.match(text, start + 1 if text[start] == "'" else start)
        end = run.end() if run is not None else start + 1  # the end of the covering token
        stop = _stop_words()
        width = 160
        while True:
            a = max(0, start - width)
            while a > 0 and not text[a - 1].isspace():
                a -= 1
            tokens = _TOKEN.findall(text, a, end)  # word tokens, "" for punctuation; the last covers start
            backward: list[str] = []
            for token in reversed(tokens):
                if token:
                    lemma = naive_lemma(token.lower())
                    if lemma not in stop and lemma != "be":
                        backward.append(lemma)
                        if len(backward) == _LIMIT:
                            break
            if len(backward) >= _LIMIT or a == 0:
                break
            width *= 2
        last = naive_lemma(tokens[-1].lower()) if tokens[-1] else ""
        if last and last not in stop and last != "be":
            return backward, [last]
        return backward, self._next_keyword(_TOKEN.finditer(text, end))

    @staticmethod
    def _next_keyword(tokens: Iterator[re.Match[str]]) -> list[str]:
        stop = _stop_words()
        for m in tokens:
            lemma = naive_lemma(m.group().lower())
            if m.lastindex and lemma not in stop and lemma != "be":
                return [lemma]
        return []

    def first_mention(self, words: list[str]) -> int | None:
        """Offset at or before the first token whose lemma could be one of ``words``, or ``None``.

        A cheap test that never misses what the context enhancer would find: such a token
        contains the word (case-insensitively). With a real lemmatizer (an NLP pass ran)
        any token may be one, so it answers 0.
        """
        if self.real_lemmas:
            return 0
        key = tuple(words)
        if key in self._mentions:
            return self._mentions[key]
        if self._lower is None:
            lowered = self.text.lower()
            self._lower = lowered
            self._lower_exact = len(lowered) == len(self.text)
        best: int | None = None
        for word in words:
            pos = self._first_positions.get(word)
            if pos is None:
                pos = self._lower.find(word.lower())
                self._first_positions[word] = pos
            if pos >= 0 and (best is None or pos < best):
                best = pos
        if best is not None and not self._lower_exact:
            best = 0  # lower() changed lengths: offsets are not comparable, stay conservative
        self._mentions[key] = best
        return best

    def has_keyword(self, words: list[str]) -> bool:
        """Whether one of ``words`` (lower-cased) is one of the request's keywords.

        With the regex tokenizer this needs no tokenizing: a keyword is the crude lemma of
        a token that is a whole run of word characters not just after an apostrophe (that
        would be part of an "'s"-like token), and is no stop word. A case-insensitive
        search finds every run that lower-cases to a word or the word plus "s"; the lemma
        of each is then computed as :func:`fast_artifacts` does.
        """
        lowered = {word.lower() for word in words}
        if self.real_lemmas or self._artifacts is not None or any(_odd_word(word) for word in lowered):
            keywords = self.keyword_set()
            return any(word in keywords for word in lowered)
        # ASCII words that are not runs of word characters (e.g. "lic#") are never keywords
        wanted = {word for word in lowered if _WORD_RUN.fullmatch(word)} - _stop_words() - {"be"}
        if not wanted:
            return False
        for m in _word_pattern(tuple(sorted(wanted))).finditer(self.text):
            if naive_lemma(m.group().lower()) in wanted:
                return True
        return False

    def keyword_set(self) -> set[str]:
        """The request's keywords (lower-case lemmas that are not stop words)."""
        if self._ends is None:
            self._index_keywords()
        return self._keywords

    def _index_keywords(self) -> None:
        artifacts = self.artifacts
        self._keywords = set(artifacts.keywords)
        self._lemmas_lower = [lemma.lower() for lemma in artifacts.lemmas]
        self._ends = [i + len(t) for i, t in zip(artifacts.tokens_indices, artifacts.tokens, strict=True)]


@lru_cache(maxsize=64)
def _word_pattern(words: tuple[str, ...]) -> re.Pattern[str]:
    """Any of ``words``, optionally followed by "s", as a whole run of word characters not
    just after an apostrophe, in any case."""
    alternatives = "|".join(re.escape(word) + "s?" for word in words) or "(?!)"
    return re.compile(rf"(?<![\w'])(?:{alternatives})(?!\w)", re.IGNORECASE)


REQUEST: contextvars.ContextVar[RequestContext | None] = contextvars.ContextVar("guardfn_pii_request", default=None)
"""The analysis request running in this thread or task (set by :class:`guardfn.pii.engine.PIIEngine`)."""


def boost(result: RecognizerResult, word: str) -> None:
    """Presidio's context lift of ``result``, whose supportive context word is ``word`` (in place)."""
    result.score = min(max(result.score + CONTEXT_SIMILARITY_FACTOR, CONTEXT_SCORE), 1.0)
    explanation: Any = result.analysis_explanation
    if explanation is not None:
        explanation.set_supportive_context_word(word)
        explanation.set_improved_score(result.score)
