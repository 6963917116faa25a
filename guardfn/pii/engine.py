"""The offline PII analyzer: Presidio's ``AnalyzerEngine``, built once per process, lazily.

:func:`get_engine` builds it on first use (importing Presidio and spaCy then, not at
``import guardfn``) and returns the same :class:`PIIEngine` afterwards. It never touches
the network: no spaCy model is downloaded (a blank English pipeline is used when none is
installed), and the e-mail validator uses tldextract's bundled suffix list.

With a spaCy model (``GUARDFN_SPACY_MODEL`` = a package name or a path, default
``en_core_web_sm`` when installed) PERSON, LOCATION and NRP are detected too; without
one they are not, and the first request for them warns once naming them.

Speed: a request runs only the recognizers whose cheap trigger regex matches the text
(see :data:`guardfn.pii.recognizers.TRIGGERS`), runs the NLP pipeline only when an NER
entity is requested, and tokenizes (for context words) only when something was found.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import threading
import warnings
from collections.abc import Collection, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from guardfn.errors import OfflineFallbackWarning
from guardfn.pii.detection import Detection
from guardfn.pii.entities import (
    CONTEXT_ENTITIES,
    DEFAULT_SPACY_MODEL,
    NAME_ENTITIES,
    NER_ENTITIES,
    OFFLINE_ENTITIES,
    SPACY_MODEL_ENV,
)

if TYPE_CHECKING:
    from presidio_analyzer import AnalyzerEngine

log = logging.getLogger("guardfn.pii")

LANGUAGE = "en"

NER_LABELS: dict[str, str] = {
    "PERSON": "PERSON",
    "PER": "PERSON",
    "GPE": "LOCATION",
    "LOC": "LOCATION",
    "LOCATION": "LOCATION",
    "NORP": "NRP",
}
"""spaCy NER labels guardfn maps to its entity types; every other label is ignored."""


class _Scrub(logging.Filter):
    """Drops the arguments of Presidio's log records: some carry text being analysed."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            record.msg = _FORMAT_SPEC.sub("<redacted>", str(record.msg))
            record.args = ()
        return True


_FORMAT_SPEC = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(?:\d+|\*)?(?:\.(?:\d+|\*))?[a-zA-Z%]")


_SCRUB = _Scrub()


def _scrub_presidio_logs() -> None:
    for name in ("presidio-analyzer", "presidio-anonymizer"):
        logger = logging.getLogger(name)
        if _SCRUB not in logger.filters:
            logger.addFilter(_SCRUB)


def resolve_model_name() -> str | None:
    """The spaCy model to load for NER (a package name or path), or ``None`` for a blank pipeline.

    ``GUARDFN_SPACY_MODEL`` wins (``""``/``"blank"``/``"none"`` force the blank pipeline);
    otherwise ``en_core_web_sm`` if installed. A configured model that is not installed
    is reported with :class:`~guardfn.OfflineFallbackWarning` and the blank pipeline is used:
    guardfn never downloads one.
    """
    import spacy.util

    configured = os.environ.get(SPACY_MODEL_ENV)
    if configured is not None:
        name = configured.strip()
        if name.lower() in ("", "blank", "none"):
            return None
        if spacy.util.is_package(name) or Path(name).exists():
            return name
        warnings.warn(
            f"{SPACY_MODEL_ENV}={name!r} is not an installed spaCy package or a path; guardfn never "
            "downloads models, so PII detection runs without NER (install the model to enable it)",
            OfflineFallbackWarning,
            stacklevel=3,
        )
        return None
    return DEFAULT_SPACY_MODEL if spacy.util.is_package(DEFAULT_SPACY_MODEL) else None


