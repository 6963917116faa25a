"""Optional extras: which package each one brings, and one clear error when it is missing.

A control that needs an extra checks for it when the function is decorated (without
importing the package), so a missing extra is a :class:`~guardfn.errors.ConfigurationError`
naming the ``pip install`` line, never a ``ModuleNotFoundError`` on the first call.
"""

from __future__ import annotations

import importlib.util

from guardfn.errors import ConfigurationError

EXTRAS: dict[str, tuple[str, ...]] = {
    "redis": ("redis",),
    "pii": ("presidio_analyzer", "presidio_anonymizer"),
    "datadog": ("datadog",),
    "prometheus": ("prometheus_client",),
    "content-log": ("cryptography",),
    "aws": ("boto3",),
}
"""Extra name (as in ``pip install "guardfn[<extra>]"``) -> the modules it must provide."""


def missing(extra: str) -> list[str]:
    """The modules of ``extra`` that cannot be imported here (found without importing them)."""
    return [module for module in EXTRAS[extra] if importlib.util.find_spec(module) is None]


def installed(extra: str) -> bool:
    """Whether every module of ``extra`` is importable."""
    return not missing(extra)


def require(extra: str, feature: str, stage: str) -> None:
    """Raise :class:`ConfigurationError` when ``extra`` is not installed.

    ``feature`` says what needs it (``"store='redis://...'"``), ``stage`` which control asks.
    """
    absent = missing(extra)
    if absent:
        raise ConfigurationError(
            f"{feature} needs the {extra} extra ({', '.join(absent)} is not installed)",
            stage=stage,
            hint=f'pip install "guardfn[{extra}]"',
        )
