"""Listeners: sockets that only hear, so that silence on the sending side is not the only evidence.

A router that forwards one way only never answers, and a probe rewritten by NAT no longer looks like ours: only a
listener on the *target* side sees it arrive. Listeners in ``marks`` mode keep (in the kernel, by socket filter)
frames that carry an isolation mark and ARP requests for watched addresses; ``passive`` listeners keep the source of
everything they hear, for neighbour discovery. They are opened before a window's first send and read while it runs
and once more at the end, so every frame a window caused is heard.

Stdlib only: shipped into probe pods with the engine.
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass

from netattest.probe import frames as fr
from netattest.probe.model import Heard, Listener
from netattest.probe.sockets import PacketSocket, close_sockets, open_packet_socket


@dataclass
class _Ear:
    """One open listener: its socket and what its frames are matched against, derived once at open."""

    listener: Listener
    sock: PacketSocket
    watch: set[bytes]  # IPv4 addresses whose ARP requests it reports
    own: set[bytes]  # MAC + IPv4 bytes of its segment's own pod interfaces
    keep: set[int]  # canary marks, kept even from an own sender
    own_count: int = 0


class ListenerSet:
    """The open listeners of one engine, between :meth:`open` and :meth:`collect`."""

    def __init__(self, rcvbuf: int) -> None:
        self.rcvbuf = rcvbuf
        self.socks: dict[int, _Ear] = {}  # fd -> listener
        self.status: dict[str, str] = {}  # listener id -> "" or why it did not listen the whole time
        self._heard: dict[tuple[object, ...], Heard] = {}

    def open(self, listeners: Sequence[Listener]) -> None:
        for listener in listeners:
            if listener.id in self.status:
                continue
            code = fr.PASSIVE_BPF_CODE if listener.mode == "passive" else fr.listener_filter(
                listener.watch_ips, listener.own_senders[:fr.MAX_OWN_IN_FILTER], listener.keep_marks)
            try:
                sock = open_packet_socket((listener.netns, listener.ifname), self.rcvbuf, bpf=code,
                                          ignore_outgoing=listener.mode == "passive")
            except OSError as exc:
                self.status[listener.id] = f"cannot listen on {listener.netns or '-'}:{listener.ifname}: " \
                                           f"{exc.strerror or exc}"
                continue
            sock.flush()  # nothing from before the window
            with contextlib.suppress(OSError):
                sock.drops_since_last_read()
            self.socks[sock.fd] = _Ear(listener, sock, {fr.ip_bytes(ip) for ip in listener.watch_ips},
                                       {fr.mac_bytes(mac) + fr.ip_bytes(ip) for mac, ip in listener.own_senders},
                                       set(listener.keep_marks))
            self.status[listener.id] = ""

    def fds(self) -> list[int]:
        return list(self.socks)

    def drain(self, fd: int) -> int:
        """Read every queued frame of one listener; returns how many."""
        ear = self.socks[fd]
        listener, s, watch, own, keep = ear.listener, ear.sock, ear.watch, ear.own, ear.keep
        passive = listener.mode == "passive"
        recvfrom = s.sock.recvfrom
        got = own_heard = 0
        while True:
            try:
                data, addr = recvfrom(2048)
            except (BlockingIOError, InterruptedError):
                break
            except OSError as exc:
                self.status[listener.id] = self.status[listener.id] or f"receive: {exc.strerror or exc}"
                break
            got += 1
            if own and _own_segment(data, own, keep):
                own_heard += 1
                continue
            outgoing = addr[2] == fr.PACKET_OUTGOING
            heard = _source(data) if passive else _marked(data, watch)
            if heard is None:
                continue
            what, ip_src, ip_dst, proto, mark = heard
            key = (listener.id, what, data[6:12], ip_src, ip_dst, proto, mark)
            known = self._heard.get(key)
            if known is not None:
                known.count += 1
                continue
            self._heard[key] = Heard(listener.id, time.time(), what, fr.mac_str(data[6:12]),  # type: ignore[arg-type]
                                     fr.mac_str(data[0:6]), ip_src, ip_dst, proto, mark, outgoing)
        ear.own_count += own_heard
        return got

    def collect(self) -> tuple[list[Heard], dict[str, str]]:
        """Read what is left, note drops, close every listener; returns what was heard and how each listened."""
        for fd, ear in list(self.socks.items()):
            self.drain(fd)
            listener = ear.listener
            try:
                drops = ear.sock.drops_since_last_read()
            except OSError as exc:
                drops, self.status[listener.id] = 0, self.status[listener.id] or f"statistics: {exc}"
            if drops:
                self.status[listener.id] = self.status[listener.id] or f"the kernel dropped {drops} frame(s)"
        now = time.time()
        heard = sorted(self._heard.values(), key=lambda h: h.time)
        heard += [Heard(ear.listener.id, now, "own-network", "", count=ear.own_count)
                  for ear in self.socks.values() if ear.own_count]
        close_sockets([ear.sock.sock for ear in self.socks.values()])
        self.socks.clear()
        status = dict(self.status)
        self._heard.clear()
        self.status.clear()
        return heard, status


def _own_segment(data: bytes, own: set[bytes], keep: set[int]) -> bool:
    """A marked frame one of the segment's own senders sent (Ethernet source + ARP sender or IPv4 source), and
    not a canary: this segment's own traffic, never evidence of a path from elsewhere."""
    etype = data[12:14]
    if etype == fr.ETH_ARP and len(data) >= 54:
        if data[6:12] + data[28:32] not in own:
            return False
        return data[42:46] == fr.MAGIC_MARKED and int.from_bytes(data[46:54], "big") not in keep
    if etype == fr.ETH_IP and len(data) >= 34:
        return data[6:12] + data[26:30] in own  # canaries are ARP: an own IP probe is never one
    return False


