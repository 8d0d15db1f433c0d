"""The topology loader: the seed files load with the right values, and every bad input becomes one clear
TopologyError naming file, line, field, problem and fix (never a traceback, never another exception type)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Interface, IPv4Network
from pathlib import Path

import jsonschema
import pytest

from netattest.errors import TopologyError
from netattest.topology import MAX_TOPOLOGY_BYTES, Topology, load_topology, load_topology_text
from netattest.topology.loader import format_path
from netattest.topology.schema import TOPOLOGY_SCHEMA
from tests.conftest import MACVLAN_ONLY, SEED

SEED_TEXT = SEED.read_text()

# A second valid base exercising trunks, VLAN sub-interfaces, the vlan plugin, dhcp/host-local IPAM, MACs,
# cross-namespace references and every lab section.
TRUNK_TEXT = """\
apiVersion: netattest/v1
kind: Topology
name: trunk
networks:
  - {name: nodes, subnet: 10.0.0.0/24}
  - {name: red, vlan: 10, subnet: 10.0.10.0/24}
  - {name: blue, vlan: 20, subnet: 10.0.20.0/24, mtu: 9000}
nodes:
  - name: w1
    labels: {role: worker}
    nics:
      - {name: eth1, network: nodes, address: 10.0.0.11/24}
      - {name: ens224, trunk: [red, blue]}
      - {name: ens224.10, parent: ens224, network: red, vlan: 10}
      - {name: ens224.20, parent: ens224, network: blue}
externalHosts:
  - {name: dhcp, network: red, address: 10.0.10.2/24, mac: "02:00:00:00:10:02", dhcpServer: true}
attachments:
  - {name: red-vlan, namespace: ns1, network: red, plugin: vlan, master: ens224, ipam: {type: dhcp}}
  - name: blue-mac
    namespace: shared
    network: blue
    plugin: macvlan
    mode: private
    master: ens224.20
    mtu: 9000
    ipam: {type: host-local, ranges: [[{subnet: 10.0.20.0/24}]]}
pods:
  - name: p1
    namespace: ns1
    nodeSelector: {role: worker}
    networks:
      - {attachment: red-vlan}
      - {attachment: shared/blue-mac, mac: "02:00:00:00:20:01"}
expectations:
  - {from: red, to: blue, expect: isolated}
lab:
  routers:
    - name: leak
      legs: [{network: red, address: 10.0.10.254/24}, {network: blue, address: 10.0.20.254/24}]
  impostors:
    - {name: liar, network: red, claims: 10.0.10.99}
  drift:
    nadPlugin: {shared/blue-mac: {plugin: ipvlan}}
    podNode: {ns1/p1: w1}
    podIps: {p1/net2: [10.0.10.77/24]}
    removeExternalHosts: [dhcp]
