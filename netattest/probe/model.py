"""What goes into a probe window and what comes out of it: plain data, shared by the engine, the agent and the judge.

Stdlib only: shipped into probe pods with the engine (see :func:`netattest.probe.agent.bootstrap_payload`).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Literal, NamedTuple

ProbeKind = Literal["arp", "icmp"]


class ProbeError(Exception):
    """A probe could not be set up at all (bad argument); per-socket problems are reported, not raised."""


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where probes leave from."""

    netns: str | None  # netns name under /var/run/netns (or an absolute path); None = the current namespace
    ifname: str
    ip: str  # IPv4 source address, always explicit
    mac: str  # source MAC on every frame, always explicit
    label: str = ""  # e.g. "multus-test/pod-a@node1:net1"

    def describe(self) -> str:
        return self.label or f"{self.netns or '-'}:{self.ifname}"


@dataclass(frozen=True, slots=True)  # a 200-pod matrix holds ~40,000 of each
class Probe:
    """One question put on the wire: ``arp`` who-has ``target_ip`` (broadcast, or unicast to ``target_mac``), or an
    ``icmp`` echo request to ``target_ip`` through the MAC ``target_mac``."""

    id: str
    kind: ProbeKind
    source: Endpoint
    target_ip: str
    target_mac: str | None = None  # IP kinds: required destination MAC; arp: None = broadcast who-has, else unicast
    expect_answer: bool = True  # only drives retries; the engine never decides a verdict


@dataclass(slots=True)
class Answer:
    ip: str  # who answered: ARP sender IP / IP source of the answer
    mac: str  # ARP sender hardware address (sha); for IP answers the Ethernet source
    rtt_ms: float  # from the latest send of this probe before the answer arrived
    attempt: int  # ICMP: the attempt the reply echoes; otherwise number of sends so far
    eth_src: str = ""  # Ethernet source of the answering frame (differs from ``mac`` for a proxy or a forger)


class CapturedFrame(NamedTuple):
    """A raw frame of one probe's traffic, kept only when the engine runs with ``keep_frames=True`` (pcaps)."""

    time: float  # epoch seconds
    sent: bool  # True: a frame this probe sent; False: an answer matched to it
    data: bytes  # the whole Ethernet frame


@dataclass(slots=True)
class ProbeResult:
    probe: Probe
    sent_at: float  # epoch seconds of the first send
    attempts: int
    answers: list[Answer]  # ALL distinct answers: a duplicate IP shows as two different MACs
    sent_summary: str  # human summary of the first frame sent
    sent_hex: str  # the first frame sent, hex ("" when the engine runs with records=False)
    error: str = ""  # the probe's socket could not be opened or sending failed: its outcome is unknown
    #: every frame sent and every matched answer, in time order (empty unless ``keep_frames=True``)
    frames: list[CapturedFrame] = field(default_factory=list)

    @property
    def answered(self) -> bool:
        return bool(self.answers)


@dataclass
class WindowStats:
    probes: int
    frames_sent: int
    frames_received: int  # frames read from the sockets (after the kernel filter), matched or not
    kernel_drops: int  # PACKET_STATISTICS tp_drops summed over the run's probe sockets
    duration_s: float  # the whole window: setup, then sending and listening
    socket_errors: list[str] = field(default_factory=list)
    rounds: int = 0  # send rounds actually run (1 + retries used)
    setup_s: float = 0.0  # of ``duration_s``, before the first frame left: sockets opened, frames built

    @property
    def listen_s(self) -> float:
        """From the first frame sent to the end of the window: what the probe timeout bounds."""
        return max(0.0, self.duration_s - self.setup_s)

    @property
    def trustworthy(self) -> bool:
        """False when any frame was dropped or a socket failed: such a window is *broken*, not passed."""
        return self.kernel_drops == 0 and not self.socket_errors


def parse_tpacket_stats(raw: bytes) -> tuple[int, int]:
    """Decode ``struct tpacket_stats`` (tp_packets, tp_drops); the kernel's tp_packets already includes drops."""
    if len(raw) < 8:
        raise ValueError(f"struct tpacket_stats needs 8 bytes, got {len(raw)}")
    packets, drops = struct.unpack_from("=II", raw)
    return packets, drops
