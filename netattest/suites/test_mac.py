"""MAC behaviour promised by the plugin, from the interfaces and on the wire (the MAC in ARP replies).

ipvlan: every child carries its master's MAC, so all pods on one node share it. macvlan: every child has its
own MAC, unique across pods and nodes, different from the master's.
"""

from __future__ import annotations

import allure
import pytest

from netattest.inventory import InterfaceView, Inventory, PodView
from netattest.matrix import L3_TARGET, Subject, l3_only, pod_subjects
from netattest.outcomes import MatrixRun
from netattest.report.allure_attach import EvidenceKit
from netattest.topology.model import Topology
from netattest.verdicts import BrokenEvidence, expect

pytestmark = pytest.mark.mac


def shares_master_mac(plugin: str, mode: str) -> bool:
    """ipvlan children carry their master's MAC by design, a VLAN device inherits its parent's, and a macvlan in
    passthru mode takes over its master (observed in the lab: the child shows the master's MAC)."""
    return plugin in ("ipvlan", "vlan") or (plugin == "macvlan" and mode == "passthru")


@allure.feature("MAC behaviour")
def test_mac_behaviour(pod_interface: Subject, inventory: Inventory, matrix: MatrixRun,
                       evidence: EvidenceKit) -> None:
    att = pod_interface.attachment
    assert att is not None
    evidence.describe_pod(pod_interface.name, subject=pod_interface)
    parent = (f"master {pod_interface.master}" if pod_interface.master else
              f"device {att.device}" if att.device else f"bridge {att.bridge.name}" if att.bridge else "no master")
    with allure.step(f"setup: {pod_interface.name} {pod_interface.iface} from NAD {att.key} on {parent}"):
        evidence.attach_pod(pod_interface.name)
    with allure.step(f"probe: ARP replies for {pod_interface.label} {pod_interface.iface} in the matrix window"):
        towards = evidence.arp_towards(matrix.outcomes.values(), pod_interface)
    evidence.verdict(f"{att.plugin} MAC behaviour on the interface and on the wire", wire=towards)
    namespace, name = pod_interface.name.split("/", 1)
    view = inventory.pod(name, namespace)
    iface = view.interfaces.get(pod_interface.iface)
    expect(iface is not None and view.node is not None,
           f"{view.label} has no {pod_interface.iface}: {view.reason or 'interface missing'}")
    assert iface is not None
    allure.dynamic.parameter("pod MAC", iface.mac, excluded=True)  # MACs change per build: not in history id
    expected_wire = _expected_mac(pod_interface, view, iface, inventory)
    wire = matrix.wire_macs.get((pod_interface.name, pod_interface.iface), set())
    if not wire and l3_only(pod_interface):
        pytest.skip(f"{view.label} {iface.name}: MAC on the wire not measurable: " + L3_TARGET.format(mode=att.mode))
    if not wire:
        raise BrokenEvidence(f"no ARP reply for {view.label} {iface.name} was seen on the wire, so its MAC "
                             "behaviour could not be measured (see the reachability checks towards it)")
    expect(wire == {expected_wire}, f"ARP replies for {view.label} {iface.name} carried {sorted(wire)}, "
                                    f"expected only {expected_wire}")


