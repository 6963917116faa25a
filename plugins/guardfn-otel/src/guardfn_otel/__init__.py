"""guardfn-otel: OpenTelemetry traces and metrics for guarded calls, from the ``guardfn_record`` hook.

Installing the distribution is enough: the entry point ``otel`` registers
:data:`guardfn_otel.plugin.plugin`, which uses the global tracer and meter providers.
Register your own :class:`OtelPlugin` under the name ``"otel"`` to use other providers.
"""

from __future__ import annotations

from guardfn_otel.plugin import OtelPlugin, plugin

__version__ = "0.1.0"
__all__ = ["OtelPlugin", "__version__", "plugin"]
