"""Isolation verdicts against a scripted network: routers nobody declared, one-way paths, NAT, vacuous targets.

Each case builds the fault that would fool a weaker check and proves the verdict fails (or is broken) for the right
reason, naming the right actor. The same faults on real namespaces are in tests/test_detection.py.
"""

from __future__ import annotations

from netattest.inventory import HostView
from netattest.probe.engine import Answer, Listener, Probe
from tests.helpers.scripted import MACS, OWNERS, SMALL, healthy, iface, judge

ROUTER_MAC, ROUTER_IP = "02:00:00:00:0f:fe", "192.168.112.254"
OPENSHIFT = {"192.168.111.21"}  # what lives on openshift in the small topology (node1's ens192)
CHECK = "restricted->openshift:pod-a@node1->node1/ens192"


def with_router(forward: bool = True, back: bool = True, only: tuple[str, ...] = ("icmp", "udp", "tcp"),
                nat: bool = False):
    """A router nobody declared: answers ARP for its own address on restricted, forwards IP sent to its MAC."""
    def respond(probe: Probe) -> list[Answer]:
        if probe.kind == "arp" and probe.target_ip == ROUTER_IP:
            return [Answer(ROUTER_IP, ROUTER_MAC, 0.3, 1, ROUTER_MAC, "arp-reply")]
        if probe.kind != "arp" and probe.target_mac == ROUTER_MAC and probe.target_ip in OPENSHIFT:
            if forward and back and probe.kind in only:
                kind = {"icmp": "echo-reply", "udp": "icmp-error 3/3", "tcp": "rst"}[probe.kind]
                return [Answer(probe.target_ip, ROUTER_MAC, 0.6, 1, ROUTER_MAC, kind, 63)]
            return []
        return healthy(probe)

    def leak(probe: Probe, listener: Listener) -> bool:
        return forward and probe.target_mac == ROUTER_MAC and probe.kind in only and listener.id.startswith(
            "openshift:") and probe.target_ip in OPENSHIFT
    return respond, leak


def test_clean_network_passes_with_what_was_tried_in_the_reason() -> None:
    run = judge(healthy)
    outcome = run.outcomes[CHECK]
    assert outcome.status == "passed"
    assert "through 1 next hop(s) [host ext-host" in outcome.reason
    assert "listener(s) proven by a canary" in outcome.reason and "IP twins (icmp, udp, tcp)" in outcome.reason
    table = run.neighbours["restricted"]
    assert {n.ip for n in table.neighbours} == set(OWNERS) - {"192.168.112.11"}  # all but the sweeper itself
    assert table.unknown() == [] and table.problem == ""


def test_undeclared_router_is_discovered_and_its_forwarding_fails_isolation() -> None:
    respond, leak = with_router()
    run = judge(respond, leak=leak)
    (unknown,) = run.neighbours["restricted"].unknown()
    assert (unknown.ip, unknown.mac, unknown.who) == (ROUTER_IP, ROUTER_MAC, "unknown host (not in the topology)")
    outcome = run.outcomes[CHECK]
    assert outcome.status == "failed" and outcome.reason.startswith("isolation broken at L3:")
    assert f"through next hop unknown host (not in the topology) (MAC {ROUTER_MAC}, {ROUTER_IP})" in outcome.reason
    assert "TTL 63" in outcome.reason
    assert [p.hop_mac for p in outcome.paths] == [MACS["ext-host"], ROUTER_MAC] or \
        sorted(p.hop_mac for p in outcome.paths) == sorted([MACS["ext-host"], ROUTER_MAC])


def test_one_way_router_fails_from_what_the_target_side_heard() -> None:
    respond, leak = with_router(back=False)
    outcome = judge(respond, leak=leak).outcomes[CHECK]
    assert outcome.status == "failed" and outcome.reason.startswith("isolation broken one way:")
    assert f"through next hop unknown host (not in the topology) (MAC {ROUTER_MAC}" in outcome.reason
    assert "ICMP echo, UDP datagram, TCP SYN from" in outcome.reason and "node node1/ens192 on openshift" in \
        outcome.reason


def test_tcp_only_router_is_caught_by_the_syn() -> None:
    respond, leak = with_router(only=("tcp",))
    outcome = judge(respond, leak=leak).outcomes[CHECK]
    assert outcome.status == "failed" and "TCP RST" in outcome.reason and "echo reply" not in outcome.reason


