"""Node pre-flight without root: duties from topologies, judgements on hand-made facts, the netns backend's
registration, option parsing, the debug-pod manifest and the summary lines."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import testinfra

from netattest.nodes import checks, duties, report
from netattest.nodes.access import (
    DebugPodNodeAccess,
    NodeAccessError,
    debug_pod_manifest,
    parse_node_map,
)
from netattest.nodes.backend import NetnsBackend
from netattest.nodes.facts import DhcpDaemon, LinkFacts, NodeFacts, gather, link_facts, parse_links
from netattest.topology import load_topology, load_topology_text
from netattest.topology.model import Ipam
from tests.conftest import MACVLAN_ONLY, REPO, SEED

TRUNK = REPO / "topologies" / "vlan-trunk.yaml"


def link(name: str, *, kind: str = "veth", up: bool = True, carrier: bool = True, mtu: int = 1500,
         addresses: tuple[str, ...] = (), arp_ignore: int = 1, arp_announce: int = 2, parent: str | None = None,
         vlan_id: int | None = None, flags: tuple[str, ...] = ()) -> LinkFacts:
    base = ("LOOPBACK",) if name == "lo" else ("BROADCAST", "MULTICAST")
    state = (("UP",) if up else ()) + (("LOWER_UP",) if up and carrier else ()) + (
        ("NO-CARRIER",) if up and not carrier else ())
    return LinkFacts(name, kind, base + state + flags, "UP" if up and carrier else "DOWN", mtu, "02:00:00:00:00:01",
                     parent, vlan_id, "802.1Q" if vlan_id else None, 0, 0, addresses, arp_ignore, arp_announce)


def node_facts(node: str, *links: LinkFacts, arp_all: tuple[int, int] = (1, 2),
               binaries: dict[str, str | None] | None = None, dhcp: tuple[DhcpDaemon, ...] = ()) -> NodeFacts:
    all_links = {"lo": link("lo", kind="", addresses=("127.0.0.1",))}
    all_links.update({item.name: item for item in links})
    return NodeFacts(node, "test://", "", all_links, arp_all, arp_all, ("/opt/cni/bin",), binaries or {}, dhcp)


def healthy(node: str = "node1", **kwargs) -> NodeFacts:
    return node_facts(node, link("ens192", addresses=("192.168.111.21",)), link("ens224"), link("ens256"), **kwargs)


@pytest.fixture(scope="module")
def macvlan_duties() -> dict[str, duties.MasterDuty]:
    return {d.id: d for d in duties.master_duties(load_topology(MACVLAN_ONLY))}


# -- duties --------------------------------------------------------------------------------------------------------

def test_labelled_nodes_carry_every_nad_of_their_label_and_the_rest_stay_off_the_vlan() -> None:
    topology = load_topology(MACVLAN_ONLY)
    assert sorted(d.id for d in duties.master_duties(topology)) == [
        "node1:ens224", "node1:ens256", "node2:ens224", "node2:ens256"]
    assert duties.labelled_nodes(topology) == ["node1", "node2"]
    assert [o.id for o in duties.off_vlan(topology)] == ["node3:restricted"]
    assert duties.required_binaries(topology, "node1", lab=False) == {
        "macvlan": ("multus-test/net1", "multus-test/net1-macvlan"),
        "static": ("multus-test/net1", "multus-test/net1-macvlan")}
    assert duties.required_binaries(topology, "node3", lab=False) == {}


DEFAULT_INTERFACE_MASTER = """
apiVersion: netattest/v1
kind: Topology
name: default-interface
networks:
  - {name: nodes, subnet: 10.1.1.0/24, gateway: 10.1.1.1}
nodes:
  - {name: node1, labels: {multus: "yes"}, nics: [{name: ens3, network: nodes, address: 10.1.1.21/24}]}
  - {name: node2, labels: {multus: "yes"}, nics: [{name: ens3, network: nodes, address: 10.1.1.22/24}]}
