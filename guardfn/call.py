"""The state of one guarded call: the one object that flows through the pipeline.

Stages read and write the :class:`Call`; they never talk to each other. Its ``repr``
shows ids and counts only, never prompt text, so it is safe in logs and tracebacks.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

if TYPE_CHECKING:
    from guardfn.settings import Settings

Role = Literal["system", "user", "assistant", "tool"]


@dataclass(slots=True)
class TextPart:
    """Text in a message. ``untrusted`` marks data rather than the user's request (a retrieved
    document): it is screened for instructions addressed to the assistant."""

    text: str
    untrusted: bool = False


@dataclass(slots=True)
class ImagePart:
    """An image in a message: an ``https://`` URL or a ``data:<media type>;base64,...`` URL."""

    url: str
    detail: str | None = None

    @property
    def is_data(self) -> bool:
        """Whether the image travels inline as a ``data:`` URL."""
        return self.url.startswith("data:")


Part = TextPart | ImagePart


@dataclass(slots=True)
class ToolCall:
    """A tool call the model asked for: its id, the tool's name, and the arguments.

    ``arguments`` is the parsed JSON object (``None`` when the model's JSON did not parse;
    ``raw_arguments`` keeps the text it wrote).
    """

    id: str
    name: str
    arguments: dict[str, Any] | None
    raw_arguments: str = ""

    @classmethod
    def from_json(cls, id: str, name: str, text: str) -> ToolCall:
        """A tool call whose arguments arrive as JSON text (kept as ``None`` when not an object)."""
        try:
            parsed = json.loads(text) if text.strip() else {}
        except ValueError:
            parsed = None
        return cls(id, name, parsed if isinstance(parsed, dict) else None, text)

    def arguments_json(self) -> str:
        """The arguments as JSON text, to send back to a provider."""
        return json.dumps(self.arguments) if self.arguments is not None else self.raw_arguments or "{}"


@dataclass
class Message:
    """One message of the conversation, in guardfn's one canonical form.

    ``role`` is ``system``, ``user``, ``assistant`` or ``tool``. ``content`` is a list of
    :class:`TextPart` and :class:`ImagePart`; an assistant message may carry
    ``tool_calls``; a ``tool`` message answers the call ``tool_call_id`` (of tool ``name``).
    ``untrusted`` marks a message that is data, not the user's request (tool results always
    are). Providers convert this form to their own (``guardfn/providers/``); stages walk its
    text with :meth:`Call.texts`.
    """

    role: Role
    content: list[Part] = field(default_factory=list)
    tool_calls: list[ToolCall] = field(default_factory=list)
    tool_call_id: str | None = None
    name: str | None = None
    untrusted: bool = False

    @property
    def text(self) -> str:
        """The text parts joined (with a blank line between parts)."""
        texts = [p.text for p in self.content if isinstance(p, TextPart)]
        return texts[0] if len(texts) == 1 else "\n\n".join(texts)

    @property
    def images(self) -> list[ImagePart]:
        """The image parts."""
        return [p for p in self.content if isinstance(p, ImagePart)]

    @property
    def is_untrusted(self) -> bool:
        """Data rather than a request: a tool result, or marked ``untrusted``."""
        return self.untrusted or self.role == "tool"

    def to_dict(self) -> dict[str, Any]:
        """A plain, JSON-ready view: ``role`` and ``content`` (the text), and when present
        ``images`` (URLs; inline data shown as ``data:...``), ``tool_calls``, ``tool_call_id``
        and ``untrusted``. Holds message text: for ``guardfn scan`` and the encrypted content
        log, never for logs or metrics."""
        record: dict[str, Any] = {"role": self.role, "content": self.text}
        images = [("data:..." if image.is_data else image.url) for image in self.images]
        if images:
            record["images"] = images
        if self.tool_calls:
            record["tool_calls"] = [{"id": c.id, "name": c.name, "arguments": c.arguments_json()} for c in self.tool_calls]
        if self.tool_call_id:
            record["tool_call_id"] = self.tool_call_id
        if self.untrusted:
            record["untrusted"] = True
        return record

    def __repr__(self) -> str:
        return (
            f"Message(role={self.role!r}, parts={len(self.content)}, chars={sum(len(t) for t in _texts_of(self))}, "
            f"tool_calls={len(self.tool_calls)})"
        )