def test_a_router_refusing_with_icmp_errors_is_not_a_leak() -> None:
    def respond(probe: Probe) -> list[Answer]:
        if probe.kind == "arp" and probe.target_ip == ROUTER_IP:
            return [Answer(ROUTER_IP, ROUTER_MAC, 0.3, 1, ROUTER_MAC, "arp-reply")]
        if probe.kind != "arp" and probe.target_mac == ROUTER_MAC:
            return [Answer(ROUTER_IP, ROUTER_MAC, 0.3, 1, ROUTER_MAC, "icmp-error 3/13", 64)]
        return healthy(probe)
    outcome = judge(respond).outcomes[CHECK]
    assert outcome.status == "passed" and "refused (icmp-error 3/13)" in outcome.reason


def test_silence_without_answering_ip_twins_is_broken() -> None:
    def deaf_to_ip(probe: Probe) -> list[Answer]:
        return healthy(probe) if probe.kind == "arp" else []
    outcome = judge(deaf_to_ip).outcomes[CHECK]
    assert outcome.status == "broken" and "sanity twin for the IP probes got no answer" in outcome.reason


def test_a_target_side_listener_that_never_heard_its_canary_does_not_count() -> None:
    run = judge(healthy)
    assert all(r.proven for r in run.listeners)

    from netattest.evaluate import run_matrix
    from netattest.matrix import plan_checks
    from tests.helpers.scripted import ScriptedProber, small_inventory

    class Deaf(ScriptedProber):
        def hear(self, probe: Probe, listeners: list[Listener]) -> list:  # type: ignore[override]
            return []
    inventory, topology = small_inventory()
    run = run_matrix(plan_checks(topology), inventory, Deaf(healthy), topology)
    assert run.listeners and not any(r.proven for r in run.listeners)
    assert all("did not hear the canary" in r.why for r in run.listeners)
    outcome = run.outcomes[CHECK]
    assert outcome.status == "passed" and "one-way paths into openshift not watched" in outcome.reason


EMPTY_DMZ = SMALL.replace(
    "  - {name: openshift, subnet: 192.168.111.0/24, gateway: 192.168.111.1}",
    "  - {name: openshift, subnet: 192.168.111.0/24, gateway: 192.168.111.1}\n"
    "  - {name: dmz, subnet: 192.168.113.0/24}").replace(
    "  - {from: restricted, to: openshift, expect: isolated}",
    "  - {from: restricted, to: openshift, expect: isolated}\n  - {from: restricted, to: dmz, expect: isolated}")


def test_an_isolated_network_with_nobody_on_it_is_still_planned_and_broken_when_nothing_can_watch() -> None:
    run = judge(healthy, text=EMPTY_DMZ)
    planned = [o for o in run.outcomes.values() if o.check.target.network == "dmz"]
    assert {o.check.id for o in planned} == {"restricted->dmz:pod-a@node1->dmz/unused",
                                             "restricted->dmz:pod-c@node1->dmz/unused"}
    assert all(o.status == "broken" and "nothing on dmz can be probed or listened to" in o.reason for o in planned)


WATCHED_DMZ = EMPTY_DMZ.replace(
    "nics: [{name: ens224, network: restricted}, {name: ens192, network: openshift, address: 192.168.111.21/24}]",
    "nics: [{name: ens224, network: restricted}, {name: ens192, network: openshift, address: 192.168.111.21/24},"
    " {name: ens256, network: dmz}]")


def test_a_router_asking_for_an_unused_address_fails_the_vacuous_check() -> None:
    from netattest.evaluate import run_matrix
    from netattest.matrix import plan_checks
    from netattest.probe.engine import Heard
    from tests.helpers.scripted import ScriptedProber, small_inventory

    respond, _ = with_router(back=False)

    class AskingRouter(ScriptedProber):
        """The router forwards into dmz: for an address nobody holds, all a listener there hears is its who-has."""

        def hear(self, probe: Probe, listeners: list[Listener]) -> list[Heard]:  # type: ignore[override]
            heard = super().hear(probe, listeners)
            if probe.target_mac == ROUTER_MAC and probe.target_ip.startswith("192.168.113."):
                heard += [Heard(x.id, 0.0, "watched-arp", "02:00:00:00:0d:fe", "ff:ff:ff:ff:ff:ff",
                                "192.168.113.254", probe.target_ip, "arp") for x in listeners
                          if x.id.startswith("dmz:") and probe.target_ip in x.watch_ips]
            return heard
    inventory, topology = small_inventory(WATCHED_DMZ)
    inventory.nodes[0].nics["ens256"] = iface("ens256", "02:00:00:00:02:56", "", "veth")
    quiet = run_matrix(plan_checks(topology), inventory, ScriptedProber(healthy), topology)
    assert quiet.outcomes["restricted->dmz:pod-a@node1->dmz/unused"].status == "passed"
    run = run_matrix(plan_checks(topology), inventory, AskingRouter(respond), topology)
    outcome = run.outcomes["restricted->dmz:pod-a@node1->dmz/unused"]
    assert outcome.status == "failed" and "asked who-has 192.168.113." in outcome.reason
    assert f"through next hop unknown host (not in the topology) (MAC {ROUTER_MAC}" in outcome.reason