def _make_nlp_engine(nlp: Any, model_name: str) -> Any:
    """A Presidio ``SpacyNlpEngine`` around an already loaded pipeline (it never downloads)."""
    from presidio_analyzer.nlp_engine import NerModelConfiguration, NlpArtifacts, SpacyNlpEngine

    from guardfn.pii.context import naive_lemma

    labels: set[str] = set()
    for pipe, pipe_labels in nlp.pipe_labels.items():
        if "ner" in pipe or "ruler" in pipe:
            labels.update(pipe_labels)
    config = NerModelConfiguration(
        model_to_presidio_entity_mapping=dict(NER_LABELS),
        labels_to_ignore=sorted(labels - set(NER_LABELS)),
    )

    class GuardfnSpacyNlpEngine(SpacyNlpEngine):
        """Presidio's spaCy engine over a pipeline loaded by guardfn; lemmas fall back to lower case."""

        def load(self) -> None:
            """Never called with a pipeline set; refuses rather than downloading."""
            if self.nlp is None:
                raise RuntimeError("guardfn's spaCy NLP engine has no pipeline")

        def _doc_to_nlp_artifact(self, doc: Any, language: str) -> Any:
            artifacts = super()._doc_to_nlp_artifact(doc, language)
            if any(not lemma for lemma in artifacts.lemmas):
                lemmas = [t.lemma_ or naive_lemma(t.lower_) for t in doc]
                artifacts = NlpArtifacts(
                    entities=artifacts.entities,
                    tokens=doc,
                    tokens_indices=artifacts.tokens_indices,
                    lemmas=lemmas,
                    nlp_engine=self,
                    language=language,
                    scores=artifacts.scores,
                )
            return artifacts

    engine = GuardfnSpacyNlpEngine(
        models=[{"lang_code": LANGUAGE, "model_name": model_name}], ner_model_configuration=config
    )
    engine.nlp = {LANGUAGE: nlp}  # type: ignore[assignment]
    return engine


def _lazy_artifacts(request: Any) -> Any:
    """NLP artifacts whose tokens are computed only if a context check asks for them."""
    return _lazy_artifacts_class()(request)


@functools.lru_cache(maxsize=1)
def _lazy_artifacts_class() -> type:
    from presidio_analyzer.nlp_engine import NlpArtifacts

    class LazyArtifacts(NlpArtifacts):
        """Presidio's NlpArtifacts, tokenized on first use by the request."""

        def __init__(self, request: Any) -> None:  # no super(): the fields are properties below
            self.entities: list[Any] = []
            self.scores: list[float] = []
            self.nlp_engine = None
            self._request = request

        tokens = property(lambda self: self._request.artifacts.tokens)
        lemmas = property(lambda self: self._request.artifacts.lemmas)
        tokens_indices = property(lambda self: self._request.artifacts.tokens_indices)
        keywords = property(lambda self: self._request.artifacts.keywords)

    return LazyArtifacts


_missing_warned = False
_missing_lock = threading.Lock()


def _warn_missing_ner(missing: Iterable[str]) -> None:
    global _missing_warned
    with _missing_lock:
        if _missing_warned:
            return
        _missing_warned = True
    names = ", ".join(sorted(missing))
    message = (
        f"no spaCy NER model is installed, so PII detection cannot see {names} (every other entity "
        f"is detected); install a spaCy English model and set {SPACY_MODEL_ENV} to its package "
        "name or path to enable them"
    )
    log.warning("guardfn pii: %s", message)
    warnings.warn(message, OfflineFallbackWarning, stacklevel=4)


