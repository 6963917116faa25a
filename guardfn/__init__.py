"""guardfn: one decorator that makes calls to hosted LLMs safe to run in production.

``import guardfn`` stays light: the errors load now, everything else (pydantic, pluggy,
the SDKs, Presidio, Redis, Datadog) when first used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from guardfn.errors import (
    BudgetExceeded,
    ConfigurationError,
    GuardError,
    GuardfnWarning,
    GuardrailViolation,
    HardcodedKeyWarning,
    InjectionDetected,
    InputRejected,
    InputTooLong,
    InvalidPrompt,
    OfflineFallbackWarning,
    OutputRejected,
    OutputValidationError,
    PIIDetected,
    PIIEngineUnavailable,
    PluginError,
    ProviderAuthenticationError,
    ProviderError,
    RateLimitExceeded,
    SecretDetected,
    StoreUnavailable,
    ToolCallRejected,
    ToolLoopExceeded,
)

if TYPE_CHECKING:
    from guardfn.call import Call, Finding, Message, Reply, Response, Usage
    from guardfn.context import as_user
    from guardfn.decorator import guarded_llm
    from guardfn.hookspecs import hookimpl
    from guardfn.plugins import register, unregister
    from guardfn.prompt import untrusted
    from guardfn.scanning import ScanResult, screen
    from guardfn.settings import Settings, configure
    from guardfn.tools import Tool
    from guardfn.verify import verify_keys
    from guardfn.wrapping import wrap

__version__ = "0.1.0"

_LAZY = {
    "guarded_llm": "guardfn.decorator",
    "configure": "guardfn.settings",
    "Settings": "guardfn.settings",
    "as_user": "guardfn.context",
    "hookimpl": "guardfn.hookspecs",
    "register": "guardfn.plugins",
    "unregister": "guardfn.plugins",
    "Call": "guardfn.call",
    "Finding": "guardfn.call",
    "Response": "guardfn.call",
    "Usage": "guardfn.call",
    "Message": "guardfn.call",
    "Reply": "guardfn.call",
    "Tool": "guardfn.tools",
    "untrusted": "guardfn.prompt",
    "verify_keys": "guardfn.verify",
    "wrap": "guardfn.wrapping",
    "screen": "guardfn.scanning",
    "ScanResult": "guardfn.scanning",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'guardfn' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "BudgetExceeded",
    "Call",
    "ConfigurationError",
    "Finding",
    "GuardError",
    "GuardfnWarning",
    "GuardrailViolation",
    "HardcodedKeyWarning",
    "InjectionDetected",
    "InputRejected",
    "InputTooLong",
    "InvalidPrompt",
    "Message",
    "OfflineFallbackWarning",
    "OutputRejected",
    "OutputValidationError",
    "PIIDetected",
    "PIIEngineUnavailable",
    "PluginError",
    "ProviderAuthenticationError",
    "ProviderError",
    "RateLimitExceeded",
    "Reply",
    "Response",
    "ScanResult",
    "SecretDetected",
    "Settings",
    "StoreUnavailable",
    "Tool",
    "ToolCallRejected",
    "ToolLoopExceeded",
    "Usage",
    "as_user",
    "configure",
    "guarded_llm",
    "hookimpl",
    "register",
    "screen",
    "unregister",
    "untrusted",
    "verify_keys",
    "wrap",
]
