"""What the bridge, host-device and tuning plugins promise beyond an interface in the pod, read back where it lives:
the node's bridge port (bridge), the node's own link (host-device), the pod's flags and sysctls (tuning)."""

from __future__ import annotations

import json
from ipaddress import ip_interface

import allure
import pytest

from netattest.inventory import InterfaceView, Inventory, PodAttachment, PodView
from netattest.matrix import Subject
from netattest.report.allure_attach import EvidenceKit
from netattest.routes import ipam_gateway
from netattest.serialize import to_jsonable
from netattest.topology.model import Topology
from netattest.verdicts import expect

pytestmark = pytest.mark.attachment


def _pod_side(subject: Subject, inventory: Inventory) -> tuple[PodView, InterfaceView, PodAttachment]:
    """The pod, its interface and the attachment record of ``subject``; fails when the pod never got it."""
    namespace, name = subject.name.split("/", 1)
    view = inventory.pod(name, namespace)
    iface = view.interfaces.get(subject.iface)
    attached = next((a for a in view.attachments if a.interface == subject.iface), None)
    expect(view.phase == "Running" and iface is not None and attached is not None,
           f"{view.label} has no {subject.iface}: {view.reason or 'interface missing'}")
    assert iface is not None and attached is not None
    return view, iface, attached


def _attach(name: str, data: object) -> None:
    allure.attach(json.dumps(to_jsonable(data), indent=2, sort_keys=True), name=name,
                  attachment_type=allure.attachment_type.JSON)


@allure.feature("host-device")
def test_host_device_moved(host_device_interface: Subject, inventory: Inventory, evidence: EvidenceKit) -> None:
    """The node's link itself is in the pod (its MAC, observed on the node before ADD) and gone from the node."""
    subject = host_device_interface
    att = subject.attachment
    assert att is not None
    evidence.describe_pod(subject.name, subject=subject)
    view, iface, attached = _pod_side(subject, inventory)
    node = inventory.node(str(view.node))
    with allure.step(f"setup: {view.label} {subject.iface} from NAD {att.key}, device {attached.master}"):
        evidence.attach_pod(subject.name)
        _attach(f"node {node.name} links now", sorted(node.nics))
    evidence.verdict(f"{attached.master} of {node.name} moved into {view.label} as {subject.iface}")
    expect(bool(node.nics), f"the links of {node.name} could not be read, so the move cannot be judged")
    expect(attached.master not in node.nics,
           f"{node.name} still shows {attached.master} while {view.label} holds it: the pod got a copy, not the "
           "device")
    if attached.master_mac is None and inventory.target != "lab":
        pytest.skip(f"{attached.master} left {node.name}, but its MAC before the move is unknown on the "
                    f"{inventory.target} target (nodes are read after the pods attach), so the pod's {iface.mac} "
                    "cannot be matched to it")
    expect(attached.master_mac is not None,
           f"node {node.name} had no link {attached.master} before the pod was attached, so nothing could move")
    expect(iface.mac == attached.master_mac,
           f"{view.label} {subject.iface} has MAC {iface.mac}, but {node.name}'s {attached.master} had "
           f"{attached.master_mac}: another link was put in the pod")


@allure.feature("host-device")
def test_host_device_returned(host_device_interface: Subject, inventory: Inventory, evidence: EvidenceKit) -> None:
    """CNI DEL gives the device back to the node (same MAC), so the next pod scheduled there finds it."""
    subject = host_device_interface
    view, _, attached = _pod_side(subject, inventory)
    evidence.describe_pod(subject.name, subject=subject)
    trip = attached.round_trip
    if trip is None:
        pytest.skip(f"{inventory.target} target: a pod's attachment is not deleted mid-run (that would restart the "
                    "pod), so the device's return is not observed here; the lab proves it at deploy")
    with allure.step(f"setup: {view.label} {subject.iface} taken down (CNI DEL) and up again (CNI ADD)"):
        _attach("round trip", trip)
    evidence.verdict(f"after CNI DEL, {trip.device} is back on {view.node} with its MAC")
    left = f"; the pod still held {', '.join(trip.left_in_pod)}" if trip.left_in_pod else ""
    expect(trip.returned, f"after CNI DEL of {view.label} {subject.iface}, node {view.node} has no {trip.device}"
                          f"{left}{' (' + trip.note + ')' if trip.note else ''}: the device was not given back, "
                          f"and the next pod on {view.node} fails with 'Link not found'")
    expect(trip.mac_after == trip.mac_before,
           f"after CNI DEL, {view.node} has a {trip.device} with MAC {trip.mac_after}, not the device that "
           f"moved ({trip.mac_before})")


