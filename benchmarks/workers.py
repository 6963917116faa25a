"""Run operations with N concurrent workers: threads, processes or asyncio tasks.

The scale benchmarks ask how cost grows with load: the same operations (say a raw SDK
call and a guarded call) run by 1, 4 and 16 workers at once. :func:`measure` builds the
operations from a factory, runs every operation in turn (all workers together, between
barriers, so each phase sees the same load) for a few rounds, and returns for each
operation the best round's throughput and the CPU time per operation of the processes
doing the work.

* ``threads``: one process; the operations are built once and shared by the threads, as a
  web server's worker threads share one decorated function and one client.
* ``processes``: ``spawn`` children, each building its own operations (its own clients and
  connections), as a pre-fork server or several containers do.
* ``async``: one event loop; the operations are coroutine functions shared by the tasks.

A factory is a ``"module:function"`` string (processes must import it) called with
``args``; it returns ``{name: operation}`` where an operation takes no arguments (sync) or
is a coroutine function (``async`` mode; the factory itself may be async then, and is
awaited inside the loop that runs the tasks).
"""

from __future__ import annotations

import asyncio
import gc
import importlib
import inspect
import multiprocessing
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

Mode = Literal["threads", "processes", "async"]
MODES: tuple[Mode, ...] = ("threads", "processes", "async")


@dataclass(frozen=True)
class Phase:
    """One operation's best round at one load."""

    name: str
    mode: str
    workers: int
    ops: int
    seconds: float
    cpu_seconds: float

    @property
    def rate(self) -> float:
        """Operations per second, all workers together."""
        return self.ops / self.seconds

    @property
    def cpu_per_op(self) -> float:
        """CPU seconds the working processes spent per operation (the server not counted)."""
        return self.cpu_seconds / self.ops


def _factory(spec: str) -> Callable[..., Any]:
    module, _, name = spec.partition(":")
    factory: Callable[..., Any] = getattr(importlib.import_module(module), name)
    return factory


def _split(total: int, workers: int) -> int:
    return max(1, total // workers)


def measure(
    factory: str, args: tuple[Any, ...], mode: Mode, workers: int, total_ops: int, rounds: int = 3
) -> dict[str, Phase]:
    """Each operation's best round (highest throughput) with ``workers`` workers in ``mode``."""
    per_worker = _split(total_ops, workers)
    if mode == "threads":
        samples = _threads(factory, args, workers, per_worker, rounds)
    elif mode == "processes":
        samples = _processes(factory, args, workers, per_worker, rounds)
    elif mode == "async":
        samples = asyncio.run(_tasks(factory, args, workers, per_worker, rounds))
    else:
        raise ValueError(f"unknown mode {mode!r}")
    ops = per_worker * workers
    best: dict[str, Phase] = {}
    for name, runs in samples.items():
        wall, cpu = min(runs)
        best[name] = Phase(name, mode, workers, ops, wall, cpu)
    return best


def _run(op: Callable[[], Any], n: int) -> None:
    for _ in range(n):
        op()


def _threads(factory: str, args: tuple[Any, ...], workers: int, n: int, rounds: int) -> dict[str, list[tuple[float, float]]]:
    ops: dict[str, Callable[[], Any]] = _factory(factory)(*args)
    for op in ops.values():
        _run(op, max(1, n // 10))  # warm up: connections, caches, lazy imports
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in ops}
    for _ in range(rounds):
        for name, op in ops.items():
            threads = [threading.Thread(target=_run, args=(op, n)) for _ in range(workers)]
            cpu, start = time.process_time(), time.perf_counter()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            samples[name].append((time.perf_counter() - start, time.process_time() - cpu))
    return samples


async def _tasks(factory: str, args: tuple[Any, ...], workers: int, n: int, rounds: int) -> dict[str, list[tuple[float, float]]]:
    made = _factory(factory)(*args)
    ops: dict[str, Callable[[], Any]] = await made if inspect.isawaitable(made) else made

    async def run(op: Callable[[], Any], count: int) -> None:
        for _ in range(count):
            await op()

    for op in ops.values():
        await run(op, max(1, n // 10))
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in ops}
    for _ in range(rounds):
        for name, op in ops.items():
            cpu, start = time.process_time(), time.perf_counter()
            await asyncio.gather(*(run(op, n) for _ in range(workers)))
            samples[name].append((time.perf_counter() - start, time.process_time() - cpu))
    ops.clear()  # drop the operations' async clients while their loop still runs, so they close on it
    gc.collect()
    await asyncio.sleep(0.05)
    return samples


def _child(factory: str, args: tuple[Any, ...], n: int, rounds: int, start: Any, end: Any, out: Any) -> None:
    ops: dict[str, Callable[[], Any]] = _factory(factory)(*args)
    for op in ops.values():
        _run(op, max(1, n // 10))
    out.put(sorted(ops))
    for _ in range(rounds):
        for name in sorted(ops):
            start.wait()
            cpu = time.process_time()
            _run(ops[name], n)
            cpu = time.process_time() - cpu
            end.wait()
            out.put((name, cpu))


def _processes(
    factory: str, args: tuple[Any, ...], workers: int, n: int, rounds: int
) -> dict[str, list[tuple[float, float]]]:
    ctx = multiprocessing.get_context("spawn")
    start, end, out = ctx.Barrier(workers + 1), ctx.Barrier(workers + 1), ctx.Queue()
    children = [ctx.Process(target=_child, args=(factory, args, n, rounds, start, end, out)) for _ in range(workers)]
    for child in children:
        child.start()
    try:
        ready: list[list[str]] = [out.get(timeout=300) for _ in children]  # every child built its operations
        names = ready[0]
        samples: dict[str, list[tuple[float, float]]] = {name: [] for name in names}
        for _ in range(rounds):
            for name in names:
                start.wait(timeout=300)
                began = time.perf_counter()
                end.wait(timeout=300)
                wall = time.perf_counter() - began
                cpu = sum(out.get(timeout=300)[1] for _ in children)
                samples[name].append((wall, cpu))
        return samples
    finally:
        for child in children:
            child.join(timeout=60)
            if child.is_alive():
                child.kill()
