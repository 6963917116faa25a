"""The content log: full prompts and responses for security review, encrypted at rest (opt-in).

Switched on with ``content_log="/var/lib/app/guardfn-content"`` (a directory;
``GUARDFN_CONTENT_LOG``) and a key in ``GUARDFN_CONTENT_LOG_KEY``: a Fernet key
(``guardfn.observability.content_log.generate_key()``, or
``python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"``).
Several comma-separated keys rotate: the first encrypts, all decrypt. Without a usable key
a guarded function with ``content_log`` set refuses to build (:class:`ConfigurationError`),
so content is never written in the clear. Needs ``pip install 'guardfn[content-log]'``.

What is logged is the conversation as exchanged with the provider: the messages after
the input transforms (PII and secrets redaction) and the model's raw answers (before
placeholders are restored), plus ids, the outcome and the refusal's stage. A call
refused during screening logs the prompt as it was screened: that is what a reviewer of
an injection attempt needs.

Storage: one segment file per UTC hour, ``content-YYYYMMDDTHH.log``, each line one
Fernet token (AES-128-CBC + HMAC-SHA256, with its creation time inside). Writing is
append-only: one ``write`` of a whole line on an ``O_APPEND`` descriptor, then ``fsync``;
a new segment is created with ``O_CREAT`` and its directory is fsynced. Rotation is
moving on to the next hour's file, so nothing is ever renamed or rewritten and a crash
can lose at most the line being written (a torn line is skipped by readers, and the next
writer starts on a fresh line). Retention (``content_log_retention_days``, default 30)
deletes whole expired segments when a writer starts a new one, and
``guardfn purge --older-than 30d`` does it on demand (no key needed to purge). Files are
``0600`` in a ``0700`` directory.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from guardfn import extras
from guardfn.errors import ConfigurationError

KEY_ENV = "GUARDFN_CONTENT_LOG_KEY"
SEGMENT_PREFIX = "content-"
SEGMENT_SUFFIX = ".log"
SEGMENT_SECONDS = 3600
_SEGMENT = re.compile(r"^content-(\d{8}T\d{2})\.log$")
_STAMP = "%Y%m%dT%H"


def generate_key() -> str:
    """A new random Fernet key (url-safe base64 text) for ``GUARDFN_CONTENT_LOG_KEY``."""
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode("ascii")


def load_cipher(keys: str | None = None) -> Any:
    """A ``MultiFernet`` from ``keys`` (default: ``GUARDFN_CONTENT_LOG_KEY``), comma-separated.

    Raises :class:`ConfigurationError` (never echoing the key) when the variable is
    unset or a key is malformed, or when ``cryptography`` is not installed.
    """
    raw = os.environ.get(KEY_ENV) if keys is None else keys
    if not raw or not raw.strip():
        raise ConfigurationError(
            f"content_log is on but {KEY_ENV} is not set",
            stage="content_log",
            hint="set it to a Fernet key from guardfn.observability.content_log.generate_key()",
        )
    extras.require("content-log", "content_log", "content_log")
    from cryptography.fernet import Fernet, MultiFernet

    ciphers = []
    for index, part in enumerate(p.strip() for p in raw.split(",")):
        if not part:
            continue
        try:
            ciphers.append(Fernet(part.encode("ascii")))
        except (ValueError, TypeError, UnicodeEncodeError):
            raise ConfigurationError(
                f"{KEY_ENV} key #{index + 1} is not a Fernet key (32 url-safe base64-encoded bytes)",
                stage="content_log",
                hint="generate one with guardfn.observability.content_log.generate_key()",
            ) from None
    if not ciphers:
        raise ConfigurationError(f"{KEY_ENV} holds no key", stage="content_log")
    return MultiFernet(ciphers)


def segment_name(moment: float) -> str:
    """The segment file name for the UTC hour containing ``moment``."""
    stamp = datetime.fromtimestamp(moment, tz=timezone.utc).strftime(_STAMP)
    return f"{SEGMENT_PREFIX}{stamp}{SEGMENT_SUFFIX}"


def segment_start(name: str) -> float | None:
    """The start (epoch seconds) of the hour a segment file covers; ``None`` if not a segment."""
    match = _SEGMENT.match(name)
    if match is None:
        return None
    return datetime.strptime(match.group(1), _STAMP).replace(tzinfo=timezone.utc).timestamp()


def segments(directory: str) -> list[str]:
    """The segment files of ``directory``, oldest first (full paths)."""
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return []
    found = sorted(name for name in names if segment_start(name) is not None)
    return [os.path.join(directory, name) for name in found]


@dataclass
class PurgeResult:
    """What :func:`purge` removed."""

    files: list[str] = field(default_factory=list)
    bytes: int = 0


def purge(directory: str, older_than: float, now: float | None = None, dry_run: bool = False) -> PurgeResult:
    """Delete every segment whose records are all older than ``older_than`` seconds.

    A segment covers one hour; it is deleted once its hour ended ``older_than`` ago.
    Whole files are unlinked, so a concurrent writer never sees a half-purged segment.
    """
    cutoff = (time.time() if now is None else now) - older_than
    result = PurgeResult()
    for path in segments(directory):
        start = segment_start(os.path.basename(path))
        if start is None or start + SEGMENT_SECONDS > cutoff:
            continue
        try:
            size = os.path.getsize(path)
            if not dry_run:
                os.unlink(path)
        except FileNotFoundError:
            continue
        result.files.append(path)
        result.bytes += size
    if result.files and not dry_run:
        _fsync_dir(directory)
    return result


def _fsync_dir(directory: str) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class ContentLog:
    """An append-only, encrypted, hourly-segmented log of conversation records."""

    def __init__(self, directory: str, cipher: Any, retention_days: int = 30) -> None:
        self.directory = os.path.abspath(os.path.expanduser(directory))
        self.cipher = cipher
        self.retention_days = retention_days
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._segment: str | None = None

    def append(self, record: dict[str, Any], now: float | None = None) -> None:
        """Encrypt ``record`` (JSON) and append it durably (write + fsync) to the current segment."""
        moment = time.time() if now is None else now
        token = self.cipher.encrypt(json.dumps(record, separators=(",", ":")).encode("utf-8"))
        with self._lock:
            fd = self._segment_fd(moment)
            os.write(fd, token + b"\n")
            os.fsync(fd)

    def _segment_fd(self, moment: float) -> int:
        name = segment_name(moment)
        if self._fd is not None and name == self._segment:
            return self._fd
        self.close()
        os.makedirs(self.directory, mode=0o700, exist_ok=True)
        path = os.path.join(self.directory, name)
        created = not os.path.exists(path)
        fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            os.write(fd, b"\n")  # a previous writer died mid-line: start on a fresh one
        if created:
            _fsync_dir(self.directory)
        self._fd, self._segment = fd, name
        purge(self.directory, self.retention_days * 86400.0, now=moment)
        return fd

    def close(self) -> None:
        """Close the current segment (the next append opens the right one again)."""
        with_fd, self._fd, self._segment = self._fd, None, None
        if with_fd is not None:
            os.close(with_fd)

    def records(self, since: float | None = None, stats: dict[str, int] | None = None) -> Iterator[dict[str, Any]]:
        """Decrypt and yield every record (oldest first), from segments overlapping ``since``.

        Lines that do not decrypt (torn by a crash, or written with a key no longer
        configured) are skipped and counted in ``stats["unreadable"]``.
        """
        from cryptography.fernet import InvalidToken

        counts = stats if stats is not None else {}
        counts.setdefault("unreadable", 0)
        for path in segments(self.directory):
            start = segment_start(os.path.basename(path)) or 0.0
            if since is not None and start + SEGMENT_SECONDS <= since:
                continue
            with open(path, "rb") as handle:
                for line in handle:
                    line = line.strip()
                    if not line:
                        continue
                    try:
                        record = json.loads(self.cipher.decrypt(line))
                    except (InvalidToken, ValueError):
                        counts["unreadable"] += 1
                        continue
                    if since is not None and float(record.get("started_at", 0.0)) < since:
                        continue
                    yield record


_logs: dict[tuple[str, str, int], ContentLog] = {}
_logs_lock = threading.Lock()


def open_log(directory: str, retention_days: int = 30) -> ContentLog:
    """The process-wide :class:`ContentLog` for ``directory`` with the key from the environment."""
    raw = os.environ.get(KEY_ENV) or ""
    fingerprint = hashlib.sha256(raw.encode("utf-8")).hexdigest()
    ident = (os.path.abspath(os.path.expanduser(directory)), fingerprint, retention_days)
    log = _logs.get(ident)
    if log is None:
        cipher = load_cipher(raw)
        with _logs_lock:
            log = _logs.setdefault(ident, ContentLog(directory, cipher, retention_days))
    return log


def close_all() -> None:
    """Close every open content log (tests)."""
    with _logs_lock:
        for log in _logs.values():
            log.close()
        _logs.clear()
