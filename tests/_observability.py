"""Helpers for the observability tests: a real DogStatsD listener on a loopback UDP socket."""

from __future__ import annotations

import socket
from dataclasses import dataclass, field


@dataclass
class Metric:
    """One DogStatsD line: ``name:value|type|#tag,tag``."""

    name: str
    value: float
    type: str
    tags: dict[str, str] = field(default_factory=dict)
    raw: str = ""


def parse_line(line: str) -> Metric:
    """Parse one DogStatsD metric line (the protocol the agent reads)."""
    head, *sections = line.split("|")
    name, _, value = head.partition(":")
    tags: dict[str, str] = {}
    kind = sections[0]
    for section in sections[1:]:
        if section.startswith("#"):
            for item in section[1:].split(","):
                key, _, val = item.partition(":")
                tags[key] = val
    return Metric(name, float(value), kind, tags, line)


class DogStatsDListener:
    """A UDP socket on 127.0.0.1 that collects every datagram the client sends."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.datagrams: list[str] = []

    def collect(self, quiet: float = 0.15) -> list[Metric]:
        """Flush guardfn's client, read until the socket is quiet, and parse every ``llm.*`` line."""
        from guardfn.observability import metrics

        assert metrics.flush(5.0)
        self.sock.settimeout(quiet)
        while True:
            try:
                data = self.sock.recv(65535)
            except TimeoutError:
                break
            self.datagrams.append(data.decode("utf-8"))
        lines = [line for d in self.datagrams for line in d.split("\n") if line]
        return [parse_line(line) for line in lines if line.startswith("llm.")]

    def close(self) -> None:
        """Close the socket."""
        self.sock.close()


def total(metrics: list[Metric], name: str, **tags: str) -> float:
    """Sum of ``name`` over the lines whose tags include ``tags``."""
    return sum(m.value for m in metrics if m.name == name and all(m.tags.get(k) == v for k, v in tags.items()))
