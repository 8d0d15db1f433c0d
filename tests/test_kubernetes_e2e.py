"""The acceptance suites, unchanged, through the Kubernetes target: the real ``kubernetes`` client talks to the fake
API server, whose exec runs each probe agent inside the matching lab pod's network namespace (and each node-inventory
agent in the lab node's). So the whole cluster path — namespaces, NADs, pods, waiting, agents over exec websockets,
inventory, probing — carries real ARP and ICMP between real macvlan interfaces, and the suites do not know which
target they run on."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from netattest.inventory import Inventory
from netattest.lab.lab import Lab
from netattest.topology import load_topology
from tests.cluster_lab import cluster_over_lab, unexpected_problems
from tests.conftest import MACVLAN_ONLY, REPO
from tests.fakeapi import FakeApiServer, leftovers

pytestmark = pytest.mark.lab


def test_acceptance_suites_pass_through_the_kubernetes_target(macvlan_lab: tuple[Lab, Inventory],
                                                            tmp_path: Path) -> None:
    built, inventory = macvlan_lab
    with cluster_over_lab(built, inventory) as server:
        kubeconfig = server.kubeconfig(tmp_path / "kubeconfig", user="e2e", auth="cert")
        argv = [sys.executable, "-m", "pytest", str(REPO / "suites"), "--rootdir", str(REPO), "-p",
                "no:cacheprovider", "--topology", str(MACVLAN_ONLY), "--target", "kubernetes", "--kubeconfig",
                str(kubeconfig), "--run-id", "e2e0c0de", "--reports-dir", str(tmp_path / "reports"),
                "--skip-preflight", "--pod-timeout", "30", "--probe-timeout", "0.5", "-q", "--tb=short",
                "-p", "no:randomly"]
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        proc = subprocess.run(argv, capture_output=True, text=True, cwd=REPO, env=env, timeout=300, check=False)
        summary = json.loads((tmp_path / "reports" / "e2e0c0de" / "summary.json").read_text())
        assert summary["target"] == "kubernetes"
        problems = "\n".join(f"{p['status']} {p['test']}: {p['reason']}" for p in summary["problems"])
        # a cluster cannot send from an external host (it is not a pod): those checks are broken, saying so
        assert not unexpected_problems(summary) and summary["counts"]["failed"] == 0, \
            f"{problems}\n{proc.stdout[-3000:]}\n{proc.stderr[-2000:]}"
        assert proc.returncode == (2 if summary["problems"] else 0)
        assert summary["counts"]["passed"] > 50
        # isolation across VLANs: IP probes through the restricted VLAN's next hops, listeners on the openshift node
        # NICs (the nodes' host-network pods) proven by a canary sent from a node, the IP twins answered
        checks = json.loads((tmp_path / "reports" / "e2e0c0de" / "checks.json").read_text())
        listeners = {x["id"]: x for x in checks["listeners"]}
        assert {i for i in listeners if i.startswith("openshift:node:")} == {
            f"openshift:node:{n}:ens192" for n in ("node1", "node2", "node3")}
        assert all(x["proven"] for x in listeners.values()), listeners
        isolation = [c for c in checks["checks"] if c["id"].startswith("restricted->openshift:")]
        assert isolation and all(c["paths"] and c["l3_twins"] for c in isolation if c["status"] == "passed")
        assert all("nothing heard on openshift by 3 listener(s) proven by a canary" in c["reason"]
                   for c in isolation if c["status"] == "passed")
        assert checks["neighbours"]["restricted"]["neighbours"] and not checks["findings"]
        # one exec per pod for the whole session, every agent ended cleanly, nothing left on the "cluster"
        pods = len(built.topology.pods) + len(built.topology.nodes)
        assert len(server.execs) == pods and all(e["exit"] == 0 for e in server.execs)
        # all of it over TLS (exec over wss://) as the client-certificate user
        assert {(r.user, r.auth, r.secure) for r in server.requests} == {("e2e", "cert", True)}
        assert {(e["user"], e["auth"], e["secure"]) for e in server.execs} == {("e2e", "cert", True)}
        assert leftovers(server) == []


@pytest.mark.needs("nft")
def test_a_one_way_router_is_caught_by_the_node_pods_listening_on_the_cluster(tmp_path: Path) -> None:
    """The cluster target plans the same next hops and target-side listeners as the lab: a router nobody declared,
    forwarding restricted -> dmz only, fails exactly those checks, heard by the dmz probe pods and node NICs."""
    from tests.cluster_lab import lab_up
    from tests.conftest import with_lab_section

    topology = tmp_path / "isolation-router.yaml"
    topology.write_text(with_lab_section((REPO / "topologies" / "isolation.yaml").read_text(), """routers:
  - name: rogue
    proxyArp: false
    forward: ["restricted -> dmz"]
    legs:
      - {network: restricted, address: 192.168.112.254/24}
      - {network: dmz, address: 192.168.113.254/24}"""))
    with lab_up(topology) as (built, inventory), cluster_over_lab(built, inventory) as server:
        kubeconfig = server.kubeconfig(tmp_path / "kubeconfig")
        argv = [sys.executable, "-m", "pytest", str(REPO / "suites"), "--rootdir", str(REPO), "-p",
                "no:cacheprovider", "--topology", str(topology), "--target", "kubernetes", "--kubeconfig",
                str(kubeconfig), "--run-id", "e2e0a0ee", "--reports-dir", str(tmp_path / "reports"),
                "--skip-preflight", "--pod-timeout", "30", "--probe-timeout", "0.5", "-q", "--tb=no"]
        proc = subprocess.run(argv, capture_output=True, text=True, cwd=REPO, timeout=300,
                              env={**os.environ, "PYTHONPATH": str(REPO)})
        summary = json.loads((tmp_path / "reports" / "e2e0a0ee" / "summary.json").read_text())
        assert leftovers(server) == []
    failed = {p["test"].split("::")[-1]: p["reason"] for p in summary["problems"] if p["status"] == "failed"}
    assert failed, proc.stdout[-3000:]
    assert all(t.startswith("test_isolation[restricted->dmz:") for t in failed), sorted(failed)
    assert all("isolation broken one way: frames from restricted reach dmz through next hop" in r
               for r in failed.values())
    assert any("heard by node node1/ens256 on dmz" in r or "heard by node node2/ens256 on dmz" in r
               for r in failed.values())
    assert {(f["network"], f["ip"]) for f in summary["findings"]} >= {("restricted", "192.168.112.254")}
    assert not unexpected_problems({"problems": [p for p in summary["problems"] if p["status"] != "failed"]})


def _cluster_suites(topology: Path, tmp_path: Path, run_id: str) -> tuple[dict, subprocess.CompletedProcess[str],
                                                                          FakeApiServer]:
    """The suites through the Kubernetes target against a fake cluster over a lab of ``topology``."""
    from tests.cluster_lab import lab_up

    with lab_up(topology) as (built, inventory), cluster_over_lab(built, inventory) as server:
        kubeconfig = server.kubeconfig(tmp_path / "kubeconfig")
        argv = [sys.executable, "-m", "pytest", str(REPO / "suites"), "--rootdir", str(REPO), "-p",
                "no:cacheprovider", "--topology", str(topology), "--target", "kubernetes", "--kubeconfig",
                str(kubeconfig), "--run-id", run_id, "--reports-dir", str(tmp_path / "reports"),
                "--skip-preflight", "--pod-timeout", "30", "--probe-timeout", "0.5", "-q", "--tb=no"]
        proc = subprocess.run(argv, capture_output=True, text=True, cwd=REPO, timeout=300,
                              env={**os.environ, "PYTHONPATH": str(REPO)})
        summary = json.loads((tmp_path / "reports" / run_id / "summary.json").read_text())
        assert leftovers(server) == []
    return summary, proc, server


def _statuses(summary: dict, test: str) -> dict[str, str]:
    return {t["nodeid"].split("::")[-1]: t["status"] for t in summary["tests"] if f"::{test}[" in t["nodeid"]}


def test_pods_that_must_fail_are_judged_on_the_pod_events_of_the_cluster(tmp_path: Path) -> None:
    """attachFails on a cluster: the pods stay Pending with FailedCreatePodSandBox events, whose own words (the
    static plugin's, Multus's) are what the reason must contain; the pod that must attach runs and reaches."""
    summary, proc, _ = _cluster_suites(REPO / "topologies" / "multus-must-fail.yaml", tmp_path, "e2e0fa11")
    fails = _statuses(summary, "test_attach_fails")
    assert fails == {"test_attach_fails[team-a/no-cidr]": "passed", "test_attach_fails[team-a/missing-nad]": "passed",
                     "test_attach_fails[team-b/other-ns]": "passed"}, (fails, proc.stdout[-3000:])
    assert summary["counts"]["failed"] == 0, unexpected_problems(summary)


def test_bridge_ports_and_tuning_are_read_back_through_the_cluster_agents(tmp_path: Path) -> None:
    """The new NAD shapes (bridge, a macvlan + tuning conflist) render, validate and deploy on the cluster; bridge
    ports are read by the nodes' host-network pods, tuning sysctls by the probe pods' agents."""
    summary, proc, server = _cluster_suites(REPO / "topologies" / "multus-bridge.yaml", tmp_path, "e2e0b4d9")
    assert set(_statuses(summary, "test_bridge_port").values()) == {"passed"}, proc.stdout[-3000:]
    assert set(_statuses(summary, "test_tuning").values()) == {"passed"}, unexpected_problems(summary)
    configs = [json.loads(r.body["spec"]["config"]) for r in server.sent("create", "network-attachment-definitions")]
    assert len(configs) == len(load_topology(REPO / "topologies" / "multus-bridge.yaml").attachments)
    assert [p["type"] for c in configs if "plugins" in c for p in c["plugins"]] == ["macvlan", "tuning"] * 2
    assert summary["counts"]["failed"] == 0, unexpected_problems(summary)