def _expected_mac(subject: Subject, view: PodView, iface: InterfaceView, inventory: Inventory) -> str:
    """The MAC the plugin promises on the pod's interface (checked here), hence the one ARP answers must carry."""
    att = subject.attachment
    assert att is not None
    if att.tuning is not None and att.tuning.mac:
        expect(iface.mac == att.tuning.mac, f"{view.label} {iface.name} has MAC {iface.mac}, but NAD {att.key} "
                                            f"chains tuning with mac {att.tuning.mac}: the tuning plugin did not "
                                            "apply it")
        return iface.mac
    attached = next((a for a in view.attachments if a.interface == subject.iface), None)
    if att.plugin == "host-device":
        device_mac = attached.master_mac if attached else None  # unknown on a cluster: see test_host_device_moved
        expect(device_mac is None or iface.mac == device_mac,
               f"{view.label} {iface.name} has MAC {iface.mac}, but host-device moves the node's link {att.device} "
               f"itself into the pod, which keeps its MAC ({device_mac or 'unknown'})")
        return iface.mac
    node = inventory.node(str(view.node))
    if att.plugin == "bridge" or subject.master is None:
        owners = {nic.mac: nic.name for nic in node.nics.values()}
        expect(iface.mac not in owners, f"{view.label} {iface.name} carries node {node.name} "
                                        f"{owners.get(iface.mac)}'s MAC; a {att.plugin} port has its own")
        return iface.mac
    if not node.nics:
        raise BrokenEvidence(f"the NICs of node {view.node} could not be observed, so its master's MAC is unknown: "
                             + ("; ".join(inventory.notes) or "no node inventory on this target"))
    master = node.nics.get(subject.master)
    expect(master is not None, f"node {view.node} has no master NIC {subject.master}")
    assert master is not None
    allure.dynamic.parameter("master MAC", master.mac, excluded=True)
    if shares_master_mac(att.plugin, att.mode):
        expect(iface.mac == master.mac, f"{view.label} {iface.name} has MAC {iface.mac}, but an {att.plugin} child "
                                        f"carries its master's MAC ({view.node} {subject.master} = {master.mac}); "
                                        f"the kernel reports a {iface.kind} link: the NAD in force is not "
                                        f"{att.plugin}")
        return master.mac
    expect(iface.mac != master.mac, f"{view.label} {iface.name} shares its master's MAC {master.mac}; a "
                                    f"{att.plugin} child must have its own (kernel reports {iface.kind})")
    return iface.mac


@allure.feature("MAC behaviour")
def test_ipvlan_pods_share_node_mac(ipvlan_group: tuple[str, str, str], inventory: Inventory,
                                    topology: Topology, evidence: EvidenceKit) -> None:
    node, master, nad = ipvlan_group
    evidence.describe_group(nad, node=node, master=master)
    evidence.verdict(f"every ipvlan pod of {nad} on {node} carries {master}'s MAC")
    macs = {}
    for subject in pod_subjects(topology):
        if subject.node == node and subject.attachment and subject.attachment.name == nad:
            pod = inventory.pod(*reversed(subject.name.split("/", 1)))
            iface = pod.interfaces.get(subject.iface)
            macs[pod.label] = iface.mac if iface else None
    nics = inventory.node(node).nics
    if not nics:
        raise BrokenEvidence(f"the NICs of node {node} could not be observed, so its master's MAC is unknown: "
                             + ("; ".join(inventory.notes) or "no node inventory on this target"))
    expect(master in nics, f"node {node} has no master NIC {master} (NICs seen there: {', '.join(sorted(nics))})")
    master_mac = nics[master].mac
    differing = {label: mac for label, mac in macs.items() if mac != master_mac}
    expect(not differing, f"ipvlan pods on {node} must all carry {master}'s MAC {master_mac}; these do not: "
                          f"{differing}")


@allure.feature("MAC behaviour")
def test_macvlan_macs_unique(macvlan_nad: str, inventory: Inventory, topology: Topology,
                             evidence: EvidenceKit) -> None:
    evidence.describe_group(macvlan_nad)
    evidence.verdict(f"every macvlan pod of {macvlan_nad} has its own MAC, no node NIC's")
    owners: dict[str, list[str]] = {}
    for subject in pod_subjects(topology):
        if subject.attachment and subject.attachment.key == macvlan_nad:
            pod = inventory.pod(*reversed(subject.name.split("/", 1)))
            iface = pod.interfaces.get(subject.iface)
            if iface:
                owners.setdefault(iface.mac, []).append(pod.label)
    expect(len(owners) >= 1, f"no pod of {macvlan_nad} has its interface")
    shared = {mac: pods for mac, pods in owners.items() if len(pods) > 1}
    expect(not shared, f"macvlan pods of {macvlan_nad} share MACs: {shared}")
    masters = {nic.mac: f"{node.name} {nic.name}" for node in inventory.nodes for nic in node.nics.values()}
    clash = {mac: (pods, masters[mac]) for mac, pods in owners.items() if mac in masters}
    expect(not clash, f"macvlan pods carry a node NIC's MAC: {clash}")
