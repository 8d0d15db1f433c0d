"""What the cluster target's tests share about the fake cluster: the seed topology's nodes, the shipped RBAC rules,
and what a run left behind."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from tests.fakeapi.server import FakeApiServer

REPO = Path(__file__).resolve().parents[2]
#: the seed topology's nodes, labelled as in topologies/restricted-vlan.yaml
SEED_NODES = {"node1": {"node-role.kubernetes.io/multus-node": "yes"},
              "node2": {"node-role.kubernetes.io/multus-node": "yes"}, "node3": {}}


def rbac_rules(openshift: bool = False) -> list[dict[str, Any]]:
    """The rules of the ClusterRoles shipped in deploy/ for the harness's user."""
    files = ["rbac.yaml"] + (["rbac-openshift.yaml"] if openshift else [])
    rules: list[dict[str, Any]] = []
    for name in files:
        for doc in yaml.safe_load_all((REPO / "deploy" / name).read_text()):
            if doc and doc.get("kind") == "ClusterRole" and doc["metadata"]["name"].startswith("netattest-runner"):
                rules += doc["rules"]
    return rules


def leftovers(server: FakeApiServer) -> list[tuple[str, str, str | None, str]]:
    """Every object a run could have created that is still there (nodes, the operator and the SCC are the
    cluster's own)."""
    cluster_owned = {"nodes", "networks", "securitycontextconstraints"}
    with server.lock:
        return sorted(k for k in server.objects if k[1] not in cluster_owned)
