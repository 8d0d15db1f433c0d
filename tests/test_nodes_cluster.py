"""Node pre-flight on a cluster: one privileged host-network debug pod per node, commands over the harness's own
exec (``k8sexec://``), against the fake API server.

Without root the fake's exec runs each node command on this machine (the ``chroot /host`` the debug pod uses is
dropped: here, this machine is "the node"). With root, a nodes-only lab stands in for the cluster's nodes: the
fake runs each debug pod's commands inside its node's network namespace, so the facts are real and the verdicts can
be compared with the lab's own, healthy and broken.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import testinfra

from netattest.errors import NetattestError, NodeAccessError
from netattest.k8s import names
from netattest.k8s.api import Cluster
from netattest.k8s.config import connect
from netattest.k8s.gc import collect as gc_collect
from netattest.k8s.gc import find_leftovers
from netattest.k8s.nodepods import NodeDebugPods
from netattest.k8s.plan import ClusterOptions
from netattest.k8s.validation import validate_manifest
from netattest.lab.cni import CNI_BIN_DIRS
from netattest.lab.lab import Lab
from netattest.nodes import checks, duties, fleet
from netattest.nodes.access import DebugPodNodeAccess, LabNodeAccess, debug_pod_manifest
from netattest.nodes.k8sexec import K8sExecBackend, exec_host
from netattest.runid import netns_name
from netattest.topology import load_topology
from tests.conftest import MACVLAN_ONLY, REPO
from tests.fakeapi import SEED_NODES, FakeApiServer, PodOutcome, leftovers, rbac_rules

TOPOLOGY = load_topology(MACVLAN_ONLY)
RUN = "c0de0006"
NS = f"netattest-{RUN}-node-checks"
#: the topology's nodes (node1 and node2 labelled, node3 not) and a control-plane node the topology does not name
CLUSTER_NODES = {**SEED_NODES, "cp-0": {"node-role.kubernetes.io/control-plane": ""}}
ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "PYTHONPATH": str(REPO)}


def on_this_machine(namespace: str, pod: str, command: list[str]) -> list[str]:
    """The fake's exec for a debug pod without a lab: this machine is the node (the chroot is dropped)."""
    assert command[:2] == ["chroot", "/host"], command
    return command[2:]


@pytest.fixture
def server() -> Iterator[FakeApiServer]:
    with FakeApiServer(nodes=CLUSTER_NODES) as srv:
        srv.exec_argv = on_this_machine
        yield srv


def fast(kubeconfig: Path, **overrides: Any) -> ClusterOptions:
    values: dict[str, Any] = {"kubeconfig": str(kubeconfig), "poll_interval": 0.02, "pod_timeout": 5.0,
                              "stuck_grace": 0.3, "request_timeout": 5.0}
    values.update(overrides)
    return ClusterOptions(**values)


def debug_pods(options: ClusterOptions, messages: list[str] | None = None) -> NodeDebugPods:
    return NodeDebugPods(TOPOLOGY, RUN, options, manifest=debug_pod_manifest,
                         progress=(messages.append if messages is not None else None))


def read_nodes(pods: NodeDebugPods, nodes: list[str] | None = None, **dirs: Any) -> dict[str, fleet.NodeSubject]:
    """What the node fixture does: plan, read in parallel, release every pod, close."""
    accesses = {n.name: DebugPodNodeAccess(n.name, pods) for n in TOPOLOGY.nodes}
    subjects = fleet.plan_subjects(TOPOLOGY, accesses, only=set(nodes) if nodes else None, **dirs)
    try:
        fleet.collect(subjects)
    finally:
        fleet.close(subjects)
        assert pods.close() == []
    return subjects


def created_on(server: FakeApiServer) -> list[str]:
    return sorted(r.body["spec"]["nodeName"] for r in server.sent("create", "pods"))


def deleted(server: FakeApiServer) -> list[str]:
    return sorted(r.name or "" for r in server.sent("delete", "pods"))


def one_line(text: str) -> str:
    assert "\n" not in text and "Traceback" not in text, text
    return text


# -- the debug pods' lifecycle (no root needed) ----------------------------------------------------------------------

