"""The state of one guarded call: the one object that flows through the pipeline.

Stages read and write the :class:`Call`; they never talk to each other. Its ``repr``
shows ids and counts only, never prompt text, so it is safe in logs and tracebacks.
"""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

if TYPE_CHECKING:
    from guardfn.settings import Settings

Role = Literal["system", "user", "assistant"]
Message = dict[str, Any]
"""A chat message: ``{"role": "system" | "user" | "assistant", "content": str}``."""


@dataclass
class Usage:
    """Token counts as the provider reported them (or as estimated before the call)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        """Prompt plus completion tokens."""
        return self.prompt_tokens + self.completion_tokens

    def add(self, other: Usage) -> None:
        """Add another usage to this one (re-asks and retries accumulate)."""
        self.prompt_tokens += other.prompt_tokens
        self.completion_tokens += other.completion_tokens


@dataclass
class Finding:
    """Something a stage noticed: what kind, which rule, how many; never the matched text.

    ``blocked`` is true when this finding is the reason the call was refused.
    """

    stage: str
    kind: str
    count: int = 1
    rule: str | None = None
    score: float | None = None
    blocked: bool = False
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class Change:
    """A transformation a stage made to the call (which stage, which message, how many edits)."""

    stage: str
    target: str
    count: int


@dataclass(repr=False)
class Response:
    """The provider's answer: text, usage and, after the output stages, the parsed value."""

    text: str
    model: str = ""
    finish_reason: str | None = None
    usage: Usage = field(default_factory=Usage)
    raw: Any = None
    parsed: Any = None

    def __repr__(self) -> str:
        return (
            f"Response(model={self.model!r}, chars={len(self.text)}, "
            f"finish_reason={self.finish_reason!r}, usage={self.usage})"
        )


@dataclass(repr=False)
class StreamResponse:
    """A streamed answer: an iterator (or async iterator) of text deltas from the provider.

    The provider stage fills ``usage``, ``finish_reason`` and ``text`` (everything
    received) as the stream is consumed; ``close()`` ends it early.
    """

    chunks: Iterator[str] | AsyncIterator[str]
    model: str = ""
    finish_reason: str | None = None
    usage: Usage = field(default_factory=Usage)
    text: str = ""
    closer: Any = None

    def close(self) -> Any:
        """Close the underlying HTTP stream (returns an awaitable for async streams)."""
        if self.closer is not None:
            return self.closer()
        return None

    def __repr__(self) -> str:
        return f"StreamResponse(model={self.model!r}, chars={len(self.text)}, usage={self.usage})"


Outcome = Literal["ok", "blocked", "failed"]


def new_request_id() -> str:
    """A random (version 4) UUID as a string, as ``str(uuid.uuid4())`` gives but cheaper."""
    raw = bytearray(os.urandom(16))
    raw[6] = (raw[6] & 0x0F) | 0x40  # version 4
    raw[8] = (raw[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


class Reask(Exception):
    """Raised by an output check to ask the model again (a schema re-ask).

    ``messages`` are appended to the conversation (typically the bad answer as an
    assistant turn and a user turn stating the validation errors, with no PII). The
    pipeline settles the failed request, reserves again (a re-ask counts against limits
    and budgets), and calls the model again. The stage decides when to stop re-asking
    (raise :class:`guardfn.OutputValidationError` instead).
    """

    def __init__(self, messages: list[Message], reason: str = "output did not validate") -> None:
        self.messages = messages
        super().__init__(reason)


class StageSpan(NamedTuple):
    """One hook implementation's run: which step, which plugin, wall-clock ns start/end."""

    step: str
    plugin: str
    start_ns: int
    end_ns: int
    error: str | None = None


@dataclass(repr=False)
class Call:
    """Everything about one invocation of a guarded function.

    Stages may edit ``messages`` (recording a :class:`Change`), append ``findings``,
    and use ``state`` (a dict keyed by their own plugin name) for private data such as
    a reservation. ``vault`` maps PII placeholders to original values for this call
    only; it must never be logged or exported.
    """

    function: str
    settings: Settings
    messages: list[Message]
    user_id: str = "anonymous"
    provider: str = "openai"
    model: str = ""
    max_tokens: int = 1024
    arguments: dict[str, Any] = field(default_factory=dict)
    is_async: bool = False
    stream: bool = False
    request_id: str = field(default_factory=new_request_id)
    started_at: float = field(default_factory=time.time)
    findings: list[Finding] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
    vault: dict[str, str] = field(default_factory=dict)
    state: dict[str, Any] = field(default_factory=dict)
    response: Response | StreamResponse | None = None
    usage: Usage = field(default_factory=Usage)
    cost_usd: float = 0.0
    attempts: int = 0
    retries: int = 0
    reasks: int = 0
    spans: list[StageSpan] = field(default_factory=list)
    outcome: Outcome | None = None
    error: BaseException | None = None
    extra_request: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        return (
            f"Call(request_id={self.request_id!r}, function={self.function!r}, "
            f"provider={self.provider!r}, model={self.model!r}, messages={len(self.messages)}, "
            f"findings={len(self.findings)}, outcome={self.outcome!r})"
        )

    def add_finding(self, finding: Finding) -> Finding:
        """Record a finding and return it."""
        self.findings.append(finding)
        return finding

    def record_change(self, stage: str, target: str, count: int) -> None:
        """Record that ``stage`` changed ``target`` (e.g. ``"messages[1]"``) ``count`` times."""
        if count:
            self.changes.append(Change(stage=stage, target=target, count=count))

    def user_messages(self) -> list[Message]:
        """The messages whose content came from the user (role ``user``)."""
        return [m for m in self.messages if m.get("role") == "user"]

    def user_texts(self) -> list[str]:
        """The text of every user message."""
        return [m["content"] for m in self.messages if m.get("role") == "user" and isinstance(m.get("content"), str)]

    @property
    def prompt_chars(self) -> int:
        """Total characters across all messages."""
        return sum(len(m.get("content") or "") for m in self.messages)

    @property
    def timings(self) -> dict[str, float]:
        """Seconds spent in each step (``"screen_input"``, ``"call_model"`` ...), from ``spans``."""
        totals: dict[str, float] = {}
        for span in self.spans:
            key = span.step.removeprefix("guardfn_")
            totals[key] = totals.get(key, 0.0) + (span.end_ns - span.start_ns) / 1e9
        return totals

    @property
    def duration_ms(self) -> float:
        """Milliseconds since the call started."""
        return (time.time() - self.started_at) * 1000.0
