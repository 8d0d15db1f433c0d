"""What a probe window decided: one outcome per check, and the window's evidence (neighbours, listeners).

Plain data, read by the suites and every evidence writer. Verdicts follow Allure's vocabulary: *passed*, *failed*
(a network expectation does not hold) and *broken* (the evidence cannot be trusted).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from netattest.matrix import Check
from netattest.neighbours import NeighbourTable
from netattest.probe.model import Heard, ProbeResult, WindowStats

Status = Literal["passed", "failed", "broken", "skipped"]


@dataclass
class PathTried:
    """The IP probes of an isolation check through one next hop, and what came back."""

    hop_mac: str
    hop_ip: str
    hop_who: str
    sent_from: str  # label of the endpoint that sent them (a representative of the source node and VLAN)
    target_ip: str
    results: list[ProbeResult] = field(default_factory=list)

    def summary(self) -> str:
        """"icmp silent, udp silent, tcp rst from 192.168.111.21" and the like."""
        parts = []
        for r in self.results:
            if r.error:
                parts.append(f"{r.probe.kind} not sent ({r.error})")
            elif not r.answers:
                parts.append(f"{r.probe.kind} silent")
            else:
                parts.append(f"{r.probe.kind} " + ", ".join(f"{a.kind or 'answer'} from {a.ip}" for a in r.answers))
        return "; ".join(parts)


@dataclass
class ListenerReport:
    """One target-side listener: where it listened and whether a canary proved it could hear."""

    id: str
    network: str
    label: str
    proven: bool
    why: str = ""  # why it is not proven ("" when proven)


@dataclass
class Outcome:
    check: Check
    status: Status
    reason: str
    results: list[ProbeResult] = field(default_factory=list)
    twin: ProbeResult | None = None
    target_ip: str | None = None
    expected_mac: str | None = None
    #: isolation across VLANs: the next hops tried, the frames heard where they must not arrive, the L3 twins
    paths: list[PathTried] = field(default_factory=list)
    heard: list[str] = field(default_factory=list)
    l3_twins: list[ProbeResult] = field(default_factory=list)


@dataclass
class MatrixRun:
    outcomes: dict[str, Outcome]
    stats: WindowStats
    results: list[ProbeResult]
    #: (pod key, iface) -> MACs seen on the wire in ARP answers for that pod interface's address
    wire_macs: dict[tuple[str, str], set[str]]
    #: per source VLAN of an isolation expectation: who is there (neighbour discovery)
    neighbours: dict[str, NeighbourTable] = field(default_factory=dict)
    #: the discovery window (sweep) and its probes
    sweep_stats: WindowStats | None = None
    sweep_results: list[ProbeResult] = field(default_factory=list)
    listeners: list[ListenerReport] = field(default_factory=list)
    heard: list[Heard] = field(default_factory=list)
    #: marked frames heard on their own source VLAN (every listener there hears its broadcasts): counted only
    heard_on_own_network: int = 0
    #: what the window found beside the verdicts (ARP flux inside a pod), as records: network, ip, mac, who, how
    findings: list[dict[str, str]] = field(default_factory=list)
    #: networks whose census fails on a neighbour the topology does not declare (``unknownNeighbours: fail``)
    strict_neighbours: dict[str, bool] = field(default_factory=dict)
