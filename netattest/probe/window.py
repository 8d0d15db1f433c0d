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
MIN_SETTLE = 0.002  # s: the shortest wait for late duplicate answers (a LAN's round trip is well under 1 ms)
MAX_KEPT_FRAMES = 32  # per probe: a storm of answers must not eat the memory of a pcap-keeping run


class Window:
    """The state of one run of :meth:`ProbeEngine.run`; its methods are the run's phases, in order."""

    __slots__ = ("answers", "attempts", "by_fd", "counters", "engine", "epoch0", "errors", "first_frames",
                 "first_sent", "frames", "icmp_key_of", "icmp_keys", "kept", "l4_keys", "last_sent", "listeners", "n",
                 "outstanding", "perr", "poller", "probes", "rounds", "sock_list", "sock_of", "src_ip_of", "t_start",
                 "tip_of", "silent", "last_rtt", "macs")

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
        #: UDP/TCP: key from (source port, IP id) -> probe index; TCP answers also check the acknowledged sequence
        self.l4_keys: dict[int, int] = {}
        self.icmp_key_of: list[int] = [0] * n
        self.src_ip_of: list[bytes] = [b""] * n
        self.tip_of: list[bytes] = [b""] * n
        self.silent: list[bool] = [not p.expect_answer for p in probes]
        #: ARP reply bytes 6:28 (Ethernet source, ARP header, sender MAC) -> (sender MAC, Ethernet source) as text
        self.macs: dict[bytes, tuple[str, str]] = {}
        self.last_rtt = 0.0  # s: round trip of the latest answer, a measure of the network's latency right now
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
        self.listeners = engine.listeners  # drained during the window, so a burst never outgrows their buffers
        self.rounds = 0

    # -- phase 1 ---------------------------------------------------------------------------------------------------
    def open_sockets(self) -> None:
        """One socket per (netns, ifname); a failure marks that socket's probes, not the whole run."""
        socks: dict[SocketKey, PacketSocket] = {}
        failed: dict[SocketKey, str] = {}
        by_source: dict[int, PacketSocket | None] = {}  # by endpoint object: one lookup per endpoint
        sock_of, perr = self.sock_of, self.perr
        for i, p in enumerate(self.probes):
            source = p.source
            ps = by_source.get(id(source), False)
            if ps is False:
                key = (source.netns, source.ifname)
                if key not in socks and key not in failed:
                    try:
                        socks[key] = self.engine.socket_for(key)
                    except OSError as exc:
                        msg = f"{key[0] or '-'}:{key[1]}: cannot open packet socket: {exc.strerror or exc}"
                        failed[key] = msg
                        self.errors.append(msg)
                ps = by_source[id(source)] = socks.get(key)
            if ps is not None:
                sock_of[i] = ps  # type: ignore[assignment]
            else:
                perr[i] = failed[(source.netns, source.ifname)]
        self.sock_list = list(socks.values())
        for s in self.sock_list:
            s.reset()

    # -- phase 2 ---------------------------------------------------------------------------------------------------
    def build_frames(self) -> None:
        """Patch every probe's frame from its endpoint's template and register how its answer is recognised."""
        engine = self.engine
        #: by endpoint object, one lookup per probe: (template, its who-has head, its reply key, its address)
        per_source: dict[int, tuple[fr.Template, bytes, bytes, bytes]] = {}
        frames, src_ip_of, tip_of = self.frames, self.src_ip_of, self.tip_of
        inet_pton, af_inet = socket.inet_pton, socket.AF_INET
        last_source: object = None
        for i, (p, ps) in enumerate(zip(self.probes, self.sock_of, strict=True)):
            if ps is None:
                continue
            source = p.source
            if source is not last_source:  # probes come grouped by endpoint: mostly the same as the previous one
                last_source = source
                cached = per_source.get(id(source))
                if cached is None:
                    tmpl_ = engine.template(source)
                    cached = per_source[id(source)] = (tmpl_, tmpl_.arp_head, tmpl_.reply_key, tmpl_.reply_key[6:])
                tmpl, arp_head, reply_key, src_ip = cached
                table = ps.arp_table  # one socket per endpoint
            try:
                tip = inet_pton(af_inet, p.target_ip)  # strict: a dotted quad only
            except OSError:
                tip = fr.ip_bytes(p.target_ip)  # raises the ProbeError that names the address
            kind = p.kind
            if kind == "arp":
                if p.target_mac is None and not p.mark:
                    frame = arp_head + tip
                else:
                    frame = fr.arp_frame(tmpl, tip, None if p.target_mac is None else fr.mac_bytes(p.target_mac),
                                         p.mark)
                key = tip + reply_key
                idxs = table.get(key)
                if idxs is None:
                    table[key] = [i]
                else:
                    idxs.append(i)
            elif kind in fr.PROTO:
                if p.target_mac is None:
                    raise ProbeError(f"probe {p.id!r}: {kind} needs target_mac (the engine never resolves it)")
                key_ = engine.next_key()
                if kind == "icmp":
                    self.icmp_keys[key_] = i
                else:
                    self.l4_keys[key_] = i
                self.icmp_key_of[i] = key_
                frame = fr.ip_probe_frame(tmpl, kind, fr.mac_bytes(p.target_mac), tip, key_, 1, p.mark)
            else:
                raise ProbeError(f"probe {p.id!r}: unknown kind {kind!r}")
            frames[i] = frame
            src_ip_of[i] = src_ip
            tip_of[i] = tip

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
        for fd in self.listeners.fds():
            self.poller.register(fd, select.POLLIN | select.POLLERR)

    def rebuild_for_retry(self, pending: list[int], round_no: int) -> None:
        """IP frames of a retry carry the attempt, so an echo reply tells which attempt it answers."""
        for i in pending:
            p = self.probes[i]
            if p.kind in fr.PROTO:
                if self.attempts[i] and not self.first_frames[i]:
                    self.first_frames[i] = self.frames[i]  # the record keeps the first frame sent
                self.frames[i] = fr.ip_probe_frame(self.engine.template(p.source), p.kind,
                                                   fr.mac_bytes(p.target_mac or ""), fr.ip_bytes(p.target_ip),
                                                   self.icmp_key_of[i], round_no, p.mark)

    def send_round(self, pending: list[int]) -> float:
        """Send every pending probe, draining now and then so answers never pile up beyond the buffer; returns
        the time of the last silent send (0.0 if none). The hot loop of a window: everything it touches is local."""
        sock_of, frames, attempts, silent = self.sock_of, self.frames, self.attempts, self.silent
        perr, first_sent, last_sent = self.perr, self.first_sent, self.last_sent
        kept, epoch0, perf = self.kept, self.epoch0, time.perf_counter
        last_silent_send = 0.0
        since_drain = sent = 0
        pace = self.engine.pace_s
        for i in pending:
            s = sock_of[i]
            if s.broken:  # type: ignore[union-attr]  # pending holds only probes with a socket
                perr[i] = perr[i] or s.broken  # type: ignore[union-attr]
                continue
            frame = frames[i]
            now = perf()
            n = attempts[i] = attempts[i] + 1
            if n == 1:
                first_sent[i] = now  # (the first frame itself is kept by rebuild_for_retry, the only rewrite)
            try:
                s.sock.send(frame)  # type: ignore[union-attr]
                sent += 1
                last_sent[i] = now
                if kept is not None:
                    _keep(kept, i, epoch0 + now, True, frame)
            except BlockingIOError:
                if self._send_retry(s, frame):  # type: ignore[arg-type]
                    self._count_sent(i, perf())
                else:
                    perr[i] = perr[i] or f"{s.name()}: send: buffer full"  # type: ignore[union-attr]
                    s.failed_sends += 1  # type: ignore[union-attr]
            except OSError as exc:
                if exc.errno == errno.ENOBUFS and self._send_retry(s, frame):  # type: ignore[arg-type]
                    self._count_sent(i, perf())
                else:
                    msg = f"{s.name()}: send: {exc.strerror or exc}"  # type: ignore[union-attr]
                    perr[i] = perr[i] or msg
                    s.broken = msg  # type: ignore[union-attr]
                    self.errors.append(msg)
            if silent[i]:
                last_silent_send = last_sent[i]
            since_drain += 1
            if since_drain >= DRAIN_EVERY:
                since_drain = 0
                self.service_ready(0)
                if pace:  # let a slow kernel's macvlan broadcast worker and input backlog catch up
                    time.sleep(pace)
        self.counters["sent"] += sent
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
        silent, answers, sock_of = self.silent, self.answers, self.sock_of
        self.outstanding = {i for i in pending if not silent[i] and answers[i] is None
                            and not sock_of[i].broken}  # type: ignore[union-attr]
        settle_end = 0.0
        while True:
            now = time.perf_counter()
            if self.outstanding:
                deadline = full_end
            else:
                settle_end = settle_end or now + self.settle()
                deadline = min(full_end, max(silent_end, settle_end))
            remaining = deadline - now
            if remaining <= 0:
                break
            heard = self.service_ready(max(1, int(remaining * 1000 + 0.999)) if remaining > 0.0005 else 0)
            if not heard and remaining <= 0.0005:
                break

    def settle(self) -> float:
        """How long to wait for late duplicates once every expected answer is in: a second holder of an address
        answers the same who-has about as fast as the first, so three times the round trip of the answer that
        completed the set (at least 2 ms), never more than the engine's ``settle``. (The slowest answer of a burst
        mostly measures how long the engine was busy sending before it read it, not the network.)"""
        return min(self.engine.settle, max(MIN_SETTLE, 3 * self.last_rtt))

    def still_unanswered(self, pending: list[int]) -> list[int]:
        """Next round: probes that expect an answer and got none (never the silent ones)."""
        silent, answers, sock_of = self.silent, self.answers, self.sock_of
        return [i for i in pending if not silent[i] and answers[i] is None
                and not sock_of[i].broken]  # type: ignore[union-attr]

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
        kept, epoch0 = self.kept, self.epoch0
        # one pass over parallel lists (zip, not indexing); the frame kept is the first one sent: retries of IP
        # probes rewrite ``frames`` and leave the first in ``first_frames``
        sent_frames = [f or g for f, g in zip(self.first_frames, self.frames, strict=True)] if self.engine.records \
            else [b""] * self.n
        rows = zip(self.probes, self.first_sent, self.attempts, self.answers, self.perr, sent_frames, strict=True)
        if kept is None:
            results = [ProbeResult(p, epoch0 + t if n else 0.0, n, a or [], "", "", e, [], f)
                       for p, t, n, a, e, f in rows]
        else:
            results = [ProbeResult(p, epoch0 + t if n else 0.0, n, a or [], "", "", e,
                                   sorted(CapturedFrame(*c) for c in k), f)
                       for (p, t, n, a, e, f), k in zip(rows, kept, strict=True)]
        stats = WindowStats(probes=self.n, frames_sent=self.counters["sent"], frames_received=self.counters["recv"],
                            kernel_drops=drops, duration_s=time.perf_counter() - self.t_start,
                            socket_errors=_dedupe(self.errors), rounds=self.rounds)
        return results, stats

    # -- matching ----------------------------------------------------------------------------------------------------
    def service_ready(self, timeout_ms: int) -> bool:
        """Serve every socket with something to read (or an error); True when any had."""
        events = self.poller.poll(timeout_ms)
        for fd, ev in events:
            s = self.by_fd.get(fd)
            if s is None:  # a listener
                self.listeners.drain(fd)
                continue
            if ev & select.POLLERR:
                err = s.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)  # reading clears it
                if err:
                    self.errors.append(f"{s.name()}: socket error: {os.strerror(err)}")
            if ev & select.POLLIN:
                self.drain(s)
        return bool(events)

    def drain(self, s: PacketSocket) -> None:
        """Read every queued frame of one socket and match it (struct/slicing only, no scapy). With the socket
        filter attached the kernel already dropped what this host sent and frames for other MACs, so the frame's
        packet type is not asked for (recv, not recvfrom: no address tuple per frame)."""
        recv = s.sock.recv if s.filtered else None
        recvfrom = s.sock.recvfrom
        arp_table = s.arp_table
        attempts, record, perf = self.attempts, self.record, time.perf_counter
        answers, last_sent, kept, discard = self.answers, self.last_sent, self.kept, self.outstanding.discard
        probes, macs = self.probes, self.macs
        eth_arp_reply, eth_ip = fr.ETH_ARP_REPLY, fr.ETH_IP
        got = 0
        while True:
            try:
                if recv is not None:
                    data = recv(2048)
                else:
                    data, addr = recvfrom(2048)
                    if addr[2] == fr.PACKET_OUTGOING or addr[2] == fr.PACKET_OTHERHOST:
                        got += 1
                        continue
            except (BlockingIOError, InterruptedError):
                break
            except OSError as exc:  # e.g. ENETDOWN: the interface went down during the window
                self.errors.append(f"{s.name()}: receive: {exc.strerror or exc}")
                break
            got += 1
            now = perf()
            if not data.startswith(eth_arp_reply, 12):  # EtherType ARP and an is-at header, without a slice
                if data[12:14] == eth_ip and len(data) >= 34:
                    self._match_ip(s, data, now)
                continue
            if len(data) < 42:
                continue
            idxs = arp_table.get(data[28:42])  # sender IP, target MAC, target IP of the reply
            if not idxs:
                continue
            ip = probes[idxs[0]].target_ip  # the reply's sender IP is the address asked for: the table key
            # Ethernet source + ARP header + sender MAC (bytes 6:28) -> (sha, eth_src) as text: a window hears
            # few MACs many times, so each pair is formatted once and its strings shared by every answer
            macs_key = data[6:28]
            pair = macs.get(macs_key)
            if pair is None:
                raw_sha, raw_esrc = data[22:28], data[6:12]
                sha = raw_sha.hex(":")
                pair = macs[macs_key] = (sha, sha if raw_esrc == raw_sha else raw_esrc.hex(":"))
            sha, esrc = pair
            for i in idxs:
                if answers[i] is None and attempts[i] and kept is None:  # the common case, inlined
                    rtt = self.last_rtt = now - last_sent[i]
                    answers[i] = [Answer(ip, sha, rtt * 1000.0, attempts[i], esrc, "arp-reply", 0)]
                    discard(i)
                else:
                    record(i, ip, sha, esrc, now, attempts[i], data)
        self.counters["recv"] += got

    def _match_ip(self, s: PacketSocket, data: bytes, now: float) -> None:
        """An IP answer: echo reply, TCP RST/SYN-ACK, or an ICMP error quoting one of our probes."""
        ihl = (data[14] & 0x0F) * 4
        off = 14 + ihl
        proto = data[23]
        kind = ""
        if proto == 1:
            if len(data) < off + 8:
                return
            icmp_type = data[off]
            if icmp_type == 0:  # echo reply: id/seq are the key, the payload the attempt
                ident, seq = struct.unpack_from("!HH", data, off + 4)
                i = self.icmp_keys.get(ident << 16 | seq)
                if i is None or data[26:30] != self.tip_of[i]:
                    return
                attempt = self.attempts[i]
                body = data[off + 8:off + 8 + fr.PAYLOAD_LEN]
                if body[:3] == fr.MAGIC_PLAIN[:3] and len(body) >= 14:
                    attempt = int.from_bytes(body[12:14], "big") or attempt
                self._record_ip(s, i, data, now, attempt, "echo-reply")
                return
            i = self._quoted(data, off + 8)  # an ICMP error carries our probe's headers
            if i is None:
                return
            kind = f"icmp-error {icmp_type}/{data[off + 1]}"
        elif proto == 6:
            if len(data) < off + 14:
                return
            dport = int.from_bytes(data[off + 2:off + 4], "big")
            ack = int.from_bytes(data[off + 8:off + 12], "big")
            kind = "rst" if data[off + 13] & fr.TCP_RST else "syn-ack"
            i = self._tcp_acked(dport, ack, data[26:30], kind == "rst")
            if i is None:
                return
        else:
            return
        self._record_ip(s, i, data, now, self.attempts[i], kind)

    def _quoted(self, data: bytes, inner: int) -> int | None:
        """The probe whose IP and L4 headers an ICMP error quotes (source and destination must be ours)."""
        if len(data) < inner + 28:
            return None
        inner_l4 = inner + (data[inner] & 0x0F) * 4
        if len(data) < inner_l4 + 8:
            return None
        proto = data[inner + 9]
        if proto == 1:
            ident, seq = struct.unpack_from("!HH", data, inner_l4 + 4)
            i = self.icmp_keys.get(ident << 16 | seq)
        elif proto in (6, 17):
            sport = int.from_bytes(data[inner_l4:inner_l4 + 2], "big")
            key = fr.answer_key(sport, int.from_bytes(data[inner + 4:inner + 6], "big"))
            i = self.l4_keys.get(key)
            if i is None:
                i = self.l4_keys.get(key | 0x80000000)
        else:
            return None
        if i is None or data[inner + 12:inner + 16] != self.src_ip_of[i] \
                or data[inner + 16:inner + 20] != self.tip_of[i]:
            return None
        return i

    def _tcp_acked(self, dport: int, ack: int, answered_from: bytes, rst: bool) -> int | None:
        """The SYN a RST or SYN-ACK answers: its key is its sequence number, acknowledged plus one (a SYN-ACK) or
        plus one and the payload (a RST for a closed port acknowledges the payload too). Keys are consecutive, so
        both readings can name a probe of this window: the likelier reading for the flags goes first, and only a
        probe sent to the address that answered is the one."""
        for data_len in ((1 + fr.PAYLOAD_LEN, 1) if rst else (1, 1 + fr.PAYLOAD_LEN)):
            key = (ack - data_len) & 0xFFFFFFFF
            i = self.l4_keys.get(key)
            if i is not None and fr.source_port(key) == dport and self.tip_of[i] == answered_from:
                return i
        return None

    def _record_ip(self, s: PacketSocket, i: int, data: bytes, now: float, attempt: int, kind: str) -> None:
        if self.sock_of[i] is not s or data[:6] != self.frames[i][6:12] or data[30:34] != self.src_ip_of[i]:
            return  # an answer must come back to the socket, the MAC and the address that asked
        esrc = fr.mac_str(data[6:12])
        self.record(i, socket.inet_ntoa(data[26:30]), esrc, esrc, now, attempt, data, kind, data[22])

    def record(self, i: int, ip: str, mac: str, eth_src: str, now: float, attempt: int, data: bytes = b"",
               kind: str = "arp-reply", ttl: int = 0) -> None:
        if not self.attempts[i]:
            return  # an identical probe later in the batch: it gets its own answer once it is sent
        if self.kept is not None:
            _keep(self.kept, i, self.epoch0 + now, False, data)
        lst = self.answers[i]
        if lst is None:
            lst = self.answers[i] = []
        else:
            for a in lst:
                if a.mac == mac and a.ip == ip and a.eth_src == eth_src and a.kind == kind:
                    return
        rtt = self.last_rtt = now - self.last_sent[i]
        lst.append(Answer(ip=ip, mac=mac, rtt_ms=rtt * 1000.0, attempt=attempt, eth_src=eth_src, kind=kind, ttl=ttl))
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
    # one pass: (silent?, broadcast?) -> indexes, each list in the given order
    groups: tuple[list[int], list[int], list[int], list[int]] = ([], [], [], [])
    for i in indexes:
        p = probes[i]
        groups[(0 if p.expect_answer else 2) + (p.kind == "arp" and p.target_mac is None)].append(i)
    for silent in (True, False):
        others, floods = groups[2:] if silent else groups[:2]
        if not floods or not others:
            order += floods or others
            continue
        # merge by relative position, so the broadcast share stays the same all along the group
        total = len(floods) + len(others)
        slots = sorted([(k * total / len(floods), 0, i) for k, i in enumerate(floods)]
                       + [(k * total / len(others), 1, i) for k, i in enumerate(others)])
        order += [i for _, _, i in slots]
    return order


def _dedupe(items: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    for it in items:
        seen[it] = seen.get(it, 0) + 1
    return [k if c == 1 else f"{k} (x{c})" for k, c in seen.items()]