class PIIEngine:
    """Presidio's AnalyzerEngine configured for guardfn (see the module docstring).

    ``model`` is a spaCy package name or path; ``None`` uses a blank English pipeline
    (patterns only). Build one with :func:`get_engine` unless you need a second model.
    """

    def __init__(self, model: str | None = None) -> None:
        import spacy
        from presidio_analyzer import AnalyzerEngine, EntityRecognizer, PatternRecognizer, RecognizerRegistry
        from presidio_analyzer import RecognizerResult as Result
        from presidio_analyzer.predefined_recognizers import SpacyRecognizer

        from guardfn.pii import context
        from guardfn.pii.recognizers import (
            CALIBRATED_ENTITIES,
            FAMILIES,
            LEAN,
            LEAN_TRIGGERS,
            STRONG_PHONE_SCORE,
            WEAK_PATTERN_SCORE,
            CalibratingContextEnhancer,
            TriggerSet,
            all_triggers,
            build_pattern_recognizers,
        )

        _scrub_presidio_logs()
        nlp = spacy.load(model) if model else spacy.blank(LANGUAGE)
        self.model: str | None = model
        has_ner = any(nlp.has_pipe(name) for name in nlp.pipe_names if "ner" in name or "ruler" in name)
        self.ner_entities: tuple[str, ...] = NER_ENTITIES if has_ner else ()
        self._triggers = TriggerSet({**all_triggers(), **offline_triggers()})
        self._nlp_engine = _make_nlp_engine(nlp, model or "blank")
        self._recognizers: dict[str, Any] = build_pattern_recognizers()
        self._ner_recognizer: Any = SpacyRecognizer(supported_entities=list(NER_ENTITIES)) if has_ner else None
        recognizers: list[Any] = list(self._recognizers.values())
        # Pattern recognizers without a validator score their patterns' scores, at most.
        self._context_only: dict[str, float] = {
            entity: max(float(p.score) for p in getattr(rec, "patterns", ()))
            for entity, rec in self._recognizers.items()
            if isinstance(rec, PatternRecognizer)
            and type(rec).validate_result is PatternRecognizer.validate_result
            and entity not in CALIBRATED_ENTITIES
        }
        if self._ner_recognizer is not None:
            recognizers.append(self._ner_recognizer)
        # Variants of a recognizer without some of its patterns, one per set left out (built once):
        # without those that only a context word can lift (SSN's "very weak" ones; for
        # recognizers without a validator), used when no such word is in the text; and without
        # a family of patterns whose own trigger did not fire (FAMILIES).
        self._weak_names: dict[str, frozenset[str]] = {}
        for entity, rec in self._recognizers.items():
            if entity in self._context_only or not isinstance(rec, PatternRecognizer) or entity == "PHONE_NUMBER":
                continue
            if type(rec).validate_result is not PatternRecognizer.validate_result:
                continue
            patterns: list[Any] = list(getattr(rec, "patterns", []))
            weak = frozenset(p.name for p in patterns if p.score < WEAK_PATTERN_SCORE)
            if weak and len(weak) < len(patterns):
                self._weak_names[entity] = weak
        self._families: dict[str, list[tuple[str, frozenset[str]]]] = {}
        for name, (entity, pattern_names, _) in FAMILIES.items():
            self._families.setdefault(entity, []).append((name, frozenset(pattern_names)))
        self._variants: dict[tuple[str, frozenset[str]], Any] = {}
        for entity in {*self._weak_names, *self._families}:
            groups = [
                *([self._weak_names[entity]] if entity in self._weak_names else []),
                *(n for _, n in self._families.get(entity, [])),
            ]
            for mask in range(1, 1 << len(groups)):
                drop = frozenset().union(*(g for i, g in enumerate(groups) if mask >> i & 1))
                base: Any = self._recognizers[entity]
                kept = [p for p in base.patterns if p.name not in drop]
                self._variants[(entity, drop)] = type(base)(patterns=kept, context=base.context) if kept else None
        self._by_id = {rec.id: rec for rec in [*recognizers, *(v for v in self._variants.values() if v is not None)]}
        self._context_by_id = {rid: list(rec.context or []) for rid, rec in self._by_id.items()}
        self._context_by_entity = {entity: list(rec.context or []) for entity, rec in self._recognizers.items()}
        self._enhancer: Any = CalibratingContextEnhancer()
        self._phone_ceiling = max(context.CONTEXT_SCORE, STRONG_PHONE_SCORE)
        """The highest score a phone number can get: a detection above it wins any overlap with one."""
        # Names the hot path needs, bound once (no imports per call).
        self._calibrated = CALIBRATED_ENTITIES
        self._lean_triggers = {entity: entity + LEAN for entity in LEAN_TRIGGERS}
        self._request_var, self._request_type, self._boost = context.REQUEST, context.RequestContext, context.boost
        self._id_key, self._name_key = Result.RECOGNIZER_IDENTIFIER_KEY, Result.RECOGNIZER_NAME_KEY
        self._enhanced_key = Result.IS_SCORE_ENHANCED_BY_CONTEXT_KEY
        self._dedupe = EntityRecognizer.remove_duplicates
        self.shortcuts = True
        """Skip work that cannot change the result (tests turn this off to prove it)."""
        registry = RecognizerRegistry(recognizers=recognizers, supported_languages=[LANGUAGE])
        self.analyzer: AnalyzerEngine = AnalyzerEngine(
            registry=registry,
            nlp_engine=self._nlp_engine,
            supported_languages=[LANGUAGE],
            context_aware_enhancer=self._enhancer,
        )

    @property
    def entities(self) -> tuple[str, ...]:
        """Every entity type this engine can detect (the default of ``analyze``)."""
        return OFFLINE_ENTITIES + tuple(e for e in self.ner_entities if e not in OFFLINE_ENTITIES)

    def analyze(
        self,
        text: str,
        entities: Sequence[str] | None = None,
        threshold: float = 0.7,
        allow: Iterable[str] = (),
        allow_patterns: Sequence[re.Pattern[str]] = (),
    ) -> list[Detection]:
        """Personal data in ``text``: non-overlapping detections sorted by offset.

        ``entities`` selects types (default: every type this engine can detect);
        detections scoring below ``threshold`` are dropped, and so are those whose text
        equals a value in ``allow`` or fully matches one of ``allow_patterns``.
        Overlapping detections are merged into one span (typed by the best score), so
        replacing each span never leaves part of a value behind.
        """
        wanted = tuple(entities) if entities is not None else self.entities
        ner = [e for e in wanted if e in NER_ENTITIES]
        missing = [e for e in ner if e not in self.ner_entities and e not in NAME_ENTITIES]
        if missing:
            _warn_missing_ner(missing)
        ner = [e for e in ner if e in self.ner_entities]
        offline = [e for e in wanted if e in NAME_ENTITIES or e in CONTEXT_ENTITIES]
        if "US_DRIVER_LICENSE" in wanted:
            offline.append("US_DRIVER_LICENSE")
        triggered = self._triggers(text)
        extra = find_offline(text, offline, threshold, triggered) if offline else []
        request_type = self._request_type
        pattern = [e for e in wanted if e in triggered]
        if not pattern and not ner:
            return self._finish(text, extra, allow, allow_patterns)
        if ner:
            request = request_type(text, threshold, self._nlp_engine.process_text(text, LANGUAGE))
            artifacts = request.artifacts
        else:
            request = request_type(text, threshold)
            artifacts = _lazy_artifacts(request)
        token = self._request_var.set(request)
        try:
            results = self._recognize(text, pattern, ner, artifacts, request, threshold, triggered)
        finally:
            self._request_var.reset(token)
        detections = [Detection(r.entity_type, r.start, r.end, float(r.score)) for r in results]
        return self._finish(text, detections + extra, allow, allow_patterns)

    @staticmethod
    def _finish(
        text: str, detections: list[Detection], allow: Iterable[str], allow_patterns: Sequence[re.Pattern[str]]
    ) -> list[Detection]:
        """Drop allowed values and empty spans; merge overlaps (see :func:`merge_overlaps`)."""
        if not detections:
            return []
        allowed = frozenset(allow)
        kept = [
            d for d in detections if d.end > d.start and not _is_allowed(text[d.start : d.end], allowed, allow_patterns)
        ]
        return merge_overlaps(kept)

    def _recognize(
        self,
        text: str,
        pattern: list[str],
        ner: list[str],
        artifacts: Any,
        request: Any,
        threshold: float,
        triggered: set[str],
    ) -> list[Any]:
        """Run the selected recognizers (phone last), Presidio's context enhancer, threshold, dedupe.

        The same steps as ``AnalyzerEngine.analyze``, in two rounds: everything but the
        phone recognizer first, so that the phone recognizer can skip candidates that a
        more certain detection already covers (see ``FastPhoneRecognizer``).
        """
        calibrated, id_key, name_key = self._calibrated, self._id_key, self._name_key
        enhancer = self._enhancer
        chosen = [
            self._choose(e, request, triggered)
            for e in pattern
            if e != "PHONE_NUMBER" and not self._needs_absent_context(e, request, threshold)
        ]
        first = [recognizer for recognizer in chosen if recognizer is not None]
        if ner and self._ner_recognizer is not None:
            first.append(self._ner_recognizer)
        rounds = [first, [self._recognizers["PHONE_NUMBER"]] if "PHONE_NUMBER" in pattern else []]
        entities = pattern + ner
        results: list[Any] = []
        for recognizers in rounds:
            found: list[Any] = []
            for recognizer in recognizers:
                for result in recognizer.analyze(text=text, entities=entities, nlp_artifacts=artifacts) or ():
                    meta = result.recognition_metadata
                    if meta is None:
                        meta = result.recognition_metadata = {}
                    meta.setdefault(id_key, recognizer.id)
                    meta.setdefault(name_key, recognizer.name)
                    found.append(result)
            # A result below the threshold with no context word near it stays below it:
            # leave it out before the (costly) enhancer, except where calibration may lift it.
            found = [
                r
                for r in found
                if not self.shortcuts
                or r.score >= threshold
                or r.entity_type in calibrated
                or request.has_context(r.start, self._context_of(r))
            ]
            # A validator already gave these the top score: context cannot change them. The rest
            # get the context step (guardfn's, the same lift as Presidio's enhancer, which runs
            # instead when shortcuts are off), then the calibration; the calibration sees no phone
            # number in round one, and only phone numbers in round two.
            settled: list[Any] = []
            adjust: list[Any] = []
            for r in found:
                (settled if r.score >= 1.0 and r.entity_type not in calibrated else adjust).append(r)
            results.extend(settled)
            if adjust and self.shortcuts:
                for r in adjust:
                    self._lift(r, request)
                enhancer.calibrate(text, adjust)
                results.extend(adjust)
            elif adjust:
                results.extend(enhancer.enhance_using_context(text, adjust, artifacts, recognizers, None))
            request.covered = [
                (r.start, r.end) for r in results if r.score > self._phone_ceiling and r.entity_type not in _NER_TYPES
            ]
        kept = [r for r in results if r.score >= threshold]
        # Deduplicate NER spans and pattern spans apart: a PERSON span must not swallow a
        # validated phone number before merge_overlaps gives the pattern type precedence.
        ner_kept = [r for r in kept if r.entity_type in _NER_TYPES]
        other = [r for r in kept if r.entity_type not in _NER_TYPES]
        return [*self._dedupe(other), *self._dedupe(ner_kept)] if ner_kept else self._dedupe(other)

    def _choose(self, entity: str, request: Any, triggered: set[str]) -> Any:
        """The entity's recognizer, without its context-only patterns when no context word is there
        and without the pattern families whose own trigger did not fire.

        ``None`` when what is left cannot match (the lean trigger did not fire, or no pattern is left).
        """
        recognizer = self._recognizers[entity]
        if not self.shortcuts:
            return recognizer
        drop: frozenset[str] = frozenset()
        if entity in self._weak_names and request.first_mention(self._context_by_entity[entity]) is None:
            lean_trigger = self._lean_triggers.get(entity)
            if lean_trigger is not None and lean_trigger not in triggered:
                return None
            drop = self._weak_names[entity]
        for name, pattern_names in self._families.get(entity, ()):
            if name not in triggered:
                drop |= pattern_names
        return self._variants[(entity, drop)] if drop else recognizer

    def _needs_absent_context(self, entity: str, request: Any, threshold: float) -> bool:
        """True when the recognizer can only reach ``threshold`` through a context word, and none is there."""
        ceiling = self._context_only.get(entity)
        if ceiling is None or ceiling >= threshold or not self.shortcuts:
            return False
        context = self._context_by_entity[entity]
        if request.first_mention(context) is None:
            return True
        return not request.has_keyword(context)

    def _lift(self, result: Any, request: Any) -> None:
        """Presidio's context step for one result: lifted when its recognizer's context word is near."""
        meta = result.recognition_metadata or {}
        context = self._context_by_id.get(meta.get(self._id_key))
        if not context or meta.get(self._enhanced_key):
            return  # no recognizer with context words, or already lifted by its recognizer
        word = request.supportive_word(result.start, context)
        if word:
            self._boost(result, word)

    def _context_of(self, result: Any) -> list[str]:
        return self._context_by_id.get((result.recognition_metadata or {}).get(self._id_key), [])


