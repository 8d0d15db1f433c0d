"""AF_PACKET sockets opened inside other network namespaces, and kept: a packet socket stays bound to the namespace
it was opened in, so one process can hold sockets in every pod of a lab.

Stdlib only: shipped into probe pods with the engine.
"""

from __future__ import annotations

import contextlib
import errno
import socket

from netattest.probe.frames import BPF_CODE, attach_bpf
from netattest.probe.model import parse_tpacket_stats
from netattest.probe.netns import in_netns, netns_identity, netns_path

ETH_P_ALL = 0x0003
SOL_PACKET = 263
PACKET_STATISTICS = 6
PACKET_IGNORE_OUTGOING = 23
SO_RCVBUFFORCE = 33

SocketKey = tuple[str | None, str]  # (netns, ifname)


class PacketSocket:
    """One bound, non-blocking packet socket and the per-window state the matcher keeps on it."""

    __slots__ = ("arp_table", "broken", "failed_sends", "fd", "filtered", "identity", "key", "sock")

    def __init__(self, key: SocketKey, sock: socket.socket, identity: tuple[int, int], filtered: bool = False) -> None:
        self.key = key
        self.filtered = filtered  # the probe filter is attached: outgoing and other-host frames never arrive
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
            if netns_identity(self.key[0]) != self.identity:
                return False  # the namespace was deleted and recreated under the same name
            return bool(self.sock.getsockname()[0] == self.key[1])  # the interface was deleted or recreated
        except OSError:
            return False

    def reset(self) -> None:
        """Forget the previous window's matching state."""
        self.arp_table = {}
        self.broken = ""
        self.failed_sends = 0

    def flush(self) -> None:
        """Discard frames queued before the window, so an old answer can never be matched to a new probe."""
        recv = self.sock.recv
        while True:
            try:
                recv(65535)
            except OSError:  # BlockingIOError (empty) included
                return

    def drops_since_last_read(self) -> int:
        """PACKET_STATISTICS drops; reading the counters resets them (raises OSError when it cannot be read)."""
        return parse_tpacket_stats(self.sock.getsockopt(SOL_PACKET, PACKET_STATISTICS, 8))[1]


def open_packet_socket(key: SocketKey, rcvbuf: int, *, bpf: bytes | None = BPF_CODE,
                       ignore_outgoing: bool = True) -> PacketSocket:
    """Open a packet socket on ``ifname`` inside ``netns``; errors name the namespace and interface."""
    netns, ifname = key
    sock: socket.socket | None = None
    try:
        identity = netns_identity(netns)
        with in_netns(netns):
            # protocol 0 at creation, ETH_P_ALL at bind: re-binding a socket created with a protocol waits for an
            # RCU grace period (~20 ms per socket); this way opening is free and nothing arrives before bind
            sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
        # receive buffer: SO_RCVBUFFORCE ignores net.core.rmem_max (needs CAP_NET_ADMIN), else SO_RCVBUF
        try:
            sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, rcvbuf)
        except OSError:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        if ignore_outgoing:
            with contextlib.suppress(OSError):
                sock.setsockopt(SOL_PACKET, PACKET_IGNORE_OUTGOING, 1)
        filtered = False
        if bpf is not None:
            with contextlib.suppress(OSError):
                attach_bpf(sock, bpf)
                filtered = bpf == BPF_CODE
        sock.setblocking(False)
        try:
            sock.bind((ifname, ETH_P_ALL))  # resolved in the socket's own namespace
        except OSError as exc:
            if exc.errno == errno.ENODEV:
                raise OSError(exc.errno, f"no interface {ifname!r} in netns {netns or '(current)'}") from None
            raise
        return PacketSocket(key, sock, identity, filtered)
    except FileNotFoundError:
        if sock is not None:
            sock.close()
        raise OSError(errno.ENOENT, f"netns {netns!r} not found ({netns_path(netns or '')})") from None
    except BaseException:
        if sock is not None:
            sock.close()
        raise


def close_sockets(socks: list[socket.socket]) -> None:
    """Close packet sockets in parallel threads: each close waits for an RCU grace period (~10 ms in the kernel's
    packet_release), and concurrent closes share grace periods, so 150 listeners close in tens of milliseconds
    instead of 1.7 s one by one."""

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
