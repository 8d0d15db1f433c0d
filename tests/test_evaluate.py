"""The planner and the judge: what each check expects, and that silence never passes without a sanity twin."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence

import pytest

from netattest.evaluate import run_matrix
from netattest.lab.lab import Lab
from netattest.matrix import plan_checks
from netattest.probe.engine import Answer, Listener, Probe, ProbeEngine, ProbeResult, WindowStats
from netattest.topology import load_topology, load_topology_text
from tests.conftest import MACVLAN_ONLY, SEED
from tests.helpers.scripted import MACS, ScriptedProber, healthy, judge, small_inventory

SEED_TOPOLOGY = load_topology(SEED)


def test_seed_plan_covers_every_pair_once() -> None:
    """Counted from the topology itself (not from the planner under test): the pairs the seed's expectations ask."""
    checks = plan_checks(SEED_TOPOLOGY)
    reach = [c for c in checks if c.verdict == "reachable"]
    isolated = [c for c in checks if c.verdict == "isolated"]
    pods = [p for p in SEED_TOPOLOGY.pods
            if any(getattr(SEED_TOPOLOGY.nad_of(p, n), "network", None) == "restricted" for n in p.networks)]
    hosts = {net: [h for h in SEED_TOPOLOGY.external_hosts if h.network == net] for net in ("restricted", "openshift")}
    openshift_nics = [nic for node in SEED_TOPOLOGY.nodes for nic in node.nics
                      if nic.network == "openshift" and nic.address]
    assert len(reach) == len(pods) * (len(pods) - 1 + len(hosts["restricted"]))  # each pod -> other pods + ext-host
    assert len(isolated) == len(pods) * (len(hosts["openshift"]) + len(openshift_nics))  # -> gateway, bastion, NICs
    assert len({c.id for c in checks}) == len(checks)
    assert "restricted:pod-a@node1->ext-host" in {c.id for c in reach}
    assert "restricted->openshift:pod-a@node1->node1/ens192" in {c.id for c in isolated}
    assert all(c.known_behaviour is None for c in checks)


def test_macvlan_private_mode_is_encoded_as_known_isolation() -> None:
    text = SEED.read_text().replace("mode: bridge", "mode: private")
    checks = plan_checks(load_topology_text(text, "private.yaml"))
    same_node = next(c for c in checks if c.id == "restricted:mac-a@node1->mac-b@node1")
    cross_node = next(c for c in checks if c.id == "restricted:mac-a@node1->mac-c@node2")
    assert same_node.verdict == "isolated" and "private mode" in str(same_node.known_behaviour)
    assert cross_node.verdict == "reachable"


# --- the judge, against a scripted prober ------------------------------------------------------------------------
def test_healthy_network_passes_every_check() -> None:
    run = judge(healthy)
    assert {o.status for o in run.outcomes.values()} == {"passed"}
    assert run.wire_macs[("t/pod-a", "net1")] == {MACS["pod-a"]}


def test_duplicate_address_fails_naming_both_owners() -> None:
    def duplicate(probe: Probe) -> list[Answer]:
        extra = [Answer(probe.target_ip, MACS["ext-host"], 0.7, 1)] if probe.target_ip == "192.168.112.21" else []
        return healthy(probe) + (extra if probe.kind == "arp" else [])
    outcome = judge(duplicate).outcomes["restricted:pod-a@node1->pod-c@node1"]
    assert outcome.status == "failed"
    assert "duplicate address" in outcome.reason and "pod-c@node1" in outcome.reason and "ext-host" in outcome.reason


def test_answer_from_the_wrong_mac_fails_ownership() -> None:
    def impostor(probe: Probe) -> list[Answer]:
        if probe.target_ip == "192.168.112.21" and probe.kind == "arp":
            return [Answer(probe.target_ip, "02:66:66:66:66:66", 0.4, 1)]
        return healthy(probe)
    outcome = judge(impostor).outcomes["restricted:pod-a@node1->pod-c@node1"]
    assert outcome.status == "failed" and "unknown host" in outcome.reason


def test_answer_across_vlans_fails_isolation() -> None:
    def leaky(probe: Probe) -> list[Answer]:
        if probe.target_ip == "192.168.111.21" and probe.kind == "arp":
            return [Answer(probe.target_ip, "02:00:00:00:01:92", 0.4, 1)]
        return healthy(probe)
    outcome = judge(leaky).outcomes["restricted->openshift:pod-a@node1->node1/ens192"]
    assert outcome.status == "failed" and "isolation broken" in outcome.reason and "node node1/ens192" in outcome.reason


def test_deaf_probe_never_passes_isolation() -> None:
    run = judge(lambda probe: [])
    isolation = [o for o in run.outcomes.values() if not o.check.expect_answer]
    assert isolation and all(o.status == "broken" and "sanity twin got no answer" in o.reason for o in isolation)
    assert all(o.status == "failed" for o in run.outcomes.values() if o.check.expect_answer)


def test_kernel_drops_make_silence_broken() -> None:
    run = judge(healthy, drops=3)
    isolation = [o for o in run.outcomes.values() if not o.check.expect_answer]
    assert all(o.status == "broken" and "dropped 3 frames" in o.reason for o in isolation)
    assert all(o.status == "broken" for o in run.outcomes.values())