def _texts_of(message: Message) -> list[str]:
    return [p.text for p in message.content if isinstance(p, TextPart)]


def text_message(role: Role, text: str, **fields: Any) -> Message:
    """A message holding one text part."""
    return Message(role=role, content=[TextPart(text)], **fields)


Path = tuple[str | int, ...]
"""Where a text is inside a message: ``("content", 0)`` or ``("tool_calls", 1, "arguments", "city")``."""


@dataclass(frozen=True, slots=True)
class TextRef:
    """One piece of text in the conversation and its place (see :meth:`Call.texts`).

    ``untrusted`` is true for tool results, messages and parts marked untrusted; text in a
    tool call's arguments has ``argument=True``.
    """

    index: int
    path: Path
    role: Role
    untrusted: bool
    text: str

    @property
    def argument(self) -> bool:
        """Whether the text is a string inside a tool call's arguments."""
        return self.path[0] == "tool_calls"

    @property
    def target(self) -> str:
        """``messages[1].content[0]``: what :meth:`Call.record_change` names."""
        return f"messages[{self.index}]" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in self.path)


def _argument_strings(value: Any, path: Path) -> Iterator[tuple[Path, str]]:
    """Every string inside a tool call's arguments (dict keys excluded), with its path."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _argument_strings(item, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _argument_strings(item, (*path, i))


@dataclass(frozen=True)
class OutputSchema:
    """The answer's JSON schema, for providers that can be asked for it natively.

    ``schema`` has an object at the top; ``strict_schema`` is it fitted to OpenAI's strict
    mode, or ``None`` when strict mode cannot express it. Each provider module turns it into
    its own request field (``response_format``, ``text.format``, a forced tool).
    """

    name: str
    schema: dict[str, Any]
    strict_schema: dict[str, Any] | None = None


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
    tool_calls: list[ToolCall] = field(default_factory=list)

    def __repr__(self) -> str:
        return (
            f"Response(model={self.model!r}, chars={len(self.text)}, tool_calls={len(self.tool_calls)}, "
            f"finish_reason={self.finish_reason!r}, usage={self.usage})"
        )

    def as_message(self) -> Message:
        """The answer as an assistant message (its text and tool calls), to go back in the conversation."""
        return Message(
            role="assistant", content=[TextPart(self.text)] if self.text else [], tool_calls=list(self.tool_calls)
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
    tool_calls: list[ToolCall] = field(default_factory=list)
    partial: Any = None
    """The provider module's own state while the stream is read (tool calls arriving in pieces)."""

    def close(self) -> Any:
        """Close the underlying HTTP stream (returns an awaitable for async streams)."""
        if self.closer is not None:
            return self.closer()
        return None

    def __repr__(self) -> str:
        return f"StreamResponse(model={self.model!r}, chars={len(self.text)}, usage={self.usage})"

    def as_message(self) -> Message:
        """Everything received, as an assistant message (its text and tool calls)."""
        return Message(
            role="assistant", content=[TextPart(self.text)] if self.text else [], tool_calls=list(self.tool_calls)
        )


@dataclass(frozen=True, slots=True)
class ToolCallReply:
    """A tool call handed to the caller (``run_tools=False``, or a tool the caller handles):
    its ``id`` (answer it with a ``{"role": "tool", "tool_call_id": id, ...}`` message), the
    tool's ``name``, and ``arguments`` validated against the tool's schema (a pydantic model
    for a model tool, a dict of validated values for a function) with PII restored."""

    id: str
    name: str
    arguments: Any


