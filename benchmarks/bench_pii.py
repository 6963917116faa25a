"""PII detection: quality and speed against Presidio's own engine, in the same run.

Anchor: Presidio's ``AnalyzerEngine`` with a blank spaCy pipeline (offline; its default
``en_core_web_lg`` cannot be downloaded here) and its stock recognizers for the same
eleven pattern entities, at the default threshold 0.7 (and, for reference, at any score).
Its e-mail recognizer's ``tldextract`` is pointed at the bundled suffix list so this run
stays offline; that changes no result.

Corpus: ``shared/corpora/pii`` (presidio-research synthetic sentences, MIT). Gold types
map to guardfn's as in :data:`GOLD_TO_GUARDFN`; types guardfn does not detect are not
scored. A prediction counts as correct when it overlaps a gold span of the same type.

Targets (issue 5): recall at least Presidio's on every pattern entity; SSNs and phone
numbers found at the default threshold; at least 10x the throughput of Presidio's
regex-only engine on prompts that need no NER. Cold start is reported (import, engine
build, first call) in a fresh interpreter.

Issue 18 (names, places, dates of birth, personal URLs with the default install): guardfn's
own labelled set (:mod:`benchmarks.pii_eval`, a ``tune`` and a ``validation`` split) scored
per entity (precision, recall, F1) beside Presidio at its default threshold (0) and at 0.7;
the same for the presidio-research corpus; the share of PII values that reach the loopback
provider through ``@guarded_llm(pii="redact")``; hard negatives flagged; throughput with name
detection included; the time to load the name lists.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import types
import warnings
from collections import Counter
from pathlib import Path
from typing import Any

from benchmarks.common import Row, main, row

ISSUE = 5
NAMES_ISSUE = 18

CORPUS = Path(os.environ.get("GUARDFN_CORPORA", Path(__file__).resolve().parents[2] / "shared" / "corpora")) / "pii"
GOLD_TO_GUARDFN = {
    "EMAIL_ADDRESS": "EMAIL_ADDRESS",
    "PHONE_NUMBER": "PHONE_NUMBER",
    "US_SSN": "US_SSN",
    "CREDIT_CARD": "CREDIT_CARD",
    "IBAN_CODE": "IBAN_CODE",
    "IP_ADDRESS": "IP_ADDRESS",
    "US_DRIVER_LICENSE": "US_DRIVER_LICENSE",
    "US_PASSPORT": "US_PASSPORT",
    "US_BANK_NUMBER": "US_BANK_NUMBER",
    "UK_NHS": "UK_NHS",
    "CRYPTO": "CRYPTO",
    "PERSON": "PERSON",
    "GPE": "LOCATION",
    "LOCATION": "LOCATION",
    "NRP": "NRP",
}
PROMPT_CHARS = 400
THRESHOLD = 0.7


def _corpus() -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for name in ("synth_dataset_v2.json", "generated_small.json"):
        rows.extend(json.loads((CORPUS / name).read_text(encoding="utf-8")))
    return rows


def _prompts(texts: list[str]) -> list[str]:
    """Consecutive texts joined into prompts of PROMPT_CHARS characters."""
    prompts, current = [], ""
    for text in texts:
        current = f"{current} {text}" if current else text
        if len(current) >= PROMPT_CHARS:
            prompts.append(current[:PROMPT_CHARS])
            current = ""
    return prompts


def _plain_lines() -> list[str]:
    return [
        line.strip()
        for line in (CORPUS / "templates.txt").read_text(encoding="utf-8").splitlines()
        if line.strip() and "{{" not in line
    ]


def _presidio_engine() -> Any:
    import spacy
    import tldextract
    from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
    from presidio_analyzer.nlp_engine import SpacyNlpEngine
    from presidio_analyzer.predefined_recognizers import (
        CreditCardRecognizer,
        CryptoRecognizer,
        EmailRecognizer,
        IbanRecognizer,
        IpRecognizer,
        NhsRecognizer,
        PhoneRecognizer,
        UsBankRecognizer,
        UsLicenseRecognizer,
        UsPassportRecognizer,
        UsSsnRecognizer,
    )
    from presidio_analyzer.predefined_recognizers.generic import email_recognizer

    offline = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)
    email_recognizer.tldextract = types.SimpleNamespace(extract=offline)  # type: ignore[assignment]
    nlp = SpacyNlpEngine(models=[{"lang_code": "en", "model_name": "blank"}])
    nlp.nlp = {"en": spacy.blank("en")}  # type: ignore[assignment]
    recognizers = [
        EmailRecognizer(), PhoneRecognizer(), UsSsnRecognizer(), CreditCardRecognizer(), IbanRecognizer(),
        IpRecognizer(), UsPassportRecognizer(), UsBankRecognizer(), UsLicenseRecognizer(), NhsRecognizer(),
        CryptoRecognizer(),
    ]  # fmt: skip
    registry = RecognizerRegistry(recognizers=recognizers, supported_languages=["en"])
    return AnalyzerEngine(registry=registry, nlp_engine=nlp, supported_languages=["en"])


def _score(
    rows: list[dict[str, Any]], predict: Any, entities: tuple[str, ...]
) -> tuple[Counter[str], Counter[str], Counter[str], Counter[str]]:
    """(gold, gold found, predicted, predicted correct) per entity type."""
    gold_n: Counter[str] = Counter()
    gold_hit: Counter[str] = Counter()
    pred_n: Counter[str] = Counter()
    pred_ok: Counter[str] = Counter()
    for r in rows:
        text = r["full_text"]
        gold = [
            (s["start_position"], s["end_position"], GOLD_TO_GUARDFN[s["entity_type"]])
            for s in r["spans"]
            if GOLD_TO_GUARDFN.get(s["entity_type"]) in entities
        ]
        preds = predict(text)
        for gs, ge, gt in gold:
            gold_n[gt] += 1
            if any(p[2] == gt and p[0] < ge and gs < p[1] for p in preds):
                gold_hit[gt] += 1
        for ps, pe, pt in preds:
            pred_n[pt] += 1
            if any(g[2] == pt and g[0] < pe and ps < g[1] for g in gold):
                pred_ok[pt] += 1
    return gold_n, gold_hit, pred_n, pred_ok


def _cold_start() -> dict[str, float]:
    code = r"""
