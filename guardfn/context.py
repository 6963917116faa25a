"""Who is calling: the user id for per-user controls, set for a block of code."""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator

ANONYMOUS = "anonymous"
_current_user: contextvars.ContextVar[str | None] = contextvars.ContextVar("guardfn_user", default=None)


@contextlib.contextmanager
def as_user(user_id: str) -> Iterator[None]:
    """Attribute every guarded call inside the block to ``user_id`` (thread- and task-local)."""
    token = _current_user.set(str(user_id))
    try:
        yield
    finally:
        _current_user.reset(token)


def current_user() -> str | None:
    """The user set by the innermost :func:`as_user`, or ``None``."""
    return _current_user.get()
