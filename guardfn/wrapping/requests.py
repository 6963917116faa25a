"""One ``create(...)`` call of a wrapped client, sorted into what the pipeline guards and
what goes to the provider as given; whatever the pipeline cannot guard is refused.

Each endpoint module gives its :class:`Policy`: the keywords it reads itself (``owned``:
the messages, the model, the output-token limit, ``stream``, ``tools``), the keywords
passed through unchanged because they carry no text and do not move the conversation
outside the request (``passed``: sampling, ``tool_choice``, ``metadata`` ...), those
refused whatever their value (``refused``, each with the reason), and those refused only
for some values (``checked``: ``n=2``, ``logprobs=True`` ...). Any other keyword is refused
too: guardfn cannot know whether a parameter it has not reviewed is safe to send unguarded.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from guardfn.call import Message
from guardfn.errors import ConfigurationError, InvalidPrompt
from guardfn.settings import Settings
from guardfn.tools import Tool, build_tools

REQUEST_OPTIONS = frozenset({"extra_headers", "extra_query", "extra_body", "timeout"})
"""The SDKs' per-request options, accepted by every endpoint (``extra_body`` is checked)."""

STAGE = "wrap"
UNGUARDED_HINT = (
    "drop it, or make this request with the client you passed to guardfn.wrap, deliberately: guardfn does not guard it"
)


def is_absent(value: Any) -> bool:
    """The SDKs' "not given" markers (``NOT_GIVEN``, ``omit``), which mean the keyword is absent."""
    return type(value).__name__ in ("NotGiven", "Omit")


def plain(value: Any) -> Any:
    """``value`` with SDK objects (pydantic models, such as a previous answer's message or
    content blocks) turned into plain dicts and tuples into lists, recursively."""
    dump = getattr(value, "model_dump", None)
    if callable(dump) and not isinstance(value, type):
        return plain(dump(exclude_none=True))
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    return value


def refuse(endpoint: str, what: str, why: str, hint: str = UNGUARDED_HINT) -> ConfigurationError:
    """The :class:`ConfigurationError` for a request guardfn cannot guard (names, never values)."""
    return ConfigurationError(f"guardfn.wrap cannot guard {endpoint}({what}): {why}", stage=STAGE, hint=hint)


Check = Callable[[Any], "str | None"]
"""A keyword's value check: the reason it cannot be guarded, or ``None`` when it can."""


