"""Batched ARP/ICMP probe engine over AF_PACKET sockets held in many network namespaces.

Self-contained on purpose: this module depends only on the Python standard library and scapy, because it is also
shipped into probe pods and driven over a line protocol. Keep ``netattest`` imports out of it.

How a run works (see ``ProbeEngine.run``):

* one AF_PACKET socket per (netns, ifname), opened inside that namespace and kept afterwards (a packet socket stays
  bound to the namespace it was opened in), reused across runs while the namespace and interface still exist;
* every frame carries the endpoint's explicit source MAC and IPv4 address (scapy would fill 00:00:00:00:00:00 for an
  unrouted address and the bridge would drop it, making an isolation check pass for the wrong reason);
* frames are built once per endpoint with scapy and then patched per target (ARP target IP; ICMP destination,
  id/seq and checksums), so ten thousand probes cost microseconds each;
* all probes are sent first (those that must stay silent first), then answers are collected in ONE window for all
  sockets, which gives every probe at least ``timeout`` after its own send and closes as soon as every expected answer
  is in and the last silent probe's timeout has run out; only probes that expect an answer and got none are resent,
  in up to ``retries`` shorter rounds. The engine never decides a verdict;
* a window whose sockets dropped frames (PACKET_STATISTICS) or reported errors is not trustworthy: it is *broken*,
  never *passed*.

Linux only; needs CAP_NET_RAW, and CAP_SYS_ADMIN to enter other namespaces.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import select
import socket
import struct
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Literal, NamedTuple

__all__ = [
    "Answer",
    "CapturedFrame",
    "Endpoint",
    "Probe",
    "ProbeEngine",
    "ProbeError",
    "ProbeResult",
    "WindowStats",
    "in_netns",
    "netns_path",
    "parse_tpacket_stats",
]

# --- Linux constants ------------------------------------------------------------------------------------------------
CLONE_NEWNET = 0x40000000
ETH_P_ALL = 0x0003
SOL_PACKET = 263
PACKET_STATISTICS = 6
PACKET_IGNORE_OUTGOING = 23
SO_RCVBUFFORCE = 33
SO_ATTACH_FILTER = 26
PACKET_HOST, PACKET_BROADCAST, PACKET_MULTICAST, PACKET_OTHERHOST, PACKET_OUTGOING = 0, 1, 2, 3, 4
NETNS_RUN_DIR = "/var/run/netns"

_ETH_ARP = b"\x08\x06"
_ETH_IP = b"\x08\x00"
_ARP_REPLY_HDR = b"\x00\x01\x08\x00\x06\x04\x00\x02"  # htype 1, ptype IPv4, hlen 6, plen 4, op 2 (is-at)
_BCAST = b"\xff" * 6
_ZERO_MAC = b"\x00" * 6
_ICMP_MAGIC = b"NETATTEST"
_ICMP_PAYLOAD_LEN = 24  # 2 bytes attempt + magic + padding: frame is 66 bytes, above the 60-byte Ethernet minimum
_DRAIN_EVERY = 64  # sends between two non-blocking drains, so a burst of answers never outgrows the buffer


class ProbeError(Exception):
    """A probe could not be set up at all (bad argument); per-socket problems are reported, not raised."""


# --- public data model -------------------------------------------------------------------------------------------------
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
    id: str
    kind: Literal["arp", "icmp"]
    source: Endpoint
    target_ip: str
    target_mac: str | None = None  # icmp: required destination MAC; arp: None = broadcast who-has, else unicast
    expect_answer: bool = True  # only drives retries; the engine never decides a verdict


@dataclass(slots=True)
class Answer:
    ip: str  # who answered: ARP sender IP / IP source of the echo reply
    mac: str  # ARP sender hardware address (sha); for ICMP the Ethernet source
    rtt_ms: float  # from the latest send of this probe before the answer arrived
    attempt: int  # ICMP: the attempt the reply echoes; ARP: number of sends so far
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
    kernel_drops: int  # PACKET_STATISTICS tp_drops summed over the run's sockets
    duration_s: float
    socket_errors: list[str] = field(default_factory=list)
    rounds: int = 0  # send rounds actually run (1 + retries used)

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


# --- network namespaces ------------------------------------------------------------------------------------------------
_libc: ctypes.CDLL | None = None


def _setns(fd: int) -> None:
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"setns: {os.strerror(err)}")


def netns_path(netns: str) -> str:
    """Path of a named namespace; an absolute path (e.g. CNI_NETNS, /proc/<pid>/ns/net) is taken as is."""
    if netns.startswith("/"):
        return netns
    if not netns or "/" in netns or netns in (".", ".."):
        raise ProbeError(f"invalid netns name {netns!r}")
    return os.path.join(NETNS_RUN_DIR, netns)


@contextlib.contextmanager
def in_netns(netns: str | None) -> Iterator[None]:
    """Run the block with the calling thread inside network namespace ``netns`` (None: stay where we are).

    Only *opens* an existing namespace file: a wrong name raises FileNotFoundError and never creates anything.
    The original namespace is always restored; failing to restore it is fatal for the process and raises.
    """
    if netns is None:
        yield
        return
    target = os.open(netns_path(netns), os.O_RDONLY | os.O_CLOEXEC)
    try:
        orig = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        try:
            _setns(target)  # EINVAL if the file is not a network namespace
            try:
                yield
            finally:
                try:
                    _setns(orig)
                except OSError as exc:  # pragma: no cover - would leave the thread in a foreign namespace
                    raise RuntimeError(f"could not return to the original network namespace: {exc}") from exc
        finally:
            os.close(orig)
    finally:
        os.close(target)


def _netns_identity(netns: str | None) -> tuple[int, int]:
    st = os.stat(netns_path(netns) if netns is not None else "/proc/thread-self/ns/net")
    return st.st_dev, st.st_ino


# --- small byte helpers --------------------------------------------------------------------------------------------------
def _mac_bytes(mac: str) -> bytes:
    try:
        raw = bytes.fromhex(mac.replace(":", "").replace("-", ""))
    except ValueError:
        raw = b""
    if len(raw) != 6:
        raise ProbeError(f"invalid MAC address {mac!r}")
    return raw


def _ip_bytes(ip: str) -> bytes:
    try:
        return socket.inet_aton(ip) if ip.count(".") == 3 else socket.inet_pton(socket.AF_INET, ip)
    except OSError:
        raise ProbeError(f"invalid IPv4 address {ip!r}") from None


def _mac_str(raw: bytes) -> str:
    return raw.hex(":")


def _fold(s: int) -> int:
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def _sum16(data: bytes) -> int:
    if len(data) % 2:
        data += b"\x00"
    return sum(struct.unpack(f"!{len(data) // 2}H", data))


def _bpf_program() -> bytes:
    """Classic BPF: keep only ARP replies and ICMP echo replies that this host did not send and that are addressed
    to it — the only frames the engine matches.

    Frames for another MAC (PACKET_OTHERHOST) are dropped too: the pod's own kernel would not see them either.
    Dropping ARP *requests* matters at scale: every broadcast who-has of a VLAN lands on every probe socket of that
    VLAN (about 50 frames read per probe sent in a 200-pod lab, 1.24 million per window, before this filter).
    """
    ld_w_abs, ld_h_abs, ld_b_abs, jeq_k, ret_k, ldx_msh, ld_b_ind = 0x20, 0x28, 0x30, 0x15, 0x06, 0xB1, 0x50
    accept, drop = 13, 14

    def jeq(pc: int, k: int, jt: int, jf: int) -> tuple[int, int, int, int]:
        return (jeq_k, jt - pc - 1, jf - pc - 1, k)

    insns = [
        (ld_w_abs, 0, 0, 0xFFFFF000 + 4),  # 0: A = pkttype (SKF_AD_OFF + SKF_AD_PKTTYPE)
        jeq(1, PACKET_OUTGOING, drop, 2),  # 1
        jeq(2, PACKET_OTHERHOST, drop, 3),  # 2
        (ld_h_abs, 0, 0, 12),  # 3: A = ethertype
        jeq(4, 0x0806, 5, 7),  # 4: ARP ...
        (ld_h_abs, 0, 0, 20),  # 5: A = ARP opcode
        jeq(6, 2, accept, drop),  # 6: ... replies only
        jeq(7, 0x0800, 8, drop),  # 7: IPv4 ...
        (ld_b_abs, 0, 0, 23),  # 8: A = IP protocol
        jeq(9, 1, 10, drop),  # 9: ... carrying ICMP
        (ldx_msh, 0, 0, 14),  # 10: X = IP header length
        (ld_b_ind, 0, 0, 14),  # 11: A = ICMP type
        jeq(12, 0, accept, drop),  # 12: echo replies only
        (ret_k, 0, 0, 0xFFFF),  # 13: accept
        (ret_k, 0, 0, 0),  # 14: drop
    ]
    return b"".join(struct.pack("=HBBI", *insn) for insn in insns)


_BPF_CODE = _bpf_program()


def _attach_bpf(sock: socket.socket) -> None:
    buf = ctypes.create_string_buffer(_BPF_CODE)
    fprog = struct.pack("HP", len(_BPF_CODE) // 8, ctypes.addressof(buf))
    sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)


# --- frame templates --------------------------------------------------------------------------------------------------
@dataclass
class _Template:
    """Per-endpoint frames built once with scapy; per-probe frames are patched copies."""

    arp: bytes
    icmp: bytes
    icmp_ip_sum: int  # one's complement sum of the IP header with dst 0.0.0.0 and checksum 0
    icmp_sum: int  # sum of the ICMP message with checksum, id, seq and attempt zero


_BASE_FRAMES: tuple[bytes, bytes] | None = None


def _base_frames() -> tuple[bytes, bytes]:
    """The ARP and ICMP frames, built once with scapy for a blank source; endpoints patch in their MAC and IP
    (building per endpoint with scapy cost ~3 ms each: 0.6 s for a 200-pod matrix)."""
    global _BASE_FRAMES
    if _BASE_FRAMES is None:
        from scapy.layers.inet import ICMP, IP
        from scapy.layers.l2 import ARP, Ether

        blank_mac, blank_ip = "00:00:00:00:00:00", "0.0.0.0"
        arp = bytes(
            Ether(src=blank_mac, dst="ff:ff:ff:ff:ff:ff", type=0x0806)
            / ARP(op=1, hwsrc=blank_mac, psrc=blank_ip, hwdst="00:00:00:00:00:00", pdst="0.0.0.0")
        )
        payload = b"\x00\x00" + _ICMP_MAGIC + b"\x00" * (_ICMP_PAYLOAD_LEN - 2 - len(_ICMP_MAGIC))
        icmp = bytes(
            Ether(src=blank_mac, dst="00:00:00:00:00:00", type=0x0800)
            / IP(src=blank_ip, dst="0.0.0.0", ttl=64, id=0, flags="DF")
            / ICMP(type=8, code=0, id=0, seq=0)
            / payload
        )
        if len(arp) != 42 or len(icmp) != 14 + 20 + 8 + _ICMP_PAYLOAD_LEN:
            raise ProbeError("unexpected template layout from scapy")
        _BASE_FRAMES = (arp, icmp)
    return _BASE_FRAMES


def _build_template(ep: Endpoint) -> _Template:
    mac, ip = _mac_bytes(ep.mac), _ip_bytes(ep.ip)
    base_arp, base_icmp = _base_frames()
    arp = base_arp[:6] + mac + base_arp[12:22] + mac + ip + base_arp[32:]  # Ether src, ARP sha + spa
    icmp = base_icmp[:6] + mac + base_icmp[12:26] + ip + base_icmp[30:]  # Ether src, IP src
    ip_hdr = icmp[14:24] + b"\x00\x00" + icmp[26:30] + b"\x00\x00\x00\x00"
    icmp_msg = icmp[34:36] + b"\x00" * 8 + icmp[44:]  # type/code; checksum, id, seq and attempt zero
    return _Template(arp=arp, icmp=icmp, icmp_ip_sum=_sum16(ip_hdr), icmp_sum=_sum16(icmp_msg))


# --- sockets --------------------------------------------------------------------------------------------------------------
class _Sock:
    __slots__ = ("arp_table", "broken", "failed_sends", "fd", "identity", "key", "sock")

    def __init__(self, key: tuple[str | None, str], sock: socket.socket, identity: tuple[int, int]) -> None:
        self.key = key
        self.sock = sock
        self.fd = sock.fileno()
        self.identity = identity
        self.broken = ""
        self.failed_sends = 0
        # per-run matching table: ARP reply bytes 28:42 (sender IP, target MAC, target IP) -> probe indices
        self.arp_table: dict[bytes, list[int]] = {}

    def name(self) -> str:
        netns, ifname = self.key
        return f"{netns or '-'}:{ifname}"

    def still_valid(self) -> bool:
        try:
            if _netns_identity(self.key[0]) != self.identity:
                return False  # the namespace was deleted and recreated under the same name
            return bool(self.sock.getsockname()[0] == self.key[1])  # the interface was deleted or recreated
        except OSError:
            return False


# --- engine -------------------------------------------------------------------------------------------------------------
class ProbeEngine:
    """Send batches of ARP/ICMP probes from many namespaces and collect all answers in one window.

    ``timeout``: how long every probe of the first round is listened to after its own send (the window ends at the
    latest one timeout after the last frame is sent); retry rounds use ``retry_timeout`` (default ``timeout / 2``).
    ``settle``: once every probe that expects an answer has one, keep listening this long for late duplicates (and
    at least until the last silent probe's timeout has run out), then stop early. ``records=False`` skips the per-probe hex/summary strings (results and answers are still returned). ``keep_frames=True`` keeps the
    raw bytes of every frame sent and every matched answer (up to ``MAX_KEPT_FRAMES`` per probe) in
    ``ProbeResult.frames``, for pcaps; off by default, and when off it costs one boolean test per frame.
    """

    def __init__(
        self,
        timeout: float = 1.0,
        retries: int = 2,
        rcvbuf: int = 8 << 20,
        *,
        retry_timeout: float | None = None,
        settle: float = 0.05,
        records: bool = True,
        bpf: bool = True,
        keep_frames: bool = False,
    ) -> None:
        if timeout <= 0 or retries < 0 or rcvbuf <= 0:
            raise ProbeError("timeout must be > 0, retries >= 0, rcvbuf > 0")
        self.timeout = float(timeout)
        self.retries = int(retries)
        self.rcvbuf = int(rcvbuf)
        self.retry_timeout = float(retry_timeout) if retry_timeout is not None else self.timeout / 2
        self.settle = float(settle)
        self.records = records
        self.keep_frames = keep_frames
        self.bpf = bpf
        self._socks: dict[tuple[str | None, str], _Sock] = {}
        self._templates: dict[tuple[str, str], _Template] = {}
        self._icmp_counter = int.from_bytes(os.urandom(4), "big")

    # context manager ------------------------------------------------------------------------------------------------
    def __enter__(self) -> ProbeEngine:  # noqa: PYI034 - stays importable on Python < 3.11 (probe pods)
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close every socket. Each close waits for an RCU grace period (~15 ms): done in parallel threads."""
        socks = [s.sock for s in self._socks.values()]
        self._socks.clear()

        def _close(sock: socket.socket) -> None:
            with contextlib.suppress(OSError):
                sock.close()

        if len(socks) <= 2:
            for sock in socks:
                _close(sock)
            return
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=min(32, len(socks))) as pool:
            list(pool.map(_close, socks))

    def release(self, netns: str | None, ifname: str | None = None) -> int:
        """Close the sockets held in ``netns`` (only ``ifname`` if given); returns how many were closed.

        A packet socket keeps its namespace alive: release (or close) before deleting a namespace, or its
        interfaces (veth peers included) outlive ``ip netns del``.
        """
        keys = [k for k in self._socks if k[0] == netns and (ifname is None or k[1] == ifname)]
        for k in keys:
            with contextlib.suppress(OSError):
                self._socks.pop(k).sock.close()
        return len(keys)

    def sockets(self) -> list[tuple[str | None, str]]:
        """The (netns, ifname) pairs this engine currently holds a socket for."""
        return list(self._socks)

    # sockets ----------------------------------------------------------------------------------------------------------
    def _open(self, key: tuple[str | None, str]) -> _Sock:
        netns, ifname = key
        sock: socket.socket | None = None
        try:
            identity = _netns_identity(netns)
            with in_netns(netns):
                # protocol 0 at creation, ETH_P_ALL at bind: re-binding a socket created with a protocol waits for an
                # RCU grace period (~20 ms per socket); this way opening is free and nothing arrives before bind
                sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
            # receive buffer: SO_RCVBUFFORCE ignores net.core.rmem_max (needs CAP_NET_ADMIN), else SO_RCVBUF
            try:
                sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, self.rcvbuf)
            except OSError:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self.rcvbuf)
            with contextlib.suppress(OSError):
                sock.setsockopt(SOL_PACKET, PACKET_IGNORE_OUTGOING, 1)
            if self.bpf:
                with contextlib.suppress(OSError):
                    _attach_bpf(sock)
            sock.setblocking(False)
            try:
                sock.bind((ifname, ETH_P_ALL))  # resolved in the socket's own namespace
            except OSError as exc:
                if exc.errno == errno.ENODEV:
                    raise OSError(exc.errno, f"no interface {ifname!r} in netns {netns or '(current)'}") from None
                raise
            return _Sock(key, sock, identity)
        except FileNotFoundError:
            if sock is not None:
                sock.close()
            raise OSError(errno.ENOENT, f"netns {netns!r} not found ({netns_path(netns or '')})") from None
        except BaseException:
            if sock is not None:
                sock.close()
            raise

    def _socket_for(self, key: tuple[str | None, str]) -> _Sock:
        s = self._socks.get(key)
        if s is not None and s.still_valid():
            return s
        if s is not None:
            with contextlib.suppress(OSError):
                s.sock.close()
            del self._socks[key]
        s = self._open(key)
        self._socks[key] = s
        return s

    def _template(self, ep: Endpoint) -> _Template:
        k = (ep.mac.lower(), ep.ip)
        t = self._templates.get(k)
        if t is None:
            t = self._templates[k] = _build_template(ep)
        return t

    # the run ----------------------------------------------------------------------------------------------------------
    def run(self, probes: Sequence[Probe]) -> tuple[list[ProbeResult], WindowStats]:
        t_start = time.perf_counter()
        epoch0 = time.time() - t_start
        n = len(probes)
        errors: list[str] = []

        # 1. sockets, one per (netns, ifname); a failure marks that socket's probes, not the whole run
        socks: dict[tuple[str | None, str], _Sock] = {}
        failed: dict[tuple[str | None, str], str] = {}
        for p in probes:
            key = (p.source.netns, p.source.ifname)
            if key in socks or key in failed:
                continue
            try:
                socks[key] = self._socket_for(key)
            except OSError as exc:
                msg = f"{key[0] or '-'}:{key[1]}: cannot open packet socket: {exc.strerror or exc}"
                failed[key] = msg
                errors.append(msg)
        sock_list = list(socks.values())
        for s in sock_list:
            s.arp_table = {}
            s.broken = ""
            s.failed_sends = 0

        # 2. frames and matching tables
        frames: list[bytes] = [b""] * n
        sock_of: list[_Sock | None] = [None] * n
        icmp_keys: dict[int, int] = {}  # (id << 16 | seq) -> probe index
        icmp_key_of: list[int] = [0] * n
        src_ip_of: list[bytes] = [b""] * n
        first_frames: list[bytes] = [b""] * n
        results: list[ProbeResult] = []
        perr: list[str] = [""] * n
        for i, p in enumerate(probes):
            key = (p.source.netns, p.source.ifname)
            ps = socks.get(key)
            if ps is None:
                perr[i] = failed[key]
                continue
            sock_of[i] = ps
            tmpl = self._template(p.source)
            tip = _ip_bytes(p.target_ip)
            sip = tmpl.arp[28:32]
            if p.kind == "arp":
                if p.target_mac is None:
                    frame = tmpl.arp[:38] + tip
                else:
                    dst = _mac_bytes(p.target_mac)
                    frame = dst + tmpl.arp[6:32] + dst + tip
                ps.arp_table.setdefault(tip + tmpl.arp[6:12] + sip, []).append(i)
            elif p.kind == "icmp":
                if p.target_mac is None:
                    raise ProbeError(f"probe {p.id!r}: ICMP needs target_mac (the engine never resolves it)")
                self._icmp_counter = (self._icmp_counter + 1) & 0xFFFFFFFF
                icmp_key = self._icmp_counter
                icmp_keys[icmp_key] = i
                icmp_key_of[i] = icmp_key
                frame = self._icmp_frame(tmpl, _mac_bytes(p.target_mac), tip, icmp_key, 1)
            else:
                raise ProbeError(f"probe {p.id!r}: unknown kind {p.kind!r}")
            frames[i] = frame
            src_ip_of[i] = sip

        # 3. flush stale frames and reset the drop counters
        for s in sock_list:
            self._flush(s)
            with contextlib.suppress(OSError):
                s.sock.getsockopt(SOL_PACKET, PACKET_STATISTICS, 8)

        state = _RunState(probes, sock_of, src_ip_of, icmp_keys, frames, errors)
        keep = self.keep_frames
        if keep:
            state.kept = [[] for _ in range(n)]
            state.epoch0 = epoch0
        kept = state.kept if state.kept is not None else []  # empty and unused unless keep_frames
        attempts, last_sent, answers, counters = state.attempts, state.last_sent, state.answers, state.counters
        first_sent = [0.0] * n

        poller = select.poll()
        by_fd: dict[int, _Sock] = {}
        for s in sock_list:
            poller.register(s.fd, select.POLLIN | select.POLLERR)
            by_fd[s.fd] = s

        pending = _send_order(probes, [i for i in range(n) if sock_of[i] is not None])
        rounds = 0
        for round_no in range(1, self.retries + 2):
            if not pending:
                break
            rounds = round_no
            last_silent_send = 0.0
            if round_no > 1:  # rebuild ICMP frames so the reply tells which attempt it answers
                for i in pending:
                    if probes[i].kind == "icmp":
                        p = probes[i]
                        frames[i] = self._icmp_frame(
                            self._template(p.source), _mac_bytes(p.target_mac or ""), _ip_bytes(p.target_ip),
                            icmp_key_of[i], round_no,
                        )
            # send everything, draining now and then so answers never pile up beyond the buffer
            since_drain = 0
            for i in pending:
                s = sock_of[i]  # type: ignore[assignment]  # pending holds only probes with a socket
                if s.broken:
                    perr[i] = perr[i] or s.broken
                    continue
                now = time.perf_counter()
                attempts[i] += 1
                if attempts[i] == 1:
                    first_sent[i] = now
                    first_frames[i] = frames[i]
                try:
                    s.sock.send(frames[i])
                    counters["sent"] += 1
                    last_sent[i] = now
                    if keep:
                        _keep(kept, i, epoch0 + now, True, frames[i])
                except BlockingIOError:
                    if self._send_retry(s, frames[i], poller, by_fd, state):
                        counters["sent"] += 1
                        last_sent[i] = time.perf_counter()
                        if keep:
                            _keep(kept, i, epoch0 + last_sent[i], True, frames[i])
                    else:
                        perr[i] = perr[i] or f"{s.name()}: send: buffer full"
                        s.failed_sends += 1
                except OSError as exc:
                    if exc.errno == errno.ENOBUFS and self._send_retry(s, frames[i], poller, by_fd, state):
                        counters["sent"] += 1
                        last_sent[i] = time.perf_counter()
                        if keep:
                            _keep(kept, i, epoch0 + last_sent[i], True, frames[i])
                        continue
                    msg = f"{s.name()}: send: {exc.strerror or exc}"
                    perr[i] = perr[i] or msg
                    s.broken = msg
                    errors.append(msg)
                if not probes[i].expect_answer:
                    last_silent_send = last_sent[i]
                since_drain += 1
                if since_drain >= _DRAIN_EVERY:
                    since_drain = 0
                    for fd, ev in poller.poll(0):
                        self._service(by_fd[fd], ev, state)
            # one window for all probes of the round: it ends one window after the last send, or earlier once every
            # expected answer is in, the last silent probe has had its full window and the settle time has passed
            window = self.timeout if round_no == 1 else self.retry_timeout
            full_end = time.perf_counter() + window
            silent_end = last_silent_send + window if last_silent_send else 0.0
            state.outstanding = {i for i in pending if probes[i].expect_answer and answers[i] is None
                                 and not sock_of[i].broken}  # type: ignore[union-attr]
            settle_end = 0.0
            while True:
                now = time.perf_counter()
                if state.outstanding:
                    deadline = full_end
                else:
                    settle_end = settle_end or now + self.settle
                    deadline = min(full_end, max(silent_end, settle_end))
                remaining = deadline - now
                if remaining <= 0:
                    break
                events = poller.poll(max(1, int(remaining * 1000 + 0.999)) if remaining > 0.0005 else 0)
                for fd, ev in events:
                    self._service(by_fd[fd], ev, state)
                if not events and remaining <= 0.0005:
                    break
            # next round: probes that expect an answer and got none (never the silent ones)
            pending = [i for i in pending if probes[i].expect_answer and answers[i] is None
                       and not sock_of[i].broken]  # type: ignore[union-attr]

        # 4. statistics, then results
        drops = 0
        for s in sock_list:
            self._drain(s, state)
            try:
                _, d = parse_tpacket_stats(s.sock.getsockopt(SOL_PACKET, PACKET_STATISTICS, 8))
                drops += d
            except OSError as exc:
                errors.append(f"{s.name()}: PACKET_STATISTICS: {exc.strerror or exc}")
            if s.failed_sends:
                errors.append(f"{s.name()}: {s.failed_sends} frame(s) could not be sent (transmit buffer full)")
            s.arp_table = {}
        poller = None  # type: ignore[assignment]

        for i, p in enumerate(probes):
            frame = first_frames[i] or frames[i]
            results.append(
                ProbeResult(
                    probe=p,
                    sent_at=epoch0 + first_sent[i] if attempts[i] else 0.0,
                    attempts=attempts[i],
                    answers=answers[i] or [],
                    sent_summary=_summary(p) if self.records else "",
                    sent_hex=frame.hex() if self.records else "",
                    error=perr[i],
                    frames=sorted(CapturedFrame(*f) for f in kept[i]) if keep else [],
                )
            )
        stats = WindowStats(
            probes=n,
            frames_sent=counters["sent"],
            frames_received=counters["recv"],
            kernel_drops=drops,
            duration_s=time.perf_counter() - t_start,
            socket_errors=_dedupe(errors),
            rounds=rounds,
        )
        return results, stats

    # helpers ---------------------------------------------------------------------------------------------------------
    @staticmethod
    def _icmp_frame(tmpl: _Template, dst_mac: bytes, tip: bytes, key: int, attempt: int) -> bytes:
        t = tmpl.icmp
        ident, seq = key >> 16, key & 0xFFFF
        ip_id = key & 0xFFFF
        ip_sum = ~_fold(tmpl.icmp_ip_sum + ip_id + (tip[0] << 8 | tip[1]) + (tip[2] << 8 | tip[3])) & 0xFFFF
        icmp_sum = ~_fold(tmpl.icmp_sum + ident + seq + attempt) & 0xFFFF
        return b"".join((
            dst_mac, t[6:18], struct.pack("!H", ip_id), t[20:24], struct.pack("!H", ip_sum), t[26:30], tip,
            t[34:36], struct.pack("!HHHH", icmp_sum, ident, seq, attempt), t[44:],
        ))

    def _service(self, s: _Sock, ev: int, state: _RunState) -> None:
        if ev & select.POLLERR:
            err = s.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)  # reading clears it
            if err:
                state.errors.append(f"{s.name()}: socket error: {os.strerror(err)}")
        if ev & select.POLLIN:
            self._drain(s, state)

    def _send_retry(
        self, s: _Sock, frame: bytes, poller: select.poll, by_fd: dict[int, _Sock], state: _RunState
    ) -> bool:
        """The transmit path is congested: drain receive queues and retry for up to ~50 ms."""
        for delay in (0.0005, 0.001, 0.002, 0.005, 0.01, 0.03):
            for fd, ev in poller.poll(0):
                self._service(by_fd[fd], ev, state)
            time.sleep(delay)
            try:
                s.sock.send(frame)
                return True
            except (BlockingIOError, InterruptedError):
                continue
            except OSError as exc:
                if exc.errno != errno.ENOBUFS:
                    return False
        return False

    @staticmethod
    def _flush(s: _Sock) -> None:
        recv = s.sock.recv
        while True:
            try:
                recv(65535)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return

    @staticmethod
    def _drain(s: _Sock, st: _RunState) -> None:
        """Read every queued frame of one socket and match it (struct/slicing only, no scapy)."""
        recvfrom = s.sock.recvfrom
        arp_table = s.arp_table
        icmp_keys = st.icmp_keys
        sock_of = st.sock_of
        src_ip_of = st.src_ip_of
        frames_of = st.frames
        probes = st.probes
        got = 0
        while True:
            try:
                data, addr = recvfrom(2048)
            except (BlockingIOError, InterruptedError):
                break
            except OSError as exc:  # e.g. ENETDOWN: the interface went down during the window
                st.errors.append(f"{s.name()}: receive: {exc.strerror or exc}")
                break
            got += 1
            pkttype = addr[2]
            if pkttype == PACKET_OUTGOING or pkttype == PACKET_OTHERHOST:
                continue
            now = time.perf_counter()
            etype = data[12:14]
            if etype == _ETH_ARP:
                if len(data) < 42 or data[14:22] != _ARP_REPLY_HDR:
                    continue
                idxs = arp_table.get(data[28:42])  # sender IP, target MAC, target IP of the reply
                if not idxs:
                    continue
                ip = socket.inet_ntoa(data[28:32])
                sha = _mac_str(data[22:28])
                esrc = _mac_str(data[6:12])
                for i in idxs:
                    st.record(i, ip, sha, esrc, now, st.attempts[i], data)
            elif etype == _ETH_IP:
                if len(data) < 42 or data[23] != 1:
                    continue
                ihl = (data[14] & 0x0F) * 4
                off = 14 + ihl
                if len(data) < off + 8 or data[off] != 0:  # echo reply only
                    continue
                ident, seq = struct.unpack_from("!HH", data, off + 4)
                j = icmp_keys.get(ident << 16 | seq)
                if j is None:
                    continue
                i = j
                if sock_of[i] is not s or data[30:34] != src_ip_of[i] or data[:6] != frames_of[i][6:12]:
                    continue
                ip = socket.inet_ntoa(data[26:30])
                if ip != probes[i].target_ip:
                    continue
                attempt = st.attempts[i]
                if len(data) >= off + 10 + len(_ICMP_MAGIC) and data[off + 10:off + 10 + len(_ICMP_MAGIC)] == _ICMP_MAGIC:
                    attempt = struct.unpack_from("!H", data, off + 8)[0] or attempt
                esrc = _mac_str(data[6:12])
                st.record(i, ip, esrc, esrc, now, attempt, data)
        st.counters["recv"] += got


