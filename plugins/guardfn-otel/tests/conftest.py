"""Every test starts clean (guardfn's ``guardfn_isolation``) and gets in-memory OpenTelemetry providers."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from guardfn.testing import require_plugin

require_plugin("guardfn_otel", "opentelemetry.sdk", install="pip install -e 'plugins/guardfn-otel[test]'")


@pytest.fixture(autouse=True)
def _clean(guardfn_isolation: None) -> None:
    """Use guardfn's isolation in every test of this plugin."""


@dataclass
class Telemetry:
    """The in-memory exporter and metric reader a test reads what the plugin exported from."""

    spans: Any
    metrics: Any

    def finished(self) -> list[Any]:
        """Every finished span so far."""
        return list(self.spans.get_finished_spans())

    def points(self, name: str) -> list[Any]:
        """Every data point of metric ``name`` collected now."""
        data = self.metrics.get_metrics_data()
        found = []
        for resource in data.resource_metrics if data else []:
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    if metric.name == name:
                        found.extend(metric.data.data_points)
        return found


@pytest.fixture
def otel() -> Iterator[Telemetry]:
    """An :class:`OtelPlugin` on SDK providers with in-memory export, registered as ``otel``."""
    from guardfn_otel import OtelPlugin
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    import guardfn

    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    guardfn.register(OtelPlugin(tracer_provider=tracer_provider, meter_provider=meter_provider), name="otel")
    yield Telemetry(exporter, reader)
    tracer_provider.shutdown()
    meter_provider.shutdown()
