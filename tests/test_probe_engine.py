"""Probe engine against real traffic between network namespaces that these tests create (and always delete).

Nothing is added to the root namespace: every link and address lives in a `natest-<random>-*` namespace.
"""

from __future__ import annotations

import os
import socket
import struct
import subprocess
import threading
import time
from collections.abc import Iterator

import pytest

from netattest.probe import (
    Endpoint,
    Probe,
    ProbeEngine,
    ProbeError,
    WindowStats,
    in_netns,
    parse_tpacket_stats,
    read_interface,
)
from netattest.probe.frames import BPF_CODE
from tests.helpers.netlab import NET, NetnsLab, _ip, _netns_self, needs_netns

Lab = NetnsLab


@pytest.fixture
def lab(request: pytest.FixtureRequest) -> Iterator[Lab]:
    before = _netns_self()
    lab = Lab()
    request.addfinalizer(lab.teardown)
    yield lab
    assert _netns_self() == before, "the test thread was left in another network namespace"


@pytest.fixture
def engine() -> Iterator[ProbeEngine]:
    with ProbeEngine(timeout=0.4, retries=2) as eng:
        yield eng


def arp(src: Endpoint, target: str, pid: str = "", expect: bool = True, mac: str | None = None) -> Probe:
    return Probe(id=pid or f"arp-{target}", kind="arp", source=src, target_ip=target, target_mac=mac,
                 expect_answer=expect)


# --- unit tests: no namespaces ----------------------------------------------------------------------------------------
def test_tpacket_stats_parsing() -> None:
    assert parse_tpacket_stats(struct.pack("=II", 12, 3)) == (12, 3)
    with pytest.raises(ValueError):
        parse_tpacket_stats(b"\x00" * 4)


def test_window_with_drops_or_errors_is_not_trustworthy() -> None:
    ok = WindowStats(probes=1, frames_sent=1, frames_received=1, kernel_drops=0, duration_s=0.1, socket_errors=[])
    assert ok.trustworthy
    assert not WindowStats(1, 1, 1, kernel_drops=1, duration_s=0.1, socket_errors=[]).trustworthy
    assert not WindowStats(1, 1, 0, kernel_drops=0, duration_s=0.1, socket_errors=["x: down"]).trustworthy


def test_bpf_program_is_well_formed() -> None:
    insns = [struct.unpack("=HBBI", BPF_CODE[i:i + 8]) for i in range(0, len(BPF_CODE), 8)]
    for pc, (code, jt, jf, _k) in enumerate(insns):
        if code == 0x15:  # every jump lands inside the program
            assert pc + 1 + jt < len(insns) and pc + 1 + jf < len(insns)
    assert insns[-1][0] == 0x06 and insns[-2][0] == 0x06


def test_send_order_puts_silent_probes_first_and_spreads_broadcasts() -> None:
    from netattest.probe.window import send_order

    src = Endpoint(None, "eth0", "10.0.0.1", "02:00:00:00:00:01")
    probes = ([Probe(f"b{i}", "arp", src, f"10.0.1.{i}", None, True) for i in range(30)]
              + [Probe(f"u{i}", "icmp", src, f"10.0.1.{i}", "02:00:00:00:01:01", True) for i in range(30)]
              + [Probe(f"s{i}", "arp", src, f"10.0.2.{i}", None, False) for i in range(20)]
              + [Probe(f"t{i}", "icmp", src, f"10.0.2.{i}", "02:00:00:00:02:01", False) for i in range(20)])
    order = send_order(probes, list(range(len(probes))))
    assert sorted(order) == list(range(len(probes))), "every probe exactly once"
    assert all(not probes[i].expect_answer for i in order[:40]) and all(probes[i].expect_answer for i in order[40:])
    floods = [probes[i].kind == "arp" and probes[i].target_mac is None for i in order]
    longest = max(len(run) for run in "".join("b" if f else "." for f in floods).split("."))
    assert longest <= 1, "broadcasts were sent back to back"
    assert [probes[i].id for i in order if probes[i].id.startswith("b")] == [f"b{i}" for i in range(30)], \
        "the order inside one kind is kept"


def test_bad_arguments_raise() -> None:
    with pytest.raises(ProbeError):
        ProbeEngine(timeout=0)
    bad = Endpoint(netns="no/such", ifname="eth0", ip="10.0.0.1", mac="02:00:00:00:00:01")
    with pytest.raises(ProbeError), in_netns(bad.netns):
        pass


