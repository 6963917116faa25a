"""The exceptions guardfn raises, all rooted at :class:`GuardError`.

Every refusal names the *stage* (the control that refused), a *reason* a person can
act on, and optionally a *hint* saying what to do. Messages never contain prompt text,
personal data or API keys: build them from counts, ids and limits only.
"""

from __future__ import annotations

from typing import Any


class GuardError(Exception):
    """Base class of every error guardfn raises.

    ``stage`` is the stable name of the control that refused (``"limits"``, ``"pii"``,
    ``"openai"`` ...), ``reason`` says why in words safe to log, ``hint`` what to do.
    """

    default_stage = "guardfn"

    def __init__(self, reason: str, *, stage: str | None = None, hint: str | None = None) -> None:
        self.stage = stage or self.default_stage
        self.reason = reason
        self.hint = hint
        super().__init__(self._message())

    def _message(self) -> str:
        text = f"[{self.stage}] {self.reason}"
        if self.hint:
            text += f" ({self.hint})"
        return text

    def to_dict(self) -> dict[str, Any]:
        """The error as a JSON-safe mapping (for audit records and HTTP error bodies)."""
        return {"error": type(self).__name__, "stage": self.stage, "reason": self.reason}


class ConfigurationError(GuardError):
    """The decorator, settings or environment are wrong (a missing key, a bad option)."""

    default_stage = "configure"


class InvalidPrompt(GuardError):
    """The prompt function returned something that is not a prompt."""

    default_stage = "prompt"


class PluginError(GuardError):
    """A plugin raised something other than a GuardError in a fail-closed hook."""

    default_stage = "plugins"


class InputRejected(GuardError):
    """An input stage refused the prompt."""

    default_stage = "input"


class InputTooLong(InputRejected):
    """A message or the whole context is longer than its limit."""

    default_stage = "input_limits"

    def __init__(self, reason: str, *, length: int, limit: int, unit: str = "chars", **kw: Any) -> None:
        self.length = length
        self.limit = limit
        self.unit = unit
        super().__init__(reason, **kw)


class InjectionDetected(InputRejected):
    """Injection screening found an attempt to take over the model."""

    default_stage = "injection"

    def __init__(self, reason: str, *, risk: str, score: float, rules: list[str], **kw: Any) -> None:
        self.risk = risk
        self.score = score
        self.rules = list(rules)
        super().__init__(reason, **kw)


class SecretDetected(InputRejected):
    """The prompt contains a credential (an API key, a private key, a password)."""

    default_stage = "secrets"

    def __init__(self, reason: str, *, kinds: list[str], **kw: Any) -> None:
        self.kinds = list(kinds)
        super().__init__(reason, **kw)


class PIIDetected(InputRejected):
    """Personal data was found and the PII mode is ``"block"``; lists types, never values."""

    default_stage = "pii"

    def __init__(self, reason: str, *, entities: dict[str, int], **kw: Any) -> None:
        self.entities = dict(entities)
        super().__init__(reason, **kw)


class RateLimitExceeded(GuardError):
    """A request limit refused the call; nothing was consumed.

    ``limit`` names the limit (``"requests_per_minute"``), ``retry_after`` is the number
    of seconds until the same call would pass, ``usage`` and ``capacity`` the current
    usage and the allowance in that window.
    """

    default_stage = "limits"

    def __init__(
        self,
        reason: str,
        *,
        limit: str,
        retry_after: float,
        usage: float,
        capacity: float,
        **kw: Any,
    ) -> None:
        self.limit = limit
        self.retry_after = retry_after
        self.usage = usage
        self.capacity = capacity
        super().__init__(reason, **kw)


class BudgetExceeded(RateLimitExceeded):
    """A token or USD budget refused the call; nothing was consumed."""


class StoreUnavailable(GuardError):
    """The counter store (diskcache, Redis) could not be reached; the call is refused."""

    default_stage = "limits"