class _RunState:
    """Mutable per-run state shared by the drain loop."""

    __slots__ = ("answers", "attempts", "counters", "epoch0", "errors", "frames", "icmp_keys", "kept", "last_sent",
                 "outstanding", "probes", "sock_of", "src_ip_of")

    def __init__(
        self,
        probes: Sequence[Probe],
        sock_of: list[_Sock | None],
        src_ip_of: list[bytes],
        icmp_keys: dict[int, int],
        frames: list[bytes],
        errors: list[str],
    ) -> None:
        self.frames = frames
        self.errors = errors
        n = len(probes)
        self.probes = probes
        self.sock_of = sock_of
        self.src_ip_of = src_ip_of
        self.icmp_keys = icmp_keys
        self.answers: list[list[Answer] | None] = [None] * n
        self.last_sent = [0.0] * n
        self.attempts = [0] * n
        self.counters = {"sent": 0, "recv": 0}
        self.outstanding: set[int] = set()
        #: per probe (epoch, sent, frame) tuples when the engine keeps frames for pcaps, else None
        self.kept: list[list[tuple[float, bool, bytes]]] | None = None
        self.epoch0 = time.time() - time.perf_counter()

    def record(self, i: int, ip: str, mac: str, eth_src: str, now: float, attempt: int, data: bytes = b"") -> None:
        if not self.attempts[i]:
            return  # an identical probe later in the batch: it gets its own answer once it is sent
        if self.kept is not None:
            _keep(self.kept, i, self.epoch0 + now, False, data)
        lst = self.answers[i]
        if lst is None:
            lst = self.answers[i] = []
        else:
            for a in lst:
                if a.mac == mac and a.ip == ip and a.eth_src == eth_src:
                    return
        lst.append(Answer(ip=ip, mac=mac, rtt_ms=(now - self.last_sent[i]) * 1000.0, attempt=attempt, eth_src=eth_src))
        self.outstanding.discard(i)


