"""L3 probes through next hops, and listeners on the target side: real frames between namespaces these tests create.

Two segments, ``a`` (10.254.0.0/24) and ``b`` (10.254.1.0/24), joined by a router whose nftables rules make it
forward both ways, one way, only TCP, or with source NAT. Each test proves what the engine reports on such a path,
so the judge can tell "isolated" from "routed" for the right reason.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from netattest.probe import Endpoint, Probe, ProbeEngine
from netattest.probe.model import Listener
from tests.helpers.netlab import NetnsLab, _netns_self, needs_netns

pytestmark = needs_netns
A, B = "10.254.0", "10.254.1"
MARK = 0x5EED_0001_0000_0001


def forward_rule(rule: str) -> str:
    """An nftables ruleset for the router: ``rule`` in its forward hook."""
    return (f"table ip lab {{\n chain forwarding {{\n  type filter hook forward priority 0; policy accept;\n"
            f"  {rule}\n }}\n}}\n")


ONE_WAY = forward_rule('iifname "eth1" drop')  # b -> a is dropped: answers never come back
TCP_ONLY = forward_rule("meta l4proto != tcp drop")
REJECT = forward_rule("reject with icmp type admin-prohibited")
NAT = 'table ip lab {\n chain masq {\n  type nat hook postrouting priority 100;\n  oifname "eth1" masquerade\n }\n}\n'


@pytest.fixture
def lab(request: pytest.FixtureRequest) -> Iterator[NetnsLab]:
    before = _netns_self()
    built = NetnsLab()
    request.addfinalizer(built.teardown)
    yield built
    assert _netns_self() == before


@pytest.fixture
def engine() -> Iterator[ProbeEngine]:
    with ProbeEngine(timeout=0.4, retries=0) as eng:
        yield eng


def routed(lab: NetnsLab, nft: str = "", back_route: bool = True) -> tuple[Endpoint, Endpoint, Endpoint]:
    """Host ``src`` on a, host ``dst`` on b, a router between them; returns (src, dst, router's leg on a)."""
    src = lab.host("src", f"{A}.10/24", segment="seg-a")
    dst = lab.host("dst", f"{B}.20/24", segment="seg-b")
    leg_a, _ = lab.router("rtr", [("seg-a", f"{A}.254/24"), ("seg-b", f"{B}.254/24")], nft)
    lab.default_route(src, f"{A}.254")
    if back_route:
        lab.default_route(dst, f"{B}.254")
    return src, dst, leg_a


def through(src: Endpoint, hop: Endpoint, target: str, mark: int = 0) -> list[Probe]:
    return [Probe(f"{kind}", kind, src, target, hop.mac, expect_answer=False, mark=mark + n if mark else 0)
            for n, kind in enumerate(("icmp", "udp", "tcp"))]


def kinds(results: list) -> dict[str, list[tuple[str, str]]]:
    return {r.probe.kind: [(a.ip, a.kind) for a in r.answers] for r in results}


def test_a_live_host_answers_each_protocol_directly(lab: NetnsLab, engine: ProbeEngine) -> None:
    src = lab.host("src", f"{A}.10/24", segment="seg-a")
    dst = lab.host("dst", f"{A}.20/24", segment="seg-a")
    results, stats = engine.run(through(src, dst, dst.ip))
    assert kinds(results) == {"icmp": [(dst.ip, "echo-reply")], "udp": [(dst.ip, "icmp-error 3/3")],
                              "tcp": [(dst.ip, "rst")]}
    assert all(a.ttl == 64 and a.mac == dst.mac for r in results for a in r.answers)
    assert stats.trustworthy


def test_every_syn_of_a_long_batch_gets_its_own_rst(lab: NetnsLab, engine: ProbeEngine) -> None:
    """A RST acknowledges the SYN's payload too (ack = key + 1 + payload), and keys are consecutive: the RST of
    one SYN must not be read as the SYN-ACK of the probe whose key is 24 higher (sent to another address) and
    dropped. Found at scale, where a pod's TCP sanity twin drowned among its own isolation probes."""
    src = lab.host("src", f"{A}.10/24", segment="seg-a")
    live = lab.host("live", f"{A}.20/24", segment="seg-a")
    silent = f"{A}.99"  # nobody: its SYNs go unanswered, the keys after the live probe's are theirs
    probes = [Probe(f"first:{n}", "tcp", src, live.ip, live.mac, expect_answer=True) for n in range(3)]
    probes += [Probe(f"after:{n}", "tcp", src, silent, live.mac, expect_answer=False) for n in range(40)]
    results, _ = engine.run(probes)
    answered = {r.probe.id: [(a.ip, a.kind) for a in r.answers] for r in results}
    assert all(answered[f"first:{n}"] == [(live.ip, "rst")] for n in range(3)), answered
    assert not any(answered[f"after:{n}"] for n in range(40))


def test_a_router_forwarding_both_ways_brings_answers_from_the_target(lab: NetnsLab, engine: ProbeEngine) -> None:
    src, dst, hop = routed(lab)
    results, _ = engine.run(through(src, hop, dst.ip))
    assert kinds(results) == {"icmp": [(dst.ip, "echo-reply")], "udp": [(dst.ip, "icmp-error 3/3")],
                              "tcp": [(dst.ip, "rst")]}
    assert all(a.ttl == 63 and a.eth_src == hop.mac for r in results for a in r.answers)  # one router crossed


@pytest.mark.needs("nft")
def test_a_one_way_router_answers_nothing_but_the_target_side_listener_hears_every_probe(
        lab: NetnsLab, engine: ProbeEngine) -> None:
    src, dst, hop = routed(lab, ONE_WAY)
    engine.listen([Listener("dst", dst.netns, "eth0")])
    results, _ = engine.run(through(src, hop, dst.ip, MARK))
    heard, listening = engine.collect()
    assert kinds(results) == {"icmp": [], "udp": [], "tcp": []}, "the way back is dropped"
    assert listening == {"dst": ""}
    assert {(h.what, h.proto, h.mark, h.ip_src, h.ip_dst) for h in heard} == {
        ("marked", proto, MARK + n, src.ip, dst.ip) for n, proto in enumerate(("icmp", "udp", "tcp"))}
    assert {h.eth_src for h in heard} != {src.mac}, "forwarded: the router's MAC on b sent it"


@pytest.mark.needs("nft")
def test_nat_rewrites_the_source_but_not_the_mark(lab: NetnsLab, engine: ProbeEngine) -> None:
    src, dst, hop = routed(lab, NAT, back_route=False)  # the target needs no route back: NAT answers for it
    engine.listen([Listener("dst", dst.netns, "eth0")])
    results, _ = engine.run(through(src, hop, dst.ip, MARK))
    heard, _ = engine.collect()
    assert kinds(results)["icmp"] == [(dst.ip, "echo-reply")]  # NAT undone on the way back
    assert {(h.ip_src, h.mark) for h in heard if h.proto == "icmp"} == {(f"{B}.254", MARK)}


@pytest.mark.needs("nft")
def test_a_tcp_only_router_forwards_only_the_syn(lab: NetnsLab, engine: ProbeEngine) -> None:
    src, dst, hop = routed(lab, TCP_ONLY)
    engine.listen([Listener("dst", dst.netns, "eth0")])
    results, _ = engine.run(through(src, hop, dst.ip, MARK))
    heard, _ = engine.collect()
    assert kinds(results) == {"icmp": [], "udp": [], "tcp": [(dst.ip, "rst")]}
    assert [h.proto for h in heard] == ["tcp"]


@pytest.mark.needs("nft")
def test_a_refusing_router_is_an_icmp_error_from_the_router_not_from_the_target(
        lab: NetnsLab, engine: ProbeEngine) -> None:
    src, dst, hop = routed(lab, REJECT)
    results, _ = engine.run(through(src, hop, dst.ip))
    assert kinds(results) == {kind: [(f"{A}.254", "icmp-error 3/13")] for kind in ("icmp", "udp", "tcp")}


def test_a_router_asking_for_a_watched_address_is_heard(lab: NetnsLab, engine: ProbeEngine) -> None:
    src, dst, hop = routed(lab)
    nobody = f"{B}.77"
    engine.listen([Listener("b", dst.netns, "eth0", watch_ips=(nobody,))])
    engine.run(through(src, hop, nobody, MARK))
    heard, _ = engine.collect()
    asks = [h for h in heard if h.what == "watched-arp"]
    assert asks and {(h.ip_src, h.ip_dst) for h in asks} == {(f"{B}.254", nobody)}


def test_a_marked_who_has_is_heard_across_an_l2_leak_and_not_without_it(lab: NetnsLab, engine: ProbeEngine) -> None:
    src = lab.host("src", f"{A}.10/24", segment="seg-a")
    far = lab.host("far", f"{B}.20/24", segment="seg-b")
    probe = Probe("arp", "arp", src, far.ip, expect_answer=False, mark=MARK)
    engine.listen([Listener("far", far.netns, "eth0")])
    engine.run([probe])
    assert engine.collect()[0] == [], "segments apart: nothing crosses"
    lab.router("leak", [("seg-a", f"{A}.250/24"), ("seg-b", f"{B}.250/24")])  # legs only: no bridge yet
    bridge = lab.created[-1]
    from tests.helpers.netlab import _ip

    _ip("-n", bridge, "link", "add", "br0", "type", "bridge")
    for leg in ("eth0", "eth1"):
        _ip("-n", bridge, "addr", "flush", "dev", leg)
        _ip("-n", bridge, "link", "set", leg, "master", "br0")
    _ip("-n", bridge, "link", "set", "br0", "up")
    engine.listen([Listener("far", far.netns, "eth0")])
    engine.run([probe])
    heard, _ = engine.collect()
    assert [(h.what, h.proto, h.mark, h.eth_src) for h in heard] == [("marked", "arp", MARK, src.mac)]


def test_a_passive_listener_hears_a_gratuitous_arp_and_not_itself(lab: NetnsLab, engine: ProbeEngine) -> None:
    me = lab.host("me", f"{A}.10/24", segment="seg-a")
    other = lab.host("other", f"{A}.20/24", segment="seg-a")
    engine.listen([Listener("me", me.netns, "eth0", mode="passive")])
    engine.run([Probe("garp", "arp", other, other.ip, expect_answer=False),  # who-has own address: gratuitous
                Probe("mine", "arp", me, f"{A}.99", expect_answer=False)])
    heard, listening = engine.collect()
    assert listening == {"me": ""}
    assert {(h.eth_src, h.ip_src) for h in heard} == {(other.mac, other.ip)}


def test_a_listener_that_cannot_open_says_why(engine: ProbeEngine) -> None:
    engine.listen([Listener("ghost", "natest-does-not-exist", "eth0")])
    heard, listening = engine.collect()
    assert heard == [] and "cannot listen on natest-does-not-exist:eth0" in listening["ghost"]


def test_a_listener_counts_its_own_segments_senders_and_keeps_everything_else(lab: NetnsLab,
                                                                             engine: ProbeEngine) -> None:
    """Own-segment traffic (a pod of this VLAN broadcasting its marked who-has) is dropped in the kernel, not kept;
    the canary of that same sender, a foreign sender on the segment, and a NAT router's forwarded frames stay
    evidence."""
    own = lab.host("own", f"{B}.10/24", segment="seg-b")
    other = lab.host("other", f"{B}.11/24", segment="seg-b")
    listener = lab.host("ear", f"{B}.20/24", segment="seg-b")
    canary = MARK + 7
    probes = [Probe("own", "arp", own, f"{B}.99", expect_answer=False, mark=MARK),
              Probe("canary", "arp", own, f"{B}.98", expect_answer=False, mark=canary),
              Probe("other", "arp", other, f"{B}.97", expect_answer=False, mark=MARK + 1)]
    engine.listen([Listener("ear", listener.netns, "eth0", own_senders=((own.mac, own.ip),), keep_marks=(canary,))])
    engine.run(probes)
    heard, _ = engine.collect()
    assert sorted((h.what, h.mark, h.count) for h in heard) == [("marked", MARK + 1, 1), ("marked", canary, 1)]


def test_a_nat_routers_frames_are_never_own_traffic(lab: NetnsLab, engine: ProbeEngine) -> None:
    src, dst, hop = routed(lab, NAT, back_route=False)
    engine.listen([Listener("dst", dst.netns, "eth0", own_senders=((dst.mac, dst.ip),))])
    engine.run(through(src, hop, dst.ip, MARK))
    heard, _ = engine.collect()
    marked = [h for h in heard if h.what == "marked"]  # (the target's own echo replies are counted as its own)
    assert marked and {h.ip_src for h in marked} == {f"{B}.254"} and {h.proto for h in marked} == {"icmp", "udp",
                                                                                                   "tcp"}


def test_the_kernel_filter_keeps_a_leaked_frame_from_a_pod_that_shares_a_mac(lab: NetnsLab,
                                                                             engine: ProbeEngine) -> None:
    """A pair is MAC *and* address: a frame with an own pod's MAC but another sender address (ipvlan pods on
    sub-interfaces of one parent share its MAC across VLANs) is not the segment's own traffic."""
    own = lab.host("own", f"{B}.10/24", segment="seg-b")
    ear = lab.host("ear", f"{B}.20/24", segment="seg-b")
    engine.listen([Listener("ear", ear.netns, "eth0", own_senders=((own.mac, f"{B}.99"),))])
    engine.run([Probe("same-mac", "arp", own, f"{B}.98", expect_answer=False, mark=MARK)])
    heard, _ = engine.collect()
    assert [(h.what, h.mark) for h in heard] == [("marked", MARK)]
