"""Reading files for the scanners without hanging, exhausting memory or stopping at the first odd file.

Only regular files are read. A link is followed only to a regular file; a device
(``/dev/zero``), a FIFO or a socket is never opened for reading, so it can neither hang
the scan nor feed it endless bytes. A file is opened non-blocking and checked again on the
open descriptor (it may have been swapped since it was looked at), and at most
``max_bytes + 1`` bytes are read. What cannot be scanned is reported, never silently
dropped: :class:`Skipped` says why.
"""

from __future__ import annotations

import errno
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path

import click

DEFAULT_MAX_BYTES = 5 * 1024 * 1024
"""Files larger than this are skipped unless ``--max-size`` raises the bound."""


@dataclass(frozen=True)
class Skipped:
    """A file that was not scanned: its path, why, and whether it is an error (an I/O failure)
    rather than a file there is nothing to scan in (too large, binary, not a regular file)."""

    path: str
    reason: str
    error: bool = False


def read_regular(path: Path, max_bytes: int, *, allow_binary: bool = False) -> bytes | Skipped:
    """The bytes of ``path`` if it is a regular file of at most ``max_bytes``; else why not."""
    name = str(path)
    try:
        info = os.stat(path)  # follows links: a dangling one or a loop fails here
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return Skipped(name, "symlink loop")
        if exc.errno == errno.ENOENT and os.path.islink(path):
            return Skipped(name, "broken symlink")
        return Skipped(name, f"cannot be read ({type(exc).__name__})", error=True)
    if not stat.S_ISREG(info.st_mode):
        return Skipped(name, "not a regular file (a device, FIFO or socket)")
    if info.st_size > max_bytes:
        return Skipped(name, f"larger than {max_bytes} bytes")
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        return Skipped(name, f"cannot be read ({type(exc).__name__})", error=True)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):  # swapped for something else since the stat
            return Skipped(name, "not a regular file (a device, FIFO or socket)")
        chunks: list[bytes] = []
        size = 0
        while size <= max_bytes:
            chunk = os.read(fd, min(1 << 20, max_bytes + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as exc:
        return Skipped(name, f"cannot be read ({type(exc).__name__})", error=True)
    finally:
        os.close(fd)
    if size > max_bytes:
        return Skipped(name, f"larger than {max_bytes} bytes")
    data = b"".join(chunks)
    if not allow_binary and b"\0" in data[:8192]:
        return Skipped(name, "binary (holds a NUL byte)")
    return data


_SIZE = re.compile(r"(?i)^\s*(\d+(?:\.\d+)?)\s*(b|k|kb|kib|m|mb|mib|g|gb|gib)?\s*$")
_UNITS = {"b": 1, "k": 1024, "kb": 1000, "kib": 1024, "m": 1024**2, "mb": 1000**2, "mib": 1024**2,
          "g": 1024**3, "gb": 1000**3, "gib": 1024**3}


class ByteSize(click.ParamType):
    """A size on the command line: ``5242880``, ``5MiB``, ``10MB``, ``512k``."""

    name = "size"

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> int:
        """The size in bytes (a positive integer)."""
        if isinstance(value, int):
            return value
        match = _SIZE.match(str(value))
        if not match:
            self.fail(f"{value!r} is not a size such as 5MiB, 10MB or 1048576", param, ctx)
        size = int(float(match.group(1)) * _UNITS[(match.group(2) or "b").lower()])
        if size <= 0:
            self.fail("the size must be positive", param, ctx)
        return size
