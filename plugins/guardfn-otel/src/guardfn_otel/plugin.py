"""The ``otel`` plugin: one span per guarded call, a child span per pipeline step, GenAI metrics.

Everything is built in ``guardfn_record`` from what the pipeline already keeps on the
:class:`~guardfn.call.Call`: its start time, ``call.spans`` (each hook implementation's
wall-clock start and end; ``call.timings`` sums them per step), usage, cost and the
outcome. The core is not touched: the same hooks that feed Datadog feed OpenTelemetry.

Span (kind ``CLIENT``), named ``"chat <model>"`` as the GenAI semantic conventions ask,
parented to whatever span is current when the call finishes:

* ``gen_ai.operation.name`` (``chat``), ``gen_ai.provider.name`` and the older
  ``gen_ai.system``, ``gen_ai.request.model``, ``gen_ai.request.max_tokens``,
  ``gen_ai.request.temperature``, ``gen_ai.response.model``,
  ``gen_ai.response.finish_reasons``, ``gen_ai.usage.input_tokens``,
  ``gen_ai.usage.output_tokens``, ``error.type`` on a refusal or failure;
* ``guardfn.function``, ``guardfn.request_id``, ``guardfn.outcome``, ``guardfn.cost_usd``,
  ``guardfn.retries``, ``guardfn.reasks``, ``guardfn.findings``, and for a refusal
  ``guardfn.stage`` and ``guardfn.reason`` (a short code).

Children: ``guardfn.<step>`` (``guardfn.screen_input``, ``guardfn.call_model`` ...) with
the plugins that ran in ``guardfn.plugins``; with ``plugin_options={"otel":
{"plugin_spans": true}}`` each plugin's run gets a grandchild span too.

Metrics (GenAI conventions): ``gen_ai.client.token.usage`` (histogram, ``{token}``,
``gen_ai.token.type`` = ``input`` / ``output``), ``gen_ai.client.operation.duration``
(histogram, seconds), and ``guardfn.llm.cost`` (counter, USD), ``guardfn.llm.refusals``
(counter, ``guardfn.stage`` / ``guardfn.reason``).

Never recorded: prompt or response text, the user id, PII placeholders, keys.
"""

from __future__ import annotations

import time
from typing import Any

from opentelemetry import metrics, trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from guardfn.call import Call, StageSpan
from guardfn.hookspecs import hookimpl
from guardfn.observability.facts import reason_code

SCOPE = "guardfn_otel"
VERSION = "0.1.0"
NAME = "otel"


def _steps(call: Call) -> list[tuple[str, int, int, list[StageSpan]]]:
    """Per step: name, first start, last end (ns) and its plugin runs; from ``call.spans``,
    else laid out one after another from ``call.timings``."""
    grouped: dict[str, list[StageSpan]] = {}
    for span in call.spans:
        grouped.setdefault(span.step.removeprefix("guardfn_"), []).append(span)
    if grouped:
        return [
            (step, min(s.start_ns for s in runs), max(s.end_ns for s in runs), runs) for step, runs in grouped.items()
        ]
    cursor = int(call.started_at * 1e9)
    laid_out: list[tuple[str, int, int, list[StageSpan]]] = []
    for step, seconds in call.timings.items():
        end = cursor + int(seconds * 1e9)
        laid_out.append((step, cursor, end, []))
        cursor = end
    return laid_out


_DEFAULT_PROVIDERS = frozenset(
    {"ProxyTracerProvider", "NoOpTracerProvider", "_ProxyMeterProvider", "NoOpMeterProvider"}
)


def _configured() -> bool:
    """Whether a real global tracer or meter provider has been set (else everything is a no-op)."""
    return (
        type(trace.get_tracer_provider()).__name__ not in _DEFAULT_PROVIDERS
        or type(metrics.get_meter_provider()).__name__ not in _DEFAULT_PROVIDERS
    )