def test_debug_pods_run_on_their_nodes_and_are_removed(server: FakeApiServer, tmp_path: Path) -> None:
    server.rbac_rules = rbac_rules()  # exactly the shipped ClusterRole: proves it covers the pre-flight
    messages: list[str] = []
    pods = debug_pods(fast(server.kubeconfig(tmp_path / "kc")), messages)
    started = time.monotonic()
    subjects = read_nodes(pods)
    took = time.monotonic() - started
    assert all(s.error is None and s.facts is not None for s in subjects.values()), \
        {n: s.error for n, s in subjects.items()}
    # one pod per topology node (never on cp-0), in the run's own namespace, pinned by nodeName
    assert created_on(server) == ["node1", "node2", "node3"]
    namespace = server.sent("create", "namespaces")[0].body
    labels = namespace["metadata"]["labels"]
    assert namespace["metadata"]["name"] == NS and labels[names.LABEL_RUN_ID] == RUN
    assert labels[names.LABEL_MANAGED_BY] == "netattest" and labels["pod-security.kubernetes.io/enforce"] == \
        "privileged" and names.ANNOTATION_EXPIRES in namespace["metadata"]["annotations"]
    for request in server.sent("create", "pods"):
        body = request.body
        validate_manifest(body)
        spec, container = body["spec"], body["spec"]["containers"][0]
        assert request.namespace == NS and body["metadata"]["labels"][names.LABEL_RUN_ID] == RUN
        assert body["metadata"]["labels"][names.LABEL_ROLE] == "node-check"
        assert spec["hostNetwork"] and spec["hostPID"] and not spec["automountServiceAccountToken"]
        assert spec["serviceAccountName"] == "netattest-node-check" and spec["tolerations"] == [{"operator": "Exists"}]
        assert container["volumeMounts"] == [{"name": "host", "mountPath": "/host", "readOnly": True}]
    # every command went through exec into the node's pod, chrooted into the node's /, without stdin
    execs = [e for e in server.execs if e["pod"] == f"netattest-node-{RUN}-node1"]
    assert execs and all(e["command"][:4] == ["chroot", "/host", "/bin/sh", "-c"] for e in execs)
    exec_queries = [r.query for r in server.requests if r.verb == "exec"]
    assert all(q["stdin"] == ["false"] and q["container"] == ["node"] for q in exec_queries)
    # removed afterwards: each pod by name, then the namespace; nothing left
    assert deleted(server) == [f"netattest-node-{RUN}-node{i}" for i in (1, 2, 3)]
    assert [r.name for r in server.sent("delete", "namespaces")] == [NS]
    assert leftovers(server) == []
    assert subjects["node1"].facts.access == (f"debug pod {NS}/netattest-node-{RUN}-node1 on node node1 "  # type: ignore[union-attr]
                                              "(k8sexec://, chroot /host)")
    assert any(m.startswith(f"pre-flight: node debug pods go to namespace {NS}") for m in messages)
    print(f"\n3 nodes through debug pods on the fake API server: {took:.2f} s, {len(server.execs)} execs "
          f"({len(server.execs) / 3:.0f} per node)")


def test_only_the_nodes_asked_for_get_a_pod(server: FakeApiServer, tmp_path: Path) -> None:
    labelled = duties.labelled_nodes(TOPOLOGY)
    assert labelled == ["node1", "node2"]
    read_nodes(debug_pods(fast(server.kubeconfig(tmp_path / "kc"))), labelled)
    assert created_on(server) == ["node1", "node2"]
    assert leftovers(server) == []


def test_a_pod_that_cannot_pull_its_image_is_removed_and_named_in_one_line(server: FakeApiServer,
                                                                           tmp_path: Path) -> None:
    server.pod_behaviour = lambda pod: PodOutcome(
        phase="Pending", container_waiting=("ErrImagePull", "rpc error: manifest unknown")) \
        if pod["spec"]["nodeName"] == "node2" else None
    subjects = read_nodes(debug_pods(fast(server.kubeconfig(tmp_path / "kc"))))
    error = one_line(str(subjects["node2"].error))
    assert error.startswith(f"node node2: its debug pod {NS}/netattest-node-{RUN}-node2 did not run: image pull "
                            "failed (ErrImagePull) for docker.io/nicolaka/netshoot:v0.13: rpc error: manifest unknown")
    assert "Fix: mirror the image (netattest images) and pass --probe-image" in error
    assert subjects["node1"].error is None and subjects["node3"].error is None
    assert deleted(server) == [f"netattest-node-{RUN}-node{i}" for i in (1, 2, 3)] and leftovers(server) == []
    with pytest.raises(NetattestError, match="did not run: image pull failed"):
        subjects["node2"].require_facts()


