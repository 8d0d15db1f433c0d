"""How commands reach a node: one small interface, one implementation per kind of node.

* :class:`LabNodeAccess` -- a lab node is a network namespace on this machine: testinfra's host over the
  ``netns://`` backend (:mod:`netattest.nodes.backend`).
* :class:`HostspecNodeAccess` -- any testinfra host spec the user configures per node, SSH above all
  (``--node-host node1=ssh://core@10.0.0.11``); works for lab and cluster alike.
* :class:`DebugPodNodeAccess` -- a cluster node through a short-lived privileged host-network debug pod pinned to
  it (:func:`debug_pod_manifest`, created and removed by :class:`netattest.k8s.nodepods.NodeDebugPods`), its
  commands run over the API server's exec by the ``k8sexec://`` backend (:mod:`netattest.nodes.k8sexec`) as
  ``chroot /host /bin/sh -c ...``: the node's network, processes, binaries and files.

Every access gives a testinfra ``Host`` plus ``root``, the path under which the node's own filesystem is visible
to the commands ("" on the node itself and under the debug pod's chroot).
"""

from __future__ import annotations

import os
from typing import Any, Protocol

import testinfra

from netattest.errors import NodeAccessError
from netattest.k8s import names
from netattest.nodes import backend as _backend  # registers netns:// and k8sexec://

DEBUG_POD_IMAGE = "docker.io/nicolaka/netshoot:v0.13"
DEBUG_POD_ROOT = "/host"  # where the debug pod mounts the node's / (read-only); commands chroot into it
DEBUG_POD_CONTAINER = "node"
DEBUG_POD_DEADLINE = 900  # seconds: the pod ends itself if the harness dies (netattest gc removes the object)


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


def debug_pod_name(run_id: str, node: str) -> str:
    return names.label_value(f"netattest-node-{run_id}-{node}".lower())


def debug_pod_manifest(node: str, run_id: str, namespace: str, image: str = DEBUG_POD_IMAGE, *,
                       service_account: str | None = None, annotations: dict[str, str] | None = None) \
        -> dict[str, Any]:
    """The short-lived pod that gives commands the node's view: host network and PIDs, the node's / read-only
    under /host (commands ``chroot`` into it, so they use the node's own binaries and see its files at their own
    paths; hence privileged), pinned by ``nodeName`` (no scheduler, no label needed), tolerating every taint, and
    ending itself after 15 minutes if the harness dies (``activeDeadlineSeconds``; ``netattest gc`` removes it by
    label). It runs nothing but ``sleep``; no service account token."""
    metadata: dict[str, Any] = {
        "name": debug_pod_name(run_id, node),
        "namespace": namespace,
        "labels": names.run_labels(run_id, **{names.LABEL_ROLE: "node-check",
                                              names.LABEL_NODE: names.label_value(node)}),
    }
    if annotations:
        metadata["annotations"] = dict(annotations)
    spec: dict[str, Any] = {
        "nodeName": node,
        "hostNetwork": True,
        "hostPID": True,
        "restartPolicy": "Never",
        "activeDeadlineSeconds": DEBUG_POD_DEADLINE,
        "terminationGracePeriodSeconds": 0,
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "tolerations": [{"operator": "Exists"}],
        "containers": [{
            "name": DEBUG_POD_CONTAINER,
            "image": image,
            "imagePullPolicy": "IfNotPresent",
            "command": ["sleep", str(DEBUG_POD_DEADLINE)],
            "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}, "limits": {"memory": "128Mi"}},
            "securityContext": {"privileged": True, "runAsUser": 0},
            "volumeMounts": [{"name": "host", "mountPath": DEBUG_POD_ROOT, "readOnly": True}],
        }],
        "volumes": [{"name": "host", "hostPath": {"path": "/"}}],
    }
    if service_account:
        spec["serviceAccountName"] = service_account
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec}


class DebugPodNodeAccess:
    """A cluster node through its debug pod: ``open`` has ``pods`` (:class:`netattest.k8s.nodepods.NodeDebugPods`)
    create the pod and wait until it runs (saying why when it does not), then returns a ``k8sexec://`` host whose
    commands run as ``chroot /host /bin/sh -c ...`` in it; ``close`` deletes the pod."""

    kind = "debug-pod"
    root = ""  # under the chroot the node's files are at their own paths

    def __init__(self, node: str, pods: Any) -> None:
        self.node = node
        self.pods = pods
        self.opened = False

    def describe(self) -> str:
        return (f"debug pod {self.pods.namespace}/{debug_pod_name(self.pods.run_id, self.node)} on node {self.node} "
                f"(k8sexec://, chroot {DEBUG_POD_ROOT})")

    def open(self) -> Any:
        from netattest.nodes.k8sexec import exec_host

        self.opened = True
        namespace, pod = self.pods.start(self.node)
        return exec_host(pod, namespace, connection=self.pods.connection, container=DEBUG_POD_CONTAINER,
                         chroot=DEBUG_POD_ROOT, timeout=self.pods.command_timeout)

    def close(self) -> None:
        if self.opened:
            self.pods.release(self.node)
            self.opened = False


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
