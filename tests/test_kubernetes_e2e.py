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
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from netattest.inventory import Inventory
from netattest.lab.lab import Lab
from netattest.topology import load_topology
from tests.conftest import MACVLAN_ONLY, REPO
from tests.fake_apiserver import FakeApiServer, leftovers

pytestmark = pytest.mark.lab


@pytest.fixture(scope="module")
def lab() -> Iterator[tuple[Lab, Inventory]]:
    built = Lab(load_topology(MACVLAN_ONLY))
    inventory = built.up()
    try:
        yield built, inventory
    finally:
        built.down()


def cluster_over_lab(lab: Lab, inventory: Inventory) -> FakeApiServer:
    topology = lab.topology
    server = FakeApiServer(nodes={n.name: dict(n.labels) for n in topology.nodes})

    def lab_pod(pod: dict[str, Any]):
        return inventory.pod(pod["metadata"]["name"])

    def exec_argv(namespace: str, name: str, command: list[str]) -> list[str]:
        pod = server.get("", "pods", namespace, name)
        assert pod is not None
        if pod["metadata"]["labels"].get("netattest.io/role") == "node-inventory":
            netns = inventory.node(pod["spec"]["nodeName"]).netns
        else:
            netns = lab_pod(pod).netns
        return ["ip", "netns", "exec", str(netns), sys.executable, *command[1:]]

    def network_status(pod: dict[str, Any]) -> list[dict[str, Any]] | None:
        if pod["metadata"]["labels"].get("netattest.io/role") != "probe":
            return None
        view = lab_pod(pod)
        return [{"name": f"{pod['metadata']['namespace']}/{s.name.split('/')[-1]}", "interface": s.interface,
                 "ips": list(s.ips), "mac": s.mac, "dns": {}} for s in view.network_status]

    server.exec_argv = exec_argv
    server.network_status_hook = network_status
    return server


def test_acceptance_suites_pass_through_the_kubernetes_target(lab: tuple[Lab, Inventory], tmp_path: Path) -> None:
    built, inventory = lab
    with cluster_over_lab(built, inventory) as server:
        kubeconfig = server.kubeconfig(tmp_path / "kubeconfig")
        argv = [sys.executable, "-m", "pytest", str(REPO / "suites"), "--rootdir", str(REPO), "-p",
                "no:cacheprovider", "--topology", str(MACVLAN_ONLY), "--target", "kubernetes", "--kubeconfig",
                str(kubeconfig), "--run-id", "e2e0c0de", "--reports-dir", str(tmp_path / "reports"),
                "--skip-preflight", "--pod-timeout", "30", "--probe-timeout", "0.5", "-q", "--tb=short",
                "-p", "no:randomly"]
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        proc = subprocess.run(argv, capture_output=True, text=True, cwd=REPO, env=env, timeout=300)
        summary = json.loads((tmp_path / "reports" / "e2e0c0de" / "summary.json").read_text())
        assert summary["target"] == "kubernetes"
        problems = "\n".join(f"{p['status']} {p['test']}: {p['reason']}" for p in summary["problems"])
        # a cluster cannot send from an external host (it is not a pod): those checks are broken, saying so
        unexpected = [p for p in summary["problems"]
                      if not (p["status"] == "broken" and "sends probes from its probe pods only" in p["reason"])]
        assert not unexpected and summary["counts"]["failed"] == 0, \
            f"{problems}\n{proc.stdout[-3000:]}\n{proc.stderr[-2000:]}"
        assert proc.returncode == (2 if summary["problems"] else 0)
        assert summary["counts"]["passed"] > 50
        # one exec per pod for the whole session, every agent ended cleanly, nothing left on the "cluster"
        pods = len(built.topology.pods) + len(built.topology.nodes)
        assert len(server.execs) == pods and all(e["exit"] == 0 for e in server.execs)
        assert leftovers(server) == []