def test_a_pod_that_never_runs_times_out_is_removed_and_says_why(server: FakeApiServer, tmp_path: Path) -> None:
    server.pod_behaviour = lambda pod: PodOutcome(phase="Pending")
    started = time.monotonic()
    subjects = read_nodes(debug_pods(fast(server.kubeconfig(tmp_path / "kc"), pod_timeout=0.5)), ["node1"])
    assert time.monotonic() - started < 5
    error = one_line(str(subjects["node1"].error))
    assert "did not run: not running after 0.5 s: Pending: ContainerCreating" in error
    assert "--node-host node1=ssh://USER@ADDRESS" in error and "--skip-preflight" in error
    assert deleted(server) == [f"netattest-node-{RUN}-node1"] and leftovers(server) == []


def test_a_node_the_cluster_lacks_or_that_is_not_ready_gets_no_pod(tmp_path: Path) -> None:
    nodes = {"node1": SEED_NODES["node1"], "node2": SEED_NODES["node2"]}  # no node3
    with FakeApiServer(nodes=nodes) as srv:
        srv.exec_argv = on_this_machine
        with srv.lock:
            srv.get("", "nodes", None, "node2")["status"]["conditions"] = [  # type: ignore[index]
                {"type": "Ready", "status": "Unknown", "reason": "NodeStatusUnknown",
                 "message": "Kubelet stopped posting node status."}]
        subjects = read_nodes(debug_pods(fast(srv.kubeconfig(tmp_path / "kc"))))
        assert one_line(str(subjects["node3"].error)).startswith(
            "node node3 is not a node of https://127.0.0.1:")
        assert "(its nodes: node1, node2): no debug pod can run there" in str(subjects["node3"].error)
        assert str(subjects["node2"].error) == ("node node2 is not Ready (NodeStatusUnknown: Kubelet stopped posting "
                                                "node status.): its kubelet cannot start the debug pod. Fix: bring "
                                                "the node back (kubectl describe node node2)")
        assert subjects["node1"].error is None
        assert created_on(srv) == ["node1"] and leftovers(srv) == []


def test_no_cluster_is_one_connection_attempt_and_the_same_reason_for_every_node(tmp_path: Path) -> None:
    pods = debug_pods(fast(tmp_path / "missing-kubeconfig"))
    subjects = read_nodes(pods)
    reasons = {str(s.error) for s in subjects.values()}
    assert len(reasons) == 1
    assert one_line(reasons.pop()).startswith(f"kubeconfig {tmp_path}/missing-kubeconfig (from --kubeconfig) "
                                              "does not exist")
    assert pods.connection is None and pods.pods == {}


def test_missing_exec_rights_break_every_node_naming_the_rbac(server: FakeApiServer, tmp_path: Path) -> None:
    server.rbac_rules = [r for r in rbac_rules() if r["resources"] != ["pods/exec"]]
    subjects = read_nodes(debug_pods(fast(server.kubeconfig(tmp_path / "kc"))), ["node1"])
    error = one_line(str(subjects["node1"].error))
    assert error.startswith(f"pod {NS}/netattest-node-{RUN}-node1 (chroot /host): exec into pod {NS}/netattest-node-"
                            f"{RUN}-node1 was forbidden")
    assert "needs 'create' on pods/exec in its run namespaces (deploy/rbac.yaml)" in error
    assert leftovers(server) == []


