"""Lab integration on the host kernel (macvlan): real namespaces, real CNI plugins, read back from the kernel."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
from pyroute2 import netns

from netattest.errors import CniError
from netattest.inventory import Inventory
from netattest.lab import cni
from netattest.lab.gc import collect
from netattest.lab.lab import Lab, run_namespaces
from netattest.lab.links import read_interfaces
from netattest.lab.state import RunDir
from netattest.runid import new_run_id
from netattest.topology import load_topology
from tests.conftest import MACVLAN_ONLY, REPO

pytestmark = pytest.mark.lab


def root_links() -> list[str]:
    out = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=True).stdout
    return sorted(line.split(":")[1].strip() for line in out.splitlines())


def root_addresses() -> str:
    return subprocess.run(["ip", "-o", "addr"], capture_output=True, text=True, check=True).stdout


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    built = Lab(load_topology(MACVLAN_ONLY))
    built.up()
    try:
        yield built
    finally:
        built.down()


@pytest.fixture(scope="module")
def inventory(lab: Lab) -> Inventory:
    return lab.inventory()


def test_pods_on_labelled_nodes_get_net1_with_their_addresses(inventory: Inventory) -> None:
    topology = load_topology(MACVLAN_ONLY)
    for pod in topology.pods:
        view = inventory.pod(pod.name, pod.namespace)
        for net in pod.networks:
            iface = view.interfaces[net.interface]
            assert iface.addresses == tuple(str(ip) for ip in net.ips)
            assert iface.kind == "macvlan" and iface.up
        if pod.networks:
            assert view.node in ("node1", "node2")
            assert inventory.node(str(view.node)).labels["node-role.kubernetes.io/multus-node"] == "yes"


def test_pod_on_unlabelled_node_gets_no_secondary_interface(inventory: Inventory) -> None:
    plain = inventory.pod("plain")
    assert plain.node == "node3"
    assert set(plain.interfaces) == {"lo"}
    assert plain.network_status == []


def test_macvlan_children_have_unique_macs_unlike_their_masters(inventory: Inventory) -> None:
    macs = [p.interfaces["net1"].mac for p in inventory.pods if "net1" in p.interfaces]
    masters = {nic.mac for node in inventory.nodes for nic in node.nics.values()}
    assert len(macs) == len(set(macs)) >= 4
    assert not set(macs) & masters


def test_network_status_matches_the_interfaces(inventory: Inventory) -> None:
    for pod in inventory.pods:
        for status in pod.network_status:
            iface = pod.interfaces[status.interface]
            assert status.mac == iface.mac
            assert status.ips == iface.ips
            assert status.name.startswith("multus-test/")


def test_nodes_have_no_arp_flux(lab: Lab) -> None:
    node_ns = run_namespaces(lab.run_id)
    node = next(n for n in node_ns if "-node-node1" in n)
    out = subprocess.run(["ip", "netns", "exec", node, "sysctl", "-n", "net.ipv4.conf.all.arp_ignore",
                          "net.ipv4.conf.all.arp_announce"], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["1", "2"]


def test_cni_check_agrees_with_every_attachment(lab: Lab) -> None:
    assert lab.check() == []


def test_cni_del_removes_the_interface_and_is_idempotent() -> None:
    built = Lab(load_topology(MACVLAN_ONLY))
    built.up()
    try:
        record = RunDir(built.run_id).read_json("pods/multus-test.mac-a.json")
        assert isinstance(record, dict)
        call = record["calls"][0]
        cni_call = cni.CniCall(call["config"], call["node_netns"], call["pod_netns"], call["ifname"],
                               call["container_id"])
        cni.cni_del(cni_call)
        assert "net1" not in read_interfaces(call["pod_netns"])
        cni.cni_del(cni_call)  # DEL twice: the CNI spec makes it idempotent
        with pytest.raises(CniError, match="CHECK"):
            cni.cni_check(cni_call, call["result"])
    finally:
        built.down()
    assert run_namespaces(built.run_id) == []


def test_teardown_leaves_nothing_and_never_touches_the_root_namespace() -> None:
    links, addresses = root_links(), root_addresses()
    built = Lab(load_topology(MACVLAN_ONLY))
    built.up()
    assert root_links() == links and root_addresses() == addresses
    assert len(run_namespaces(built.run_id)) == 1 + 3 + 3 + 7  # fabric, nodes, hosts, pods
    assert built.down() == []
    assert run_namespaces(built.run_id) == []
    assert not RunDir(built.run_id).path.exists()
    assert root_links() == links and root_addresses() == addresses


def test_two_labs_coexist_and_teardown_is_per_run() -> None:
    topology = load_topology(MACVLAN_ONLY)
    first, second = Lab(topology), Lab(topology)
    first.up()
    try:
        second.up()
        try:
            assert len(run_namespaces(second.run_id)) == len(run_namespaces(first.run_id)) > 0
        finally:
            second.down()
        assert run_namespaces(second.run_id) == []
        assert len(run_namespaces(first.run_id)) > 0
        assert first.inventory().pod("mac-a").interfaces["net1"].addresses == ("192.168.112.31/24",)
    finally:
        first.down()


SLOW_BUILD = """
import sys, time
from netattest.lab.lab import Lab
from netattest.topology import load_topology
Lab(load_topology(sys.argv[1]), sys.argv[2], progress=lambda m: time.sleep(0.15)).up()
time.sleep(60)
"""


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_gc_removes_everything_a_killed_build_left(sig: signal.Signals) -> None:
    run_id = new_run_id()
    links = root_links()
    child = subprocess.Popen([sys.executable, "-c", SLOW_BUILD, str(MACVLAN_ONLY), run_id], cwd=REPO,
                             env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        deadline = time.monotonic() + 30
        while len(run_namespaces(run_id)) < 4 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(run_namespaces(run_id)) >= 4, "the build never got going"
        child.send_signal(sig)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
    assert run_namespaces(run_id), "nothing was left to collect: the test proves nothing"
    removed = collect()
    assert run_id in {r.run_id for r in removed}
    assert run_namespaces(run_id) == []
    assert not RunDir(run_id).path.exists()
    assert root_links() == links
    assert not any(name.startswith(f"na-{run_id}") for name in netns.listnetns())


def test_input_backlog_drops_are_summed_over_cpus(tmp_path) -> None:
    from netattest.lab.capacity import backlog_drops

    stat = tmp_path / "softnet_stat"
    stat.write_text("03f3a827 00000568 00000000 00000000\n03db93b8 00000bad 00000001 00000000\n")
    assert backlog_drops(stat) == 0x568 + 0xBAD
    assert backlog_drops(tmp_path / "missing") == 0


def test_drops_outside_the_probe_sockets_make_the_window_untrustworthy() -> None:
    """A who-has lost in a full input backlog never reaches its target: the window must say so (isolation checks
    then judge it broken), and a window without such drops must not be tainted."""
    from netattest.probe.engine import WindowStats
    from netattest.targets.lab import LabTarget

    class Lab:  # only what the target reads around its window
        def __init__(self, grow: int) -> None:
            self.reads, self.grow = 0, grow

        def drop_counters(self) -> dict[str, int]:
            self.reads += 1
            return {"neighbour table full": 3, "input backlog full (host-wide)": 10 + self.grow * (self.reads - 1)}

    class Engine:
        timeout = 1.0

        def listen(self, listeners):
            pass

        def collect(self):
            return [], {}

        def run(self, probes):
            return [], WindowStats(probes=0, frames_sent=0, frames_received=0, kernel_drops=0, duration_s=0.1)

    for grow, drops in ((0, 0), (7, 7)):
        target = LabTarget.__new__(LabTarget)
        target.lab, target.engine = Lab(grow), Engine()
        _, stats = target.probe([])
        assert stats.kernel_drops == drops and stats.trustworthy is (drops == 0)
        assert any("input backlog full (host-wide) +7" in e for e in stats.socket_errors) is (drops > 0)
