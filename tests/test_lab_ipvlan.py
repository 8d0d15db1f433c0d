"""Lab integration with ipvlan on the seed topology: needs a kernel with ipvlan.

On a host kernel without it these tests run inside the kernel sandbox, driven by
``tests/test_sandbox_session.py``; run directly on such a host they skip and say so.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from netattest.inventory import Inventory
from netattest.lab.lab import Lab, run_namespaces
from netattest.sandbox.kernel import detect_kernel_features
from netattest.topology import load_topology
from tests.conftest import SEED

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(not detect_kernel_features().has("ipvlan"),
                       reason="host kernel lacks ipvlan: these run inside the kernel sandbox via "
                              "tests/test_sandbox_session.py"),
]


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    built = Lab(load_topology(SEED))
    built.up()
    try:
        yield built
    finally:
        built.down()
        assert run_namespaces(built.run_id) == []


@pytest.fixture(scope="module")
def inventory(lab: Lab) -> Inventory:
    return lab.inventory()


def test_ipvlan_pods_get_net1_with_the_topology_addresses(inventory: Inventory) -> None:
    expected = {"pod-a": ("node1", "192.168.112.11/24"), "pod-b": ("node1", "192.168.112.12/24"),
                "pod-c": ("node2", "192.168.112.21/24")}
    for name, (node, address) in expected.items():
        pod = inventory.pod(name)
        assert pod.node == node and pod.phase == "Running"
        net1 = pod.interfaces["net1"]
        assert net1.kind == "ipvlan" and net1.mode == "l2" and net1.addresses == (address,)


def test_ipvlan_children_carry_their_masters_mac(inventory: Inventory) -> None:
    masters = {n.name: n.nics["ens224"].mac for n in inventory.nodes if "ens224" in n.nics}
    assert len(set(masters.values())) == 2
    for name in ("pod-a", "pod-b", "pod-c"):
        pod = inventory.pod(name)
        assert pod.interfaces["net1"].mac == masters[str(pod.node)]
        assert pod.network_status[0].mac == masters[str(pod.node)]
    assert inventory.pod("pod-a").interfaces["net1"].mac == inventory.pod("pod-b").interfaces["net1"].mac


def test_macvlan_twin_children_have_unique_macs(inventory: Inventory) -> None:
    macs = [inventory.pod(n).interfaces["net1"].mac for n in ("mac-a", "mac-b", "mac-c")]
    masters = {nic.mac for node in inventory.nodes for nic in node.nics.values()}
    assert len(set(macs)) == 3 and not set(macs) & masters


def test_pod_on_the_unlabelled_node_gets_no_net1(inventory: Inventory) -> None:
    plain = inventory.pod("plain")
    assert plain.node == "node3" and set(plain.interfaces) == {"lo"}


def test_cni_check_agrees(lab: Lab) -> None:
    assert lab.check() == []