def test_openshift_debug_pods_use_the_node_scc_with_the_shipped_rbac(tmp_path: Path) -> None:
    with FakeApiServer(nodes=CLUSTER_NODES, openshift=True) as srv:
        srv.exec_argv = on_this_machine
        srv.rbac_rules = rbac_rules(openshift=True)
        messages: list[str] = []
        subjects = read_nodes(debug_pods(fast(srv.kubeconfig(tmp_path / "kc")), messages), ["node1"])
        assert subjects["node1"].error is None, subjects["node1"].error
        binding = srv.sent("create", "rolebindings")[0].body
        assert binding["roleRef"]["name"] == "netattest:scc:netattest-node-check"
        assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "netattest-node-check", "namespace": NS}]
        pod = srv.sent("create", "pods")[0].body
        assert pod["metadata"]["annotations"] == {"openshift.io/required-scc": "netattest-node-check"}
        assert any("(OpenShift, SCC netattest-node-check)" in m for m in messages)
        assert leftovers(srv) == []


def test_openshift_without_the_node_scc_is_one_line_and_leaves_nothing(tmp_path: Path) -> None:
    with FakeApiServer(nodes=CLUSTER_NODES, openshift=True) as srv:
        srv.privileged_scc_cluster_roles = set()  # the probe SCC alone does not admit a privileged host-PID pod
        subjects = read_nodes(debug_pods(fast(srv.kubeconfig(tmp_path / "kc"))), ["node1"])
        error = one_line(str(subjects["node1"].error))
        assert error.startswith("node node1: OpenShift SCC admission rejected its debug pod (it needs SCC "
                                "netattest-node-check, shipped in deploy/rbac-openshift.yaml")
        assert "Host PID is not allowed to be used" in error and "--skip-preflight" in error
        assert "netattest-probe and the ClusterRole" not in error  # not the probe pods' fix
        assert leftovers(srv) == []


def test_gc_removes_what_a_killed_preflight_left_by_run_id(server: FakeApiServer, tmp_path: Path) -> None:
    kubeconfig = server.kubeconfig(tmp_path / "kc")
    pods = debug_pods(fast(kubeconfig))
    pods.start("node1")  # ... and the harness is SIGKILLed: no release, no close
    assert server.get("", "pods", NS, f"netattest-node-{RUN}-node1") is not None
    cluster = Cluster(connect(str(kubeconfig)))
    found = find_leftovers(cluster, RUN)
    assert [(lo.namespace, lo.remove) for lo in found] == [(NS, True)]
    assert [lo.namespace for lo in find_leftovers(cluster)] == [NS]  # listed without --run-id too (expires later)
    gc_collect(cluster, RUN)
    assert leftovers(server) == []


def test_a_closed_preflight_creates_no_more_pods(server: FakeApiServer, tmp_path: Path) -> None:
    pods = debug_pods(fast(server.kubeconfig(tmp_path / "kc")))
    pods.start("node1")
    assert pods.close() == []
    with pytest.raises(NetattestError, match="the node pre-flight is over"):
        pods.start("node2")
    assert created_on(server) == ["node1"] and leftovers(server) == []


# -- the k8sexec:// testinfra backend -------------------------------------------------------------------------------

@pytest.fixture
def pod(server: FakeApiServer, tmp_path: Path) -> Iterator[tuple[FakeApiServer, Path]]:
    server.exec_argv = lambda ns, name, cmd: cmd
    kubeconfig = server.kubeconfig(tmp_path / "kc")
    cluster = Cluster(connect(str(kubeconfig)))
    cluster.create_namespace({"metadata": {"name": "ns"}})
    cluster.create_pod("ns", {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "x"}]}})
    deadline = time.monotonic() + 5
    while cluster.read_pod("ns", "p")["status"]["phase"] != "Running" and time.monotonic() < deadline:
        time.sleep(0.02)
    yield server, kubeconfig


def test_k8sexec_is_a_testinfra_backend(pod: tuple[FakeApiServer, Path]) -> None:
    server, kubeconfig = pod
    host = testinfra.get_host(f"k8sexec://p?namespace=ns&container=c&kubeconfig={kubeconfig}")
    assert isinstance(host.backend, K8sExecBackend) and host.backend.get_pytest_id() == "k8sexec://ns/p"
    result = host.run("echo out; echo err >&2; exit 3")
    assert (result.rc, result.stdout, result.stderr) == (3, "out\n", "err\n")
    assert host.run("cat").rc == 0  # no stdin: a command that reads it ends
    assert host.file(str(REPO / "README.md")).is_file and not host.file("/nonexistent").exists
    assert host.exists("sh")
    assert server.execs[0]["command"] == ["/bin/sh", "-c", "echo out; echo err >&2; exit 3"]