attachments:
  - {name: mv, namespace: t, network: nodes, plugin: macvlan, master: ens3,
     ipam: {type: host-local, subnet: 10.1.1.0/24, rangeStart: 10.1.1.100, rangeEnd: 10.1.1.200}}
pods:
  - {name: pod1, namespace: t, nodeSelector: {kubernetes.io/hostname: node1}, networks: [{attachment: mv}]}
expectations:
  - {from: nodes, to: nodes, expect: reachable}
"""


def test_a_master_that_is_the_nodes_own_interface_puts_no_node_off_the_vlan() -> None:
    """Regression: with the NAD on the nodes' default interface and pods pinned by hostname, node2 (whose address
    in that network the topology declares) was flagged as 'an unwatched way into' the VLAN."""
    topology = load_topology_text(DEFAULT_INTERFACE_MASTER, "default-interface.yaml")
    assert duties.off_vlan(topology) == []


def test_trunk_masters_expect_their_vlan_sub_interface_and_the_vlan_plugin_its_trunk() -> None:
    topology = load_topology(TRUNK)
    found = {d.id: d for d in duties.master_duties(topology)}
    sub = found["node1:ens224.112"]
    assert (sub.parent, sub.vlan, sub.only_master) == ("ens224", 112, True)
    trunk = found["node1:ens224"]
    assert (trunk.parent, trunk.plugins, trunk.only_master) == (None, ("vlan",), False)
    assert sorted(o.id for o in duties.off_vlan(topology)) == ["node3:lab", "node3:restricted"]
    assert set(duties.required_binaries(topology, "node2", lab=True)) == {"macvlan", "static", "vlan"}


def test_lab_binaries_follow_lab_drift_and_the_whereabouts_emulation() -> None:
    topology = load_topology(SEED)
    net1 = next(a for a in topology.attachments if a.name == "net1")
    drifted = dataclasses.replace(topology, attachments=tuple(
        dataclasses.replace(a, ipam=Ipam("whereabouts", {"range": "192.168.112.0/24"})) if a is net1 else a
        for a in topology.attachments), lab=dataclasses.replace(topology.lab, drift=dataclasses.replace(
            topology.lab.drift, nad_plugin={"net1": ("macvlan", "bridge")})))
    assert duties.required_binaries(drifted, "node1", lab=False) == {
        "ipvlan": ("multus-test/net1",), "macvlan": ("multus-test/net1-macvlan",),
        "static": ("multus-test/net1-macvlan",), "whereabouts": ("multus-test/net1",)}
    assert duties.required_binaries(drifted, "node1", lab=True) == {
        "host-local": ("multus-test/net1",), "macvlan": ("multus-test/net1", "multus-test/net1-macvlan"),
        "static": ("multus-test/net1-macvlan",)}
    assert duties.whereabouts_nads(drifted, "node1") == ("multus-test/net1",)


def test_a_pod_pinned_by_hostname_alone_makes_only_that_node_carry_its_nad() -> None:
    topology = load_topology(MACVLAN_ONLY)
    pods = tuple(dataclasses.replace(p, node_selector={"kubernetes.io/hostname": "node2"})
                 if p.name == "mac-c" else p for p in topology.pods if not p.name.startswith("mac-") or
                 p.name == "mac-c")
    pinned = dataclasses.replace(topology, pods=pods)
    assert sorted(d.id for d in duties.master_duties(pinned)) == ["node1:ens224", "node2:ens224", "node2:ens256"]


# -- checks on hand-made facts -------------------------------------------------------------------------------------

def test_a_healthy_node_passes_every_master_check(macvlan_duties) -> None:
    duty = macvlan_duties["node1:ens224"]
    facts = healthy()
    for check in (checks.check_master_nic, checks.check_master_link, checks.check_master_mtu,
                  checks.check_master_address, checks.check_master_rx_mode):
        assert check(duty, facts).ok, check.__name__
    assert checks.check_arp_flux(facts).ok


def test_a_missing_master_fails_once_and_the_dependent_checks_skip(macvlan_duties) -> None:
    duty = macvlan_duties["node2:ens256"]
    facts = node_facts("node2", link("ens192", addresses=("192.168.111.22",)), link("ens224"))
    finding = checks.check_master_nic(duty, facts)
    assert finding.message.startswith("node node2 carries the label node-role.kubernetes.io/multus-node=yes but "
                                      "has no master NIC ens256")
    assert "'Link not found'" in finding.message
    for check in (checks.check_master_link, checks.check_master_mtu, checks.check_master_address):
        assert check(duty, facts).skip == "node2 has no master NIC ens256 (see test_master_nic[node2:ens256])"


def test_no_carrier_is_told_apart_from_down(macvlan_duties) -> None:
    duty = macvlan_duties["node1:ens224"]
    down = checks.check_master_link(duty, node_facts("node1", link("ens224", up=False)))
    assert "node1 ens224 (master of NAD multus-test/net1 (macvlan bridge)) is down" in down.message
    assert "ip link set ens224 up" in down.message
    loose = checks.check_master_link(duty, node_facts("node1", link("ens224", carrier=False)))
    assert "is up but has no carrier" in loose.message and "NO-CARRIER" in loose.message


def test_mtu_both_ways_and_a_nad_asking_for_more(macvlan_duties) -> None:
    duty = macvlan_duties["node1:ens224"]
    low = checks.check_master_mtu(duty, node_facts("node1", link("ens224", mtu=1400)))
    assert low.message.startswith("node1 ens224 has MTU 1400, expected 1500 (declared for ens224 on node1)")
    high = checks.check_master_mtu(duty, node_facts("node1", link("ens224", mtu=9000)))
    assert "send frames of up to 9000 bytes" in high.message
    greedy = dataclasses.replace(duty, attachments=tuple(dataclasses.replace(a, mtu=9000) for a in duty.attachments))
    assert "asks for mtu 9000, more than node1 ens224's 1500" in checks.check_master_mtu(
        greedy, node_facts("node1", link("ens224"))).message


def test_an_address_on_a_pure_master_fails_but_ipv6_link_local_does_not(macvlan_duties) -> None:
    duty = macvlan_duties["node1:ens224"]
    finding = checks.check_master_address(duty, node_facts("node1", link("ens224", addresses=("192.168.112.99",))))
    assert finding.message.startswith("node1 ens224 carries 192.168.112.99, but it is only a master for NAD "
                                      "multus-test/net1 (macvlan bridge)")
    assert "ip addr flush dev ens224" in finding.message
    assert checks.check_master_address(duty, node_facts("node1", link("ens224", addresses=("fe80::1",)))).ok


def test_trunk_sub_interface_with_the_wrong_vlan_or_no_tag_fails() -> None:
    sub = {d.id: d for d in duties.master_duties(load_topology(TRUNK))}["node1:ens224.112"]
    wrong = node_facts("node1", link("ens224"), link("ens224.112", kind="vlan", parent="ens224", vlan_id=113))
    assert "node1 ens224.112 tags VLAN 113, but NAD multus-test/net112 (macvlan bridge) is for VLAN 112" in \
        checks.check_master_nic(sub, wrong).message
    untagged = node_facts("node1", link("ens224"), link("ens224.112", kind="dummy"))
    assert "is a dummy, not a VLAN sub-interface of ens224 tagging VLAN 112" in \
        checks.check_master_nic(sub, untagged).message
    trunk_down = node_facts("node1", link("ens224", up=False),
                            link("ens224.112", kind="vlan", parent="ens224", vlan_id=112))
    assert checks.check_master_nic(sub, trunk_down).ok
    assert "node1 ens224 (trunk under ens224.112" in checks.check_master_link(sub, trunk_down).message
    small_trunk = node_facts("node1", link("ens224", mtu=1400),
                             link("ens224.112", kind="vlan", parent="ens224", vlan_id=112))
    assert "trunk ens224 has MTU 1400, below its VLAN sub-interface" in \
        checks.check_master_mtu(sub, small_trunk).message


def test_rx_mode_is_recorded_with_what_each_plugin_needs() -> None:
    topology = load_topology(SEED)
    found = {d.id: d for d in duties.master_duties(topology)}
    facts = healthy()
    ipvlan = checks.check_master_rx_mode(found["node1:ens224"], facts)
    macvlan = checks.check_master_rx_mode(found["node1:ens256"], facts)
    assert ipvlan.ok and macvlan.ok
    assert any("no promiscuous mode needed" in n for n in ipvlan.notes)
    assert any("unicast filter" in n and "forged transmits" in n for n in macvlan.notes)


def test_arp_flux_needs_arp_ignore_zero_and_an_address_on_another_nic() -> None:
    flux = checks.check_arp_flux(node_facts("node1", link("ens192", addresses=("192.168.111.21",)),
                                            link("ens224", arp_ignore=0), arp_all=(0, 2)))
    assert flux.message.startswith("ARP flux on node node1: with net.ipv4.conf.all.arp_ignore=0, ens224 "
                                   "(arp_ignore 0) answer ARP requests for 192.168.111.21 (ens192)")
    assert "sysctl -w net.ipv4.conf.all.arp_ignore=1" in flux.message
    # conf/all=1 wins over a per-interface 0: the kernel uses the larger value
    assert checks.check_arp_flux(node_facts("node1", link("ens192", addresses=("192.168.111.21",)),
                                            link("ens224", arp_ignore=0))).ok
    # one NIC only: nothing else to answer for, so no flux even with arp_ignore=0
    single = checks.check_arp_flux(node_facts("node3", link("ens192", addresses=("192.168.111.23",), arp_ignore=0),
                                              arp_all=(0, 2)))
    assert single.ok and any("no flux is possible yet" in n for n in single.notes)
    announce = checks.check_arp_flux(node_facts("node1", link("ens192", addresses=("192.168.111.21",),
                                                              arp_announce=0), link("ens224", arp_announce=0),
                                                arp_all=(1, 0)))
    assert "may announce 192.168.111.21 (ens192)" in announce.message


def test_missing_binaries_are_named_with_their_nads_and_the_dirs() -> None:
    required = {"macvlan": ("multus-test/net1",), "static": ("multus-test/net1",)}
    finding = checks.check_cni_binaries(required, healthy(binaries={"macvlan": None, "static": "/opt/cni/bin/static"}))
    assert finding.message.startswith("node1 lacks CNI plugin binary 'macvlan' (NAD multus-test/net1) in "
                                      "/opt/cni/bin")
    assert checks.check_cni_binaries(required, healthy(binaries={"macvlan": "/x", "static": "/y"})).ok
    assert checks.check_cni_binaries({}, healthy()).skip == "node1 carries no NAD"
    emulated = checks.check_cni_binaries({"host-local": ("a/b",)}, healthy(binaries={"host-local": "/x"}),
                                         emulated={"whereabouts": "host-local"})
    assert any("whereabouts is emulated by host-local" in n for n in emulated.notes)


def test_dhcp_nads_need_the_dhcp_daemon_and_its_socket() -> None:
    assert checks.check_ipam_daemons((), healthy()).skip
    none = checks.check_ipam_daemons(("multus-test/dhcp-net",), healthy())
    assert none.message.startswith("node1 runs no CNI dhcp daemon ('dhcp daemon'), which NAD multus-test/dhcp-net")
    gone = healthy(dhcp=(DhcpDaemon(42, "/opt/cni/bin/dhcp daemon", "/run/cni/dhcp.sock", False),))
    assert "its socket /run/cni/dhcp.sock is missing" in checks.check_ipam_daemons(("x/y",), gone).message
    running = healthy(dhcp=(DhcpDaemon(42, "/opt/cni/bin/dhcp daemon", "/run/cni/dhcp.sock", True),))
    assert checks.check_ipam_daemons(("x/y",), running).ok


def test_an_unlabelled_node_may_carry_the_master_without_an_address_but_not_sit_in_the_vlan() -> None:
    off = duties.off_vlan(load_topology(MACVLAN_ONLY))[0]
    clean = checks.check_off_vlan(off, node_facts("node3", link("ens192", addresses=("192.168.111.23",))))
    assert clean.ok and "node3 has none of ens224, ens256" in clean.notes[0]
    harmless = checks.check_off_vlan(off, node_facts("node3", link("ens192"), link("ens224")))
    assert harmless.ok and harmless.notes[0].startswith("harmless: node3 has ens224 but no address in restricted")
    inside = checks.check_off_vlan(off, node_facts("node3", link("ens192"), link("ens224",
                                                                                addresses=("192.168.112.50",))))
    assert inside.message.startswith("node node3 carries no label of VLAN restricted's NADs, yet holds "
                                     "192.168.112.50 on ens224 in restricted (192.168.112.0/24)")


# -- facts parsing, backend, access, options, report ---------------------------------------------------------------

IP_JSON = json.dumps([
    {"ifname": "ens224.112", "flags": ["BROADCAST", "MULTICAST", "UP", "LOWER_UP"], "mtu": 1500,
     "operstate": "UP", "address": "aa:bb:cc:00:00:01", "link": "ens224", "promiscuity": 0, "allmulti": 0,
     "linkinfo": {"info_kind": "vlan", "info_data": {"protocol": "802.1Q", "id": 112, "flags": ["REORDER_HDR"]}}},
])


def test_link_details_come_from_ip_json() -> None:
    detail = parse_links(IP_JSON)["ens224.112"]
    facts = link_facts("ens224.112", detail, ["192.168.112.5"], 1, 2)
    assert (facts.kind, facts.vlan_id, facts.parent, facts.up, facts.carrier) == ("vlan", 112, "ens224", True, True)


class _FailingHost:
    def find_command(self, name: str) -> str:
        return "/usr/sbin/ip"

    def check_output(self, *args: object) -> str:
        raise AssertionError("Unexpected exit code 255 for CommandResult(...)")


def test_unreadable_facts_are_an_infrastructure_error_not_a_failed_check() -> None:
    from netattest.nodes.facts import NodeFactsError
    with pytest.raises(NodeFactsError, match="could not read the facts of node node1 through netns://x"):
        gather(_FailingHost(), "node1", access="netns://x", bin_dirs=(), binaries=())


def test_netns_is_a_testinfra_connection_type() -> None:
    host = testinfra.get_host("netns://na-00000000-node-node1")
    assert isinstance(host.backend, NetnsBackend)
    assert host.backend.name == "na-00000000-node-node1"
    assert host.backend.get_pytest_id() == "netns://na-00000000-node-node1"
    assert not host.backend.exists()


def test_node_options_split_per_node_and_everywhere() -> None:
    per_node, everywhere = parse_node_map(["node2=/tmp/a", "/opt/cni/bin", "node2=/tmp/b",
                                           "node1=ssh://core@10.0.0.1"], "--cni-bin-dir")
    assert per_node == {"node2": ["/tmp/a", "/tmp/b"], "node1": ["ssh://core@10.0.0.1"]}
    assert everywhere == ["/opt/cni/bin"]
    with pytest.raises(NodeAccessError, match="nothing after '='"):
        parse_node_map(["node1="], "--node-host")


def test_debug_pod_is_pinned_to_its_node_on_the_host_network() -> None:
    from netattest.k8s.validation import validate_manifest

    manifest = debug_pod_manifest("worker-1.example.com", "3fa2c901", "netattest-3fa2c901-node-checks",
                                  service_account="netattest-node-check",
                                  annotations={"openshift.io/required-scc": "netattest-node-check"})
    validate_manifest(manifest)
    spec = manifest["spec"]
    assert spec["nodeName"] == "worker-1.example.com" and spec["hostNetwork"] and spec["hostPID"]
    labels = manifest["metadata"]["labels"]
    assert labels["netattest.io/run-id"] == "3fa2c901" and labels["app.kubernetes.io/managed-by"] == "netattest"
    assert labels["netattest.io/node"] == "worker-1.example.com"
    assert spec["volumes"] == [{"name": "host", "hostPath": {"path": "/"}}]
    assert spec["containers"][0]["volumeMounts"][0] == {"name": "host", "mountPath": "/host", "readOnly": True}
    assert spec["serviceAccountName"] == "netattest-node-check" and spec["automountServiceAccountToken"] is False
    assert spec["activeDeadlineSeconds"] == 900
    long = debug_pod_manifest("n" * 80, "3fa2c901", "ns")["metadata"]
    assert len(long["name"]) == 63 and len(long["labels"]["netattest.io/node"]) == 63
    assert DebugPodNodeAccess.root == ""  # commands chroot into the node's /: its files at their own paths


def test_summary_lines_say_whether_the_run_was_stopped(tmp_path: Path) -> None:
    assert report.preflight_lines(tmp_path) == []
    outcomes = {"test_cni_plugins[node2]": {"node": "node2", "status": "failed", "reason": "lacks macvlan"},
                "test_arp_flux[node1]": {"node": "node1", "status": "passed", "reason": ""}}
    report.write_verdict(tmp_path, report.verdict_of(outcomes, stopped=True))
    lines = report.preflight_lines(tmp_path)
    assert lines[0] == "  PRE-FLIGHT FAILED: nodes unfit: node2 (1 check failed)"
    assert "the run stopped before any pod was created" in lines[1] and "--skip-preflight" in lines[1]
    report.write_verdict(tmp_path, {"status": "skipped", "stopped_run": False})
    assert report.preflight_lines(tmp_path) == [
        "  pre-flight skipped (--skip-preflight): node fitness was not checked"]


def test_arp_sysctls_keep_dotted_interface_names() -> None:
    from netattest.nodes.facts import parse_arp_sysctls
    text = ("/proc/sys/net/ipv4/conf/all/arp_ignore:1\n/proc/sys/net/ipv4/conf/ens224.112/arp_ignore:0\n"
            "/proc/sys/net/ipv4/conf/ens224.112/arp_announce:2\n")
    assert parse_arp_sysctls(text) == {("all", "arp_ignore"): 1, ("ens224.112", "arp_ignore"): 0,
                                       ("ens224.112", "arp_announce"): 2}


def test_dhcp_sockets_come_from_the_nad_or_the_lab_run_directory(tmp_path: Path) -> None:
    topology = load_topology(MACVLAN_ONLY)
    dhcp = tuple(dataclasses.replace(a, ipam=Ipam("dhcp", {})) if a.name == "net1" else a
                 for a in topology.attachments)
    with_dhcp = dataclasses.replace(topology, attachments=dhcp)
    assert duties.dhcp_nads(with_dhcp, "node1") == ("multus-test/net1",)
    assert duties.dhcp_sockets(with_dhcp, "node1") == ("/run/cni/dhcp.sock",)
    assert duties.dhcp_sockets(with_dhcp, "node1", lab_run_dir=tmp_path) == (str(tmp_path / "dhcp" / "dhcp.sock"),)
    assert duties.dhcp_sockets(with_dhcp, "node3") == ()


def test_netattest_run_keeps_the_preflight_in_a_marker_selection() -> None:
    import argparse

    from netattest.commands import run as run_command
    parser = argparse.ArgumentParser()
    run_command.configure(parser)

    def argv(*options: str) -> list[str]:
        args = parser.parse_args(list(options))
        args.extra = []
        return run_command.pytest_argv(args, "3fa2c901", Path("/tmp/reports"))

    def marker(argv_: list[str]) -> str:  # the session's -m (the first one is python's own "-m pytest")
        return argv_[len(argv_) - argv_[::-1].index("-m")]

    assert marker(argv("-m", "mac")) == "(mac) or nodes"
    skipped = argv("-m", "mac", "--skip-preflight")
    assert marker(skipped) == "mac" and "--skip-preflight" in skipped
    assert marker(argv("-m", "nodes")) == "nodes"