@pytest.mark.needs("root")
def test_icmp_probe_without_target_mac_is_refused() -> None:
    """Needs root: the engine opens its packet socket before it looks at the probes."""
    ep = Endpoint(netns=None, ifname="lo", ip="127.0.0.1", mac="00:00:00:00:00:00")
    with ProbeEngine(timeout=0.1) as eng, pytest.raises(ProbeError):
        eng.run([Probe(id="x", kind="icmp", source=ep, target_ip="127.0.0.1")])


# --- real traffic -----------------------------------------------------------------------------------------------------
@needs_netns
def test_arp_answered_with_right_mac_and_ip(lab: Lab, engine: ProbeEngine) -> None:
    a = lab.host("a", f"{NET}.1/24")
    b = lab.host("b", f"{NET}.2/24")
    before = _netns_self()
    results, stats = engine.run([arp(a, b.ip)])
    assert _netns_self() == before
    (r,) = results
    assert [(x.ip, x.mac, x.eth_src) for x in r.answers] == [(b.ip, b.mac, b.mac)]
    assert r.attempts == 1 and r.answers[0].attempt == 1 and r.answers[0].rtt_ms >= 0
    assert r.error == "" and r.sent_at == pytest.approx(time.time(), abs=5)
    assert "ARP who-has 10.254.0.2 tell 10.254.0.1" in r.summary()
    assert stats.trustworthy and stats.kernel_drops == 0 and stats.frames_sent == 1
    assert stats.duration_s < engine.timeout  # everything answered: the window closes early


@needs_netns
def test_arp_to_silent_address_gets_no_answer(lab: Lab, engine: ProbeEngine) -> None:
    a = lab.host("a", f"{NET}.1/24")
    lab.host("b", f"{NET}.2/24")
    (r,), stats = engine.run([arp(a, f"{NET}.99", expect=False)])
    assert r.answers == [] and r.attempts == 1
    assert stats.trustworthy and stats.rounds == 1


@needs_netns
def test_unicast_arp_reaches_only_that_mac(lab: Lab, engine: ProbeEngine) -> None:
    a = lab.host("a", f"{NET}.1/24")
    b = lab.host("b", f"{NET}.2/24")
    lab.host("b2", f"{NET}.2/24")  # same address, but the unicast request only reaches b
    (r,), _ = engine.run([arp(a, b.ip, mac=b.mac)])
    assert [x.mac for x in r.answers] == [b.mac]


@needs_netns
def test_icmp_reply_matched_with_mac(lab: Lab, engine: ProbeEngine) -> None:
    a = lab.host("a", f"{NET}.1/24")
    b = lab.host("b", f"{NET}.2/24")
    probes = [Probe(id="ping", kind="icmp", source=a, target_ip=b.ip, target_mac=b.mac),
              Probe(id="ping-wrong-ip", kind="icmp", source=a, target_ip=f"{NET}.77", target_mac=b.mac,
                    expect_answer=False)]
    (r, wrong), stats = engine.run(probes)
    assert [(x.ip, x.mac) for x in r.answers] == [(b.ip, b.mac)]
    assert r.answers[0].attempt == 1
    assert wrong.answers == []
    assert "ICMP echo-request 10.254.0.1 > 10.254.0.2" in r.summary()
    assert stats.trustworthy


@needs_netns
def test_duplicate_ip_yields_two_answers_with_two_macs(lab: Lab, engine: ProbeEngine) -> None:
    a = lab.host("a", f"{NET}.1/24")
    b1 = lab.host("b1", f"{NET}.2/24")
    b2 = lab.host("b2", f"{NET}.2/24")
    (r,), _ = engine.run([arp(a, f"{NET}.2")])
    assert sorted(x.mac for x in r.answers) == sorted([b1.mac, b2.mac])
    assert {x.ip for x in r.answers} == {f"{NET}.2"}


@needs_netns
def test_silent_probes_share_one_window(lab: Lab) -> None:
    """Probes that expect silence are sent once, all in one window, never retried (the window's cost in time:
    the silent matrix of benchmarks/bench_probe.py)."""
    a = lab.host("a", f"{NET}.1/24")
    lab.host("b", f"{NET}.2/24")
    probes = [arp(a, f"{NET}.{100 + i}", expect=False) for i in range(50)]
    with ProbeEngine(timeout=0.5, retries=2) as eng:
        results, stats = eng.run(probes)
    assert all(r.answers == [] and r.attempts == 1 for r in results)
    assert stats.rounds == 1 and stats.frames_sent == 50