def test_k8sexec_names_a_hung_command_and_a_runtime_failure(pod: tuple[FakeApiServer, Path]) -> None:
    server, kubeconfig = pod
    connection = connect(str(kubeconfig))
    host = exec_host("p", "ns", connection=connection, container="c", timeout=0.5)
    with pytest.raises(NodeAccessError, match=r"^pod ns/p: command 'sleep 30' did not finish within 0.5 s$"):
        host.run("sleep 30")
    chrooted = exec_host("p", "ns", connection=connection, container="c", chroot="/nonexistent-root")
    server.exec_argv = lambda ns, name, cmd: ["/nonexistent/chroot", *cmd[1:]]
    with pytest.raises(NodeAccessError) as caught:
        chrooted.run("true")
    assert one_line(str(caught.value)).startswith("pod ns/p (chroot /nonexistent-root): the container runtime could "
                                                  "not run 'chroot': Internal error occurred")
    assert "executable file not found in $PATH" in str(caught.value)
    connection.close()


# -- the nodes suite through pytest ---------------------------------------------------------------------------------

def suite(kubeconfig: Path, reports: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "pytest", "suites/test_nodes.py", "-p", "no:cacheprovider", "-q",
            "-p", "no:randomly", "--topology", str(MACVLAN_ONLY), "--target", "kubernetes", "--kubeconfig",
            str(kubeconfig), "--run-id", RUN, "--reports-dir", str(reports), "--pod-timeout", "30", *extra]


def run_suite(argv: list[str], reports: Path) -> tuple[int, str, dict[str, Any], dict[str, Any]]:
    proc = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=300, env=ENV, check=False)
    summary = json.loads((reports / RUN / "summary.json").read_text())
    nodes = json.loads((reports / RUN / "nodes.json").read_text())
    return proc.returncode, proc.stdout + proc.stderr, summary, nodes


def outcomes(summary: dict[str, Any]) -> dict[str, str]:
    return {t["nodeid"].split("::")[-1]: t["status"] for t in summary["tests"]}


def test_the_nodes_suite_on_a_cluster_uses_debug_pods_and_leaves_nothing(server: FakeApiServer,
                                                                         tmp_path: Path) -> None:
    kubeconfig = server.kubeconfig(tmp_path / "kc")
    started = time.monotonic()
    code, out, summary, nodes = run_suite(suite(kubeconfig, tmp_path / "all"), tmp_path / "all")
    took = time.monotonic() - started
    # this machine is "the node": it has no ens224 and no CNI plugins, so checks fail -- and the pods still go
    assert code == 1, out
    failed = [t for t, s in outcomes(summary).items() if s == "failed"]
    assert "test_master_nic[node1:ens224]" in failed and summary["counts"]["broken"] == 0, out
    assert created_on(server) == ["node1", "node2", "node3"]
    assert deleted(server) == [f"netattest-node-{RUN}-node{i}" for i in (1, 2, 3)] and leftovers(server) == []
    assert nodes["nodes"]["node2"]["access"].startswith(f"debug pod {NS}/netattest-node-{RUN}-node2 on node node2")
    assert nodes["preflight"]["status"] == "unfit"
    assert "pre-flight: 3 node debug pod(s) removed" in out
    print(f"\nnodes suite through debug pods (subprocess pytest, 3 nodes): {took:.1f} s")

    # only the checks of labelled nodes selected: pods on exactly the labelled nodes
    server.requests.clear()
    code, out, summary, nodes = run_suite(suite(kubeconfig, tmp_path / "labelled", "-k", "master or cni or ipam"),
                                          tmp_path / "labelled")
    assert created_on(server) == ["node1", "node2"] and leftovers(server) == [], out
    assert sorted(nodes["nodes"]) == ["node1", "node2"]


def test_node_host_still_overrides_the_debug_pod(server: FakeApiServer, tmp_path: Path) -> None:
    kubeconfig = server.kubeconfig(tmp_path / "kc")
    _, out, _, nodes = run_suite(suite(kubeconfig, tmp_path / "r", "--node-host", "node1=local://"), tmp_path / "r")
    assert created_on(server) == ["node2", "node3"] and leftovers(server) == [], out
    assert nodes["nodes"]["node1"]["access"] == "local://"
    assert nodes["nodes"]["node3"]["access"].startswith("debug pod ")