import json, time, warnings
warnings.simplefilter("ignore")
t0 = time.perf_counter()
import guardfn.pii.engine as e
import presidio_analyzer, spacy, phonenumbers
t1 = time.perf_counter()
engine = e.get_engine()
t2 = time.perf_counter()
engine.analyze("Call me at 415-555-2671 or mail ann@example.com, SSN 536-22-1234.")
t3 = time.perf_counter()
print(json.dumps({"import": t1 - t0, "build": t2 - t1, "first_call": t3 - t2}))
"""
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


def _throughput(ours: Any, theirs: Any, prompts: list[str], seconds: float = 3.0) -> tuple[float, float]:
    """Texts per second of ``ours`` and ``theirs``: best pass of each, passes interleaved.

    Interleaving makes drift on a shared machine hit both sides alike.
    """
    for p in prompts[:20]:
        ours(p)
        theirs(p)
    best = [0.0, 0.0]
    spent = 0.0
    passes = 0
    while spent < seconds or passes < 3:
        for side, analyze in enumerate((ours, theirs)):
            start = time.perf_counter()
            for p in prompts:
                analyze(p)
            elapsed = time.perf_counter() - start
            spent += elapsed
            best[side] = max(best[side], len(prompts) / elapsed)
        passes += 1
    return best[0], best[1]


def run() -> list[Row]:
    """Measure and return the rows (see the module docstring)."""
    from guardfn.errors import OfflineFallbackWarning

    cold = _cold_start()
    warnings.simplefilter("ignore", OfflineFallbackWarning)
    from guardfn.pii.engine import get_engine
    from guardfn.pii.entities import NER_ENTITIES, PATTERN_ENTITIES

    rows: list[Row] = [
        row("cold start: import presidio+spacy+guardfn.pii", cold["import"] * 1000, "ms"),
        row("cold start: engine build", cold["build"] * 1000, "ms"),
        row("cold start: first call", cold["first_call"] * 1000, "ms"),
    ]
    presidio = _presidio_engine()
    engine = get_engine()
    scored = PATTERN_ENTITIES + tuple(e for e in engine.entities if e in NER_ENTITIES)
    corpus = _corpus()
    entity_list = list(PATTERN_ENTITIES)

    def ours(text: str) -> list[tuple[int, int, str]]:
        return [(d.start, d.end, d.entity_type) for d in engine.analyze(text, scored, threshold=THRESHOLD)]

    def theirs(threshold: float) -> Any:
        def predict(text: str) -> list[tuple[int, int, str]]:
            results = presidio.analyze(text, language="en", entities=entity_list, score_threshold=threshold)
            return [(r.start, r.end, r.entity_type) for r in results]

        return predict

    g, gh, pn, po = _score(corpus, ours, scored)
    pg, pgh, ppn, ppo = _score(corpus, theirs(THRESHOLD), scored)
    _, agh, _, _ = _score(corpus, theirs(0.0), scored)
    for entity in scored:
        if not g[entity]:
            continue
        recall = gh[entity] / g[entity]
        base = pgh[entity] / pg[entity] if pg[entity] else 0.0
        target = "recall >= Presidio's at 0.7"
        met = recall >= base
        if entity in ("US_SSN", "PHONE_NUMBER"):
            target += "; found at the default threshold"
            met = met and gh[entity] > 0
        rows.append(
            row(
                f"{entity} recall (n={g[entity]}; Presidio at any score {agh[entity] / g[entity]:.2f})",
                recall,
                "",
                anchor="Presidio blank-spaCy, threshold 0.7",
                anchor_value=base,
                ratio=None if not base else recall / base,
                target=target,
                met=met,
            )
        )
        precision = po[entity] / pn[entity] if pn[entity] else 1.0
        base_p = ppo[entity] / ppn[entity] if ppn[entity] else 1.0
        rows.append(
            row(
                f"{entity} precision (predicted {pn[entity]}, Presidio {ppn[entity]})",
                precision,
                "",
                anchor="Presidio blank-spaCy, threshold 0.7",
                anchor_value=base_p,
                ratio=None if not base_p else precision / base_p,
            )
        )

    rows.extend(_names_rows(corpus, scored, ours, theirs))
    rows.extend(_own_set_rows(engine, theirs))
    rows.extend(_end_to_end_rows())
    load_wall, load_cpu = _lexicon_load_ms()
    rows.append(
        row(
            "name lists and gazetteer: lazy load on first use (fresh interpreter, after import guardfn)",
            load_wall,
            "ms",
            target="<= 100 ms",
            issue=NAMES_ISSUE,
            met=load_wall <= 100,
        )
    )
    rows.append(
        row(
            "name lists and gazetteer: lazy load, CPU time of the same runs (unlike wall time, not stretched by other load)",
            load_cpu,
            "ms",
            issue=NAMES_ISSUE,
        )
    )
    dense = _prompts([r["full_text"] for r in corpus])
    plain = _prompts(_plain_lines() * 40)
    texts = [r["full_text"] for r in corpus]
    for label, prompts, target in (
        ("PII-dense corpus prompts", dense, ">= 10x Presidio's regex-only engine"),
        ("PII-free prompts (template lines)", plain, ">= 10x Presidio's regex-only engine"),
        ("single corpus sentences", texts, ""),
    ):
        ours_rate, base_rate = _throughput(
            lambda t: engine.analyze(t, threshold=THRESHOLD),
            lambda t: presidio.analyze(t, language="en", entities=entity_list, score_threshold=THRESHOLD),
            prompts,
        )
        size = sum(map(len, prompts)) / len(prompts)
        rows.append(
            row(
                f"throughput, {label} (avg {size:.0f} chars), every default entity incl. names",
                ours_rate,
                "texts/s",
                anchor="Presidio regex-only engine",
                anchor_value=base_rate,
                target=target,
                met=(ours_rate >= 10 * base_rate) if target else None,
            )
        )
    return rows


def _prf(hit: int, n: int, ok: int, pred: int) -> tuple[float, float, float]:
    recall = hit / n if n else 0.0
    precision = ok / pred if pred else (1.0 if n else 0.0)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def _entity_rows(label: str, entities: Any, ours: Any, theirs0: Any, theirs7: Any) -> list[Row]:
    """One row per entity: our F1 (P and R in the name) beside Presidio's F1 at 0.7 (and at its default)."""
    rows = []
    for entity in entities:
        g, gh, pn, po = ours[0][entity], ours[1][entity], ours[2][entity], ours[3][entity]
        if not g:
            continue
        p, r, f = _prf(gh, g, po, pn)
        p0, r0, f0 = _prf(theirs0[1][entity], g, theirs0[3][entity], theirs0[2][entity])
        p7, r7, f7 = _prf(theirs7[1][entity], g, theirs7[3][entity], theirs7[2][entity])
        rows.append(
            row(
                f"{label}: {entity} F1 (P {p:.2f}, R {r:.2f}, n={g}; Presidio default: P {p0:.2f} R {r0:.2f} F1 {f0:.2f}; "
                f"at 0.7: P {p7:.2f} R {r7:.2f})",
                f,
                "",
                anchor="Presidio regex-only engine F1, threshold 0.7",
                anchor_value=f7,
                ratio=None if not f7 else f / f7,
                target=_NAME_TARGETS.get(entity, ("", None))[0] if label.endswith("validation") else "",
                met=_NAME_TARGETS[entity][1](p, r) if label.endswith("validation") and entity in _NAME_TARGETS else None,
                issue=NAMES_ISSUE,
            )
        )
    return rows


