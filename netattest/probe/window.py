"""One probe window, in phases: open sockets, build frames, send a round, await the window, results.

All probes are sent first (those that must stay silent first), then answers are collected in ONE window for all
sockets, which gives every probe at least ``timeout`` after its own send and closes as soon as every expected answer
is in and the last silent probe's timeout has run out; only probes that expect an answer and got none are resent,
in up to ``retries`` shorter rounds. A window whose sockets dropped frames (PACKET_STATISTICS) or reported errors
is not trustworthy: the judge calls its silences *broken*, never *passed*.

Stdlib only: shipped into probe pods with the engine.
"""

from __future__ import annotations

import errno
import os
import select
import socket
import struct
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from netattest.probe import frames as fr
from netattest.probe.model import Answer, CapturedFrame, Probe, ProbeError, ProbeResult, WindowStats
from netattest.probe.sockets import PacketSocket, SocketKey

if TYPE_CHECKING:
    from netattest.probe.engine import ProbeEngine

DRAIN_EVERY = 64  # sends between two non-blocking drains, so a burst of answers never outgrows the buffer
MAX_KEPT_FRAMES = 32  # per probe: a storm of answers must not eat the memory of a pcap-keeping run


class Window:
    """The state of one run of :meth:`ProbeEngine.run`; its methods are the run's phases, in order."""

    __slots__ = ("answers", "attempts", "by_fd", "counters", "engine", "epoch0", "errors", "first_frames",
                 "first_sent", "frames", "icmp_key_of", "icmp_keys", "kept", "last_sent", "n", "outstanding",
                 "perr", "poller", "probes", "rounds", "sock_list", "sock_of", "src_ip_of", "t_start")

    def __init__(self, engine: ProbeEngine, probes: Sequence[Probe]) -> None:
        self.engine = engine
        self.probes = probes
        self.t_start = time.perf_counter()
        self.epoch0 = time.time() - self.t_start
        n = self.n = len(probes)
        self.errors: list[str] = []
        self.sock_list: list[PacketSocket] = []
        self.sock_of: list[PacketSocket | None] = [None] * n
        self.perr: list[str] = [""] * n
        self.frames: list[bytes] = [b""] * n
        self.first_frames: list[bytes] = [b""] * n
        self.icmp_keys: dict[int, int] = {}  # (id << 16 | seq) -> probe index
        self.icmp_key_of: list[int] = [0] * n
        self.src_ip_of: list[bytes] = [b""] * n
        self.answers: list[list[Answer] | None] = [None] * n
        self.first_sent = [0.0] * n
        self.last_sent = [0.0] * n
        self.attempts = [0] * n
        self.counters = {"sent": 0, "recv": 0}
        self.outstanding: set[int] = set()
        #: per probe (epoch, sent, frame) tuples when the engine keeps frames for pcaps, else None
        self.kept: list[list[tuple[float, bool, bytes]]] | None = [[] for _ in range(n)] if engine.keep_frames \
            else None
        self.poller = select.poll()
        self.by_fd: dict[int, PacketSocket] = {}
        self.rounds = 0

    # -- phase 1 ---------------------------------------------------------------------------------------------------
    def open_sockets(self) -> None:
        """One socket per (netns, ifname); a failure marks that socket's probes, not the whole run."""
        socks: dict[SocketKey, PacketSocket] = {}
        failed: dict[SocketKey, str] = {}
        for i, p in enumerate(self.probes):
            key = (p.source.netns, p.source.ifname)
            if key not in socks and key not in failed:
                try:
                    socks[key] = self.engine.socket_for(key)
                except OSError as exc:
                    msg = f"{key[0] or '-'}:{key[1]}: cannot open packet socket: {exc.strerror or exc}"
                    failed[key] = msg
                    self.errors.append(msg)
            if key in socks:
                self.sock_of[i] = socks[key]
            else:
                self.perr[i] = failed[key]
        self.sock_list = list(socks.values())
        for s in self.sock_list:
            s.reset()

    # -- phase 2 ---------------------------------------------------------------------------------------------------
    def build_frames(self) -> None:
        """Patch every probe's frame from its endpoint's template and register how its answer is recognised."""
        engine = self.engine
        for i, p in enumerate(self.probes):
            ps = self.sock_of[i]
            if ps is None:
                continue
            tmpl = engine.template(p.source)
            tip = fr.ip_bytes(p.target_ip)
            sip = tmpl.arp[28:32]
            if p.kind == "arp":
                frame = fr.arp_frame(tmpl, tip, None if p.target_mac is None else fr.mac_bytes(p.target_mac))
                ps.arp_table.setdefault(tip + tmpl.arp[6:12] + sip, []).append(i)
            elif p.kind == "icmp":
                if p.target_mac is None:
                    raise ProbeError(f"probe {p.id!r}: ICMP needs target_mac (the engine never resolves it)")
                key = engine.next_key()
                self.icmp_keys[key] = i
                self.icmp_key_of[i] = key
                frame = fr.icmp_frame(tmpl, fr.mac_bytes(p.target_mac), tip, key, 1)
            else:
                raise ProbeError(f"probe {p.id!r}: unknown kind {p.kind!r}")
            self.frames[i] = frame
            self.src_ip_of[i] = sip

    # -- phase 3 ---------------------------------------------------------------------------------------------------
    def prepare(self) -> None:
        """Flush stale frames, reset the drop counters and register every socket with the poller."""
        for s in self.sock_list:
            s.flush()
            try:
                s.drops_since_last_read()
            except OSError:
                pass
            self.poller.register(s.fd, select.POLLIN | select.POLLERR)
            self.by_fd[s.fd] = s

    def rebuild_for_retry(self, pending: list[int], round_no: int) -> None:
        """ICMP frames of a retry carry the attempt, so the reply tells which attempt it answers."""
        for i in pending:
            p = self.probes[i]
            if p.kind == "icmp":
                self.frames[i] = fr.icmp_frame(self.engine.template(p.source), fr.mac_bytes(p.target_mac or ""),
                                               fr.ip_bytes(p.target_ip), self.icmp_key_of[i], round_no)

    def send_round(self, pending: list[int]) -> float:
        """Send every pending probe, draining now and then so answers never pile up beyond the buffer; returns
        the time of the last silent send (0.0 if none)."""
        probes, sock_of, frames, attempts = self.probes, self.sock_of, self.frames, self.attempts
        perr, first_sent = self.perr, self.first_sent
        last_silent_send = 0.0
        since_drain = 0
        for i in pending:
            s = sock_of[i]
            assert s is not None  # pending holds only probes with a socket
            if s.broken:
                perr[i] = perr[i] or s.broken
                continue
            now = time.perf_counter()
            attempts[i] += 1
            if attempts[i] == 1:
                first_sent[i] = now
                self.first_frames[i] = frames[i]
            try:
                s.sock.send(frames[i])
                self._count_sent(i, now)
            except BlockingIOError:
                if self._send_retry(s, frames[i]):
                    self._count_sent(i, time.perf_counter())
                else:
                    perr[i] = perr[i] or f"{s.name()}: send: buffer full"
                    s.failed_sends += 1
            except OSError as exc:
                if exc.errno == errno.ENOBUFS and self._send_retry(s, frames[i]):
                    self._count_sent(i, time.perf_counter())
                else:
                    msg = f"{s.name()}: send: {exc.strerror or exc}"
                    perr[i] = perr[i] or msg
                    s.broken = msg
                    self.errors.append(msg)
            if not probes[i].expect_answer:
                last_silent_send = self.last_sent[i]
            since_drain += 1
            if since_drain >= DRAIN_EVERY:
                since_drain = 0
                self.service_ready(0)
        return last_silent_send

    def _count_sent(self, i: int, when: float) -> None:
        self.counters["sent"] += 1
        self.last_sent[i] = when
        if self.kept is not None:
            _keep(self.kept, i, self.epoch0 + when, True, self.frames[i])

    def _send_retry(self, s: PacketSocket, frame: bytes) -> bool:
        """The transmit path is congested: drain receive queues and retry for up to ~50 ms."""
        for delay in (0.0005, 0.001, 0.002, 0.005, 0.01, 0.03):
            self.service_ready(0)
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

    # -- phase 4 ---------------------------------------------------------------------------------------------------
    def await_answers(self, pending: list[int], window: float, last_silent_send: float) -> None:
        """One window for all probes of the round: it ends one window after the last send, or earlier once every
        expected answer is in, the last silent probe has had its full window and the settle time has passed."""
        full_end = time.perf_counter() + window
        silent_end = last_silent_send + window if last_silent_send else 0.0
        self.outstanding = {i for i in pending if self.probes[i].expect_answer and self.answers[i] is None
                            and not self.sock_of[i].broken}  # type: ignore[union-attr]
        settle_end = 0.0
        while True:
            now = time.perf_counter()
            if self.outstanding:
                deadline = full_end
            else:
                settle_end = settle_end or now + self.engine.settle
                deadline = min(full_end, max(silent_end, settle_end))
            remaining = deadline - now
            if remaining <= 0:
                break
            heard = self.service_ready(max(1, int(remaining * 1000 + 0.999)) if remaining > 0.0005 else 0)
            if not heard and remaining <= 0.0005:
                break

    def still_unanswered(self, pending: list[int]) -> list[int]:
        """Next round: probes that expect an answer and got none (never the silent ones)."""
        return [i for i in pending if self.probes[i].expect_answer and self.answers[i] is None
                and not self.sock_of[i].broken]  # type: ignore[union-attr]

    # -- phase 5 ---------------------------------------------------------------------------------------------------
    def results(self) -> tuple[list[ProbeResult], WindowStats]:
        """Drain what is left, read every socket's drop counter, and put the results in probe order."""
        drops = 0
        for s in self.sock_list:
            self.drain(s)
            try:
                drops += s.drops_since_last_read()
            except OSError as exc:
                self.errors.append(f"{s.name()}: PACKET_STATISTICS: {exc.strerror or exc}")
            if s.failed_sends:
                self.errors.append(f"{s.name()}: {s.failed_sends} frame(s) could not be sent (transmit buffer full)")
            s.arp_table = {}
        records = self.engine.records
        results = []
        for i, p in enumerate(self.probes):
            frame = self.first_frames[i] or self.frames[i]
            results.append(ProbeResult(
                probe=p,
                sent_at=self.epoch0 + self.first_sent[i] if self.attempts[i] else 0.0,
                attempts=self.attempts[i],
                answers=self.answers[i] or [],
                sent_summary=fr.summary(p) if records else "",
                sent_hex=frame.hex() if records else "",
                error=self.perr[i],
                frames=sorted(CapturedFrame(*f) for f in self.kept[i]) if self.kept is not None else [],
            ))
        stats = WindowStats(probes=self.n, frames_sent=self.counters["sent"], frames_received=self.counters["recv"],
                            kernel_drops=drops, duration_s=time.perf_counter() - self.t_start,
                            socket_errors=_dedupe(self.errors), rounds=self.rounds)
        return results, stats

    # -- matching ----------------------------------------------------------------------------------------------------
    def service_ready(self, timeout_ms: int) -> bool:
        """Serve every socket with something to read (or an error); True when any had."""
        events = self.poller.poll(timeout_ms)
        for fd, ev in events:
            s = self.by_fd[fd]
            if ev & select.POLLERR:
                err = s.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)  # reading clears it
                if err:
                    self.errors.append(f"{s.name()}: socket error: {os.strerror(err)}")
            if ev & select.POLLIN:
                self.drain(s)
        return bool(events)

    def drain(self, s: PacketSocket) -> None:
        """Read every queued frame of one socket and match it (struct/slicing only, no scapy)."""
        recvfrom = s.sock.recvfrom
        arp_table = s.arp_table
        icmp_keys = self.icmp_keys
        sock_of = self.sock_of
        src_ip_of = self.src_ip_of
        frames_of = self.frames
        probes = self.probes
        got = 0
        while True:
            try:
                data, addr = recvfrom(2048)
            except (BlockingIOError, InterruptedError):
                break
            except OSError as exc:  # e.g. ENETDOWN: the interface went down during the window
                self.errors.append(f"{s.name()}: receive: {exc.strerror or exc}")
                break
            got += 1
            pkttype = addr[2]
            if pkttype == fr.PACKET_OUTGOING or pkttype == fr.PACKET_OTHERHOST:
                continue
            now = time.perf_counter()
            etype = data[12:14]
            if etype == fr.ETH_ARP:
                if len(data) < 42 or data[14:22] != fr.ARP_REPLY_HDR:
                    continue
                idxs = arp_table.get(data[28:42])  # sender IP, target MAC, target IP of the reply
                if not idxs:
                    continue
                ip = socket.inet_ntoa(data[28:32])
                sha = fr.mac_str(data[22:28])
                esrc = fr.mac_str(data[6:12])
                for i in idxs:
                    self.record(i, ip, sha, esrc, now, self.attempts[i], data)
            elif etype == fr.ETH_IP:
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
                attempt = self.attempts[i]
                magic = fr.ICMP_MAGIC
                if len(data) >= off + 10 + len(magic) and data[off + 10:off + 10 + len(magic)] == magic:
                    attempt = struct.unpack_from("!H", data, off + 8)[0] or attempt
                esrc = fr.mac_str(data[6:12])
                self.record(i, ip, esrc, esrc, now, attempt, data)
        self.counters["recv"] += got

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
        lst.append(Answer(ip=ip, mac=mac, rtt_ms=(now - self.last_sent[i]) * 1000.0, attempt=attempt,
                          eth_src=eth_src))
        self.outstanding.discard(i)


def _keep(kept: list[list[tuple[float, bool, bytes]]], i: int, when: float, sent: bool, data: bytes) -> None:
    if len(kept[i]) < MAX_KEPT_FRAMES:
        kept[i].append((when, sent, bytes(data)))


def send_order(probes: Sequence[Probe], indexes: list[int]) -> list[int]:
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


def _dedupe(items: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    for it in items:
        seen[it] = seen.get(it, 0) + 1
    return [k if c == 1 else f"{k} (x{c})" for k, c in seen.items()]
