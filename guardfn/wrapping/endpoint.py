"""What each guarded endpoint module provides (``chat``, ``responses``, ``messages``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from guardfn.call import Call
from guardfn.settings import Settings
from guardfn.wrapping.frames import Frames
from guardfn.wrapping.requests import Request


class StreamEvents(Protocol):
    """Builds the SDK's own stream events around the guarded text of one streamed answer."""

    def opening(self) -> list[Any]:
        """The events before the first text (the message or response starting)."""

    def text(self, delta: str) -> list[Any]:
        """The events carrying one piece of guarded text."""

    def closing(self) -> list[Any]:
        """The events after the text: the tool calls handed back, then the finish reason and usage."""


@dataclass(frozen=True)
class Endpoint:
    """One guarded SDK method: where it lives on the client, which provider and API serve it,
    how its keywords become a :class:`Request`, and how the answer is given back in the SDK's types."""

    name: str
    """``chat.completions.create``: how errors and ``call.function`` name it."""
    provider: str
    api: str
    """The ``api=`` setting of its engine (``"chat"`` or ``"responses"``)."""
    path: tuple[str, ...]
    """The attributes leading to ``create`` on the client: ``("chat", "completions")``."""
    parse: Callable[[dict[str, Any], Settings], Request]
    result: Callable[[Call], Any]
    """The SDK's answer object, copied, carrying the guarded text and tool calls."""
    stream: Callable[[Call, Request, Frames], StreamEvents]
