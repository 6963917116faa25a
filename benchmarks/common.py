"""Shared helpers for the benchmarks: result rows, percentiles, the fake provider, the machine."""

from __future__ import annotations

import contextlib
import os
import platform
import statistics
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from guardfn.hookspecs import hookimpl

Row = dict[str, Any]
KEY = "sk-bench-0000000000"
REDIS = os.environ.get("GUARDFN_BENCH_REDIS", "redis://127.0.0.1:6379/14")
"""The Redis the benchmarks use (``GUARDFN_BENCH_REDIS``); they delete the keys they wrote."""


def redis_db(db: int, url: str = REDIS) -> str:
    """``url`` pointing at database ``db`` of the same server."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{db}", parts.query, parts.fragment))


def builtin_stages_only() -> None:
    """Load no entry-point plugin: "default stages" means guardfn's built-ins, whatever is installed."""
    os.environ["GUARDFN_PLUGINS"] = ""
    from guardfn import plugins

    plugins.reset()


def interleaved(candidates: dict[str, Callable[[], Any]], n: int, warm_up: int = 100) -> dict[str, list[float]]:
    """Seconds of every single call of each candidate; the candidates take turns call by call.

    Percentiles of these lists compare like with like (p50 to p50), and drift on a shared
    machine hits every candidate alike.
    """
    import time

    for fn in candidates.values():
        for _ in range(warm_up):
            fn()
    samples: dict[str, list[float]] = {name: [] for name in candidates}
    clock = time.perf_counter
    for _ in range(n):
        for name, fn in candidates.items():
            start = clock()
            fn()
            samples[name].append(clock() - start)
    return samples


class StubModel:
    """A plugin answering every model request at once with a fixed response (no SDK, no socket)."""

    def __init__(self, usage: tuple[int, int] = (32, 22)) -> None:
        self.usage = usage

    @hookimpl(tryfirst=True)
    def guardfn_call_model(self, call: Any, api_key: str) -> Any:
        """The fixed answer."""
        from guardfn.call import Response, Usage

        return Response(text="Open Settings, then Security.", model=call.model, finish_reason="stop",
                        usage=Usage(*self.usage))  # fmt: skip


@contextlib.contextmanager
def stubbed_model(usage: tuple[int, int] = (32, 22)) -> Iterator[None]:
    """Within this block every guarded call gets :class:`StubModel`'s answer instead of the SDK's."""
    import guardfn

    name = guardfn.register(StubModel(usage), name="bench-stub-model")
    try:
        yield
    finally:
        from guardfn import plugins

        plugins.unregister(name)


def scaled(n: int) -> int:
    """``n`` times GUARDFN_BENCH_SCALE (``python -m benchmarks --quick`` sets 0.1), at least 1."""
    return max(1, round(n * float(os.environ.get("GUARDFN_BENCH_SCALE", "1"))))


@dataclass(frozen=True)
class FakeProvider:
    """The fake provider's base URLs (see :func:`fake_provider`)."""

    url: str

    @property
    def openai_base_url(self) -> str:
        """The OpenAI SDK's ``base_url``."""
        return self.url + "/v1"

    @property
    def anthropic_base_url(self) -> str:
        """The Anthropic SDK's ``base_url``."""
        return self.url


@contextlib.contextmanager
def fake_provider(chunk_chars: int | None = None, tool_rounds: int | None = None) -> Iterator[FakeProvider]:
    """guardfn's fake provider in a child process, so it shares no GIL with the measured client."""
    from guardfn.testing import serve_in_subprocess

    process, url = serve_in_subprocess(chunk_chars=chunk_chars, tool_rounds=tool_rounds)
    try:
        yield FakeProvider(url)
    finally:
        process.terminate()
        process.wait()


def row(
    name: str,
    value: float,
    unit: str,
    *,
    anchor: str = "",
    anchor_value: float | None = None,
    target: str = "",
    met: bool | None = None,
    ratio: float | None = None,
    issue: int | None = None,
) -> Row:
    """One figure beside its anchor; ``ratio`` defaults to value / anchor_value.

    ``target`` is the issue's target (``report`` where it sets none) and ``met`` whether the
    figure meets it; ``issue`` names the issue when it is not the benchmark module's own.
    """
    if ratio is None and anchor_value:
        ratio = value / anchor_value
    return {
        "name": name,
        "value": value,
        "unit": unit,
        "anchor": anchor,
        "anchor_value": anchor_value,
        "ratio": ratio,
        "target": target,
        "met": met,
        **({"issue": issue} if issue is not None else {}),
    }


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100) by nearest rank."""
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def median(values: list[float]) -> float:
    """The median."""
    return statistics.median(values)


def machine() -> str:
    """A one-line description of the machine the benchmarks ran on: OS, CPU, memory, Python."""
    cpu = platform.processor() or platform.machine()
    memory = ""
    with contextlib.suppress(OSError):
        with open("/proc/cpuinfo") as info:
            cpu = next((line.split(":", 1)[1].strip() for line in info if line.startswith("model name")), cpu)
        with open("/proc/meminfo") as info:
            kib = int(next(line.split()[1] for line in info if line.startswith("MemTotal")))
            memory = f", {kib / 2**20:.0f} GiB"
    return (
        f"{platform.system()} {platform.release()} ({platform.machine()}), {cpu}, {os.cpu_count()} CPUs{memory}, "
        f"{platform.python_implementation()} {platform.python_version()}"
    )


def main(run: Callable[[], list[Row]]) -> None:
    """Run one benchmark module and print its table (``python -m benchmarks.bench_x``)."""
    from benchmarks.report import markdown

    print(markdown(run()))