_NAME_TARGETS: dict[str, tuple[str, Any]] = {
    "PERSON": ("recall >= 0.85 at precision >= 0.85, no spaCy model", lambda p, r: r >= 0.85 and p >= 0.85),
    "LOCATION": ("recall >= 0.75, no spaCy model", lambda p, r: r >= 0.75),
}


def _names_rows(corpus: list[dict[str, Any]], scored: tuple[str, ...], ours: Any, theirs: Any) -> list[Row]:
    """presidio-research corpus: PERSON and LOCATION (and every entity) as F1 rows beside Presidio."""
    ents = tuple(e for e in scored if e in ("PERSON", "LOCATION"))
    return _entity_rows(
        "presidio-research corpus", ents, _score(corpus, ours, ents), _score(corpus, theirs(0.0), ents),
        _score(corpus, theirs(THRESHOLD), ents),
    )  # fmt: skip


def _gold_rows(samples: list[Any]) -> list[dict[str, Any]]:
    return [
        {"full_text": s.text, "spans": [{"start_position": a, "end_position": b, "entity_type": t} for a, b, t in s.gold]}
        for s in samples
    ]


def _own_set_rows(engine: Any, theirs: Any) -> list[Row]:
    """guardfn's labelled set, per split: every entity's F1 beside Presidio's; hard negatives flagged."""
    from benchmarks.pii_eval import SPLITS, build

    samples = build()
    rows: list[Row] = []
    for split in SPLITS:
        part = [s for s in samples if s.split == split]
        corpus = _gold_rows(part)
        entities = tuple(sorted({t for s in part for _, _, t in s.gold}))
        for gold_type in entities:
            GOLD_TO_GUARDFN.setdefault(gold_type, gold_type)

        def ours(text: str) -> list[tuple[int, int, str]]:
            return [(d.start, d.end, d.entity_type) for d in engine.analyze(text, threshold=THRESHOLD)]

        def presidio(threshold: float, entities: tuple[str, ...] = entities) -> Any:
            base = theirs(threshold)
            return lambda text: [p for p in base(text) if p[2] in entities]

        rows.extend(
            _entity_rows(
                f"own set, {split}", entities, _score(corpus, ours, entities), _score(corpus, presidio(0.0), entities),
                _score(corpus, presidio(THRESHOLD), entities),
            )
        )  # fmt: skip
        negatives = flagged = 0
        for s in part:
            dets = engine.analyze(s.text, threshold=THRESHOLD)
            for a, b, _ in s.negatives:
                negatives += 1
                flagged += any(d.start < b and a < d.end for d in dets)
        rows.append(
            row(
                f"own set, {split}: hard negatives flagged ({flagged} of {negatives}: IDs, versions, ISBNs, docs links, dates, common words)",
                100 * flagged / negatives,
                "%",
                target="<= 3%",
                met=100 * flagged / negatives <= 3,
                issue=NAMES_ISSUE,
            )
        )
    return rows