class ProviderError(GuardError):
    """The model provider failed (after retries).

    Safe to log: ``str(error)``, ``.reason``, ``.status_code``, ``.error_type`` and
    ``.error_code`` (the provider's own error type and code, e.g. ``invalid_request_error``
    / ``context_length_exceeded``), ``.param``. The provider's message appears in
    ``.reason`` only after :func:`guardfn.scrub.scrub_untrusted` (keys, secrets, quoted
    text, e-mail addresses, URLs and long numbers removed).

    **Not safe to log:** ``.provider_message``, the provider's message as received (API
    keys masked); it may repeat prompt text or personal data the provider quoted.
    """

    default_stage = "provider"

    def __init__(
        self,
        reason: str,
        *,
        status_code: int | None = None,
        retryable: bool = False,
        error_type: str | None = None,
        error_code: str | None = None,
        param: str | None = None,
        provider_message: str | None = None,
        **kw: Any,
    ) -> None:
        self.status_code = status_code
        self.retryable = retryable
        self.error_type = error_type
        self.error_code = error_code
        self.param = param
        self.provider_message = provider_message
        super().__init__(reason, **kw)


class ProviderAuthenticationError(ProviderError):
    """The provider rejected the API key (401/403)."""


class OutputRejected(GuardError):
    """An output stage refused the model's answer."""

    default_stage = "output"


class OutputValidationError(OutputRejected):
    """The answer did not validate against the schema after every re-ask."""

    default_stage = "schema"

    def __init__(self, reason: str, *, errors: list[dict[str, Any]] | None = None, **kw: Any) -> None:
        self.errors = list(errors or [])
        super().__init__(reason, **kw)


class GuardrailViolation(OutputRejected):
    """The answer broke an output rule (a prohibited term, an unlisted domain, a leak)."""

    default_stage = "output_rules"

    def __init__(self, reason: str, *, rules: list[str], **kw: Any) -> None:
        self.rules = list(rules)
        super().__init__(reason, **kw)


class ToolCallRejected(OutputRejected):
    """The model asked for a tool that was not offered, or for arguments that did not validate
    after every re-ask; nothing was run. ``.tool`` names the tool."""

    default_stage = "tools"

    def __init__(self, reason: str, *, tool: str, errors: list[dict[str, Any]] | None = None, **kw: Any) -> None:
        self.tool = tool
        self.errors = list(errors or [])
        super().__init__(reason, **kw)


class ToolLoopExceeded(GuardError):
    """The model kept calling tools for more than ``max_tool_rounds`` rounds."""

    default_stage = "tools"

    def __init__(self, reason: str, *, rounds: int, **kw: Any) -> None:
        self.rounds = rounds
        super().__init__(reason, **kw)


class GuardfnWarning(UserWarning):
    """Base class of guardfn's warnings."""


class HardcodedKeyWarning(GuardfnWarning):
    """An API key was written into code as a literal string."""


class OfflineFallbackWarning(GuardfnWarning):
    """A component runs in a reduced mode because its data is not installed locally."""


__all__ = [
    "BudgetExceeded",
    "ConfigurationError",
    "GuardError",
    "GuardfnWarning",
    "GuardrailViolation",
    "HardcodedKeyWarning",
    "InjectionDetected",
    "InputRejected",
    "InputTooLong",
    "InvalidPrompt",
    "OfflineFallbackWarning",
    "OutputRejected",
    "OutputValidationError",
    "PIIDetected",
    "PIIEngineUnavailable",
    "PluginError",
    "ProviderAuthenticationError",
    "ProviderError",
    "RateLimitExceeded",
    "SecretDetected",
    "StoreUnavailable",
    "ToolCallRejected",
    "ToolLoopExceeded",
]


class PIIEngineUnavailable(InputRejected):
    """PII detection is on but could not run (Presidio missing, a recognizer failing): fail closed.

    The prompt is never sent unredacted; the reason names the failure's type only.
    """

    default_stage = "pii"
