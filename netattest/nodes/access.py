"""How commands reach a node: one small interface, one implementation per kind of node.

* :class:`LabNodeAccess` -- a lab node is a network namespace on this machine: testinfra's host over the
  ``netns://`` backend (:mod:`netattest.nodes.backend`).
* :class:`HostspecNodeAccess` -- any testinfra host spec the user configures per node, SSH above all
  (``--node-host node1=ssh://core@10.0.0.11``); works for lab and cluster alike.
* :class:`DebugPodNodeAccess` -- a cluster node through a short-lived host-network debug pod pinned to it
  (testinfra's ``kubectl://`` backend). Creating and removing the pod needs the Kubernetes target, which is not
  part of this version: it raises :class:`NodeAccessUnavailable`, naming the ways around it.

Every access gives a testinfra ``Host`` plus ``root``, the path under which the node's own filesystem is visible
to the commands ("" on the node itself, ``/host`` inside a debug pod that mounts the node's / there).
"""

from __future__ import annotations

import os
from typing import Any, Protocol

import testinfra

from netattest.errors import NetattestError
from netattest.nodes import backend as _backend  # registers netns://

DEBUG_POD_IMAGE = "docker.io/nicolaka/netshoot:v0.13"
DEBUG_POD_ROOT = "/host"
RUN_ID_LABEL = "netattest.io/run-id"


class NodeAccessError(NetattestError):
    """A node cannot be reached to read its facts."""


class NodeAccessUnavailable(NodeAccessError):
    """This kind of node access is not implemented in this version."""


class NodeAccess(Protocol):
    node: str
    kind: str  # lab-netns | hostspec | debug-pod
    root: str

    def describe(self) -> str:
        """How the node is reached, for messages and the facts record."""

    def open(self) -> Any:
        """A testinfra ``Host`` whose commands run on the node (raises :class:`NodeAccessError`)."""

    def close(self) -> None:
        """Release what ``open`` created (a debug pod); never raises."""


class LabNodeAccess:
    kind = "lab-netns"
    root = ""

    def __init__(self, node: str, netns: str, run_id: str) -> None:
        self.node = node
        self.netns = netns
        self.run_id = run_id  # the lab's run: its state (daemon sockets) lives in the run directory

    def describe(self) -> str:
        return f"{_backend.NAME}://{self.netns}"

    def open(self) -> Any:
        if not os.path.exists(os.path.join("/var/run/netns", self.netns)):
            raise NodeAccessError(f"lab node {self.node}: network namespace {self.netns} does not exist. Fix: "
                                  "check the run id (netattest lab status lists the labs on this machine)")
        return testinfra.get_host(self.describe())

    def close(self) -> None:
        return None


class HostspecNodeAccess:
    """A node reached through a testinfra host spec (ssh://, paramiko://, local://, ...)."""

    kind = "hostspec"

    def __init__(self, node: str, hostspec: str, root: str = "") -> None:
        self.node = node
        self.hostspec = hostspec
        self.root = root

    def describe(self) -> str:
        return self.hostspec

    def open(self) -> Any:
        try:
            return testinfra.get_host(self.hostspec)
        except (RuntimeError, ValueError, ImportError) as exc:
            raise NodeAccessError(f"node {self.node}: testinfra cannot use host spec {self.hostspec!r}: {exc}. "
                                  "Fix: give --node-host NODE=ssh://user@address (or another testinfra "
                                  "connection such as paramiko://)") from exc

    def close(self) -> None:
        return None


def debug_pod_manifest(node: str, run_id: str, namespace: str, image: str = DEBUG_POD_IMAGE) -> dict[str, Any]:
    """The short-lived pod that gives commands the node's view: host network and PIDs, the node's / read-only
    under /host, pinned by ``nodeName`` (no scheduler, no label needed), tolerating every taint, and deleting
    itself after 15 minutes if the harness dies (``activeDeadlineSeconds``; ``netattest gc`` removes it by label)."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": f"netattest-node-{run_id}-{node}"[:63].rstrip("-."),
            "namespace": namespace,
            "labels": {RUN_ID_LABEL: run_id, "netattest.io/role": "node-check", "netattest.io/node": node[:63]},
        },
        "spec": {
            "nodeName": node,
            "hostNetwork": True,
            "hostPID": True,
            "restartPolicy": "Never",
            "activeDeadlineSeconds": 900,
            "terminationGracePeriodSeconds": 0,
            "tolerations": [{"operator": "Exists"}],
            "containers": [{
                "name": "node",
                "image": image,
                "command": ["sleep", "900"],
                "securityContext": {"privileged": True},
                "volumeMounts": [{"name": "host", "mountPath": DEBUG_POD_ROOT, "readOnly": True}],
            }],
            "volumes": [{"name": "host", "hostPath": {"path": "/"}}],
        },
    }


class DebugPodNodeAccess:
    """A cluster node through a host-network debug pod (testinfra's kubectl backend).

    Intended flow, once the Kubernetes target exists: ``open`` creates :func:`debug_pod_manifest` through the
    target's client in the run's namespace, waits until it runs (saying why when it does not), and returns
    ``testinfra.get_host(f"kubectl://{pod}?namespace={ns}&container=node&kubeconfig={path}")``; ``close`` deletes
    the pod. Commands then see the node's network namespace and processes directly and its files under /host.
    """

    kind = "debug-pod"
    root = DEBUG_POD_ROOT

    def __init__(self, node: str, run_id: str, namespace: str, *, image: str = DEBUG_POD_IMAGE,
                 kubeconfig: str | None = None) -> None:
        self.node = node
        self.run_id = run_id
        self.namespace = namespace
        self.image = image
        self.kubeconfig = kubeconfig
        self.manifest = debug_pod_manifest(node, run_id, namespace, image)

    def describe(self) -> str:
        return f"debug pod {self.namespace}/{self.manifest['metadata']['name']} on node {self.node}"

    def open(self) -> Any:
        raise NodeAccessUnavailable(
            f"node {self.node}: reaching cluster nodes through a host-network debug pod is not available yet (it "
            "needs the Kubernetes target to create and remove the pod). Fix: give SSH access per node with "
            f"--node-host {self.node}=ssh://USER@ADDRESS, or run without the node checks: --skip-preflight")

    def close(self) -> None:
        return None


def parse_node_map(values: list[str] | None, option: str) -> tuple[dict[str, list[str]], list[str]]:
    """``NODE=VALUE`` entries (per node, in order) and bare ``VALUE`` entries (every node) of a repeatable
    option. A value whose part before '=' looks like a path or URL is a bare value."""
    per_node: dict[str, list[str]] = {}
    everywhere: list[str] = []
    for value in values or []:
        node, sep, rest = value.partition("=")
        if sep and node and "/" not in node and ":" not in node:
            if not rest:
                raise NodeAccessError(f"{option} {value!r}: nothing after '='. Fix: {option} NODE=VALUE")
            per_node.setdefault(node, []).append(rest)
        else:
            everywhere.append(value)
    return per_node, everywhere