# -- real facts: a nodes-only lab stands in for the cluster's nodes (root) ------------------------------------------

@pytest.fixture
def lab(nodes_only_lab: Lab) -> Lab:
    return nodes_only_lab


def cluster_over_lab_nodes(lab: Lab) -> FakeApiServer:
    """The fake runs each debug pod's commands in its node's namespace: 'chroot /host' on a lab node is the
    node's namespace on this machine's filesystem."""
    server = FakeApiServer(nodes={n.name: dict(n.labels) for n in TOPOLOGY.nodes})

    def exec_argv(namespace: str, name: str, command: list[str]) -> list[str]:
        pod_ = server.get("", "pods", namespace, name)
        assert pod_ is not None and command[:2] == ["chroot", "/host"], command
        return ["ip", "netns", "exec", netns_name(lab.run_id, "node", pod_["spec"]["nodeName"]), *command[2:]]

    server.exec_argv = exec_argv
    return server


def node_sh(lab: Lab, node: str, command: str) -> None:
    subprocess.run(["ip", "netns", "exec", netns_name(lab.run_id, "node", node), "sh", "-c", command], check=True)


def verdicts(subjects: dict[str, fleet.NodeSubject]) -> dict[str, tuple[bool, str, str | None]]:
    """Every check the nodes suite makes, by its test id: (ok, problems, skip)."""
    judged: dict[str, checks.Finding] = {}
    facts = {name: s.require_facts() for name, s in subjects.items()}
    for duty in duties.master_duties(TOPOLOGY):
        for check in (checks.check_master_nic, checks.check_master_link, checks.check_master_mtu,
                      checks.check_master_address, checks.check_master_rx_mode):
            judged[f"{check.__name__}[{duty.id}]"] = check(duty, facts[duty.node])
    for name, subject in subjects.items():
        judged[f"arp_flux[{name}]"] = checks.check_arp_flux(facts[name])
        judged[f"cni[{name}]"] = checks.check_cni_binaries(subject.required, facts[name])
        judged[f"ipam[{name}]"] = checks.check_ipam_daemons(subject.dhcp, facts[name], subject.dhcp_sockets)
    for off in duties.off_vlan(TOPOLOGY):
        judged[f"off_vlan[{off.id}]"] = checks.check_off_vlan(off, facts[off.node])
    return {k: (f.ok, f.message, f.skip) for k, f in judged.items()}


