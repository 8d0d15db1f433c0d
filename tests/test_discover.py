"""``netattest discover`` against the fake API server over a real lab: the NADs (made directly and through the
OpenShift network operator), the nodes and their labels, the nodes' NICs read by node pods become a draft that
loads as it is and that ``netattest run --target kubernetes`` runs green; the faults a user meets get one line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from netattest.discover import ClusterFacts, draft_topology
from netattest.manifests import nad_manifest
from netattest.topology import load_topology, load_topology_text
from tests.cluster_lab import cluster_over_lab, lab_up
from tests.conftest import REPO
from tests.fakeapi import FakeApiServer, leftovers
from tests.fakeapi.controllers import reconcile_operator
from tests.fakeapi.model import NAD_GROUP

MACVLAN = REPO / "topologies" / "multus-macvlan.yaml"
NADS = "network-attachment-definitions"


def _namespace(server: FakeApiServer, name: str) -> None:
    server.add_object("", "namespaces", None, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})


def _discover(server: FakeApiServer, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    kubeconfig = server.kubeconfig(tmp_path / "kubeconfig")
    return subprocess.run([sys.executable, "-m", "netattest.cli", "discover", "--kubeconfig", str(kubeconfig),
                           "--pod-timeout", "30", *args], capture_output=True, text=True, cwd=REPO, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(REPO)})


@pytest.mark.lab
def test_a_draft_from_the_cluster_runs_green_against_it(tmp_path: Path) -> None:
    draft = tmp_path / "draft.yaml"
    with lab_up(MACVLAN) as (built, inventory), cluster_over_lab(built, inventory, openshift=True) as server:
        for namespace in ("multus-a", "multus-shared", "team-a"):
            _namespace(server, namespace)
        for att in built.topology.attachments:
            server.add_object(NAD_GROUP, NADS, att.namespace, nad_manifest(att))
        # team-a/theirs comes from the network operator's additionalNetworks; an SR-IOV NAD cannot be expressed
        network = server.objects[("operator.openshift.io", "networks", None, "cluster")]
        network["spec"]["additionalNetworks"] = [{"name": "theirs", "namespace": "team-a", "type": "Raw",
                                                  "rawCNIConfig": json.dumps({
                                                      "cniVersion": "0.4.0", "type": "macvlan", "master": "ens224",
                                                      "ipam": {"type": "whereabouts",
                                                               "range": "10.12.0.160-10.12.0.170/24"}})}]
        reconcile_operator(server)  # what the operator does when the Network changes
        assert (NAD_GROUP, NADS, "team-a", "theirs") in server.objects
        server.add_object(NAD_GROUP, NADS, "team-a", {
            "apiVersion": "k8s.cni.cncf.io/v1", "kind": "NetworkAttachmentDefinition",
            "metadata": {"name": "sriov-net", "namespace": "team-a"},
            "spec": {"config": json.dumps({"cniVersion": "0.4.0", "type": "sriov", "vlan": 7})}})
        proc = _discover(server, tmp_path, "-n", "multus-a", "-n", "multus-shared", "-n", "team-a",
                         "-o", str(draft))
        assert proc.returncode == 0, proc.stderr[-3000:]
        # the node pods and their namespace are gone; what the test made itself stays
        assert [k for k in leftovers(server) if "netattest" in (k[2] or "") + k[3]] == []
    text = draft.read_text()
    lines = proc.stderr.splitlines()
    assert any("skipped NAD team-a/sriov-net: plugin sriov is not one netattest can express" in x for x in lines)
    topology = load_topology(draft)  # loads as it is
    assert {a.key for a in topology.attachments} == {a.key for a in built.topology.attachments} | {"team-a/theirs"}
    assert {n.name for n in topology.nodes} == {"node1", "node2"}
    assert all(n.labels.get("multus") == "yes" for n in topology.nodes)
    assert {nic.name for n in topology.nodes for nic in n.nics} == {"ens3", "ens224"}  # read by the node pods
    assert "# CONFIRM" in text and "GUESSED: a free address for the probe pod" in text
    # the draft as a cluster run: a lab built from it, the same fake cluster over it, the suites green
    with lab_up(draft) as (built2, inventory2), cluster_over_lab(built2, inventory2) as server2:
        kubeconfig = server2.kubeconfig(tmp_path / "kubeconfig2")
        argv = [sys.executable, "-m", "netattest.cli", "run", "--topology", str(draft), "--target", "kubernetes",
                "--kubeconfig", str(kubeconfig), "--run-id", "d15c0e11", "--reports-dir", str(tmp_path / "reports"),
                "--skip-preflight", "--pod-timeout", "30", "--probe-timeout", "0.5"]
        run = subprocess.run(argv, capture_output=True, text=True, cwd=REPO, timeout=300,
                             env={**os.environ, "PYTHONPATH": str(REPO)})
    assert (tmp_path / "reports" / "d15c0e11" / "summary.json").exists(), run.stdout[-2000:] + run.stderr[-2000:]
    summary = json.loads((tmp_path / "reports" / "d15c0e11" / "summary.json").read_text())
    assert run.returncode == 0 and summary["counts"]["failed"] == summary["counts"]["broken"] == 0, \
        run.stdout[-3000:]
    assert summary["counts"]["passed"] > len(topology.pods)


def test_without_node_pods_the_nics_are_the_nads_masters_marked_guessed() -> None:
    nad = {"metadata": {"name": "vlan112", "namespace": "t"},
           "spec": {"config": json.dumps({"cniVersion": "0.4.0", "type": "ipvlan", "master": "ens224.112",
                                          "ipam": {"type": "dhcp"}})}}
    node = {"metadata": {"name": "w1", "labels": {"kubernetes.io/os": "linux", "node-role.kubernetes.io/worker": ""}}}
    master = {"metadata": {"name": "m1"}, "spec": {"taints": [{"key": "x", "effect": "NoSchedule"}]}}
    text, notes = draft_topology(ClusterFacts("a cluster", [nad], [node, master]))
    topology = load_topology_text(text)
    assert [n.name for n in topology.nodes] == ["w1"]  # a NoSchedule node carries no probe pod
    assert topology.nodes[0].labels == {"node-role.kubernetes.io/worker": ""}
    assert "GUESSED: VLAN read from the master's name ens224.112" in text
    assert "GUESSED: dhcp IPAM does not state the subnet" in text
    assert "GUESSED: a NAD's master; the node's NICs were not read" in text
    assert any("node NICs were not read" in n for n in notes)


def test_faults_a_user_meets_are_one_line_each(tmp_path: Path) -> None:
    with FakeApiServer(nodes={"node1": {}}) as server:
        _namespace(server, "empty")
        proc = _discover(server, tmp_path, "-n", "empty", "--no-node-pods")
        assert proc.returncode == 2 and "no NAD in namespace(s) empty" in proc.stderr
        assert proc.stderr.count("\n") == 2  # the empty namespace, then why nothing was drafted
        missing = _discover(server, tmp_path, "-n", "nope", "--no-node-pods")
        assert missing.returncode == 2 and missing.stderr.count("\n") == 1
        assert "namespace nope does not exist" in missing.stderr
        server.rbac_rules = [{"apiGroups": [""], "resources": ["namespaces", "nodes"], "verbs": ["get", "list"]}]
        denied = _discover(server, tmp_path, "-n", "empty", "--no-node-pods")
        assert denied.returncode == 2 and denied.stderr.count("\n") == 1 and "Traceback" not in denied.stderr
        assert "network-attachment-definitions" in denied.stderr and "Fix:" in denied.stderr
    with FakeApiServer(nodes={"node1": {}}, nad_crd=False) as server:
        proc = _discover(server, tmp_path, "-n", "default", "--no-node-pods")
        assert proc.returncode == 2 and "Multus is not installed" in proc.stderr
