"""Batched ARP/ICMP/UDP/TCP probe engine over AF_PACKET sockets held in many network namespaces.

Self-contained on purpose: the ``netattest.probe`` modules it uses (model, netns, frames, sockets, window) depend
only on the Python standard library and scapy, because they are also shipped into probe pods and driven over a
line protocol (:mod:`netattest.probe.agent`). Keep other ``netattest`` imports out of them.

The engine owns what outlives a window: one AF_PACKET socket per (netns, ifname), opened inside that namespace and
reused while the namespace and interface still exist, and the per-endpoint frame templates. A window
(:class:`netattest.probe.window.Window`) runs in phases: open sockets, build frames, send a round, await the
window, results. The engine never decides a verdict.

Linux only; needs CAP_NET_RAW, and CAP_SYS_ADMIN to enter other namespaces.
"""

from __future__ import annotations

import contextlib
import gc
import os
import time
from collections.abc import Sequence

from netattest.probe.frames import BPF_CODE, Template, build_template
from netattest.probe.listen import ListenerSet
from netattest.probe.model import (
    Answer,
    CapturedFrame,
    Endpoint,
    Heard,
    Listener,
    Probe,
    ProbeError,
    ProbeResult,
    WindowStats,
    parse_tpacket_stats,
)
from netattest.probe.netns import in_netns, netns_path
from netattest.probe.sockets import PacketSocket, SocketKey, close_sockets, open_packet_socket
from netattest.probe.window import Window, send_order

__all__ = [
    "Answer",
    "CapturedFrame",
    "Endpoint",
    "Heard",
    "Listener",
    "Probe",
    "ProbeEngine",
    "ProbeError",
    "ProbeResult",
    "WindowStats",
    "in_netns",
    "netns_path",
    "parse_tpacket_stats",
]


class ProbeEngine:
    """Send batches of probes from many namespaces and collect all answers in one window.

    ``timeout``: how long every probe of the first round is listened to after its own send (the window ends at the
    latest one timeout after the last frame is sent); retry rounds use ``retry_timeout`` (default ``timeout / 2``).
    ``settle``: once every probe that expects an answer has one, keep listening this long for late duplicates (and
    at least until the last silent probe's timeout has run out), then stop early. ``records=False`` skips the
    per-probe hex/summary strings (results and answers are still returned). ``keep_frames=True`` keeps the raw bytes
    of every frame sent and every matched answer (up to ``MAX_KEPT_FRAMES`` per probe) in ``ProbeResult.frames``,
    for pcaps; off by default, and when off it costs one boolean test per frame.
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
        pace_s: float = 0.0,
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
        self.pace_s = float(pace_s)  # a pause after every DRAIN_EVERY sends (slow kernels; see window.send_round)
        self.bpf = bpf
        self._socks: dict[SocketKey, PacketSocket] = {}
        self._templates: dict[tuple[str, str], Template] = {}
        self._key_counter = int.from_bytes(os.urandom(4), "big")
        self.listeners = ListenerSet(self.rcvbuf)

    # context manager ------------------------------------------------------------------------------------------------
    def __enter__(self) -> ProbeEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close every socket (listeners included)."""
        self.listeners.collect()
        socks = [s.sock for s in self._socks.values()]
        self._socks.clear()
        close_sockets(socks)

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

    def sockets(self) -> list[SocketKey]:
        """The (netns, ifname) pairs this engine currently holds a socket for."""
        return list(self._socks)

    # what windows share ---------------------------------------------------------------------------------------------
    def socket_for(self, key: SocketKey) -> PacketSocket:
        """The kept socket of (netns, ifname), reopened when its namespace or interface was recreated."""
        s = self._socks.get(key)
        if s is not None and s.still_valid():
            return s
        if s is not None:
            with contextlib.suppress(OSError):
                s.sock.close()
            del self._socks[key]
        s = open_packet_socket(key, self.rcvbuf, bpf=BPF_CODE if self.bpf else None)
        self._socks[key] = s
        return s

    def template(self, ep: Endpoint) -> Template:
        k = (ep.mac.lower(), ep.ip)
        t = self._templates.get(k)
        if t is None:
            t = self._templates[k] = build_template(ep.mac, ep.ip)
        return t

    def next_key(self) -> int:
        """A 32-bit key, unique within the engine, that an answer echoes back (ICMP id/seq)."""
        self._key_counter = (self._key_counter + 1) & 0xFFFFFFFF
        return self._key_counter

    # listening --------------------------------------------------------------------------------------------------------
    def listen(self, listeners: Sequence[Listener]) -> None:
        """Open listeners now, before the window that may reach them; they are read during every window that
        follows and once more by :meth:`collect`. A listener that cannot be opened is reported by collect()."""
        self.listeners.open(listeners)

    def collect(self) -> tuple[list[Heard], dict[str, str]]:
        """Close the listeners; returns what they heard and, per listener id, "" or why it did not listen."""
        return self.listeners.collect()

    # the run ----------------------------------------------------------------------------------------------------------
    def run(self, probes: Sequence[Probe]) -> tuple[list[ProbeResult], WindowStats]:
        """Probe everything in one window (plus bounded retry rounds for probes that expect an answer).

        The cyclic garbage collector is paused for the window: a window allocates tens of thousands of answers
        and results and no cycles, and a full collection in the middle of it stalls the receive loop (tens of
        ms at 10,000 probes) while answers pile up in the socket buffers."""
        collecting = gc.isenabled()
        gc.disable()
        try:
            return self._run(probes)
        finally:
            if collecting:
                gc.enable()

    def _run(self, probes: Sequence[Probe]) -> tuple[list[ProbeResult], WindowStats]:
        window = Window(self, probes)
        window.open_sockets()
        window.build_frames()
        window.prepare()
        pending = send_order(probes, [i for i in range(len(probes)) if window.sock_of[i] is not None])
        setup_s = time.perf_counter() - window.t_start
        for round_no in range(1, self.retries + 2):
            if not pending:
                break
            window.rounds = round_no
            if round_no > 1:
                window.rebuild_for_retry(pending, round_no)
            last_silent_send = window.send_round(pending)
            window.await_answers(pending, self.timeout if round_no == 1 else self.retry_timeout, last_silent_send)
            pending = window.still_unanswered(pending)
        results, stats = window.results()
        stats.setup_s = setup_s
        return results, stats