def read_both(lab: Lab, server: FakeApiServer, tmp_path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    through_lab = {n.name: LabNodeAccess(n.name, netns_name(lab.run_id, "node", n.name), lab.run_id)
                   for n in TOPOLOGY.nodes}
    lab_subjects = fleet.plan_subjects(TOPOLOGY, through_lab, bin_dirs_everywhere=list(CNI_BIN_DIRS))
    fleet.collect(lab_subjects)
    pod_subjects = read_nodes(debug_pods(fast(server.kubeconfig(tmp_path / "kc"))),
                              bin_dirs_everywhere=list(CNI_BIN_DIRS))
    return lab_subjects, pod_subjects


@pytest.mark.lab
def test_checks_through_debug_pods_judge_lab_nodes_as_the_lab_does(lab: Lab, tmp_path: Path) -> None:
    with cluster_over_lab_nodes(lab) as server:
        lab_subjects, pod_subjects = read_both(lab, server, tmp_path)
        healthy = verdicts(pod_subjects)
        assert healthy == verdicts(lab_subjects)
        assert all(ok or skip for ok, _, skip in healthy.values()), healthy
        for name in lab_subjects:  # the very same facts, read two ways
            assert pod_subjects[name].require_facts().links == lab_subjects[name].require_facts().links

        node_sh(lab, "node1", "ip link set ens224 down")
        node_sh(lab, "node2", "ip link set ens256 mtu 1400")
        server.requests.clear()
        lab_subjects, pod_subjects = read_both(lab, server, tmp_path)
        broken = verdicts(pod_subjects)
        assert broken == verdicts(lab_subjects)
        failed = {k: message for k, (ok, message, skip) in broken.items() if not ok and not skip}
        assert set(failed) == {"check_master_link[node1:ens224]", "check_master_mtu[node2:ens256]"}
        assert failed["check_master_link[node1:ens224]"].startswith("node1 ens224 (master of NAD multus-test/net1 "
                                                                    "(macvlan bridge)) is down")
        assert created_on(server) == ["node1", "node2", "node3"] and leftovers(server) == []


@pytest.mark.lab
def test_the_nodes_suite_gives_the_same_verdicts_through_debug_pods_as_on_the_lab(lab: Lab, tmp_path: Path) -> None:
    node_sh(lab, "node1", "ip link set ens224 down")
    node_sh(lab, "node2", "sysctl -qw net.ipv4.conf.all.arp_ignore=0 net.ipv4.conf.ens224.arp_ignore=0")
    lab_argv = [sys.executable, "-m", "pytest", "suites/test_nodes.py", "-p", "no:cacheprovider", "-q", "-p",
                "no:randomly", "--topology", str(MACVLAN_ONLY), "--run-id", RUN, "--reports-dir",
                str(tmp_path / "lab"), "--lab", lab.run_id, "--cni-bin-dir", CNI_BIN_DIRS[0]]
    _, lab_out, lab_summary, _ = run_suite(lab_argv, tmp_path / "lab")
    with cluster_over_lab_nodes(lab) as server:
        kubeconfig = server.kubeconfig(tmp_path / "kc", user="node-checker", auth="cert")
        # node3 by "SSH" (--node-host, a netns:// spec standing in): the override still wins over a debug pod
        argv = suite(kubeconfig, tmp_path / "k8s", "--cni-bin-dir", CNI_BIN_DIRS[0], "--node-host",
                     f"node3=netns://{netns_name(lab.run_id, 'node', 'node3')}")
        started = time.monotonic()
        code, out, summary, nodes = run_suite(argv, tmp_path / "k8s")
        took = time.monotonic() - started
        assert outcomes(summary) == outcomes(lab_summary), out + lab_out
        assert {p["test"]: p["reason"] for p in summary["problems"]} == \
            {p["test"]: p["reason"] for p in lab_summary["problems"]}
        failed = sorted(t for t, s in outcomes(summary).items() if s == "failed")
        assert failed == ["test_arp_flux[node2]", "test_master_link[node1:ens224]"], out
        assert code == 1 and nodes["preflight"]["status"] == "unfit"
        assert created_on(server) == ["node1", "node2"] and leftovers(server) == []
        assert nodes["nodes"]["node3"]["access"].startswith("netns://")
        # the debug pods' commands went over wss:// as the client-certificate user
        assert server.execs and {(e["user"], e["auth"], e["secure"]) for e in server.execs} == \
            {("node-checker", "cert", True)}
        print(f"\nnodes suite over lab nodes through debug pods: {took:.1f} s")


@pytest.mark.lab
def test_netattest_run_on_a_cluster_stops_before_any_probe_pod_when_a_node_is_unfit(lab: Lab, tmp_path: Path) -> None:
    node_sh(lab, "node1", "ip link set ens224 down")
    with cluster_over_lab_nodes(lab) as server:
        argv = [sys.executable, "-m", "netattest.cli", "run", "--target", "kubernetes", "--topology",
                str(MACVLAN_ONLY), "--kubeconfig", str(server.kubeconfig(tmp_path / "kc")), "--run-id", RUN,
                "--reports-dir", str(tmp_path / "reports"), "--pod-timeout", "30", "--cni-bin-dir", CNI_BIN_DIRS[0]]
        proc = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=300, env=ENV, check=False)
        out = proc.stdout + proc.stderr
        assert proc.returncode == 1, out
        assert "PRE-FLIGHT FAILED: nodes unfit: node1 (1 check failed)" in out
        assert "the run stopped before any pod was created" in out and "deploying topology" not in out
        # the cluster saw the pre-flight's namespace and debug pods only, and none of them is left
        assert [r.body["metadata"]["name"] for r in server.sent("create", "namespaces")] == [NS]
        assert created_on(server) == ["node1", "node2", "node3"] and leftovers(server) == []
