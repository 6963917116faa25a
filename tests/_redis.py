"""Where the tests find a real Redis: ``GUARDFN_TEST_REDIS`` (default ``redis://127.0.0.1:6379``).

Each test module uses its own database number on that server, so a second checkout can
run the suite at the same time against another server (``redis-server --port 6390`` and
``GUARDFN_TEST_REDIS=redis://127.0.0.1:6390``) without the two sharing counters.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

REDIS_BASE = os.environ.get("GUARDFN_TEST_REDIS", "redis://127.0.0.1:6379").rstrip("/")


def redis_url(db: int) -> str:
    """The URL of database ``db`` on the test Redis server."""
    return f"{REDIS_BASE}/{db}"


CLUSTER_NODES = 3


def _free_port_pair() -> int:
    """A port p such that p and its cluster bus port p + 10000 are both free on 127.0.0.1."""
    import random
    import socket

    for _ in range(200):
        port = random.randint(20000, 29999)
        try:
            with socket.socket() as a, socket.socket() as b:
                a.bind(("127.0.0.1", port))
                b.bind(("127.0.0.1", port + 10000))
        except OSError:
            continue
        return port
    raise RuntimeError("no free port pair for a Redis Cluster node")


class LocalCluster:
    """A real Redis Cluster of :data:`CLUSTER_NODES` primaries on 127.0.0.1, in a temporary directory.

    Started with ``redis-server --cluster-enabled yes`` per node and joined with
    ``redis-cli --cluster create``; :meth:`stop` terminates the servers it started.
    """

    def __init__(self) -> None:
        import subprocess
        import tempfile

        self.dir = tempfile.mkdtemp(prefix="guardfn-cluster-")
        self.ports: list[int] = []
        self.processes: list[subprocess.Popen[bytes]] = []

    @property
    def url(self) -> str:
        """The store URL guardfn takes (one seed node; the client discovers the others)."""
        return f"redis+cluster://127.0.0.1:{self.ports[0]}"

    def start(self) -> LocalCluster:
        """Start the nodes, create the cluster and wait until every node reports ``cluster_state:ok``."""
        import subprocess
        import time

        for _ in range(CLUSTER_NODES):
            port = _free_port_pair()
            self.ports.append(port)
            self.processes.append(
                subprocess.Popen(
                    ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--cluster-enabled", "yes",
                     "--cluster-config-file", f"nodes-{port}.conf", "--cluster-node-timeout", "5000",
                     "--dir", self.dir, "--save", "", "--appendonly", "no"],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )  # fmt: skip
        for port in self.ports:
            self._wait(lambda port=port: self._cli(port, "ping") == "PONG")
        subprocess.run(
            ["redis-cli", "--cluster", "create", *(f"127.0.0.1:{p}" for p in self.ports),
             "--cluster-replicas", "0", "--cluster-yes"],
            check=True, capture_output=True, timeout=60,
        )  # fmt: skip
        for port in self.ports:
            self._wait(lambda port=port: "cluster_state:ok" in self._cli(port, "cluster", "info"))
        time.sleep(0.2)
        return self

    @staticmethod
    def _cli(port: int, *args: str) -> str:
        import subprocess

        done = subprocess.run(["redis-cli", "-p", str(port), *args], capture_output=True, text=True, timeout=10)
        return done.stdout.strip()

    @staticmethod
    def _wait(ready: Callable[[], bool], timeout: float = 30.0) -> None:
        import time

        deadline = time.monotonic() + timeout
        while not ready():
            if time.monotonic() > deadline:
                raise RuntimeError("the Redis Cluster did not come up")
            time.sleep(0.05)

    def stop(self) -> None:
        """Terminate the nodes and remove their directory."""
        import shutil

        for process in self.processes:
            process.terminate()
        for process in self.processes:
            process.wait(timeout=30)
        shutil.rmtree(self.dir, ignore_errors=True)


def cluster_tools_missing() -> str | None:
    """Why a local Redis Cluster cannot be started here (``None`` when it can)."""
    import shutil

    missing = [tool for tool in ("redis-server", "redis-cli") if shutil.which(tool) is None]
    if missing:
        return f"{' and '.join(missing)} not installed (apt-get install redis-server); .ci/run installs them"
    return None


class LocalServer:
    """A throwaway ``redis-server`` on a free local port with extra options (``--requirepass``, ...)."""

    def __init__(self, *options: str) -> None:
        self.options = options
        self.port = 0
        self.process: Any = None

    def __enter__(self) -> LocalServer:
        import subprocess
        import tempfile

        self.port = _free_port_pair()
        self.dir = tempfile.mkdtemp(prefix="guardfn-redis-")
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.dir, "--save", "",
             "--appendonly", "no", *self.options],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        LocalCluster._wait(lambda: "PONG" in LocalCluster._cli(self.port, "ping") or "NOAUTH" in
                           LocalCluster._cli(self.port, "ping"))  # fmt: skip
        return self

    def __exit__(self, *exc: object) -> None:
        import shutil

        self.process.terminate()
        self.process.wait(timeout=30)
        shutil.rmtree(self.dir, ignore_errors=True)