@dataclass(frozen=True, slots=True)
class Reply:
    """What a guarded call returns when the caller runs the tools: the model's ``text`` (often
    empty) and the ``tool_calls`` it asked for, each validated."""

    text: str
    tool_calls: list[ToolCallReply]

    def __repr__(self) -> str:
        return f"Reply(chars={len(self.text)}, tool_calls={[c.name for c in self.tool_calls]})"


@dataclass
class ToolRequest:
    """One tool call of the model on its way to being run, as the ``guardfn_check_tool_call``
    hooks see it: the call as the model wrote it, its ``arguments`` (a working copy stages may
    rewrite: PII restored), the ``tool`` guardfn offered under that name (``None`` if none),
    and ``value``, the arguments once validated (set by the ``tools`` stage)."""

    tool_call: ToolCall
    arguments: dict[str, Any] | None
    tool: Any = None
    value: Any = None


@dataclass(frozen=True, slots=True)
class ToolRun:
    """What audit and metrics keep of one tool run: name, round, duration and outcome
    (``ok``, ``error``: it raised, ``refused``: not run). Never arguments or results."""

    name: str
    round: int
    duration_ms: float
    outcome: str


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
    checked: int = 0
    """How many of ``messages`` the input stages have already seen (the first ``checked``):
    after a tool round only the new messages, the tool results, are screened."""
    tool_round: int = 0
    """0 for the prompt; n after the n-th round of tool calls."""
    tool_runs: list[ToolRun] = field(default_factory=list)
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
    """Provider request fields a stage adds for this call, merged last (after ``params=``)."""
    output_schema: OutputSchema | None = None
    """Set by the ``schema`` stage when the provider should be asked for the shape natively."""
    tools: tuple[Any, ...] = ()
    """The :class:`guardfn.tools.Tool` s offered in this call (``settings.tools`` for a decorated function)."""
    client: Any = None
    """An SDK client of the caller's to send with (``guardfn.wrap``); ``None``: guardfn's own."""
    reply: Reply | None = None
    """The tool calls handed back to the caller (a tool guardfn does not run), once the model
    asked for them: what a non-streamed call returns, kept here for streamed calls too (whose
    ``reply.text`` is the text as received; the guarded text is what the stream yielded)."""

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
        return [m for m in self.messages if m.role == "user"]

    def user_texts(self) -> list[str]:
        """The text of every user message (each text part)."""
        return [p.text for m in self.messages if m.role == "user" for p in m.content if isinstance(p, TextPart)]

    def texts(self, *, new: bool = False, arguments: bool = True) -> Iterator[TextRef]:
        """Every piece of text in the conversation, with its place: each text part of each
        message and (``arguments=True``) each string inside a tool call's arguments.

        ``new=True`` walks only the messages the input stages have not seen yet (after a
        tool round: the tool results). Replace a text with :meth:`replace_text`.
        """
        messages = self.messages
        for index in range(self.checked if new else 0, len(messages)):
            message = messages[index]
            untrusted = message.untrusted or message.role == "tool"
            for i, part in enumerate(message.content):
                if isinstance(part, TextPart):
                    yield TextRef(index, ("content", i), message.role, untrusted or part.untrusted, part.text)
            if arguments:
                for i, tool_call in enumerate(message.tool_calls):
                    for path, text in _argument_strings(tool_call.arguments, ("tool_calls", i, "arguments")):
                        yield TextRef(index, path, message.role, untrusted, text)

    def replace_text(self, ref: TextRef, text: str) -> None:
        """Put ``text`` where ``ref`` was found (a text part, or a string in tool call arguments)."""
        message = self.messages[ref.index]
        if ref.path[0] == "content":
            part = message.content[int(ref.path[1])]
            assert isinstance(part, TextPart)
            part.text = text
            return
        tool_call = message.tool_calls[int(ref.path[1])]
        holder: Any = tool_call.arguments
        for key in ref.path[3:-1]:
            holder = holder[key]
        holder[ref.path[-1]] = text

    @property
    def prompt_chars(self) -> int:
        """Total characters of text across all messages (tool call arguments included)."""
        return sum(len(ref.text) for ref in self.texts())

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