def _answer_arp_late(host: Endpoint, address: str, delay: float, stop: threading.Event) -> threading.Thread:
    """A slow answerer in ``host``'s namespace: replies to who-has ``address`` after ``delay`` seconds."""
    with in_netns(host.netns):
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0806))
        sock.bind(("eth0", 0x0806))
    sock.settimeout(0.05)
    mine = bytes.fromhex(host.mac.replace(":", ""))
    wanted = socket.inet_aton(address)

    def serve() -> None:
        with sock:
            while not stop.is_set():
                try:
                    frame = sock.recv(2048)
                except TimeoutError:
                    continue
                if frame[20:22] != b"\x00\x01" or frame[38:42] != wanted:
                    continue
                time.sleep(delay)
                asker_mac, asker_ip = frame[22:28], frame[28:32]
                reply = (asker_mac + mine + b"\x08\x06" + b"\x00\x01\x08\x00\x06\x04\x00\x02"
                         + mine + wanted + asker_mac + asker_ip)
                sock.send(reply)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return thread


@needs_netns
def test_every_silent_probe_gets_a_full_window_and_the_window_ends_early(lab: Lab) -> None:
    """Silent probes are sent first: each is heard for a whole timeout after its own send, and a window whose
    expected answers are all in closes one timeout after the last silent send, not after the last send."""
    a = lab.host("a", f"{NET}.1/24")
    b = lab.host("b", f"{NET}.2/24")
    slow = f"{NET}.77"
    timeout = 0.4
    stop = threading.Event()
    answerer = _answer_arp_late(b, slow, 0.75 * timeout, stop)
    # the expected probes come first in the list; the engine still sends the silent one first
    probes = [arp(a, b.ip, f"ok-{i}") for i in range(200)] + [arp(a, slow, "must-stay-silent", expect=False)]
    try:
        with ProbeEngine(timeout=timeout, retries=0) as eng:
            eng.run([arp(a, b.ip)])  # warm up: socket opened, template built
            results, stats = eng.run(probes)
    finally:
        stop.set()
        answerer.join(timeout=2)
    silent = results[-1]
    assert [r.probe.id for r in results] == [p.id for p in probes], "results keep the caller's order"
    assert silent.sent_at <= min(r.sent_at for r in results[:-1]), "the silent probe was not sent first"
    assert [(x.ip, x.mac) for x in silent.answers] == [(slow, b.mac)], "a late answer inside its window was missed"
    assert silent.answers[0].rtt_ms >= 0.7 * timeout * 1000
    assert all(r.answers for r in results[:-1])
    assert stats.duration_s < timeout + 0.2, f"window did not close early: {stats.duration_s:.3f} s"


@needs_netns
def test_retries_only_for_probes_that_expect_an_answer(lab: Lab) -> None:
    a = lab.host("a", f"{NET}.1/24")
    b = lab.host("b", f"{NET}.2/24")
    # count the who-has frames that reach b, per target address
    with in_netns(b.netns):
        sniffer = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0806))
        sniffer.bind(("eth0", 0x0806))
    sniffer.setblocking(False)
    try:
        with ProbeEngine(timeout=0.3, retries=2) as eng:
            (loud, quiet, ok), stats = eng.run([
                arp(a, f"{NET}.50", "loud", expect=True),
                arp(a, f"{NET}.51", "quiet", expect=False),
                arp(a, b.ip, "ok", expect=True),
            ])
        seen: dict[str, int] = {}
        while True:
            try:
                frame = sniffer.recv(2048)
            except BlockingIOError:
                break
            if frame[20:22] == b"\x00\x01" and frame[6:12] == bytes.fromhex(a.mac.replace(":", "")):
                tip = socket.inet_ntoa(frame[38:42])
                seen[tip] = seen.get(tip, 0) + 1
    finally:
        sniffer.close()
    assert (loud.attempts, quiet.attempts, ok.attempts) == (3, 1, 1)
    assert seen == {f"{NET}.50": 3, f"{NET}.51": 1, b.ip: 1}
    assert stats.rounds == 3 and stats.frames_sent == 5


