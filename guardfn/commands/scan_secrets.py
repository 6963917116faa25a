"""``guardfn scan-secrets PATH...``: find hardcoded provider keys and other credentials.

Scans source files and Jupyter notebooks with the very detectors that screen prompts
(:mod:`guardfn.screening.secrets`, plus any plugin's ``guardfn_secret_detectors``), and
prints one line per secret, ``file:line: kind ****abcd``, the key masked to a
4-character suffix. Notebook cells (sources and text outputs) are reported as
``notebook.ipynb:cell_3:2`` (nbqa's convention: cell 3, line 2) or
``notebook.ipynb:cell_3:output_1:2`` (line 2 of that cell's first output).

A directory is walked recursively, skipping VCS, virtualenv, cache and build
directories and ``.env`` files (the sanctioned place for keys; name one explicitly to scan
it). Only regular files are read (:mod:`guardfn.commands.files`): links to devices or
FIFOs, broken links, binary files (a NUL byte) and files over ``--max-size`` (5 MiB) are
skipped, and the summary on stderr says how many and why (``--json`` lists them). A line
carrying ``pragma: allowlist secret`` or ``guardfn: ignore-secret`` is not reported.

Exit status: 0 no secret found, 1 secrets found, 2 a usage error or a file that could not
be read (permissions, I/O); ready for pre-commit (see ``.pre-commit-hooks.yaml``).
"""

from __future__ import annotations

import bisect
import json
import os
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import click

from guardfn.commands.files import DEFAULT_MAX_BYTES, ByteSize, Skipped, read_regular

SKIP_DIRS = frozenset(
    {
        ".git", ".hg", ".svn", ".tox", ".nox", ".venv", "venv", ".env", "node_modules", "__pycache__",
        ".mypy_cache", ".ruff_cache", ".pytest_cache", ".hypothesis", ".ipynb_checkpoints", "site-packages",
        "build", "dist", ".eggs",
    }
)
ALLOW_MARKERS = ("pragma: allowlist secret", "guardfn: ignore-secret")


@dataclass(frozen=True)
class Hit:
    """One secret found: where (``path`` and ``location``, a line or ``cell_N:line``),
    its ``kind``, and the value masked to ``****`` and its last 4 characters."""

    path: str
    location: str
    kind: str
    masked: str

    def __str__(self) -> str:
        return f"{self.path}:{self.location}: {self.kind} {self.masked}"


def scan_text(text: str, scanner: Any, prefix: str = "") -> Iterator[tuple[str, str, str]]:
    """``(location, kind, masked)`` for every secret in ``text``; lines are 1-based,
    prefixed with ``prefix`` (``"cell_3:"``). Allow-listed lines are skipped."""
    from guardfn.keys import mask

    matches = scanner.find(text)
    if not matches:
        return
    newlines = [i for i, ch in enumerate(text) if ch == "\n"]
    for match in matches:
        line = bisect.bisect_left(newlines, match.start)  # newlines before the match
        start = newlines[line - 1] + 1 if line else 0
        end = newlines[line] if line < len(newlines) else len(text)
        if any(marker in text[start:end] for marker in ALLOW_MARKERS):
            continue
        yield f"{prefix}{line + 1}", match.kind, mask(text[match.start : match.end])


def scan_file(path: Path, scanner: Any, max_bytes: int = DEFAULT_MAX_BYTES) -> list[Hit] | Skipped:
    """The secrets in one file (a notebook cell by cell), or why it was not scanned."""
    data = read_regular(path, max_bytes)
    if isinstance(data, Skipped):
        return data
    text = data.decode("utf-8", errors="replace")
    name = str(path)
    if path.suffix == ".ipynb":
        cells = _notebook_cells(text)
        if cells is not None:
            return [
                Hit(name, loc, kind, masked)
                for prefix, body in cells
                for loc, kind, masked in scan_text(body, scanner, prefix)
            ]
    return [Hit(name, loc, kind, masked) for loc, kind, masked in scan_text(text, scanner)]


def _joined(value: Any) -> str:
    if isinstance(value, list):
        return "".join(str(part) for part in value)
    return value if isinstance(value, str) else ""


