"""Node pre-flight on real lab nodes: break each pre-condition on purpose and see the matching check fail.

Each test builds the lab's nodes only (``Lab.up(stage="nodes")``, about 0.1 s, no pod), breaks one node with
``ip netns exec``, reads the node's facts through testinfra's ``netns://`` backend and judges them with the same
functions the ``nodes`` suite uses.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import testinfra

from netattest.lab.cni import CNI_BIN_DIRS
from netattest.lab.lab import Lab, run_namespaces
from netattest.nodes import checks, duties
from netattest.nodes.access import LabNodeAccess
from netattest.nodes.facts import NodeFacts, gather
from netattest.runid import netns_name, parse_netns_name
from netattest.topology import load_topology
from tests.conftest import MACVLAN_ONLY

pytestmark = pytest.mark.lab
TOPOLOGY = load_topology(MACVLAN_ONLY)
DUTIES = {d.id: d for d in duties.master_duties(TOPOLOGY)}


@pytest.fixture
def lab(nodes_only_lab: Lab) -> Lab:
    return nodes_only_lab


def ns(lab: Lab, node: str) -> str:
    return netns_name(lab.run_id, "node", node)


def sh(netns: str, command: str) -> str:
    return subprocess.run(["ip", "netns", "exec", netns, "sh", "-c", command], check=True, capture_output=True,
                          text=True).stdout


def facts(lab: Lab, node: str, *, bin_dirs: tuple[str, ...] = CNI_BIN_DIRS, dhcp: bool = False) -> NodeFacts:
    access = LabNodeAccess(node, ns(lab, node), lab.run_id)
    binaries = duties.required_binaries(TOPOLOGY, node, lab=True)
    return gather(access.open(), node, access=access.describe(), bin_dirs=bin_dirs, binaries=list(binaries),
                  dhcp=dhcp)


def test_the_nodes_stage_builds_no_pod_and_attach_pods_finishes_the_lab(lab: Lab) -> None:
    roles = {parse_netns_name(n)[1] for n in run_namespaces(lab.run_id)}  # type: ignore[index]
    assert roles == {"fabric", "node", "ext"}
    inventory = lab.attach_pods()
    assert {parse_netns_name(n)[1] for n in run_namespaces(lab.run_id)} >= {"pod"}  # type: ignore[index]
    assert inventory.pod("pod-a").interfaces["net1"].kind == "macvlan"


def test_testinfra_modules_see_the_node_through_the_netns_backend(lab: Lab) -> None:
    host = testinfra.get_host(f"netns://{ns(lab, 'node1')}")
    assert host.interface("ens224").exists and not host.interface("ens224").addresses
    assert host.interface("ens192").addresses == ["192.168.111.21"]
    assert host.sysctl("net.ipv4.conf.all.arp_ignore") == 1
    assert host.file("/sys/class/net/ens256").exists  # ip netns exec mounts the node's own /sys
    assert {"ens192", "ens224", "ens256"} <= set(host.interface.names())
    assert "ens256" not in testinfra.get_host("local://").interface.names()  # the root namespace is untouched


def test_clean_lab_nodes_pass_every_check(lab: Lab) -> None:
    read = {node.name: facts(lab, node.name) for node in TOPOLOGY.nodes}
    for duty in DUTIES.values():
        for check in (checks.check_master_nic, checks.check_master_link, checks.check_master_mtu,
                      checks.check_master_address, checks.check_master_rx_mode):
            assert check(duty, read[duty.node]).ok, (check.__name__, duty.id, check(duty, read[duty.node]))
    for name, node_facts in read.items():
        assert checks.check_arp_flux(node_facts).ok, name
        required = duties.required_binaries(TOPOLOGY, name, lab=True)
        assert not required or checks.check_cni_binaries(required, node_facts).ok
    for off in duties.off_vlan(TOPOLOGY):
        assert checks.check_off_vlan(off, read[off.node]).ok


def test_nic_down_fails_the_link_check(lab: Lab) -> None:
    sh(ns(lab, "node1"), "ip link set ens224 down")
    finding = checks.check_master_link(DUTIES["node1:ens224"], facts(lab, "node1"))
    assert finding.message.startswith("node1 ens224 (master of NAD multus-test/net1 (macvlan bridge)) is down "
                                      "(down, operstate DOWN")
    assert checks.check_master_link(DUTIES["node1:ens256"], facts(lab, "node1")).ok


def test_unplugged_switch_port_fails_the_link_check_as_no_carrier(lab: Lab) -> None:
    peer = json.loads(sh(ns(lab, "node2"), "ip -j link show ens224"))[0]["link_index"]
    fabric = netns_name(lab.run_id, "fabric", "switch")
    port = next(p["ifname"] for p in json.loads(sh(fabric, "ip -j link show")) if p["ifindex"] == peer)
    sh(fabric, f"ip link set {port} down")
    finding = checks.check_master_link(DUTIES["node2:ens224"], facts(lab, "node2"))
    assert "node2 ens224 (master of NAD multus-test/net1 (macvlan bridge)) is up but has no carrier" in \
        finding.message
    assert "NO-CARRIER" in finding.message


def test_mtu_mismatch_fails_the_mtu_check(lab: Lab) -> None:
    sh(ns(lab, "node2"), "ip link set ens256 mtu 1400")
    finding = checks.check_master_mtu(DUTIES["node2:ens256"], facts(lab, "node2"))
    assert finding.message.startswith("node2 ens256 has MTU 1400, expected 1500 (declared for ens256 on node2): "
                                      "frames of 1500 bytes that the VLAN carries do not fit")
    assert "ip link set ens256 mtu 1500" in finding.message


def test_an_ip_on_the_master_fails_the_address_check(lab: Lab) -> None:
    sh(ns(lab, "node1"), "ip addr add 192.168.112.99/24 dev ens224")
    finding = checks.check_master_address(DUTIES["node1:ens224"], facts(lab, "node1"))
    assert finding.message.startswith("node1 ens224 carries 192.168.112.99, but it is only a master for NAD "
                                      "multus-test/net1 (macvlan bridge): the node itself joins VLAN restricted")


def _arp_answer(lab: Lab, target: str) -> str | None:
    """Ask for ``target`` from ext-host on the restricted VLAN; the MAC that answered, if any."""
    ext = netns_name(lab.run_id, "ext", "ext-host")
    sh(ext, f"ip neigh flush dev eth0; ip route replace {target}/32 dev eth0")
    sh(ext, f"{sys.executable} -c \"import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM)"
            f".sendto(b'x', ('{target}', 9))\" || true")
    for _ in range(30):
        entries = json.loads(sh(ext, f"ip -j neigh show {target} dev eth0") or "[]")
        if entries and entries[0].get("lladdr"):
            return str(entries[0]["lladdr"])
        if entries and "FAILED" in entries[0].get("state", []):
            return None
        time.sleep(0.1)
    return None


def test_arp_ignore_zero_with_a_flux_prone_address_fails_and_the_kernel_agrees(lab: Lab) -> None:
    node1 = ns(lab, "node1")
    assert _arp_answer(lab, "192.168.111.21") is None  # arp_ignore=1: the restricted VLAN cannot see node1's IP
    sh(node1, "sysctl -qw net.ipv4.conf.all.arp_ignore=0 net.ipv4.conf.ens224.arp_ignore=0")
    finding = checks.check_arp_flux(facts(lab, "node1"))
    assert finding.message.startswith("ARP flux on node node1: with net.ipv4.conf.all.arp_ignore=0, ens224 "
                                      "(arp_ignore 0) answer ARP requests for 192.168.111.21 (ens192)")
    # the kernel really does it: ext-host, in the restricted VLAN, learns node1's openshift address at ens224
    ens224 = json.loads(sh(node1, "ip -j link show ens224"))[0]["address"]
    assert _arp_answer(lab, "192.168.111.21") == ens224


def test_arp_ignore_zero_is_flux_only_once_a_second_nic_holds_an_address(lab: Lab) -> None:
    node3 = ns(lab, "node3")
    sh(node3, "sysctl -qw net.ipv4.conf.all.arp_ignore=0 net.ipv4.conf.ens192.arp_ignore=0")
    alone = checks.check_arp_flux(facts(lab, "node3"))
    assert alone.ok and any("no flux is possible yet" in note for note in alone.notes)
    sh(node3, "ip link add svc0 type veth peer name svc0p && ip addr add 10.96.0.10/32 dev svc0 && "
              "ip link set svc0 up")
    flux = checks.check_arp_flux(facts(lab, "node3"))
    assert "ens192 (arp_ignore 0) answer ARP requests for 10.96.0.10 (svc0)" in flux.message


def test_a_missing_plugin_binary_fails_the_plugin_check(lab: Lab, tmp_path: Path) -> None:
    (tmp_path / "static").symlink_to(os.path.join(CNI_BIN_DIRS[0], "static"))
    finding = checks.check_cni_binaries(duties.required_binaries(TOPOLOGY, "node2", lab=True),
                                        facts(lab, "node2", bin_dirs=(str(tmp_path),)))
    assert finding.message.startswith(f"node2 lacks CNI plugin binary 'macvlan' (NAD multus-test/net1, "
                                      f"multus-test/net1-macvlan) in {tmp_path}: every pod ADD there fails")
    assert facts(lab, "node2", bin_dirs=(str(tmp_path),)).binaries["static"] == f"{tmp_path}/static"


def test_the_dhcp_daemon_is_found_on_the_node_with_its_socket(lab: Lab, tmp_path: Path) -> None:
    socket = tmp_path / "dhcp.sock"
    daemon = subprocess.Popen([os.path.join(CNI_BIN_DIRS[0], "dhcp"), "daemon", "-socketpath", str(socket)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(50):
            if socket.exists():
                break
            time.sleep(0.1)
        running = facts(lab, "node1", dhcp=True)
        mine = [d for d in running.dhcp_daemons if d.pid == daemon.pid]
        assert mine and mine[0].socket == str(socket) and mine[0].socket_present
        assert checks.check_ipam_daemons(("multus-test/dhcp-net",), running, (str(socket),)).ok
        elsewhere = checks.check_ipam_daemons(("multus-test/dhcp-net",), running, ("/run/other.sock",))
        assert "but NAD multus-test/dhcp-net talks to /run/other.sock" in elsewhere.message
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(timeout=10)
    gone = facts(lab, "node1", dhcp=True)
    assert not [d for d in gone.dhcp_daemons if d.pid == daemon.pid]
    assert not checks.check_ipam_daemons(("x/y",), gone, (str(socket),)).ok


def test_an_unlabelled_node_in_the_vlan_fails_and_a_bare_master_nic_is_harmless(lab: Lab) -> None:
    off = duties.off_vlan(TOPOLOGY)[0]
    node3 = ns(lab, "node3")
    sh(node3, "ip link add ens224 type veth peer name ens224p && ip link set ens224 up")
    harmless = checks.check_off_vlan(off, facts(lab, "node3"))
    assert harmless.ok and harmless.notes[0].startswith("harmless: node3 has ens224 but no address in restricted")
    sh(node3, "ip addr add 192.168.112.77/24 dev ens224")
    finding = checks.check_off_vlan(off, facts(lab, "node3"))
    assert finding.message.startswith("node node3 carries no label of VLAN restricted's NADs, yet holds "
                                      "192.168.112.77 on ens224 in restricted")