class OtelPlugin:
    """Traces and metrics of guarded calls for the given (default: global) OpenTelemetry providers."""

    def __init__(self, tracer_provider: Any = None, meter_provider: Any = None) -> None:
        self.explicit = tracer_provider is not None or meter_provider is not None
        self.tracer = trace.get_tracer(SCOPE, VERSION, tracer_provider=tracer_provider)
        meter = metrics.get_meter(SCOPE, VERSION, meter_provider=meter_provider)
        self.token_usage = meter.create_histogram(
            "gen_ai.client.token.usage", unit="{token}", description="Tokens used per guarded call"
        )
        self.duration = meter.create_histogram(
            "gen_ai.client.operation.duration", unit="s", description="Duration of a guarded call"
        )
        self.cost = meter.create_counter("guardfn.llm.cost", unit="USD", description="Cost of guarded calls")
        self.refusals = meter.create_counter(
            "guardfn.llm.refusals", unit="{call}", description="Guarded calls refused or failed"
        )

    @hookimpl
    def guardfn_record(self, call: Call, outcome: str) -> None:
        """Runs once per finished call: exports its span tree and metrics (observer; never raises into the call).

        Returns at once while OpenTelemetry is not configured (no global providers set).
        """
        if not self.explicit and not _configured():
            return
        end_ns = time.time_ns()
        error = call.error if outcome != "ok" else None
        common = {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": call.provider,
            "gen_ai.request.model": call.model,
        }
        attributes: dict[str, Any] = {
            **common,
            "gen_ai.system": call.provider,
            "gen_ai.request.max_tokens": call.max_tokens,
            "gen_ai.usage.input_tokens": call.usage.prompt_tokens,
            "gen_ai.usage.output_tokens": call.usage.completion_tokens,
            "guardfn.function": call.function,
            "guardfn.request_id": call.request_id,
            "guardfn.outcome": outcome,
            "guardfn.cost_usd": float(call.cost_usd),
            "guardfn.retries": call.retries,
            "guardfn.reasks": call.reasks,
            "guardfn.stream": call.stream,
            "guardfn.findings": sum(f.count for f in call.findings),
        }
        temperature = getattr(call.settings, "temperature", None)
        if temperature is not None:
            attributes["gen_ai.request.temperature"] = float(temperature)
        response = call.response
        if response is not None:
            if getattr(response, "model", ""):
                attributes["gen_ai.response.model"] = response.model
            if getattr(response, "finish_reason", None):
                attributes["gen_ai.response.finish_reasons"] = [str(response.finish_reason)]
        why: dict[str, Any] = {}
        if error is not None:
            attributes["error.type"] = type(error).__name__
            why = {"guardfn.stage": str(getattr(error, "stage", "unknown")), "guardfn.reason": reason_code(error) or ""}
            attributes.update(why)

        start_ns = int(call.started_at * 1e9)
        root = self.tracer.start_span(
            f"chat {call.model}", kind=SpanKind.CLIENT, start_time=start_ns, attributes=attributes
        )
        if root.is_recording():
            self._children(call, root)
        if error is not None:
            root.set_status(Status(StatusCode.ERROR, type(error).__name__))
        root.end(end_time=end_ns)
        self._metrics(call, common, why, outcome, error, (end_ns - start_ns) / 1e9)

    def _children(self, call: Call, root: Any) -> None:
        parent = trace.set_span_in_context(root)
        options = (getattr(call.settings, "plugin_options", None) or {}).get(NAME, {})
        plugin_spans = bool(options.get("plugin_spans", False))
        for step, first, last, runs in _steps(call):
            child = self.tracer.start_span(
                f"guardfn.{step}",
                context=parent,
                start_time=first,
                attributes={"guardfn.step": step, "guardfn.plugins": sorted({r.plugin for r in runs})},
            )
            failed = [r for r in runs if r.error]
            if failed:
                child.set_status(Status(StatusCode.ERROR, failed[-1].error))
            if plugin_spans:
                inner = trace.set_span_in_context(child)
                for run in runs:
                    grandchild = self.tracer.start_span(
                        f"guardfn.{step}.{run.plugin}",
                        context=inner,
                        start_time=run.start_ns,
                        attributes={"guardfn.plugin": run.plugin},
                    )
                    if run.error:
                        grandchild.set_status(Status(StatusCode.ERROR, run.error))
                    grandchild.end(end_time=run.end_ns)
            child.end(end_time=last)

    def _metrics(
        self, call: Call, common: dict[str, Any], why: dict[str, Any], outcome: str, error: Any, seconds: float
    ) -> None:
        metric_attributes: dict[str, Any] = dict(common)
        if error is not None:
            metric_attributes["error.type"] = type(error).__name__
        self.duration.record(seconds, metric_attributes)
        if call.usage.prompt_tokens:
            self.token_usage.record(call.usage.prompt_tokens, {**common, "gen_ai.token.type": "input"})
        if call.usage.completion_tokens:
            self.token_usage.record(call.usage.completion_tokens, {**common, "gen_ai.token.type": "output"})
        if call.cost_usd:
            self.cost.add(float(call.cost_usd), dict(common))
        if error is not None:
            self.refusals.add(1, {**common, **why, "guardfn.outcome": outcome})


plugin = OtelPlugin()
"""The instance the entry point registers: global tracer and meter providers."""
