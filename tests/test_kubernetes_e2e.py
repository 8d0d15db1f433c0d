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
from tests.cluster_lab import cluster_over_lab, unexpected_problems
from tests.conftest import MACVLAN_ONLY, REPO
from tests.fakeapi import leftovers

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
        # one exec per pod for the whole session, every agent ended cleanly, nothing left on the "cluster"
        pods = len(built.topology.pods) + len(built.topology.nodes)
        assert len(server.execs) == pods and all(e["exit"] == 0 for e in server.execs)
        # all of it over TLS (exec over wss://) as the client-certificate user
        assert {(r.user, r.auth, r.secure) for r in server.requests} == {("e2e", "cert", True)}
        assert {(e["user"], e["auth"], e["secure"]) for e in server.execs} == {("e2e", "cert", True)}
        assert leftovers(server) == []
