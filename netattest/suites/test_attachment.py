"""Pods land on labelled nodes and get the interfaces their NADs promise, as seen from inside the pod."""

from __future__ import annotations

from ipaddress import ip_interface

import allure
import pytest

from netattest.annotations import NETWORK_STATUS_ANNOTATION, NETWORKS_ANNOTATION, parse_network_status
from netattest.inventory import Inventory, PodView
from netattest.matrix import Subject
from netattest.report.allure_attach import EvidenceKit
from netattest.topology.model import Pod, Topology
from netattest.verdicts import expect

pytestmark = pytest.mark.attachment
#: the link kind a plugin gives the pod ("" = host-device: the node's own link, whatever its kind)
POD_LINK_KIND = {"bridge": "veth", "host-device": ""}


def _view(inventory: Inventory, key: str) -> PodView:
    namespace, name = key.split("/", 1)
    return inventory.pod(name, namespace)


@allure.feature("attachment")
def test_pod_placement(pod: Pod, inventory: Inventory, evidence: EvidenceKit) -> None:
    view = _view(inventory, pod.key)
    evidence.describe_pod(pod.key, "pod", pod.key)
    with allure.step(f"setup: {pod.key} with nodeSelector {dict(pod.node_selector)}"):
        evidence.attach_pod(pod.key)
    evidence.verdict(f"{pod.key} runs on a node that carries its nodeSelector ({view.node or 'no node'})")
    expect(view.node is not None, f"{pod.key} was not scheduled: {view.reason}")
    labels = inventory.node(str(view.node)).labels
    missing = {k: v for k, v in pod.node_selector.items() if labels.get(k) != v}
    expect(not missing, f"{pod.key} landed on node {view.node}, which does not carry "
                        + ", ".join(f"{k}={v}" for k, v in missing.items()) + " from its nodeSelector")
    if not pod.networks:
        extra = sorted(name for name, iface in view.interfaces.items() if name != "lo")
        expect(not extra, f"{pod.key} asks for no secondary network but has interfaces {extra}")


@allure.feature("attachment")
def test_pod_interface(pod_interface: Subject, inventory: Inventory, topology: Topology,
                       evidence: EvidenceKit) -> None:
    view = _view(inventory, pod_interface.name)
    att = pod_interface.attachment
    assert att is not None
    evidence.describe_pod(pod_interface.name, subject=pod_interface)
    with allure.step(f"setup: {view.label} asks for NAD {att.key} as {pod_interface.iface}"):
        evidence.attach_pod(pod_interface.name)
    evidence.verdict(f"{pod_interface.iface} is the {att.plugin} interface, with the addresses, NAD {att.key} "
                     "promises")
    expect(view.phase == "Running", f"{view.label} is {view.phase}: {view.reason}")
    iface = view.interfaces.get(pod_interface.iface)
    expect(iface is not None, f"{view.label} has no interface {pod_interface.iface} "
                              f"(it has {sorted(view.interfaces)})")
    assert iface is not None
    kind = POD_LINK_KIND.get(att.plugin, att.plugin)
    if kind:  # host-device moves the node's own link, whatever its kind
        expect(iface.kind == kind, f"{view.label} {iface.name} is a {iface.kind or 'unknown'} link, but NAD "
                                   f"{att.key} promises {att.plugin}"
                                   + ("" if kind == att.plugin else f" (a {kind} link)")
                                   + ": the NAD in force is not the expected one")
    expect(not att.mode or iface.mode == att.mode,
           f"{view.label} {iface.name} runs {att.plugin} mode {iface.mode}, expected {att.mode}")
    expect(iface.up, f"{view.label} {iface.name} is down")
    requested = next(n for n in topology.pods if n.key == view.key).networks
    wanted = next(n for n in requested if n.interface == pod_interface.iface)
    promised = [str(i) for i in wanted.ips] or att.ipam.static_addresses()
    if promised:
        expect(sorted(iface.addresses) == sorted(promised),
               f"{view.label} {iface.name} has addresses {list(iface.addresses)}, expected {promised}"
               + ("" if wanted.ips else f" (NAD {att.key}'s static addresses)"))
    if wanted.mac:
        expect(iface.mac.lower() == wanted.mac.lower(),
               f"{view.label} {iface.name} has MAC {iface.mac}, but the networks annotation asks for {wanted.mac}")
    if att.ipam.type == "none":
        expect(not iface.addresses, f"{view.label} {iface.name} has addresses {list(iface.addresses)}, but NAD "
                                    f"{att.key} has no IPAM")
        return
    subnet = topology.network(att.network).subnet
    outside = [a for a in iface.addresses if ip_interface(a).ip not in subnet]
    expect(bool(iface.addresses) and not outside,
           f"{view.label} {iface.name} addresses {list(iface.addresses)} are not in VLAN {att.network} {subnet}")