def _is_allowed(value: str, allow: frozenset[str], patterns: Sequence[re.Pattern[str]]) -> bool:
    return value in allow or any(p.fullmatch(value) for p in patterns)


def offline_triggers() -> dict[str, str]:
    """RE2 gates of guardfn's own recognizers (necessary conditions), named as :func:`find_offline` reads them."""
    from guardfn.pii import dates, licences, names, urls

    return {
        "offline:greeting": names.GREETING_TRIGGER,
        "offline:dates": dates.TRIGGER,
        "offline:urls": urls.TRIGGER,
        "offline:licences": licences.TRIGGER,
    }


def find_offline(
    text: str, entities: Sequence[str], threshold: float, triggered: Collection[str] | None = None
) -> list[Detection]:
    """What guardfn's own offline recognizers find of ``entities`` in ``text`` at ``threshold``.

    PERSON and LOCATION from the name lists and gazetteer (:mod:`guardfn.pii.names`),
    DATE_OF_BIRTH (:mod:`guardfn.pii.dates`), URL (:mod:`guardfn.pii.urls`) and
    US_DRIVER_LICENSE after a licence label (:mod:`guardfn.pii.licences`). ``triggered``
    names the :func:`offline_triggers` that match ``text`` (``None``: run every recognizer);
    a recognizer whose gate does not match cannot find anything and is skipped.
    """
    out: list[Detection] = []
    wanted = set(entities)

    def fired(name: str) -> bool:
        return triggered is None or name in triggered

    if wanted & {"PERSON", "LOCATION"}:
        from guardfn.pii.names import find_names

        out.extend(d for d in find_names(text, greetings=fired("offline:greeting")) if d.entity_type in wanted)
    if "DATE_OF_BIRTH" in wanted and fired("offline:dates"):
        from guardfn.pii.dates import find_dates_of_birth

        out.extend(find_dates_of_birth(text))
    if "URL" in wanted and fired("offline:urls"):
        from guardfn.pii.urls import find_personal_urls

        out.extend(find_personal_urls(text))
    if "US_DRIVER_LICENSE" in wanted and fired("offline:licences"):
        from guardfn.pii.licences import find_labelled_licences

        out.extend(find_labelled_licences(text))
    return [d for d in out if d.score >= threshold]