@needs_netns
def test_late_host_is_answered_on_a_retry(lab: Lab) -> None:
    a = lab.host("a", f"{NET}.1/24")
    b = lab.host("b", f"{NET}.2/24")
    late = f"{NET}.60"
    timer = threading.Timer(0.15, lambda: _ip("-n", b.netns or "", "addr", "add", f"{late}/24", "dev", "eth0"))
    with ProbeEngine(timeout=0.4, retries=2) as eng:
        timer.start()
        try:
            (r,), stats = eng.run([arp(a, late)])
        finally:
            timer.join()
    assert r.attempts == 2, r
    assert [(x.ip, x.mac, x.attempt) for x in r.answers] == [(late, b.mac, 2)]
    assert stats.rounds == 2


@needs_netns
def test_explicit_source_mac_and_ip_in_the_frames(lab: Lab, engine: ProbeEngine) -> None:
    from scapy.layers.inet import ICMP, IP
    from scapy.layers.l2 import ARP, Ether

    a = lab.host("a", f"{NET}.1/24")
    b = lab.host("b", f"{NET}.2/24")
    (ra, ri), _ = engine.run([arp(a, b.ip),
                              Probe(id="i", kind="icmp", source=a, target_ip=b.ip, target_mac=b.mac)])
    fa = Ether(bytes.fromhex(ra.frame_hex()))
    assert fa[Ether].src == a.mac and fa[Ether].dst == "ff:ff:ff:ff:ff:ff"
    assert (fa[ARP].op, fa[ARP].hwsrc, fa[ARP].psrc, fa[ARP].pdst) == (1, a.mac, a.ip, b.ip)
    fi = Ether(bytes.fromhex(ri.frame_hex()))
    assert (fi[Ether].src, fi[Ether].dst) == (a.mac, b.mac)
    assert (fi[IP].src, fi[IP].dst, fi[ICMP].type) == (a.ip, b.ip, 8)
    # the patched checksums are the ones scapy computes from scratch
    ip_sum, icmp_sum = fi[IP].chksum, fi[ICMP].chksum
    del fi[IP].chksum, fi[ICMP].chksum
    again = Ether(bytes(fi))
    assert (again[IP].chksum, again[ICMP].chksum) == (ip_sum, icmp_sum)


@needs_netns
def test_deaf_sources_hear_nothing(lab: Lab, engine: ProbeEngine) -> None:
    a = lab.host("a", f"{NET}.1/24")
    b = lab.host("b", f"{NET}.2/24")
    down = lab.host("down", f"{NET}.3/24", up=False)
    wrong_mac = Endpoint(netns=a.netns, ifname="eth0", ip=a.ip, mac="02:de:af:00:00:01", label="a with a wrong mac")
    results, stats = engine.run([arp(a, b.ip, "sane"), arp(down, b.ip, "down"), arp(wrong_mac, b.ip, "wrong-mac")])
    sane, dn, wm = results
    assert [x.mac for x in sane.answers] == [b.mac]  # the sanity twin: the same target answers a healthy source
    assert dn.answers == [] and dn.error and "down" in dn.error.lower()
    assert wm.answers == [] and wm.error == ""  # the reply goes to 02:de:af:..: not for a's interface
    assert not stats.trustworthy and any("down" in e.lower() for e in stats.socket_errors)


@needs_netns
def test_interface_going_down_during_the_window_breaks_it(lab: Lab) -> None:
    a = lab.host("a", f"{NET}.1/24")
    lab.host("b", f"{NET}.2/24")
    timer = threading.Timer(0.15, lambda: _ip("-n", a.netns or "", "link", "set", "eth0", "down"))
    with ProbeEngine(timeout=0.4, retries=0) as eng:
        timer.start()
        try:
            (r,), stats = eng.run([arp(a, f"{NET}.99", expect=False)])
        finally:
            timer.join()
    assert r.answers == []
    assert not stats.trustworthy and any("down" in e.lower() for e in stats.socket_errors), stats


@needs_netns
def test_missing_namespace_or_interface_is_reported_not_created(lab: Lab, engine: ProbeEngine) -> None:
    a = lab.host("a", f"{NET}.1/24")
    b = lab.host("b", f"{NET}.2/24")
    ghost = f"{lab.prefix}-ghost"
    gone = Endpoint(netns=ghost, ifname="eth0", ip="10.254.0.9", mac="02:00:00:00:09:09")
    noif = Endpoint(netns=a.netns, ifname="net1", ip=a.ip, mac=a.mac)
    results, stats = engine.run([arp(gone, b.ip), arp(noif, b.ip), arp(a, b.ip)])
    assert not os.path.exists(f"/var/run/netns/{ghost}")
    assert results[0].error and "not found" in results[0].error and results[0].attempts == 0
    assert results[1].error and "net1" in results[1].error
    assert results[2].answers and not stats.trustworthy


