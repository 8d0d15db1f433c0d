"""Probe engine: batched ARP/ICMP probes over AF_PACKET sockets held in many network namespaces.

``engine`` is self-contained (stdlib + scapy) so it can be shipped into probe pods; ``iface`` uses pyroute2.
"""

from __future__ import annotations

from typing import Any

from .engine import (
    Answer,
    Endpoint,
    Probe,
    ProbeEngine,
    ProbeError,
    ProbeResult,
    WindowStats,
    in_netns,
    parse_tpacket_stats,
)

__all__ = [
    "Answer",
    "Endpoint",
    "Probe",
    "ProbeEngine",
    "ProbeError",
    "ProbeResult",
    "WindowStats",
    "in_netns",
    "parse_tpacket_stats",
    "read_interface",
]


def __getattr__(name: str) -> Any:  # keep pyroute2 out of the import path until it is needed
    if name == "read_interface":
        from .iface import read_interface

        return read_interface
    raise AttributeError(name)