"""


def edit(old: str, new: str, text: str = SEED_TEXT) -> str:
    """The text with one exact, unique snippet replaced: each bad input differs from a valid file in one spot."""
    assert text.count(old) == 1, f"snippet not unique in base text: {old!r}"
    return text.replace(old, new)


def line_of(text: str, needle: str) -> int:
    """1-based line of the (unique) needle, so the asserted line numbers follow the fixture text."""
    assert text.count(needle) == 1, f"needle not unique: {needle!r}"
    return text[: text.index(needle)].count("\n") + 1


def load_error(text: str) -> TopologyError:
    with pytest.raises(TopologyError) as info:
        load_topology_text(text, "bad.yaml")
    return info.value


# --------------------------------------------------------------------------------------------------------------
# valid files


def test_seed_loads_with_its_values() -> None:
    topology = load_topology(SEED)
    assert topology.name == "restricted-vlan"
    assert topology.source == str(SEED)
    assert topology.sha256 == hashlib.sha256(SEED.read_bytes()).hexdigest()
    openshift, restricted = topology.networks
    assert (openshift.name, openshift.subnet, openshift.vlan, openshift.gateway, openshift.routed) == (
        "openshift",
        IPv4Network("192.168.111.0/24"),
        111,
        IPv4Address("192.168.111.1"),
        True,
    )
    assert (restricted.subnet, restricted.vlan, restricted.gateway, restricted.routed, restricted.mtu) == (
        IPv4Network("192.168.112.0/24"),
        112,
        None,
        False,
        1500,
    )
    assert [n.name for n in topology.nodes] == ["node1", "node2", "node3"]
    assert topology.node("node1").labels == {"node-role.kubernetes.io/multus-node": "yes"}
    assert topology.node("node3").labels == {}
    ens192 = topology.node("node2").nic("ens192")
    assert ens192 is not None and ens192.address == IPv4Interface("192.168.111.22/24")
    assert ens192.network == "openshift" and ens192.mtu == 1500
    assert topology.node("node3").nic("ens224") is None
    net1 = topology.attachment("multus-test", "net1")
    assert (net1.plugin, net1.mode, net1.master, net1.network, net1.ipam.type) == (
        "ipvlan",
        "l2",
        "ens224",
        "restricted",
        "static",
    )
    twin = topology.attachment("multus-test", "net1-macvlan")
    assert (twin.plugin, twin.mode, twin.master) == ("macvlan", "bridge", "ens256")
    pods = {p.name: p for p in topology.pods}
    assert pods["pod-a"].node_selector == {
        "node-role.kubernetes.io/multus-node": "yes",
        "kubernetes.io/hostname": "node1",
    }
    assert pods["pod-c"].networks[0].ips == (IPv4Interface("192.168.112.21/24"),)
    assert pods["mac-c"].networks[0].attachment == "net1-macvlan"
    assert pods["plain"].networks == ()
    assert [h.name for h in topology.external_hosts] == ["gateway", "bastion", "ext-host"]
    assert [(e.source, e.target, e.verdict) for e in topology.expectations] == [
        ("restricted", "restricted", "reachable"),
        ("restricted", "openshift", "isolated"),
    ]
    assert topology.plugins() == {"ipvlan", "macvlan"}
    assert [n.name for n in topology.nodes_matching(pods["pod-a"].node_selector)] == ["node1"]


def test_macvlan_only_is_the_seed_without_ipvlan() -> None:
    seed, macvlan = load_topology(SEED), load_topology(MACVLAN_ONLY)
    assert macvlan.name == "macvlan-only"
    assert macvlan.plugins() == {"macvlan"}
    net1 = macvlan.attachment("multus-test", "net1")
    assert (net1.plugin, net1.mode, net1.master, net1.ipam.type) == ("macvlan", "bridge", "ens224", "static")
    assert macvlan.pods == seed.pods
    assert macvlan.networks == seed.networks and macvlan.nodes == seed.nodes
    assert macvlan.external_hosts == seed.external_hosts and macvlan.expectations == seed.expectations


def test_trunk_topology_with_lab_section_loads() -> None:
    topology = load_topology_text(TRUNK_TEXT, "trunk.yaml")
    assert topology.source == "trunk.yaml"
    assert topology.sha256 == hashlib.sha256(TRUNK_TEXT.encode()).hexdigest()
    w1 = topology.node("w1")
    trunk, sub10, sub20 = w1.nic("ens224"), w1.nic("ens224.10"), w1.nic("ens224.20")
    assert trunk is not None and trunk.trunk == ("red", "blue") and trunk.network is None and trunk.mtu == 9000
    assert sub10 is not None and (sub10.parent, sub10.vlan, sub10.network) == ("ens224", 10, "red")
    assert sub20 is not None and sub20.vlan == 20 and sub20.mtu == 9000  # vlan and mtu from the network
    red_vlan = topology.attachment("ns1", "red-vlan")
    assert (red_vlan.plugin, red_vlan.mode, red_vlan.ipam.type) == ("vlan", "", "dhcp")
    blue = topology.attachment("shared", "blue-mac")
    assert blue.mode == "private" and blue.mtu == 9000
    assert blue.ipam.config == {"ranges": [[{"subnet": "10.0.20.0/24"}]]}
    (pod,) = topology.pods
    assert [(n.attachment, n.namespace, n.interface) for n in pod.networks] == [
        ("red-vlan", None, "net1"),
        ("blue-mac", "shared", "net2"),
    ]
    assert pod.networks[1].mac == "02:00:00:00:20:01"
    assert topology.external_hosts[0].dhcp_server is True
    lab = topology.lab
    assert lab.routers[0].legs == (
        ("red", IPv4Interface("10.0.10.254/24")),
        ("blue", IPv4Interface("10.0.20.254/24")),
    )
    assert lab.routers[0].proxy_arp is True
    assert lab.impostors[0].claims == IPv4Address("10.0.10.99")
    # drift keys are stored by bare name, the way the lab looks them up
    assert lab.drift.nad_plugin == {"blue-mac": ("ipvlan", "l2")}
    assert lab.drift.pod_node == {"p1": "w1"}
    assert lab.drift.pod_ips == {"p1/net2": (IPv4Interface("10.0.10.77/24"),)}  # not subnet-checked: drift
    assert lab.drift.remove_external_hosts == ("dhcp",)
    assert topology.plugins() == {"vlan", "ipvlan"}


def test_path_object_and_text_agree(tmp_path: Path) -> None:
    target = tmp_path / "copy.yaml"
    target.write_text(SEED_TEXT)
    from_file, from_text = load_topology(target), load_topology_text(SEED_TEXT)
    assert from_file.sha256 == from_text.sha256
    assert from_text.source == "<string>"
    assert from_file.pods == from_text.pods


def test_schema_is_a_valid_draft_2020_12_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(TOPOLOGY_SCHEMA)


def test_format_path() -> None:
    assert format_path(("pods", 2, "networks", 0, "ips", 0)) == "pods[2].networks[0].ips[0]"
    assert format_path(("nodes", 0, "labels", "node-role.kubernetes.io/multus-node")) == (
        "nodes[0].labels[node-role.kubernetes.io/multus-node]"
    )
    assert format_path(()) == "-"


# --------------------------------------------------------------------------------------------------------------
# bad input: one case per kind of mistake


@dataclass(frozen=True)
class Bad:
    """A bad topology text and what the error must say: line (None for file-level), field, key words."""

    text: str
    line: int | None
    field: str
    words: tuple[str, ...]


def bad(old: str, new: str, field: str, *words: str, needle: str | None = None, base: str = SEED_TEXT) -> Bad:
    """Edit one spot of a valid base; the error is expected on the line of ``needle`` (default: ``new``)."""
    text = edit(old, new, base)
    return Bad(text, line_of(text, needle or new), field, words)


BILLION_LAUGHS = "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n" + "".join(
    f"{chr(ord('c') + i)}: &{chr(ord('c') + i)} [{', '.join(['*' + chr(ord('b') + i)] * 9)}]\n" for i in range(8)
)

# fmt: off
BAD_INPUTS: dict[str, Bad] = {
    "unknown plugin": bad(
        "plugin: ipvlan", "plugin: ipvlam", "attachments[0].plugin",
        "unknown CNI plugin 'ipvlam'", "Fix: use one of ipvlan, macvlan, vlan", "did you mean 'ipvlan'"),
    "bad CIDR": bad(
        "subnet: 192.168.112.0/24", "subnet: 192.168.112.0/33", "networks[1].subnet",
        "'192.168.112.0/33' is not an IPv4 CIDR", "e.g. 192.168.112.0/24"),
    "subnet with host bits": bad(
        "subnet: 192.168.112.0/24", "subnet: 192.168.112.7/24", "networks[1].subnet",
        "host bits", "use the network address: 192.168.112.0/24"),
    "subnet without prefix": bad(
        "subnet: 192.168.112.0/24", "subnet: 192.168.112.0", "networks[1].subnet", "no prefix length"),
    "IPv6 subnet": bad("subnet: 192.168.112.0/24", "subnet: fd00::/64", "networks[1].subnet", "IPv6"),
    "external host outside its VLAN": bad(
        "address: 192.168.112.1/24}", "address: 192.168.113.1/24}", "externalHosts[2].address",
        "192.168.113.1 is outside subnet 192.168.112.0/24 of network restricted (VLAN 112)",
        "use an address in 192.168.112.0/24"),
    "pod IP in the other VLAN": bad(
        "ips: [192.168.112.11/24]", "ips: [192.168.111.11/24]", "pods[0].networks[0].ips[0]",
        "outside subnet 192.168.112.0/24", "move it to network openshift"),
    "node NIC address outside its network": bad(
        "address: 192.168.111.21/24", "address: 192.168.112.21/24", "nodes[0].nics[0].address",
        "outside subnet 192.168.111.0/24 of network openshift"),
    "address without prefix": bad(
        "address: 192.168.111.5/24", "address: 192.168.111.5", "externalHosts[1].address",
        "has no prefix length", "write 192.168.111.5/24"),
    "address is the broadcast address": bad(
        "ips: [192.168.112.12/24]", "ips: [192.168.112.255/24]", "pods[1].networks[0].ips[0]",
        "broadcast address"),
    "duplicate static IP between pods": bad(
        "ips: [192.168.112.12/24]", "ips: [192.168.112.11/24]", "pods[1].networks[0].ips[0]",
        "duplicate IP 192.168.112.11", "pod multus-test/pod-b net1", "pod multus-test/pod-a net1",
        "Fix: give each holder its own address", needle="ips: [192.168.112.11/24]}\n  - name: pod-c"),
    "duplicate IP between pod and external host": bad(
        "ips: [192.168.112.21/24]", "ips: [192.168.112.1/24]", "pods[2].networks[0].ips[0]",
        "duplicate IP 192.168.112.1", "pod multus-test/pod-c net1", "external host ext-host"),
    "duplicate IP between external host and node NIC": bad(
        "address: 192.168.111.5/24", "address: 192.168.111.23/24", "externalHosts[1].address",
        "external host bastion", "NIC ens192 of node node3", needle="{name: bastion"),
    "selector label no node carries": bad(
        "nodeSelector: {kubernetes.io/hostname: node3}", "nodeSelector: {zone: east}", "pods[6].nodeSelector.zone",
        "pod multus-test/plain", "no node carries that label", "zone=east",
        "node1: node-role.kubernetes.io/multus-node=yes", "node3: (no labels)", "kubectl label node"),
    "selector labels on different nodes": bad(
        'nodeSelector: {node-role.kubernetes.io/multus-node: "yes", kubernetes.io/hostname: node2}\n'
        "    networks:\n      - {attachment: net1, interface: net1, ips: [192.168.112.21/24]}",
        'nodeSelector: {node-role.kubernetes.io/multus-node: "yes", kubernetes.io/hostname: node3}\n'
        "    networks:\n      - {attachment: net1, interface: net1, ips: [192.168.112.21/24]}",
        "pods[2].nodeSelector", "no single node carries all of them",
        needle="kubernetes.io/hostname: node3}\n    networks"),
    "master absent on the selected nodes": bad(
        "nodeSelector: {kubernetes.io/hostname: node3}",
        "nodeSelector: {kubernetes.io/hostname: node3}\n"
        "    networks: [{attachment: net1, ips: [192.168.112.99/24]}]",
        "pods[6].networks[0].attachment",
        "master ens224 is absent on every node its nodeSelector matches (node3)", "ens224 exists on node1, node2",
        "label one of node1, node2", needle="networks: [{attachment: net1, ips"),
    "master on no node at all": bad(
        "master: ens224", "master: ens999", "attachments[0].master",
        "master NIC 'ens999' of NAD multus-test/net1 exists on no node", "ens192, ens224, ens256"),
    "master in the wrong network": bad(
        "master: ens224", "master: ens192", "pods[0].networks[0].attachment",
        "master ens192 of NAD multus-test/net1 is in network openshift", "needs a NIC in network restricted",
        "set the NAD's master to ens224 or ens256",
        needle="{attachment: net1, interface: net1, ips: [192.168.112.11"),
    "YAML syntax error (tab)": bad(
        "  - name: pod-b\n    namespace", "  - name: pod-b\n\tnamespace", "-",
        "invalid YAML", "Fix: indent with spaces", needle="\tnamespace"),
    "YAML syntax error (unclosed flow)": bad(
        "{name: ens256, network: restricted}\n  - name: node2",
        "{name: ens256, network: restricted\n  - name: node2",
        "-", "invalid YAML", needle="  - name: node2"),
    "alias bomb": Bad(
        BILLION_LAUGHS, 2, "-", ("YAML aliases are not supported (found *a)", "write the value out")),
    "wrong apiVersion": bad(
        "apiVersion: netattest/v1", "apiVersion: netattest/v2", "apiVersion",
        "unsupported apiVersion 'netattest/v2'", "Fix: set apiVersion: netattest/v1"),
    "wrong apiVersion wins over other errors": bad(
        "apiVersion: netattest/v1\nkind: Topology", "kind: Topology\napiVersion: v2\nnetwroks: []", "apiVersion",
        "unsupported apiVersion 'v2'", needle="apiVersion: v2"),
    "unknown top-level key (typo)": bad(
        "\nexpectations:", "\nexpectatoins:", "expectatoins",
        "unknown field 'expectatoins' at the top level", "did you mean 'expectations'?", needle="expectatoins:"),
    "unknown top-level key instead of a required one": bad(
        "\nnetworks:", "\nnetwroks:", "netwroks", "unknown field 'netwroks'", "did you mean 'networks'?",
        needle="netwroks:"),
    "unknown nested key": bad(
        "    routed: false", "    routd: false", "networks[1].routd",
        "unknown field 'routd' in networks[1]", "did you mean 'routed'?"),
    "missing required field": bad(
        "  - name: restricted\n    vlan: 112\n    subnet: 192.168.112.0/24\n",
        "  - name: restricted\n    vlan: 112\n",
        "networks[1].subnet", "missing required field 'subnet'", "Fix: add subnet: 192.168.112.0/24",
        needle="  - name: restricted"),
    "bad mode for plugin": bad(
        "mode: l2", "mode: bridge", "attachments[0].mode",
        "mode 'bridge' is not valid for ipvlan (bridge is a macvlan mode)", "use one of l2, l3, l3s",
        needle="mode: bridge\n    master: ens224"),
    "mode for the vlan plugin": bad(
        "{name: red-vlan, namespace: ns1, network: red, plugin: vlan,",
        "{name: red-vlan, namespace: ns1, network: red, plugin: vlan, mode: l2,",
        "attachments[0].mode", "the vlan plugin has no mode", "remove mode", base=TRUNK_TEXT),
    "gateway outside subnet": bad(
        "gateway: 192.168.111.1", "gateway: 192.168.112.1", "networks[0].gateway",
        "192.168.112.1 is outside subnet 192.168.111.0/24 of network openshift"),
    "gateway with prefix": bad(
        "gateway: 192.168.111.1", "gateway: 192.168.111.1/24", "networks[0].gateway", "bare address"),
    "unknown network reference": bad(
        "    network: restricted\n    plugin: ipvlan", "    network: restriced\n    plugin: ipvlan",
        "attachments[0].network", "unknown network 'restriced'", "did you mean 'restricted'?",
        needle="network: restriced"),
    "unknown expectation network": bad(
        "to: openshift", "to: openshit", "expectations[1].to", "unknown network 'openshit'", "openshift"),
    "interface name too long": bad(
        "{attachment: net1, interface: net1, ips: [192.168.112.11/24]}",
        "{attachment: net1, interface: averyveryverylongname, ips: [192.168.112.11/24]}",
        "pods[0].networks[0].interface", "'averyveryverylongname' is 21 bytes long", "at most 15"),
    "interface name with slash": bad(
        "{name: ens256, network: restricted}\n  - name: node2",
        "{name: ens/256, network: restricted}\n  - name: node2",
        "nodes[0].nics[2].name", "NIC name 'ens/256' contains '/'", needle="ens/256"),
    "interface eth0 in a pod": bad(
        "{attachment: net1, interface: net1, ips: [192.168.112.11/24]}",
        "{attachment: net1, interface: eth0, ips: [192.168.112.11/24]}",
        "pods[0].networks[0].interface", "eth0 is the pod's own primary interface"),
    "bad Kubernetes pod name": bad(
        "name: pod-a", "name: Pod_A", "pods[0].name",
        "pod name 'Pod_A'", "uppercase is not allowed", "DNS-1123 label", "e.g. 'pod-a'"),
    "namespace name too long": bad(
        "  - name: net1\n    namespace: multus-test", "  - name: net1\n    namespace: " + "n" * 64,
        "attachments[0].namespace", "64 characters long, more than 63", needle="n" * 64),
    "duplicate pod": bad(
        "name: pod-b", "name: pod-a", "pods[1].name", "duplicate pod multus-test/pod-a", "first at pods[0]",
        needle="name: pod-a\n    namespace: multus-test\n"
        '    nodeSelector: {node-role.kubernetes.io/multus-node: "yes", kubernetes.io/hostname: node1}\n'
        "    networks:\n      - {attachment: net1, interface: net1, ips: [192.168.112.12/24]}"),
    "duplicate network": bad(
        "  - name: restricted\n    vlan: 112", "  - name: openshift\n    vlan: 112", "networks[1].name",
        "duplicate network name 'openshift'", needle="  - name: openshift\n    vlan: 112"),
    "duplicate VLAN id": bad(
        "vlan: 112", "vlan: 111", "networks[1].vlan", "VLAN 111 is already used",
        needle="vlan: 111\n    subnet: 192.168.112"),
    "duplicate NIC on a node": bad(
        "{name: ens256, network: restricted}\n  - name: node2",
        "{name: ens224, network: restricted}\n  - name: node2",
        "nodes[0].nics[2].name", "node node1 has two NICs named ens224",
        needle="ens224, network: restricted}\n  - name: node2"),
    "duplicate NAD in a namespace": bad(
        "  - name: net1-macvlan", "  - name: net1", "attachments[1].name", "duplicate NAD multus-test/net1",
        "first at attachments[0]",
        needle="  - name: net1\n    namespace: multus-test\n    network: restricted\n    plugin: macvlan"),
    "node and external host share a name": bad(
        "{name: bastion,", "{name: node2,", "externalHosts[1].name", "duplicate name 'node2'", "node node2"),
    "static IPAM without ips": bad(
        "{attachment: net1, interface: net1, ips: [192.168.112.11/24]}", "{attachment: net1, interface: net1}",
        "pods[0].networks[0]", "uses static IPAM", "must list its address", "Fix: add ips:"),
    "dhcp IPAM with ips": bad(
        "{attachment: red-vlan}", "{attachment: red-vlan, ips: [10.0.10.5/24]}", "pods[0].networks[0].ips",
        "dhcp IPAM", "remove ips", base=TRUNK_TEXT),
    # IPAM settings checked against the plugin's own fields and the NAD's VLAN (exit 2 at load, never a network
    # failure after deploying)
    "host-local range outside the VLAN": bad(
        "ipam: {type: host-local, ranges: [[{subnet: 10.0.20.0/24}]]}",
        "ipam: {type: host-local, ranges: [[{subnet: 10.0.99.0/24}]]}",
        "attachments[1].ipam.ranges[0][0].subnet", "range subnet 10.0.99.0/24 is outside the VLAN's subnet "
        "10.0.20.0/24", "Fix: use 10.0.20.0/24", base=TRUNK_TEXT),
    "host-local ranges written as a string": bad(
        "ipam: {type: host-local, ranges: [[{subnet: 10.0.20.0/24}]]}",
        "ipam: {type: host-local, ranges: '10.0.20.0/24'}",
        "attachments[1].ipam.ranges", "not a list of range sets", "ranges: [[{subnet: 10.0.20.0/24}]]",
        base=TRUNK_TEXT),
    "host-local subnet with host bits": bad(
        "ipam: {type: host-local, ranges: [[{subnet: 10.0.20.0/24}]]}",
        "ipam: {type: host-local, ranges: [[{subnet: 10.0.20.5/24}]]}",
        "attachments[1].ipam.ranges[0][0].subnet", "has host bits set", "write the network address: 10.0.20.0/24",
        base=TRUNK_TEXT),
    "host-local ranges that overlap": bad(
        "ipam: {type: host-local, ranges: [[{subnet: 10.0.20.0/24}]]}",
        "ipam: {type: host-local, ranges: [[{subnet: 10.0.20.0/24, rangeStart: 10.0.20.10, rangeEnd: "
        "10.0.20.50}, {subnet: 10.0.20.0/24, rangeStart: 10.0.20.40}]]}",
        "attachments[1].ipam.ranges[0][1]", "range 10.0.20.40-10.0.20.254 overlaps range 10.0.20.10-10.0.20.50",
        "make the ranges disjoint", base=TRUNK_TEXT),
    "host-local rangeEnd before rangeStart": bad(
        "ipam: {type: host-local, ranges: [[{subnet: 10.0.20.0/24}]]}",
        "ipam: {type: host-local, ranges: [[{subnet: 10.0.20.0/24, rangeStart: 10.0.20.50, rangeEnd: "
        "10.0.20.10}]]}", "attachments[1].ipam.ranges[0][0].rangeEnd", "comes before rangeStart", "swap them",
        base=TRUNK_TEXT),
    "a whereabouts key in host-local": bad(
        "ipam: {type: host-local, ranges: [[{subnet: 10.0.20.0/24}]]}",
        "ipam: {type: host-local, ranges: [[{subnet: 10.0.20.0/24}]], range_start: 10.0.20.9}",
        "attachments[1].ipam.range_start", "host-local IPAM ignores range_start, a setting of whereabouts IPAM",
        "rangeStart inside ranges", base=TRUNK_TEXT),
    "whereabouts range outside the VLAN": bad(
        "ipam: {type: host-local, ranges: [[{subnet: 10.0.20.0/24}]]}",
        "ipam: {type: whereabouts, range: 10.0.30.0/24}", "attachments[1].ipam.range",
        "range 10.0.30.0/24 is outside the VLAN's subnet 10.0.20.0/24", base=TRUNK_TEXT),
    "whereabouts exclude outside the range": bad(
        "ipam: {type: host-local, ranges: [[{subnet: 10.0.20.0/24}]]}",
        "ipam: {type: whereabouts, range: 10.0.20.0/25, exclude: [10.0.20.200/32]}",
        "attachments[1].ipam.exclude[0]", "excluded 10.0.20.200/32 is outside range 10.0.20.0/25",
        base=TRUNK_TEXT),
    "dhcp IPAM with a range": bad(
        "ipam: {type: dhcp}", "ipam: {type: dhcp, ranges: [[{subnet: 10.0.10.0/24}]]}",
        "attachments[0].ipam.ranges", "dhcp IPAM takes its address", "configure the DHCP server instead",
        base=TRUNK_TEXT),
    "a static address outside the VLAN": bad(
        "ipam: {type: host-local, ranges: [[{subnet: 10.0.20.0/24}]]}",
        "ipam: {type: static, addresses: [{address: 10.0.21.5/24}]}",
        "attachments[1].ipam.addresses[0].address", "static address 10.0.21.5 is outside the VLAN's subnet",
        base=TRUNK_TEXT),
    "unknown IPAM type": bad(
        "    master: ens224\n    ipam: {type: static}", "    master: ens224\n    ipam: {type: statik}",
        "attachments[0].ipam.type", "unknown IPAM type 'statik'", "did you mean 'static'?", needle="statik"),
    "VLAN id out of range": bad(
        "vlan: 112", "vlan: 4095", "networks[1].vlan", "VLAN id 4095 is out of range 1-4094", "from 1 to 4094"),
    "MTU out of range": bad(
        "    routed: false", "    routed: false\n    mtu: 10000", "networks[1].mtu",
        "MTU 10000 is out of range 68-9216", needle="mtu: 10000"),
    "NAD MTU above master MTU": bad(
        "    mtu: 9000\n    ipam", "    mtu: 9001\n    ipam", "pods[0].networks[1].attachment",
        "mtu 9001, more than master ens224.20's 9000", base=TRUNK_TEXT, needle="{attachment: shared/blue-mac"),
    "bad MAC": bad(
        '"02:00:00:00:10:02"', '"02:00:00:00:10"', "externalHosts[0].mac", "'02:00:00:00:10' is not a MAC",
        base=TRUNK_TEXT),
    "multicast MAC": bad(
        '"02:00:00:00:20:01"', '"01:00:5e:00:00:01"', "pods[0].networks[1].mac", "not a unicast MAC",
        base=TRUNK_TEXT),
    "MAC on an ipvlan pod": bad(
        "{attachment: net1, interface: net1, ips: [192.168.112.11/24]}",
        '{attachment: net1, interface: net1, ips: [192.168.112.11/24], mac: "02:00:00:00:00:01"}',
        "pods[0].networks[0].mac", "ipvlan", "master's MAC"),
    "duplicate interface in a pod": bad(
        "{attachment: shared/blue-mac, mac", "{attachment: shared/blue-mac, interface: net1, mac",
        "pods[0].networks[1].interface", "pod ns1/p1 already has an interface net1", base=TRUNK_TEXT),
    "unknown attachment": bad(
        "{attachment: net1, interface: net1, ips: [192.168.112.11/24]}",
        "{attachment: net2, interface: net1, ips: [192.168.112.11/24]}",
        "pods[0].networks[0].attachment", "attachment multus-test/net2 not found", "did you mean 'net1'?"),
    "attachment in another namespace without prefix": bad(
        "{attachment: shared/blue-mac,", "{attachment: blue-mac,", "pods[0].networks[1].attachment",
        "ns1/blue-mac not found", "write attachment: shared/blue-mac", base=TRUNK_TEXT),
    "trunk carries a network without VLAN": bad(
        "trunk: [red, blue]", "trunk: [red, blue, nodes]", "nodes[0].nics[1].trunk[2]",
        "network nodes has no vlan id", base=TRUNK_TEXT),
    "sub-interface vlan mismatch": bad(
        "network: red, vlan: 10}", "network: red, vlan: 11}", "nodes[0].nics[2].vlan",
        "vlan 11 of ens224.10 does not match network red's VLAN id 10", "set vlan: 10", base=TRUNK_TEXT),
    "sub-interface of a network the trunk lacks": bad(
        "trunk: [red, blue]", "trunk: [red]", "nodes[0].nics[3].parent",
        "trunk ens224 does not carry network blue", base=TRUNK_TEXT, needle="{name: ens224.20"),
    "vlan plugin on an access master": bad(
        "master: ens224, ipam: {type: dhcp}", "master: ens224.10, ipam: {type: dhcp}",
        "pods[0].networks[0].attachment", "the vlan NAD needs a trunk carrying network red",
        "set the NAD's master to ens224", base=TRUNK_TEXT, needle="{attachment: red-vlan}"),
    "unwired NIC": bad(
        "{name: ens256, network: restricted}\n  - name: node2", "{name: ens256}\n  - name: node2",
        "nodes[0].nics[2]", "not wired to any network", needle="{name: ens256}"),
    "label value as unquoted boolean": bad(
        'node-role.kubernetes.io/multus-node: "yes"\n    nics:\n      - {name: ens192, network: openshift, '
        "address: 192.168.111.21/24}",
        "node-role.kubernetes.io/multus-node: yes\n    nics:\n      - {name: ens192, network: openshift, "
        "address: 192.168.111.21/24}",
        "nodes[0].labels[node-role.kubernetes.io/multus-node]", "expected a string, got boolean true",
        'quote it: "yes"', needle="multus-node: yes"),
    "bad label key": bad(
        "labels: {role: worker}", "labels: {-role: worker}", "nodes[0].labels[-role]",
        "node w1 label key '-role' has an invalid name part", base=TRUNK_TEXT),
    "wrong type": bad("routed: true", 'routed: "no"', "networks[0].routed", "expected true or false"),
    "bad verdict": bad(
        "expect: isolated", "expect: silent", "expectations[1].expect", "unknown verdict 'silent'",
        "reachable, isolated"),
    "duplicate expectation": bad(
        "  - from: restricted\n    to: openshift", "  - from: restricted\n    to: restricted",
        "expectations[1]", "second expectation for restricted -> restricted",
        needle="  - from: restricted\n    to: restricted\n    expect: isolated"),
    "drift referencing unknown pod": bad(
        "podNode: {ns1/p1: w1}", "podNode: {ns1/p9: w1}", "lab.drift.podNode[ns1/p9]",
        "unknown pod 'ns1/p9'", "ns1/p1", base=TRUNK_TEXT),
    "drift referencing unknown node": bad(
        "podNode: {ns1/p1: w1}", "podNode: {ns1/p1: w2}", "lab.drift.podNode[ns1/p1]", "unknown node 'w2'",
        base=TRUNK_TEXT),
    "drift referencing unknown NAD": bad(
        "nadPlugin: {shared/blue-mac:", "nadPlugin: {blue-macvlan:", "lab.drift.nadPlugin[blue-macvlan]",
        "unknown NAD 'blue-macvlan'", "did you mean 'blue-mac'?", base=TRUNK_TEXT),
    "drift with a bad mode": bad(
        "{plugin: ipvlan}}", "{plugin: ipvlan, mode: vepa}}", "lab.drift.nadPlugin[shared/blue-mac].mode",
        "mode 'vepa' is not valid for ipvlan", base=TRUNK_TEXT),
    "drift IPs for an unknown interface": bad(
        "podIps: {p1/net2:", "podIps: {p1/net3:", "lab.drift.podIps[p1/net3]",
        "pod ns1/p1 has no interface 'net3'",
        base=TRUNK_TEXT),
    "drift removing an unknown host": bad(
        "removeExternalHosts: [dhcp]", "removeExternalHosts: [dhpc]", "lab.drift.removeExternalHosts[0]",
        "unknown external host 'dhpc'", "did you mean 'dhcp'?", base=TRUNK_TEXT),
    "router leg outside its network": bad(
        "{network: blue, address: 10.0.20.254/24}", "{network: blue, address: 10.0.10.253/24}",
        "lab.routers[0].legs[1].address", "outside subnet 10.0.20.0/24 of network blue", base=TRUNK_TEXT),
    "impostor claims an interface": bad(
        "claims: 10.0.10.99}", "claims: 10.0.10.99/24}", "lab.impostors[0].claims", "bare address",
        base=TRUNK_TEXT),
    "duplicate YAML key": bad(
        "    vlan: 111\n", "    vlan: 111\n    vlan: 113\n", "networks[0].vlan", "key 'vlan' appears twice",
        needle="vlan: 113"),
    "second YAML document": Bad(
        SEED_TEXT + "---\nkind: Topology\n", line_of(SEED_TEXT + "---\n", "---"), "-",
        ("expected a single document", "remove the extra '---'")),
    "unsafe YAML tag": Bad(
        SEED_TEXT + "lab: !!python/object/apply:os.system [ls]\n", SEED_TEXT.count("\n") + 1, "lab",
        ("unsupported YAML tag !!python/object/apply:os.system",)),
    "document is a list": Bad("- a\n- b\n", 1, "-", ("the document is a list, not a mapping", "apiVersion")),
    "empty file": Bad("", None, "-", ("the file is empty", "Fix: start it with apiVersion: netattest/v1")),
    "only comments": Bad("# nothing yet\n", None, "-", ("the file is empty",)),
    "null document": Bad("~\n", None, "-", ("the document is empty",)),
    "deep nesting": Bad(
        "description: " + "[" * 40 + "]" * 40 + "\n", 1, "description" + "[0]" * 32,
        ("nested deeper than 32 levels",)),
    "control character": Bad("name: a\x07b\n", 1, "-", ("invalid YAML", "#x0007")),
}
# fmt: on


@pytest.mark.parametrize("case", list(BAD_INPUTS.values()), ids=list(BAD_INPUTS))
def test_bad_input_is_one_precise_error(case: Bad) -> None:
    error = load_error(case.text)
    assert type(error) is TopologyError
    assert (error.path, error.line, error.field) == ("bad.yaml", case.line, case.field), str(error)
    message = str(error)
    for word in case.words:
        assert word in message, f"{word!r} not in {message!r}"
    where = f"bad.yaml:{case.line}" if case.line else "bad.yaml"
    assert message.startswith(f"{where}: field '{case.field}': ")


def test_every_error_message_is_one_paragraph_without_traceback(tmp_path: Path) -> None:
    assert len(BAD_INPUTS) >= 20
    errors = {name: load_error(case.text) for name, case in BAD_INPUTS.items()}
    (tmp_path / "latin1.yaml").write_bytes(b"name: caf\xe9\n")
    (tmp_path / "big.yaml").write_bytes(b"#" * (MAX_TOPOLOGY_BYTES + 1))
    for name in ("missing.yaml", "latin1.yaml", "big.yaml", "."):
        errors[name] = pytest.raises(TopologyError, load_topology, tmp_path / name).value
    for name, error in errors.items():
        message = str(error)
        assert "\n" not in message and "Traceback" not in message, name
        assert message.count(". Fix: ") == 1 and not message.endswith("Fix: "), name
        assert error.problem and error.fix and error.field, name


# --------------------------------------------------------------------------------------------------------------
# file-level problems


def test_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    error = pytest.raises(TopologyError, load_topology, missing).value
    assert (error.path, error.line, error.field) == (str(missing), None, "-")
    assert "does not exist" in str(error) and "Fix: check the path" in str(error)


def test_directory_instead_of_file(tmp_path: Path) -> None:
    error = pytest.raises(TopologyError, load_topology, tmp_path).value
    assert error.line is None and "directory" in error.problem


def test_oversized_file(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    big.write_bytes(SEED_TEXT.encode() + b"#" * MAX_TOPOLOGY_BYTES)
    error = pytest.raises(TopologyError, load_topology, big).value
    assert (error.line, error.field) == (None, "-")
    assert f"larger than {MAX_TOPOLOGY_BYTES} bytes" in str(error)
    text_error = load_error("#" * (MAX_TOPOLOGY_BYTES + 1))
    assert "larger than" in text_error.problem


def test_file_at_the_size_limit_is_read(tmp_path: Path) -> None:
    padded = tmp_path / "padded.yaml"
    data = SEED_TEXT.encode()
    padded.write_bytes(data + b"#" * (MAX_TOPOLOGY_BYTES - len(data)))
    assert load_topology(padded).name == "restricted-vlan"


def test_non_utf8_bytes(tmp_path: Path) -> None:
    latin = tmp_path / "latin1.yaml"
    text = edit("description: VLAN", "description: VLAN caf\xe9")
    latin.write_bytes(text.encode("latin-1"))
    error = pytest.raises(TopologyError, load_topology, latin).value
    assert error.line == line_of(text, "caf\xe9") and error.field == "-"
    assert "not UTF-8 text (byte 0xe9" in str(error) and "Fix: save the file as UTF-8" in str(error)


def test_binary_file(tmp_path: Path) -> None:
    blob = tmp_path / "blob.yaml"
    blob.write_bytes(b"\x7fELF\x02\x01\x01\x00\x00")
    error = pytest.raises(TopologyError, load_topology, blob).value
    assert error.line == 1 and "looks binary" in str(error)


def test_utf8_bom_is_accepted(tmp_path: Path) -> None:
    bom = tmp_path / "bom.yaml"
    bom.write_bytes(b"\xef\xbb\xbf" + SEED_TEXT.encode())
    assert load_topology(bom).name == "restricted-vlan"


def test_not_a_path_is_still_a_topology_error() -> None:
    error = pytest.raises(TopologyError, load_topology, None).value  # type: ignore[arg-type]
    assert error.field == "-" and "not a file path" in str(error)
    text_error = pytest.raises(TopologyError, load_topology_text, b"apiVersion: x").value  # type: ignore[arg-type]
    assert "expected topology text" in str(text_error)


def test_single_alias_is_refused_too() -> None:
    text = edit("  - name: pod-b\n    namespace: multus-test", "  - name: pod-b\n    namespace: &ns multus-test")
    text = edit("  - name: pod-c\n    namespace: multus-test", "  - name: pod-c\n    namespace: *ns", text)
    error = load_error(text)
    assert error.line == line_of(text, "*ns") and "aliases are not supported (found *ns)" in str(error)


# --------------------------------------------------------------------------------------------------------------
# robustness: any damage to a valid file is a TopologyError or a valid topology, never another exception


@pytest.mark.parametrize("base", [SEED_TEXT, TRUNK_TEXT], ids=["seed", "trunk"])
def test_dropping_or_truncating_any_line_never_escapes(base: str) -> None:
    lines = base.splitlines(keepends=True)
    variants = ["".join(lines[:i] + lines[i + 1 :]) for i in range(len(lines))]
    variants += ["".join(lines[:i]) + lines[i][: len(lines[i]) // 2] for i in range(len(lines))]
    for text in variants:
        try:
            result = load_topology_text(text, "v.yaml")
        except TopologyError as error:
            assert "\n" not in str(error) and "internal error" not in str(error), str(error)
        else:
            assert isinstance(result, Topology)
