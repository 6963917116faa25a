"""Keep prompt text out of the SDKs' own DEBUG logs while a guarded request runs.

At DEBUG the ``anthropic`` SDK logs every request's options, messages included
(``Request options: {... 'json_data': {'messages': [...]}}``), and both SDKs log the
exception text when a body cannot be parsed. guardfn promises that prompt text never
reaches logs, so while a guarded request runs (and while its stream is read) a filter on
the SDKs' loggers withholds every log argument that is not a number or a short token:
the line stays (``Request options: <withheld by guardfn>``), its content does not.
Requests a program sends with the SDK itself, outside guardfn, log as before.

The HTTP libraries (``httpx``, ``httpcore``) log methods, URLs, status codes and
response headers, never bodies; they are left alone.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

SDK_LOGGERS = (
    "openai._base_client",
    "openai._response",
    "openai._legacy_response",
    "anthropic._base_client",
    "anthropic._response",
    "anthropic._legacy_response",
)
"""The SDK modules whose log lines can carry request or response content."""
WITHHELD = "<withheld by guardfn>"

_guarded: ContextVar[bool] = ContextVar("guardfn_sdk_request", default=False)
_TOKEN = re.compile(r"[\w.:/\-]{0,200}")


def _safe(arg: Any) -> Any:
    """Numbers, and strings that are one short token (a method, a URL, an id), pass."""
    if isinstance(arg, (int, float)) or (isinstance(arg, str) and _TOKEN.fullmatch(arg)):
        return arg
    if isinstance(arg, type):
        return arg.__name__
    return WITHHELD


class WithholdContent(logging.Filter):
    """Replaces the content-bearing arguments of SDK log records made during a guarded request."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Always keeps the record; rewrites its arguments (and drops exception text) when guarded."""
        if _guarded.get():
            if isinstance(record.args, dict):
                record.args = {key: _safe(value) for key, value in record.args.items()}
            elif record.args:
                record.args = tuple(_safe(arg) for arg in record.args)
            if record.exc_info:
                record.exc_info = None
                record.exc_text = None
        return True


_installed = False


def install() -> None:
    """Attach the filter to :data:`SDK_LOGGERS` (once per process)."""
    global _installed
    if _installed:
        return
    content_filter = WithholdContent()
    for name in SDK_LOGGERS:
        logging.getLogger(name).addFilter(content_filter)
    _installed = True


@contextlib.contextmanager
def withheld() -> Iterator[None]:
    """Within this block, SDK log records on this thread or task carry no content."""
    token = _guarded.set(True)
    try:
        yield
    finally:
        _guarded.reset(token)