def _marked(data: bytes, watch: set[bytes]) -> tuple[str, str, str, str, int] | None:
    """(what, ip_src, ip_dst, proto, mark) of a marked frame or a watched ARP request; None for anything else."""
    etype = data[12:14]
    if etype == fr.ETH_IP and len(data) >= 34:
        proto = data[23]
        name = {1: "icmp", 17: "udp", 6: "tcp"}.get(proto)
        if name is None:
            return None
        if name == "icmp" and data[14 + (data[14] & 0x0F) * 4] == 0:
            return None  # an echo reply repeats the request's payload: the request itself is what arrived
        start = 14 + (data[14] & 0x0F) * 4 + fr.L4_LEN[name]
        if data[start:start + 4] != fr.MAGIC_MARKED or len(data) < start + 12:
            return None
        return ("marked", socket.inet_ntoa(data[26:30]), socket.inet_ntoa(data[30:34]), name,
                int.from_bytes(data[start + 4:start + 12], "big"))
    if etype == fr.ETH_ARP and len(data) >= 42:
        if len(data) >= 54 and data[42:46] == fr.MAGIC_MARKED:
            return ("marked", socket.inet_ntoa(data[28:32]), socket.inet_ntoa(data[38:42]), "arp",
                    int.from_bytes(data[46:54], "big"))
        if data[20:22] == b"\x00\x01" and data[38:42] in watch:
            return "watched-arp", socket.inet_ntoa(data[28:32]), socket.inet_ntoa(data[38:42]), "arp", 0
    return None


def _source(data: bytes) -> tuple[str, str, str, str, int] | None:
    """A passive listener's record of a frame: who sent it (ARP sender or IPv4 source)."""
    etype = data[12:14]
    if etype == fr.ETH_ARP and len(data) >= 42:
        sender = data[28:32]
        if sender == b"\x00\x00\x00\x00":
            return None  # an ARP probe (RFC 5227) claims no address yet
        return "source", socket.inet_ntoa(sender), "", "arp", 0
    if etype == fr.ETH_IP and len(data) >= 34 and data[26:30] != b"\x00\x00\x00\x00":  # 0.0.0.0: IGMP of a bridge
        return "source", socket.inet_ntoa(data[26:30]), "", "ip", 0
    return None