def test_an_expectation_without_a_source_pod_is_broken_not_silent() -> None:
    text = SMALL.replace("  - {from: restricted, to: openshift, expect: isolated}",
                         "  - {from: restricted, to: openshift, expect: isolated}\n"
                         "  - {from: openshift, to: restricted, expect: isolated}")
    outcome = judge(healthy, text=text).outcomes["openshift->restricted:no-pod-on-openshift"]
    assert outcome.status == "broken" and "no pod attaches to network openshift" in outcome.reason


def test_a_proxy_arp_router_is_named_as_the_one_answering_for_the_owner() -> None:
    parp = HostView("parp", "restricted", iface("eth1", "02:00:00:00:0a:ff", "192.168.112.253/24", "veth"),
                    role="router")

    def respond(probe: Probe) -> list[Answer]:
        if probe.kind == "arp" and probe.target_ip == "192.168.111.21":
            return [Answer("192.168.111.21", "02:00:00:00:0a:ff", 0.2, 1, "02:00:00:00:0a:ff", "arp-reply")]
        return healthy(probe)
    outcome = judge(respond, hosts=[parp]).outcomes[CHECK]
    assert outcome.status == "failed"
    assert ("router parp (lab-only, not in the topology) (MAC 02:00:00:00:0a:ff) answered ARP for 192.168.111.21, "
            "the address of node node1/ens192") in outcome.reason


def test_a_pod_whose_own_address_is_duplicated_is_told_so() -> None:
    def respond(probe: Probe) -> list[Answer]:
        if probe.kind == "arp" and probe.source.ip == "192.168.112.11" and probe.target_ip == "192.168.112.21":
            return []  # the answer went to the other holder of pod-a's address
        return healthy(probe)
    impostor = HostView("liar", "restricted", iface("eth0", "02:00:00:00:66:66", "192.168.112.11/24", "veth"),
                        role="impostor")
    outcome = judge(respond, hosts=[impostor]).outcomes["restricted:pod-a@node1->pod-c@node1"]
    assert outcome.status == "failed" and outcome.reason.startswith(
        "duplicate address: pod-a@node1's own address 192.168.112.11 is also held by impostor liar")


def test_a_neighbour_slower_than_the_sweep_is_found_when_asked_again_and_makes_the_census_untrustworthy() -> None:
    from netattest.evaluate import run_matrix
    from netattest.matrix import plan_checks
    from tests.helpers.scripted import ScriptedProber, small_inventory

    def slow_router(probe: Probe) -> list[Answer]:
        if probe.kind == "arp" and probe.target_ip == ROUTER_IP and ":late-sweep:" in probe.id:
            return [Answer(ROUTER_IP, ROUTER_MAC, 700.0, 1, ROUTER_MAC, "arp-reply")]  # too late for the sweep
        return healthy(probe)
    inventory, topology = small_inventory()
    run = run_matrix(plan_checks(topology), inventory, ScriptedProber(slow_router), topology, sweep_timeout=0.5)
    table = run.neighbours["restricted"]
    assert [(n.ip, n.how) for n in table.unknown()] == [(ROUTER_IP, "late ARP answer")]
    assert "answered ARP only after the sweep's 0.50 s wait" in table.problem
    outcome = run.outcomes[CHECK]
    assert outcome.status == "broken" and "neighbour discovery on restricted cannot be trusted" in outcome.reason


def test_a_probe_heard_on_a_third_vlan_breaks_that_pair_not_the_one_it_was_aimed_at() -> None:
    from netattest.evaluate import run_matrix
    from netattest.matrix import plan_checks
    from tests.helpers.scripted import ScriptedProber, small_inventory

    def lands_in_dmz(probe: Probe, listener: Listener) -> bool:  # a leak from restricted into dmz, not openshift
        return bool(probe.mark) and probe.target_ip in OPENSHIFT and listener.id.startswith("dmz:")
    inventory, topology = small_inventory(WATCHED_DMZ)
    inventory.nodes[0].nics["ens256"] = iface("ens256", "02:00:00:00:02:56", "", "veth")
    run = run_matrix(plan_checks(topology), inventory, ScriptedProber(healthy, leak=lands_in_dmz), topology)
    assert run.outcomes[CHECK].status == "passed"
    into_dmz = run.outcomes["restricted->dmz:pod-a@node1->dmz/unused"]
    assert into_dmz.status == "failed" and "frames from restricted reach dmz" in into_dmz.reason
    assert "(a probe aimed elsewhere)" in into_dmz.reason
