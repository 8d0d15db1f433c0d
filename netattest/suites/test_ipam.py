"""IPAM: every address has exactly one owner, DHCP leases come from the server's pool, and a DHCP server does not
hijack the pod's default route unless the topology allows it."""

from __future__ import annotations

from ipaddress import IPv4Address

import allure
import pytest

from netattest.inventory import Inventory, PodView
from netattest.ipam_pool import ipam_pool, outside_pool
from netattest.matrix import Check, Subject
from netattest.outcomes import MatrixRun
from netattest.report.allure_attach import EvidenceKit
from netattest.routes import ipam_gateway, missing_routes, wanted_routes
from netattest.topology.model import Topology
from netattest.verdicts import expect, settle

pytestmark = pytest.mark.ipam


@allure.epic("secondary networks")
@allure.feature("IPAM")
def test_address_unique(unique_check: Check, matrix: MatrixRun, evidence: EvidenceKit) -> None:
    outcome = matrix.outcomes[unique_check.id]
    evidence.describe_check(unique_check, "unique_check")
    target = unique_check.target
    with allure.step(f"setup: {target.label} {target.iface} on {target.network}"):
        if target.kind == "pod":
            evidence.attach_pod(target.name)
    with allure.step(f"probe: ARP who-has {target.label}'s address from neutral host {unique_check.source.label}: "
                     "every MAC that answers is an owner"):
        evidence.attach_probe(outcome)
    with allure.step(f"verdict: {outcome.status}: {outcome.reason}"):
        settle(outcome.status, outcome.reason)


def _pod_evidence(param: str, subject: Subject, pod: PodView, evidence: EvidenceKit) -> None:
    """Labels, the pod's evidence and its routing table, as the other suites show a pod."""
    test_id = subject.interface_id
    evidence.describe_pod(subject.name, param, test_id, subject=subject)
    with allure.step(f"setup: {pod.label} {subject.iface} on {subject.network}"):
        evidence.attach_pod(subject.name)
        allure.attach("\n".join(pod.routes) + "\n" if pod.routes else "(no IPv4 route)\n",
                      name=f"ip route inside {pod.name}", attachment_type=allure.attachment_type.TEXT)


@allure.epic("secondary networks")
@allure.feature("IPAM")
def test_dhcp_lease(dhcp_interface: Subject, inventory: Inventory, topology: Topology, evidence: EvidenceKit) -> None:
    namespace, name = dhcp_interface.name.split("/", 1)
    pod = inventory.pod(name, namespace)
    _pod_evidence("dhcp_interface", dhcp_interface, pod, evidence)
    evidence.verdict(f"{pod.label} {dhcp_interface.iface} holds a lease from the pool of its VLAN's DHCP server, "
                     "and no default route unless the server may hand one out")
    iface = pod.interfaces.get(dhcp_interface.iface)
    expect(iface is not None and bool(iface.ips), f"{pod.label} got no DHCP lease on {dhcp_interface.iface}: "
                                                  f"{pod.reason or 'no address'}")
    assert iface is not None
    network = topology.network(dhcp_interface.network)
    servers = [h for h in topology.external_hosts if h.network == network.name and h.dhcp_server]
    expect(bool(servers), f"no DHCP server is declared on VLAN {network.name} (externalHosts[].dhcpServer)")
    first, last = servers[0].dhcp_range(network.subnet)
    leased = IPv4Address(iface.ips[0])
    expect(first <= leased <= last, f"{pod.label} {iface.name} has {leased}, outside the pool {first}-{last} of "
                                    f"DHCP server {servers[0].name}: another server answered")
    defaults = [r for r in pod.routes if r.startswith("default") and r.endswith(f"dev {iface.name}")]
    if servers[0].dhcp_default_route:
        return
    expect(not defaults, f"{pod.label}: DHCP server on {network.name} hijacked the pod's default route "
                         f"({defaults[0] if defaults else ''}); the topology does not allow it a default route")


@allure.epic("secondary networks")
@allure.feature("IPAM")
def test_ipam_routes(routed_interface: Subject, inventory: Inventory, evidence: EvidenceKit) -> None:
    namespace, name = routed_interface.name.split("/", 1)
    pod = inventory.pod(name, namespace)
    _pod_evidence("routed_interface", routed_interface, pod, evidence)
    evidence.verdict(f"the routes of {routed_interface.attachment.key if routed_interface.attachment else 'its NAD'}"
                     f" are in {pod.label}'s routing table via {routed_interface.iface}")
    att = routed_interface.attachment
    assert att is not None
    config = dict(att.ipam.config)
    wanted = wanted_routes(att.ipam.routes(), routed_interface.iface, ipam_gateway(config))
    missing = missing_routes(wanted, pod.routes)
    expect(not missing, f"{pod.label}: IPAM of {att.key} configures routes that its routing table lacks: "
                        f"{'; '.join(missing)} (table: {pod.routes or 'empty'})")


@allure.epic("secondary networks")
@allure.feature("IPAM")
def test_ipam_pool(pooled_interface: Subject, inventory: Inventory, evidence: EvidenceKit) -> None:
    """The pod's address comes from its NAD's pool (host-local ranges, whereabouts range minus exclude): an address
    in the subnet but outside the pool is a stale NAD, a second allocator or a hand-set address."""
    namespace, name = pooled_interface.name.split("/", 1)
    pod = inventory.pod(name, namespace)
    att = pooled_interface.attachment
    assert att is not None
    pool = ipam_pool(att.ipam.type, dict(att.ipam.config))
    assert pool is not None
    _pod_evidence("pooled_interface", pooled_interface, pod, evidence)
    evidence.verdict(f"{pod.label} {pooled_interface.iface} holds an address of {att.key}'s {att.ipam.type} pool "
                     f"{pool.describe()}")
    iface = pod.interfaces.get(pooled_interface.iface)
    expect(iface is not None and bool(iface.addresses),
           f"{pod.label} has no address on {pooled_interface.iface}: {pod.reason or 'no address'}")
    assert iface is not None
    stray = outside_pool(list(iface.addresses), pool)
    expect(not stray, f"{pod.label} {iface.name} has {', '.join(stray)}, outside the {att.ipam.type} pool of "
                      f"{att.key}: {pool.describe()}")