def _end_to_end_rows() -> list[Row]:
    """PII values that reach the loopback provider through @guarded_llm(pii="redact"), per split."""
    from benchmarks.pii_eval import SPLITS, build
    from guardfn import guarded_llm
    from guardfn.testing import FakeLLMServer

    samples = build(per_template=10, seed=1818)
    rows: list[Row] = []
    with FakeLLMServer() as server:

        @guarded_llm(
            model="gpt-4o-mini", base_url=server.openai_base_url, api_key=lambda: "sk-bench-0000000000",
            pii="redact", injection="off", secrets="off", audit=False,
        )  # fmt: skip
        def ask(prompt: str) -> str:
            return prompt

        for split in SPLITS:
            values = leaked = 0
            by_type: Counter[str] = Counter()
            for s in (s for s in samples if s.split == split):
                before = len(server.requests)
                ask(s.text)
                sent = json.dumps([r.body for r in server.requests[before:]], ensure_ascii=False)
                for a, b, t in s.gold:
                    values += 1
                    value = s.text[a:b]
                    if value in sent or json.dumps(value, ensure_ascii=False)[1:-1] in sent:
                        leaked += 1
                        by_type[t] += 1
            detail = ", ".join(f"{t} {n}" for t, n in sorted(by_type.items())) or "none"
            rows.append(
                row(
                    f"end to end, own set {split}: PII values reaching the provider ({leaked} of {values}; {detail})",
                    100 * leaked / values,
                    "%",
                    target="<= 3%" if split == "validation" else "",
                    met=(100 * leaked / values <= 3) if split == "validation" else None,
                    issue=NAMES_ISSUE,
                )
            )
    return rows


def _lexicon_load_ms() -> tuple[float, float]:
    """First use of the name lists in a fresh interpreter that has imported guardfn (as a caller has):
    (wall ms, CPU ms), the best of three runs each."""
    code = (
        "import guardfn, time; t = time.perf_counter(); c = time.process_time(); "
        "from guardfn.pii.lexicon import lexicon; lexicon(); "
        "print((time.perf_counter() - t) * 1000, (time.process_time() - c) * 1000)"
    )
    runs = [
        tuple(map(float, subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout.split()))
        for _ in range(3)
    ]
    return min(r[0] for r in runs), min(r[1] for r in runs)


if __name__ == "__main__":
    main(run)
