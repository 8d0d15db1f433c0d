"""What goes into a probe window and what comes out of it: plain data, shared by the engine, the agent and the judge.

Stdlib only: shipped into probe pods with the engine (see :func:`netattest.probe.agent.bootstrap_payload`).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Literal, NamedTuple

ProbeKind = Literal["arp", "icmp", "udp", "tcp"]
UDP_PORT = 33434  # traceroute's first port: closed almost everywhere, so a live host answers ICMP port unreachable
TCP_PORT = 9  # discard: closed almost everywhere, so a live host answers RST (an open one answers SYN-ACK)
#: IP probes (everything but ARP): sent to an explicit next-hop MAC, answered at L3
IP_KINDS: tuple[ProbeKind, ...] = ("icmp", "udp", "tcp")


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
    """One question put on the wire.

    ``arp``: who-has ``target_ip`` (broadcast, or unicast to ``target_mac``). ``icmp``/``udp``/``tcp``: an echo
    request, a datagram to a closed port, a SYN, sent to ``target_ip`` through the MAC ``target_mac`` (the target
    itself, or a next hop that might forward it). ``mark``: non-zero on probes that must never arrive anywhere else
    (isolation): the frame then carries it, so a listener on another network recognises it even after NAT.
    """

    id: str
    kind: ProbeKind
    source: Endpoint
    target_ip: str
    target_mac: str | None = None  # IP kinds: required destination MAC; arp: None = broadcast who-has, else unicast
    expect_answer: bool = True  # only drives retries; the engine never decides a verdict
    mark: int = 0  # 64 bits: window token (high 32) and probe key (low 32); 0 = unmarked


@dataclass(slots=True)
class Answer:
    ip: str  # who answered: ARP sender IP / IP source of the answer
    mac: str  # ARP sender hardware address (sha); for IP answers the Ethernet source
    rtt_ms: float  # from the latest send of this probe before the answer arrived
    attempt: int  # ICMP: the attempt the reply echoes; otherwise number of sends so far
    eth_src: str = ""  # Ethernet source of the answering frame (differs from ``mac`` for a proxy or a forger)
    #: what came back: arp-reply, echo-reply, syn-ack, rst, or icmp-error <type>/<code> (port unreachable is 3/3)
    kind: str = ""
    ttl: int = 0  # IP TTL of the answer (0 for ARP): a reply that crossed a router arrives one lower


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
    sent_summary: str = ""  # human summary of the first frame sent (as received from an agent)
    sent_hex: str = ""  # the first frame sent, hex (as received from an agent)
    error: str = ""  # the probe's socket could not be opened or sending failed: its outcome is unknown
    #: every frame sent and every matched answer, in time order (empty unless ``keep_frames=True``)
    frames: list[CapturedFrame] = field(default_factory=list)
    #: the first frame sent, as the engine keeps it (b"" when it runs with records=False)
    sent_frame: bytes = b""

    @property
    def answered(self) -> bool:
        return bool(self.answers)

    def summary(self) -> str:
        """What was sent, for people: the text an agent sent, or built from the probe when the frame was kept
        (not before anyone asks: a window of 40,000 probes need not format 40,000 lines nobody reads)."""
        return self.sent_summary or (probe_summary(self.probe) if self.sent_frame else "")

    def frame_hex(self) -> str:
        """The first frame sent, hex."""
        return self.sent_hex or self.sent_frame.hex()


@dataclass(frozen=True, slots=True)
class Listener:
    """A socket that only listens, opened for a window in a namespace the harness can reach.

    ``marks``: report frames that carry an isolation mark (a probe of this run arriving where it must not) and ARP
    requests for ``watch_ips`` (addresses nobody holds: whoever asks for them is forwarding a probe). ``passive``:
    report the source of every frame heard (neighbour discovery: gratuitous ARP, chatty routers).
    """

    id: str
    netns: str | None
    ifname: str
    mode: Literal["marks", "passive"] = "marks"
    watch_ips: tuple[str, ...] = ()
    label: str = ""
    #: (MAC, IPv4) of the harness's own pod interfaces on this listener's segment: a marked frame they sent, heard
    #: here, is this segment's own traffic (every marked who-has of a source VLAN reaches every listener on it),
    #: counted instead of kept. A frame that crossed from another segment carries another sender (an L2 leak keeps
    #: the foreign interface's pair, a router its own MAC and, with NAT, its own address; routers are never in
    #: this list), so nothing that is evidence matches.
    own_senders: tuple[tuple[str, str], ...] = ()
    #: marks kept even from an own sender: the canaries that prove this listener hears
    keep_marks: tuple[int, ...] = ()


@dataclass(slots=True)
class Heard:
    """One thing a listener heard: a marked frame, an ARP request for a watched address, or (passive) a source."""

    listener: str  # Listener.id
    time: float  # epoch seconds of the first sighting
    what: Literal["marked", "watched-arp", "source", "own-network"]  # own-network: one count per listener
    eth_src: str
    eth_dst: str = ""
    ip_src: str = ""
    ip_dst: str = ""
    proto: str = ""  # arp, icmp, udp, tcp, ip
    mark: int = 0
    outgoing: bool = False  # the listener's own interface sent it (e.g. a canary of its own namespace)
    count: int = 1


@dataclass
class WindowStats:
    probes: int
    frames_sent: int
    frames_received: int  # frames read from the sockets (after the kernel filter), matched or not
    kernel_drops: int  # PACKET_STATISTICS tp_drops summed over the run's probe sockets
    duration_s: float  # the whole window: setup, then sending and listening
    socket_errors: list[str] = field(default_factory=list)
    rounds: int = 0  # send rounds actually run (1 + retries used)
    #: what the window's listeners heard (empty without listeners)
    heard: list[Heard] = field(default_factory=list)
    #: listener id -> "" when it listened the whole window, else why it could not (not opened, errors, drops)
    listening: dict[str, str] = field(default_factory=dict)
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


_SUMMARY_TAILS: dict[tuple[object, ...], str] = {}


def probe_summary(p: Probe) -> str:
    """One line a network engineer reads in the transcript: what was sent, from where, to which MAC."""
    src = p.source
    key = (src, p.kind, p.target_mac, bool(p.mark))
    tail = _SUMMARY_TAILS.get(key)
    if tail is None:  # the part shared by every probe of one endpoint, kind and next hop: built once
        if p.kind == "arp":
            how = "broadcast" if p.target_mac is None else f"unicast to {p.target_mac}"
            tail = f" tell {src.ip} ({how}, src {src.mac}, from {src.describe()}"
        else:
            tail = f" (src {src.mac} dst {p.target_mac}, from {src.describe()}"
        if len(_SUMMARY_TAILS) > 100_000:
            _SUMMARY_TAILS.clear()
        _SUMMARY_TAILS[key] = tail
    mark = f", mark {p.mark:016x})" if p.mark else ")"
    if p.kind == "arp":
        return f"ARP who-has {p.target_ip}{tail}{mark}"
    what = {"icmp": "ICMP echo-request", "udp": f"UDP to port {UDP_PORT}", "tcp": f"TCP SYN to port {TCP_PORT}"}
    return f"{what.get(p.kind, p.kind)} {src.ip} > {p.target_ip}{tail}{mark}"