MAX_KEPT_FRAMES = 32  # per probe: a storm of answers must not eat the memory of a pcap-keeping run


def _keep(kept: list[list[tuple[float, bool, bytes]]], i: int, when: float, sent: bool, data: bytes) -> None:
    if len(kept[i]) < MAX_KEPT_FRAMES:
        kept[i].append((when, sent, bytes(data)))


def _send_order(probes: Sequence[Probe], indexes: list[int]) -> list[int]:
    """Probes that must stay silent go first: each probe is listened to for a full window after its own send, so the
    window can close one timeout after the last *silent* send once every expected answer is in. Inside each group
    broadcasts are spread evenly among unicasts: a burst of back-to-back who-has frames overflows the receive-side
    broadcast queues (macvlan's is 1,000 frames per master) and the lost requests would read as silence."""
    order: list[int] = []
    for silent in (True, False):
        group = [i for i in indexes if probes[i].expect_answer is not silent]
        floods = [i for i in group if probes[i].kind == "arp" and probes[i].target_mac is None]
        others = [i for i in group if not (probes[i].kind == "arp" and probes[i].target_mac is None)]
        if not floods or not others:
            order += group
            continue
        # merge by relative position, so the broadcast share stays the same all along the group
        total = len(group)
        slots = sorted([(k * total / len(floods), 0, i) for k, i in enumerate(floods)]
                       + [(k * total / len(others), 1, i) for k, i in enumerate(others)])
        order += [i for _, _, i in slots]
    return order


def _summary(p: Probe) -> str:
    src = p.source
    if p.kind == "arp":
        how = "broadcast" if p.target_mac is None else f"unicast to {p.target_mac}"
        return f"ARP who-has {p.target_ip} tell {src.ip} ({how}, src {src.mac}, from {src.describe()})"
    return f"ICMP echo-request {src.ip} > {p.target_ip} (src {src.mac} dst {p.target_mac}, from {src.describe()})"


def _dedupe(items: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    for it in items:
        seen[it] = seen.get(it, 0) + 1
    return [k if c == 1 else f"{k} (x{c})" for k, c in seen.items()]