@needs_netns
def test_many_sources_one_window_and_socket_reuse(lab: Lab, engine: ProbeEngine) -> None:
    hosts = [lab.host(f"h{i}", f"{NET}.{i + 1}/24") for i in range(4)]
    other = lab.host("x", f"{NET}.200/24", segment="br1")  # another L2 segment: must stay silent
    probes = [arp(s, t.ip, f"{s.label}->{t.label}") for s in hosts for t in hosts if s is not t]
    probes += [arp(s, other.ip, f"{s.label}->x", expect=False) for s in hosts]
    results, stats = engine.run(probes)
    for r in results:
        if r.probe.target_ip == other.ip:
            assert r.answers == []
        else:
            (ans,) = r.answers
            assert ans.mac == next(h.mac for h in hosts if h.ip == r.probe.target_ip)
    assert stats.trustworthy and stats.probes == len(probes)
    socks_before = dict(engine._socks)
    results2, _ = engine.run(probes[:3])
    assert all(r.answers for r in results2)
    assert all(engine._socks[k] is v for k, v in socks_before.items())  # same sockets, no re-open
    assert engine.release(hosts[0].netns) == 1
    assert (hosts[0].netns, "eth0") not in engine.sockets() and len(engine.sockets()) == len(hosts) - 1


@needs_netns
def test_socket_reopened_when_the_interface_is_recreated(lab: Lab, engine: ProbeEngine) -> None:
    a = lab.host("a", f"{NET}.1/24")
    b = lab.host("b", f"{NET}.2/24")
    assert engine.run([arp(a, b.ip)])[0][0].answers
    # recreate a's interface (what a CNI DEL + ADD does): the old socket is bound to a device that is gone
    _ip("-n", a.netns or "", "link", "del", "eth0")
    _ip("-n", a.netns or "", "link", "add", "eth0", "address", a.mac, "type", "veth", "peer", "name", "p99",
        "netns", lab.sw)
    _ip("-n", lab.sw, "link", "set", "p99", "master", "br0", "up")
    _ip("-n", a.netns or "", "addr", "add", f"{a.ip}/24", "dev", "eth0")
    _ip("-n", a.netns or "", "link", "set", "eth0", "up")
    (r,), stats = engine.run([arp(a, b.ip)])
    assert [x.mac for x in r.answers] == [b.mac] and stats.trustworthy


@needs_netns
def test_kernel_drops_make_the_window_untrustworthy(lab: Lab) -> None:
    a = lab.host("a", f"{NET}.1/24")
    b = lab.host("b", f"{NET}.2/24")
    batch = "".join(f"addr add 10.254.{8 + i // 250}.{1 + i % 250}/16 dev eth0\n" for i in range(2000))
    subprocess.run(["ip", "-n", b.netns or "", "-batch", "-"], input=batch, text=True, check=True)
    _ip("-n", a.netns or "", "addr", "add", "10.254.7.1/16", "dev", "eth0")
    src = Endpoint(netns=a.netns, ifname="eth0", ip="10.254.7.1", mac=a.mac)
    probes = [arp(src, f"10.254.{8 + i // 250}.{1 + i % 250}") for i in range(2000)]
    with ProbeEngine(timeout=0.3, retries=0, rcvbuf=1024) as eng:
        _, stats = eng.run(probes)
    assert stats.kernel_drops > 0, stats
    assert not stats.trustworthy


@needs_netns
def test_read_interface(lab: Lab) -> None:
    a = lab.host("a", f"{NET}.1/24", "10.254.5.5/16")
    mac, cidrs = read_interface(a.netns, "eth0")
    assert mac == a.mac and cidrs == [f"{NET}.1/24", "10.254.5.5/16"]
    with pytest.raises(ProbeError):
        read_interface(a.netns, "nope0")
    with pytest.raises(ProbeError):
        read_interface(f"{lab.prefix}-ghost", "eth0")
    assert not os.path.exists(f"/var/run/netns/{lab.prefix}-ghost")