@allure.feature("attachment")
def test_network_status(attached_pod: Pod, inventory: Inventory, evidence: EvidenceKit) -> None:
    view = _view(inventory, attached_pod.key)
    evidence.describe_pod(attached_pod.key, "attached_pod", attached_pod.key)
    with allure.step(f"setup: {view.label}, its network-status annotation and interfaces"):
        evidence.attach_pod(attached_pod.key)
    evidence.verdict("the network-status annotation agrees with the interfaces inside the pod")
    expect(view.phase == "Running", f"{view.label} is {view.phase}: {view.reason}")
    annotations = view.annotations
    raw = annotations.get(NETWORK_STATUS_ANNOTATION)
    expect(raw is not None, f"{view.label} has no {NETWORK_STATUS_ANNOTATION} annotation")
    allure.attach(str(raw), name="network-status", attachment_type=allure.attachment_type.JSON)
    statuses = parse_network_status(str(raw))
    for net in attached_pod.networks:
        status = next((s for s in statuses if s.interface == net.interface), None)
        expect(status is not None, f"{view.label}: network-status has no entry for {net.interface} "
                                   f"({NETWORKS_ANNOTATION} asked for it)")
        assert status is not None
        iface = view.interfaces.get(net.interface)
        expect(iface is not None, f"{view.label}: network-status lists {net.interface}, the pod has no such "
                                  "interface")
        assert iface is not None
        expect(sorted(status.ips) == sorted(iface.ips),
               f"{view.label} {net.interface}: network-status says {list(status.ips)}, the pod has "
               f"{list(iface.ips)}")
        expect(status.mac in (None, "", iface.mac),
               f"{view.label} {net.interface}: network-status says MAC {status.mac}, the pod has {iface.mac}")


@allure.feature("attachment")
def test_attach_fails(failing_pod: Pod, inventory: Inventory, evidence: EvidenceKit) -> None:
    """A negative scenario: the pod's sandbox must fail to attach its networks, for the reason the topology names
    (the plugin's or Multus's own message) — a failure for another reason is not the one expected."""
    view = _view(inventory, failing_pod.key)
    evidence.describe_pod(failing_pod.key, "failing_pod", failing_pod.key)
    with allure.step(f"setup: {failing_pod.key} must fail to attach: {failing_pod.attach_fails}"):
        evidence.attach_pod(failing_pod.key)
    evidence.verdict(f"{failing_pod.key} fails to attach its networks, with a reason containing "
                     f"{failing_pod.attach_fails!r}")
    expect(view.phase != "Running" and view.reason is not None,
           f"{view.label} attached every network and runs, but must fail to attach ({failing_pod.attach_fails!r}):"
           " the plugin or Multus accepted what the topology says they refuse")
    assert view.reason is not None and failing_pod.attach_fails is not None
    expect(failing_pod.attach_fails.lower() in view.reason.lower(),
           f"{view.label} failed to attach, but not for the expected reason: expected {failing_pod.attach_fails!r}"
           f", got: {view.reason}")