def _notebook_cells(text: str) -> list[tuple[str, str]] | None:
    """``(prefix, text)`` for each cell's source and text outputs; ``None`` if not a notebook."""
    try:
        document = json.loads(text)
    except ValueError:
        return None
    if not isinstance(document, dict) or not isinstance(document.get("cells"), list):
        return None
    parts: list[tuple[str, str]] = []
    for number, cell in enumerate(document["cells"], start=1):
        if not isinstance(cell, dict):
            continue
        parts.append((f"cell_{number}:", _joined(cell.get("source"))))
        for index, output in enumerate(cell.get("outputs") or [], start=1):
            if not isinstance(output, dict):
                continue
            data = output.get("data")
            if not isinstance(data, dict):
                data = {}
            body = _joined(output.get("text")) + _joined(data.get("text/plain"))
            if body:
                parts.append((f"cell_{number}:output_{index}:", body))
    return parts


def iter_files(paths: tuple[str, ...]) -> Iterator[Path]:
    """The files to scan: each file named, and the files under each directory (see the module doc)."""
    for raw in paths:
        path = Path(raw)
        if not path.is_dir():
            yield path
            continue
        for root, dirs, files in os.walk(path):
            dirs[:] = sorted(d for d in dirs if not _skipped_dir(Path(root) / d))
            for name in sorted(files):
                if name == ".env" or name.startswith(".env."):
                    continue
                yield Path(root) / name


def _skipped_dir(path: Path) -> bool:
    """VCS, cache and build directories, and virtualenvs (any directory with a ``pyvenv.cfg``)."""
    return path.name in SKIP_DIRS or path.name.endswith(".egg-info") or (path / "pyvenv.cfg").exists()


EXIT_HELP = "Exit status: 0 no secret found, 1 secrets found, 2 a usage error or a file that could not be read."


@click.command("scan-secrets", epilog=EXIT_HELP)
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option(
    "--kind",
    "kinds",
    multiple=True,
    metavar="KIND",
    help="Report only these kinds (repeatable), e.g. --kind openai --kind anthropic.",
)
@click.option(
    "--max-size",
    type=ByteSize(),
    default=DEFAULT_MAX_BYTES,
    show_default="5MiB",
    help="Skip files larger than this (e.g. 20MiB).",
)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object: findings and skipped files.")
def scan_secrets(paths: tuple[str, ...], kinds: tuple[str, ...], max_size: int, as_json: bool) -> None:
    """Find hardcoded API keys and credentials in PATHS (files, directories, notebooks).

    Prints file:line, the kind and the masked key for each, then a summary (with the
    files skipped and why) on stderr.
    """
    from guardfn.errors import GuardError
    from guardfn.stages.secrets import scanner as secret_scanner

    try:
        scanner = secret_scanner()
    except GuardError as exc:
        raise click.UsageError(str(exc)) from None
    unknown = sorted(set(kinds) - set(scanner.kinds))
    if unknown:
        raise click.BadParameter(
            f"unknown kind(s) {', '.join(unknown)}; known: {', '.join(scanner.kinds)}", param_hint="--kind"
        )
    hits: list[Hit] = []
    skipped: list[Skipped] = []
    scanned = 0
    for path in iter_files(paths):
        result = scan_file(path, scanner, max_size)
        if isinstance(result, Skipped):
            skipped.append(result)
            continue
        scanned += 1
        hits.extend(h for h in result if not kinds or h.kind in kinds)
    if as_json:
        click.echo(
            json.dumps({"findings": [asdict(hit) for hit in hits], "skipped": [asdict(s) for s in skipped]}, indent=2)
        )
    else:
        for hit in hits:
            click.echo(str(hit))
    _summarize(hits, skipped, scanned)
    if hits:
        sys.exit(1)
    if any(s.error for s in skipped):
        sys.exit(2)


def _summarize(hits: list[Hit], skipped: list[Skipped], scanned: int) -> None:
    """The summary on stderr: secrets found, then the files skipped, by reason."""
    if hits:
        files = len({hit.path for hit in hits})
        click.echo(
            f"guardfn scan-secrets: {len(hits)} secret(s) in {files} of {scanned} file(s) scanned; "
            "move them to the environment or a secret manager (and rotate them)",
            err=True,
        )
    if skipped:
        reasons = Counter(s.reason for s in skipped)
        summary = "; ".join(f"{count} {reason}" for reason, count in sorted(reasons.items()))
        click.echo(f"guardfn scan-secrets: {len(skipped)} file(s) not scanned: {summary}", err=True)
        for s in skipped:
            if s.error:
                click.echo(f"  {s.path}: {s.reason}", err=True)