@allure.feature("bridge")
def test_bridge_port(bridge_interface: Subject, inventory: Inventory, topology: Topology,
                     evidence: EvidenceKit) -> None:
    """The pod's veth is a port of the NAD's bridge on its node, with the NAD's VLAN as PVID (untagged) and its
    hairpin mode; an isGateway bridge holds the gateway. Read on the node, as ``bridge -d vlan show`` does."""
    subject = bridge_interface
    att = subject.attachment
    assert att is not None and att.bridge is not None
    wanted = att.bridge
    evidence.describe_pod(subject.name, subject=subject)
    view, iface, _ = _pod_side(subject, inventory)
    node = inventory.node(str(view.node))
    port = node.port_of(iface)
    with allure.step(f"setup: the bridge ports of {node.name}"):
        evidence.attach_pod(subject.name)
        _attach(f"{node.name} bridge ports", node.bridge_ports)
    tag = f" VLAN {wanted.vlan} (PVID, untagged)" if wanted.vlan is not None else ""
    evidence.verdict(f"{view.label} {subject.iface} is a port of {wanted.name} on {node.name}{tag}")
    expect(port is not None, f"no bridge port of {node.name} is the peer of {view.label} {subject.iface} "
                             f"(peer index {iface.peer_index or 'none'}): the pod is not plugged into a bridge")
    assert port is not None
    allure.dynamic.parameter("port", port.name, excluded=True)
    expect(port.bridge == wanted.name, f"{view.label}'s port {port.name} is in bridge {port.bridge}, but NAD "
                                       f"{att.key} names bridge {wanted.name}")
    if wanted.vlan is not None:
        entry = next((v for v in port.vlans if v.vid == wanted.vlan), None)
        others = [f"{v.vid}{' PVID' if v.pvid else ''}" for v in port.vlans if v.vid != wanted.vlan]
        expect(entry is not None and entry.pvid and entry.untagged,
               f"{view.label}'s port {port.name} on {node.name} has PVID {port.pvid} (VLANs: "
               f"{[v.vid for v in port.vlans] or 'none'}), but NAD {att.key} tags it VLAN {wanted.vlan}: the pod "
               "is in another VLAN")
        expect(port.vlan_filtering,
               f"bridge {port.bridge} on {node.name} is not VLAN-aware (vlan_filtering 0): the VLAN {wanted.vlan} "
               f"entry of {view.label}'s port is never enforced and every port shares one segment. The bridge "
               "plugin turns vlan_filtering on only for a bridge it creates. Fix: ip link set "
               f"{port.bridge} type bridge vlan_filtering 1")
        if others:
            allure.dynamic.description(f"{port.name} is also a member of VLAN {', '.join(others)}")
    expect(port.hairpin == wanted.hairpin,
           f"{view.label}'s port {port.name} has hairpin {'on' if port.hairpin else 'off'}, but NAD {att.key} says "
           f"hairpinMode {str(wanted.hairpin).lower()}")
    if wanted.is_gateway:
        bridge = node.nics.get(wanted.name)
        gateway = ipam_gateway(dict(att.ipam.config))
        held = [a.split("/")[0] for a in (bridge.addresses if bridge else ())]
        subnet = topology.network(att.network).subnet
        ok = gateway in held if gateway else any(ip_interface(a).ip in subnet for a in (bridge.addresses if bridge
                                                                                           else ()))
        expect(ok, f"NAD {att.key} says isGateway, but bridge {wanted.name} on {node.name} holds {held or 'nothing'}"
                   f" (expected {gateway or 'an address in ' + str(subnet)})")


@allure.feature("tuning")
def test_tuning(tuned_interface: Subject, inventory: Inventory, evidence: EvidenceKit) -> None:
    """The tuning plugin chained after the main one applied its MAC, promiscuous mode and sysctls, as read in
    the pod (a chain that never ran leaves all three at the main plugin's values)."""
    subject = tuned_interface
    att = subject.attachment
    assert att is not None and att.tuning is not None
    tuning = att.tuning
    evidence.describe_pod(subject.name, subject=subject)
    view, iface, _ = _pod_side(subject, inventory)
    with allure.step(f"setup: {view.label} {subject.iface} from NAD {att.key} (tuning chained)"):
        evidence.attach_pod(subject.name)
        _attach("sysctls read in the pod", view.sysctls)
    evidence.verdict(f"tuning's settings hold on {view.label} {subject.iface}")
    problems = []
    if tuning.mac and iface.mac != tuning.mac.lower():
        problems.append(f"MAC is {iface.mac}, tuning sets {tuning.mac}")
    if tuning.promisc is not None and iface.promisc != tuning.promisc:
        problems.append(f"promiscuous mode is {'on' if iface.promisc else 'off'}, tuning sets "
                        f"{'on' if tuning.promisc else 'off'}")
    for name, value in tuning.sysctl.items():
        got = view.sysctls.get(name, "<not read>")
        if got != str(value):
            problems.append(f"{name} is {got}, tuning sets {value}")
    expect(not problems, f"{view.label} {subject.iface}: " + "; ".join(problems)
                         + f": the tuning plugin of NAD {att.key} did not apply its settings")
