"""IPAM: every address has exactly one owner, DHCP leases come from the server's pool, and a DHCP server does not
hijack the pod's default route unless the topology allows it."""

from __future__ import annotations

from ipaddress import ip_address

import allure
import pytest

from netattest.evaluate import MatrixRun
from netattest.inventory import Inventory
from netattest.matrix import Check, Subject
from netattest.topology.model import Topology
from netattest.verdicts import expect, settle

pytestmark = pytest.mark.ipam


@allure.epic("secondary networks")
@allure.feature("IPAM")
def test_address_unique(unique_check: Check, matrix: MatrixRun) -> None:
    outcome = matrix.outcomes[unique_check.id]
    allure.dynamic.story(f"VLAN {unique_check.source.network}")
    allure.attach(outcome.reason, name="verdict", attachment_type=allure.attachment_type.TEXT)
    settle(outcome.status, outcome.reason)


@allure.epic("secondary networks")
@allure.feature("IPAM")
def test_dhcp_lease(dhcp_interface: Subject, inventory: Inventory, topology: Topology) -> None:
    namespace, name = dhcp_interface.name.split("/", 1)
    pod = inventory.pod(name, namespace)
    iface = pod.interfaces.get(dhcp_interface.iface)
    expect(iface is not None and bool(iface.ips), f"{pod.label} got no DHCP lease on {dhcp_interface.iface}: "
                                                  f"{pod.reason or 'no address'}")
    assert iface is not None
    network = topology.network(dhcp_interface.network)
    servers = [h for h in topology.external_hosts if h.network == network.name and h.dhcp_server]
    expect(bool(servers), f"no DHCP server is declared on VLAN {network.name} (externalHosts[].dhcpServer)")
    first, last = servers[0].dhcp_range(network.subnet)
    leased = ip_address(iface.ips[0])
    expect(first <= leased <= last, f"{pod.label} {iface.name} has {leased}, outside the pool {first}-{last} of "
                                    f"DHCP server {servers[0].name}: another server answered")
    defaults = [r for r in pod.routes if r.startswith("default") and r.endswith(f"dev {iface.name}")]
    if servers[0].dhcp_default_route:
        return
    expect(not defaults, f"{pod.label}: DHCP server on {network.name} hijacked the pod's default route "
                         f"({defaults[0] if defaults else ''}); the topology does not allow it a default route")


@allure.epic("secondary networks")
@allure.feature("IPAM")
def test_ipam_routes(routed_interface: Subject, inventory: Inventory) -> None:
    namespace, name = routed_interface.name.split("/", 1)
    pod = inventory.pod(name, namespace)
    att = routed_interface.attachment
    assert att is not None
    wanted = [str(r["dst"]) for r in att.ipam.config.get("routes", [])]  # type: ignore[union-attr,index]
    missing = [dst for dst in wanted
               if not any(r.startswith(dst) and r.endswith(f"dev {routed_interface.iface}") for r in pod.routes)]
    expect(not missing, f"{pod.label}: IPAM of {att.key} configures routes {missing} via "
                        f"{routed_interface.iface}, the pod's routing table has {pod.routes}")
