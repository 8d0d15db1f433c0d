"""Node pre-flight end to end: the ``nodes`` suite through pytest on a kept, broken lab; ``netattest run`` stopping
before any pod when a node is unfit, and running anyway with ``--skip-preflight``; cluster nodes without a cluster
(the debug pods themselves: tests/test_nodes_cluster.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from netattest.lab.cni import CNI_BIN_DIRS
from netattest.lab.lab import Lab, run_namespaces
from netattest.runid import netns_name
from netattest.topology import load_topology
from tests.conftest import MACVLAN_ONLY, REPO

pytestmark = pytest.mark.lab
ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "PYTHONPATH": str(REPO)}


@pytest.fixture
def kept_lab() -> Iterator[Lab]:
    lab = Lab(load_topology(MACVLAN_ONLY))
    lab.up(stage="nodes")
    try:
        yield lab
    finally:
        lab.down()


def node_sh(lab: Lab, node: str, command: str) -> None:
    subprocess.run(["ip", "netns", "exec", netns_name(lab.run_id, "node", node), "sh", "-c", command], check=True)


def run(argv: list[str], tmp_path: Path) -> tuple[int, str, dict, dict]:
    proc = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=600, env=ENV, check=False)
    runs = list((tmp_path / "reports").glob("*/summary.json"))
    assert len(runs) == 1, proc.stdout + proc.stderr
    summary = json.loads(runs[0].read_text())
    nodes_file = runs[0].parent / "nodes.json"
    nodes = json.loads(nodes_file.read_text()) if nodes_file.exists() else {}
    return proc.returncode, proc.stdout + proc.stderr, summary, nodes


def suite(tmp_path: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "pytest", "suites/test_nodes.py", "-p", "no:cacheprovider", "-q", "--topology",
            str(MACVLAN_ONLY), "--kernel", "host", "--reports-dir", str(tmp_path / "reports"), *extra]


def reasons(summary: dict, status: str) -> dict[str, str]:
    return {p["test"].split("::")[-1]: p["reason"] for p in summary["problems"] if p["status"] == status}


def test_the_suite_names_every_broken_precondition_of_a_kept_lab(kept_lab: Lab, tmp_path: Path) -> None:
    node_sh(kept_lab, "node1", "ip link set ens224 down")
    node_sh(kept_lab, "node2", "ip link set ens256 mtu 1400")
    node_sh(kept_lab, "node1", "ip addr add 192.168.112.98/24 dev ens256")
    node_sh(kept_lab, "node2", "sysctl -qw net.ipv4.conf.all.arp_ignore=0 net.ipv4.conf.ens224.arp_ignore=0")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "macvlan").symlink_to(os.path.join(CNI_BIN_DIRS[0], "macvlan"))
    code, out, summary, nodes = run(suite(tmp_path, "--lab", kept_lab.run_id, "--cni-bin-dir",
                                          f"node1={bin_dir}"), tmp_path)
    assert code == 1, out
    failed = reasons(summary, "failed")
    assert set(failed) == {"test_master_link[node1:ens224]", "test_master_mtu[node2:ens256]",
                           "test_master_has_no_address[node1:ens256]", "test_arp_flux[node2]",
                           "test_cni_plugins[node1]"}, out
    assert failed["test_master_link[node1:ens224]"].startswith("node1 ens224 (master of NAD multus-test/net1 "
                                                               "(macvlan bridge)) is down")
    assert failed["test_master_mtu[node2:ens256]"].startswith("node2 ens256 has MTU 1400, expected 1500")
    assert failed["test_master_has_no_address[node1:ens256]"].startswith("node1 ens256 carries 192.168.112.98")
    assert "ens224 (arp_ignore 0) answer ARP requests for 192.168.111.22 (ens192)" in failed["test_arp_flux[node2]"]
    assert failed["test_cni_plugins[node1]"].startswith(f"node1 lacks CNI plugin binary 'static' (NAD "
                                                        f"multus-test/net1, multus-test/net1-macvlan) in {bin_dir}")
    assert summary["counts"]["broken"] == 0
    verdict = nodes["preflight"]
    assert verdict["status"] == "unfit" and not verdict["stopped_run"]  # only node checks were selected
    assert sorted(verdict["unfit_nodes"]) == ["node1", "node2"]
    facts = nodes["nodes"]["node1"]["facts"]
    assert facts["links"]["ens224"]["flags"] == ["BROADCAST", "MULTICAST"]  # down, as read through testinfra
    assert nodes["nodes"]["node1"]["access"] == f"netns://{netns_name(kept_lab.run_id, 'node', 'node1')}"
    assert run_namespaces(kept_lab.run_id)  # the suite never tears down a lab it did not build


def cli(tmp_path: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "netattest.cli", "run", "--topology", str(MACVLAN_ONLY), "--kernel", "host",
            "--reports-dir", str(tmp_path / "reports"), *extra]


def test_netattest_run_stops_before_any_pod_when_a_node_is_unfit(tmp_path: Path) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    code, out, summary, nodes = run(cli(tmp_path, "--cni-bin-dir", f"node2={empty}"), tmp_path)
    assert code == 1, out
    assert "FAILED test_cni_plugins[node2]" in out
    assert "PRE-FLIGHT FAILED: nodes unfit: node2 (1 check failed)" in out
    assert "the run stopped before any pod was created. Fix the nodes, or run anyway with --skip-preflight" in out
    assert "deploying topology" not in out and "probing" not in out  # the target never deployed
    problems = [p["test"] for p in summary["problems"]]
    assert problems == ["suites/test_nodes.py::test_cni_plugins[node2]"]
    assert sum(summary["counts"].values()) < 30  # node checks only: nothing after them ran
    assert nodes["preflight"]["stopped_run"] is True
    assert not run_namespaces(summary["run_id"])  # the nodes-only lab is gone too
    print(out)


def test_the_lab_target_adds_its_pods_to_the_nodes_the_pre_flight_checked(tmp_path: Path) -> None:
    """The nodes are built once: the pods land on the very namespaces whose facts the pre-flight read."""
    code, out, summary, nodes = run(cli(tmp_path), tmp_path)
    assert code == 0, out
    assert "pre-flight: the nodes-only lab is kept for the pods" in out
    assert out.count("] node node1\n") == 1, "the lab's nodes were built twice"
    assert out.index("nodes-only lab is kept") < out.index("deploying topology") < out.index("pod 1/")
    inventory = json.loads((tmp_path / "reports" / summary["run_id"] / "inventory.json").read_text())["inventory"]
    pod_nodes = {p["node"] for p in inventory["pods"] if p["node"]}
    checked = {name: entry["access"] for name, entry in nodes["nodes"].items()}
    assert pod_nodes and all(checked[n] == f"netns://{netns_name(summary['run_id'], 'node', n)}" for n in pod_nodes)
    assert not run_namespaces(summary["run_id"])


def test_skip_preflight_runs_anyway(tmp_path: Path) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    # -m attachment: the pods are deployed and judged, without the probe window (which a loaded machine can slow)
    code, out, summary, nodes = run(cli(tmp_path, "--skip-preflight", "-m", "attachment", "--cni-bin-dir",
                                        f"node2={empty}"), tmp_path)
    assert code == 0, out
    assert "pre-flight skipped (--skip-preflight): node fitness was not checked" in out
    assert "deploying topology macvlan-only" in out and "test_nodes" not in json.dumps(summary)
    assert summary["counts"]["passed"] > 10 and summary["counts"]["failed"] == 0
    assert nodes["preflight"] == {"status": "skipped", "stopped_run": False}


def test_cluster_nodes_without_a_reachable_cluster_stop_the_run_before_any_check(tmp_path: Path) -> None:
    """No cluster: not one broken node check per node and NIC with the same reason, but one stop before any check
    (the cases of tests/test_kubernetes_unusable.py, here for the nodes suite alone)."""
    code, out, summary, nodes = run(suite(tmp_path, "--target", "kubernetes", "--kubeconfig",
                                          str(tmp_path / "no-such-kubeconfig")), tmp_path)
    assert code == 2, out
    assert set(summary["counts"].values()) == {0} and summary["problems"] == []
    assert "no-such-kubeconfig (from --kubeconfig) does not exist" in summary["stopped"]["reason"]
    assert summary["stopped"]["checks_not_run"] >= 20
    assert out.count("no-such-kubeconfig (from --kubeconfig) does not exist") == 1, out
    assert "preflight" not in nodes  # no node was judged: none could be reached


def test_nodes_reached_through_configured_host_specs(kept_lab: Lab, tmp_path: Path) -> None:
    """The SSH path: any testinfra host spec per node (netns:// stands in for ssh:// here), on a cluster target."""
    specs = [f"--node-host={n}=netns://{netns_name(kept_lab.run_id, 'node', n)}" for n in ("node1", "node2", "node3")]
    code, out, summary, nodes = run(suite(tmp_path, "--target", "kubernetes", "--cni-bin-dir", CNI_BIN_DIRS[0],
                                          *specs), tmp_path)
    assert code == 0, out
    assert summary["counts"]["failed"] == summary["counts"]["broken"] == 0
    assert nodes["preflight"]["status"] == "fit"
    assert nodes["nodes"]["node2"]["facts"]["binaries"]["macvlan"] == f"{CNI_BIN_DIRS[0]}/macvlan"