def test_socket_error_is_broken_not_silent() -> None:
    inventory, topology = small_inventory()

    class Failing(ScriptedProber):
        def probe(self, probes: Sequence[Probe], listeners: Sequence[Listener] = (),
                  timeout: float | None = None) -> tuple[list[ProbeResult], WindowStats]:
            results, stats = super().probe(probes, listeners, timeout)
            return [dataclasses.replace(r, error="no such interface net1") for r in results], stats
    run = run_matrix(plan_checks(topology), inventory, Failing(healthy), topology)
    assert all(o.status == "broken" and "no such interface" in o.reason for o in run.outcomes.values())


# --- the same on real sockets: a deaf source in a real lab ---------------------------------------------------------
@pytest.fixture(scope="module")
def real_lab() -> Iterator[Lab]:
    lab = Lab(load_topology(MACVLAN_ONLY))
    lab.up()
    try:
        yield lab
    finally:
        lab.down()


class EngineProber:
    def __init__(self, engine: ProbeEngine) -> None:
        self.engine = engine

    def probe(self, probes: Sequence[Probe], listeners: Sequence[Listener] = (),
              timeout: float | None = None) -> tuple[list[ProbeResult], WindowStats]:
        self.engine.listen(listeners)
        results, stats = self.engine.run(probes)
        stats.heard, stats.listening = self.engine.collect()
        return results, stats


class MacRewriter:
    """A real engine whose source MAC is wrong: answers go to a MAC the pod does not own, so it hears nothing."""

    def __init__(self, engine: ProbeEngine) -> None:
        self.engine = engine

    def probe(self, probes: Sequence[Probe], listeners: Sequence[Listener] = (),
              timeout: float | None = None) -> tuple[list[ProbeResult], WindowStats]:
        bogus = [dataclasses.replace(p, source=dataclasses.replace(p.source, mac="02:de:af:00:00:01"))
                 for p in probes]
        return self.engine.run(bogus)


@pytest.mark.lab
def test_isolation_cannot_pass_when_the_real_probe_is_deaf(real_lab: Lab) -> None:
    topology = real_lab.topology
    with ProbeEngine(timeout=0.5) as engine:
        healthy_run = run_matrix(plan_checks(topology), real_lab.inventory(), EngineProber(engine), topology)
        deaf_run = run_matrix(plan_checks(topology), real_lab.inventory(), MacRewriter(engine), topology)
    assert {o.status for o in healthy_run.outcomes.values()} == {"passed"}
    isolation = [o for o in deaf_run.outcomes.values() if not o.check.expect_answer]
    assert isolation and {o.check.id for o in isolation} == {c.id for c in plan_checks(topology)
                                                             if c.verdict == "isolated"}
    assert all(o.status == "broken" and "sanity twin" in o.reason for o in isolation)


@pytest.mark.lab
def test_isolation_cannot_pass_when_the_source_interface_is_down(real_lab: Lab) -> None:
    from pyroute2 import NetNS
    pod = real_lab.inventory().pod("mac-a")
    with NetNS(str(pod.netns), flags=0) as ns:
        ns.link("set", index=ns.link_lookup(ifname="net1")[0], state="down")
    try:
        with ProbeEngine(timeout=0.5) as engine:
            run = run_matrix(plan_checks(real_lab.topology), real_lab.inventory(), EngineProber(engine),
                             real_lab.topology)
        mine = [o for o in run.outcomes.values() if o.check.source.name == "multus-test/mac-a"]
        assert mine and all(o.status != "passed" for o in mine)
        assert all(o.status == "broken" for o in mine if not o.check.expect_answer)
    finally:
        with NetNS(str(pod.netns), flags=0) as ns:
            ns.link("set", index=ns.link_lookup(ifname="net1")[0], state="up")


TWO_INTERFACES = ("""
apiVersion: netattest/v1
kind: Topology
name: two-interfaces
networks:
  - {name: lan, vlan: 120, subnet: 10.1.1.0/24}
nodes:
  - {name: node1, nics: [{name: ens224, network: lan}]}
  - {name: node2, nics: [{name: ens224, network: lan}]}
externalHosts:
  - {name: ext, network: lan, address: 10.1.1.1/24}
attachments:
  - {name: mv, namespace: t, network: lan, plugin: macvlan, mode: bridge, master: ens224, ipam: {type: static}}
pods:
  - name: pod1
    namespace: t
    nodeSelector: {kubernetes.io/hostname: node1}
    networks: [{attachment: mv, interface: net1, ips: [10.1.1.11/24]}, """
    """{attachment: mv, interface: net2, ips: [10.1.1.12/24]}]
  - {name: pod2, namespace: t, nodeSelector: {kubernetes.io/hostname: node2}, """
    """networks: [{attachment: mv, ips: [10.1.1.21/24]}]}
expectations:
  - {from: lan, to: lan, expect: reachable}
""")


def test_a_pod_with_two_interfaces_gets_unique_readable_ids_and_no_check_against_itself() -> None:
    checks = plan_checks(load_topology_text(TWO_INTERFACES, "two.yaml"))
    ids = [c.id for c in checks]
    assert len(ids) == len(set(ids))
    assert "lan:pod1@node1:net2->pod2@node2" in ids and "lan:pod2@node2->pod1@node1:net1" in ids
    assert not [c for c in checks if c.source.name == c.target.name]  # its own addresses are local, not on the VLAN