_NER_TYPES = frozenset(NER_ENTITIES)


def _rank(det: Detection) -> tuple[int, float, int]:
    """How strongly a detection claims its span: a pattern or context type (validated) before a
    named-entity type, then the score, then the length."""
    return (det.entity_type not in _NER_TYPES, det.score, det.end - det.start)


def merge_overlaps(detections: Iterable[Detection]) -> list[Detection]:
    """Merge overlapping detections into one span each, typed by the strongest claim.

    A type found by a pattern or context recognizer (which validated the value) wins over a
    PERSON / LOCATION / NRP span overlapping it, whatever the scores (a phone number is not a
    person because a model said so); otherwise the highest score, then the longest, wins.
    The result is sorted by start and non-overlapping, so replacements can be applied
    left to right without corrupting offsets; no character of any detection is left out.
    """
    ordered = sorted(detections, key=lambda d: (d.start, -d.end))
    merged: list[Detection] = []
    best: Detection | None = None
    for det in ordered:
        if merged and det.start < merged[-1].end:
            last = merged[-1]
            assert best is not None
            if _rank(det) > _rank(best):
                best = det
            merged[-1] = Detection(best.entity_type, last.start, max(last.end, det.end), max(last.score, det.score))
        else:
            best = det
            merged.append(det)
    return merged


_engine: PIIEngine | None = None
_engine_lock = threading.Lock()


def get_engine() -> PIIEngine:
    """The process-wide engine, built on first use (thread-safe); raises if it cannot be built."""
    global _engine
    engine = _engine
    if engine is None:
        with _engine_lock:
            if _engine is None:
                _engine = PIIEngine(resolve_model_name())
            engine = _engine
    return engine


def engine_ready() -> bool:
    """True once :func:`get_engine` has built the engine (no import cost to ask)."""
    return _engine is not None


def compile_allow_patterns(patterns: Iterable[str]) -> list[re.Pattern[str]]:
    """Compile ``pii_allow_patterns`` (full-match semantics); raises ``re.error`` on a bad one."""
    return [re.compile(p) for p in patterns]