@dataclass(frozen=True)
class Policy:
    """Which keywords of one endpoint guardfn reads, passes on, or refuses (see the module doc)."""

    endpoint: str
    owned: frozenset[str]
    passed: frozenset[str]
    refused: Mapping[str, str] = field(default_factory=dict)
    checked: Mapping[str, Check] = field(default_factory=dict)

    def sort(self, kwargs: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """``(owned, extra)``: the keywords the endpoint module reads, and those sent as given.

        Absent markers are dropped; a refused keyword, a checked one with a value that cannot
        be guarded, or an unknown one raises :class:`ConfigurationError` before any request.
        """
        owned: dict[str, Any] = {}
        extra: dict[str, Any] = {}
        for name, value in kwargs.items():
            if is_absent(value):
                continue
            if name in self.owned:
                owned[name] = value
                continue
            why = self.refused.get(name)
            if why is None and name in self.checked and value is not None:
                why = self.checked[name](value)
            if why is not None:
                raise refuse(self.endpoint, f"{name}=...", why)
            if name not in self.passed and name not in REQUEST_OPTIONS and name not in self.checked:
                raise refuse(
                    self.endpoint,
                    f"{name}=...",
                    "guardfn has not reviewed this parameter, so it cannot tell whether it is safe to send unguarded",
                    hint="if it carries no text and keeps the conversation in the request, pass it inside "
                    "extra_body={...}, which guardfn sends as given",
                )
            extra[name] = value
        self._check_extra_body(extra.get("extra_body"))
        return owned, extra

    def _check_extra_body(self, body: Any) -> None:
        if body is None:
            return
        if not isinstance(body, Mapping):
            raise refuse(self.endpoint, "extra_body=...", "extra_body must be a dict")
        for name in body:
            if name in self.owned:
                raise refuse(
                    self.endpoint,
                    f"extra_body={{{name!r}: ...}}",
                    f"{name!r} would replace what guardfn checked",
                    hint=f"pass {name}= as a keyword of create()",
                )
            if name in self.refused:
                raise refuse(self.endpoint, f"extra_body={{{name!r}: ...}}", self.refused[name])


@dataclass
class Request:
    """One ``create()`` call as the pipeline runs it."""

    messages: list[Message]
    model: str
    max_tokens: int
    stream: bool
    tools: tuple[Tool, ...]
    user_id: str | None
    extra: dict[str, Any]
    wants_usage: bool = False
    """Chat Completions streams: the caller asked for the final usage chunk (``stream_options``)."""


def model_of(endpoint: str, owned: Mapping[str, Any]) -> str:
    """The ``model=`` keyword, which every endpoint requires."""
    model = owned.get("model")
    if not isinstance(model, str) or not model:
        raise ConfigurationError(f"{endpoint}() needs model=", stage=STAGE, hint="pass the model name, as the SDK requires")
    return model


def max_tokens_of(endpoint: str, settings: Settings, owned: Mapping[str, Any], names: Iterable[str]) -> int:
    """The output-token limit: the one given (under any of ``names``), else the settings'
    bounded default; above ``max_tokens_limit`` it is refused."""
    given = [(name, owned[name]) for name in names if owned.get(name) is not None]
    if len(given) > 1:
        raise refuse(endpoint, ", ".join(f"{n}=..." for n, _ in given), "give one output-token limit, not several")
    if not given:
        return settings.max_tokens
    name, value = given[0]
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ConfigurationError(f"{endpoint}({name}=...) must be a positive integer", stage=STAGE)
    if value > settings.max_tokens_limit:
        raise ConfigurationError(
            f"{endpoint}({name}={value}) is above the ceiling max_tokens_limit={settings.max_tokens_limit}",
            stage=STAGE,
            hint="lower it, or raise max_tokens_limit= in guardfn.wrap(...) deliberately",
        )
    return value


def stream_of(owned: Mapping[str, Any]) -> bool:
    """Whether the answer is streamed."""
    return bool(owned.get("stream"))


ToolReader = Callable[[dict[str, Any]], "tuple[str, str | None, Any] | str"]
"""Reads one tool of the endpoint's shape: ``(name, description, parameters)``, or the
reason guardfn cannot check it."""


def schema_tools(endpoint: str, tools: Any, read: ToolReader) -> tuple[Tool, ...]:
    """The caller's JSON-schema tools as schema-only :class:`Tool` s: guardfn checks that each
    tool call names one of them and carries a JSON object, and hands it back (never runs it)."""
    if tools is None:
        return ()
    items = plain(tools)
    if not isinstance(items, list):
        raise refuse(endpoint, "tools=...", "tools must be a list")
    found: list[Tool] = []
    for index, item in enumerate(items):
        read_out = read(item) if isinstance(item, dict) else "a tool must be a dict"
        if isinstance(read_out, str):
            raise refuse(endpoint, f"tools[{index}]", read_out, hint="offer function tools only; the caller runs them")
        name, description, parameters = read_out
        schema = parameters if isinstance(parameters, dict) else {"type": "object", "properties": {}}
        found.append(Tool(name, description or "", schema, model=None))
    return build_tools(found)


def prompt_list(endpoint: str, value: Any, keyword: str) -> list[Any]:
    """The messages keyword as a list of plain dicts."""
    if value is None:
        raise InvalidPrompt(f"{endpoint}() needs {keyword}=", hint="pass the conversation, as the SDK requires")
    if isinstance(value, (str, dict)) or not isinstance(value, Iterable):
        raise InvalidPrompt(f"{endpoint}({keyword}=...) must be a list of messages")
    return list(plain(list(value)))


def text_of_system(value: Any) -> str | None:
    """A system prompt given as a string or as a list of text blocks, as one string."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    blocks = plain(value)
    if isinstance(blocks, list) and all(isinstance(b, dict) and isinstance(b.get("text"), str) for b in blocks):
        return "\n\n".join(b["text"] for b in blocks)
    raise InvalidPrompt("system= must be a string or a list of text blocks")
