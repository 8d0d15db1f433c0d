"""The node pre-flight's debug pods: one short-lived privileged host-network pod on each cluster node to check.

The node checks run before the target deploys anything, so this is a small lifecycle of its own, built from the
target's parts: the run's API connection (:mod:`~netattest.k8s.config`, :mod:`~netattest.k8s.api`), a namespace of
the run (``netattest-<run-id>-node-checks``: run-id and managed-by labels, expiry annotation, PodSecurity
``privileged``; :class:`~netattest.k8s.plan.ClusterPlan`), a service account bound on OpenShift to the node SCC,
and waiting with one-line reasons (:mod:`~netattest.k8s.pods`). Each pod is pinned to its node by ``nodeName`` and
deleted as soon as its node's facts are read (:meth:`release`); :meth:`close` deletes whatever is left and the
namespace, on every path. What a SIGKILL leaves, ``netattest gc --target kubernetes`` removes by the run-id label
(and the pods end themselves after ``activeDeadlineSeconds``).

The pod manifest itself comes from the caller (:func:`netattest.nodes.access.debug_pod_manifest`): this module
decides where and how a pod is admitted, not what it runs.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from netattest.errors import ClusterError, ClusterPermissionError
from netattest.k8s import names
from netattest.k8s.api import create_support_object
from netattest.k8s.plan import NODE_CHECK_SERVICE_ACCOUNT, ClusterOptions, ClusterPlan
from netattest.k8s.pods import PodState, one_line, wait_for_pods
from netattest.signals import deferred_interrupts
from netattest.topology.model import Topology

ManifestFactory = Callable[..., dict[str, Any]]
ROLE = "node-check"
ACCESS_FIX = ("Fix: the node checks need a privileged pod with host network and host PIDs on each node (see the "
              "README, 'Node pre-flight'); or reach the node by SSH with --node-host {node}=ssh://USER@ADDRESS, or "
              "run without the node checks: --skip-preflight")


class NodeCheckPodError(ClusterError):
    """A node's debug pod could not be created or did not run."""


class NodeDebugPods:
    """The debug pods of one run; thread-safe (the pre-flight reads nodes in parallel)."""

    def __init__(self, topology: Topology, run_id: str, options: ClusterOptions, *, manifest: ManifestFactory,
                 progress: Callable[[str], None] | None = None, command_timeout: float = 60.0) -> None:
        self.topology = topology
        self.run_id = run_id
        self.options = options
        self.manifest = manifest
        self.progress = progress or (lambda message: None)
        self.command_timeout = command_timeout
        self.plan = ClusterPlan(topology, run_id, options)
        self.namespace = self.plan.node_check_namespace
        self.connection: Any = None  # netattest.k8s.config.Connection
        self.cluster: Any = None  # netattest.k8s.api.Cluster
        self.created_namespace = False
        self.pods: dict[str, str] = {}  # node -> name of its pod, from the create request until it is deleted
        self.nodes: dict[str, dict[str, Any]] | None = None  # the cluster's Node objects (None: not readable)
        self.startup: dict[str, float] = {}  # node -> seconds from create to running
        self.problems: list[str] = []
        self._lock = threading.RLock()
        self._prepared = False
        self._failure: ClusterError | None = None
        self._closed = False

    # -- once for all nodes --------------------------------------------------------------------------------
    def _prepare(self) -> None:
        """Connect, read the nodes, create the namespace and service account: once; a failure is remembered and
        raised again for every node (one connection attempt, one message)."""
        with self._lock:
            if self._closed:
                raise NodeCheckPodError("the node pre-flight is over (its debug pods were removed)")
            if self._failure is not None:
                raise self._failure.with_traceback(None)
            if self._prepared:
                return
            try:
                self._connect_and_create()
            except ClusterError as exc:
                self._failure = exc
                raise
            self._prepared = True

    def _connect_and_create(self) -> None:
        from netattest.k8s.api import Conflict
        from netattest.k8s.reach import reach

        options = self.options
        reached = reach(options)
        self.connection, self.cluster, openshift = reached.connection, reached.cluster, reached.openshift
        self.plan = ClusterPlan(self.topology, self.run_id, options, openshift=openshift,
                                created_by=names.created_by())
        try:
            self.nodes = {n["metadata"]["name"]: n for n in self.cluster.list_nodes()}
        except ClusterPermissionError:
            self.nodes = None
        try:  # an interrupt waits for the answer, so that close() knows whether there is a namespace to delete
            with deferred_interrupts():
                self.cluster.create_namespace(self.plan.node_check_namespace_manifest())
                self.created_namespace = True
        except Conflict:
            raise NodeCheckPodError(
                f"namespace {self.namespace} already exists on {self.cluster.where} and this run did not create it; "
                "netattest never touches a namespace it did not create. Fix: if an earlier run with this run id "
                f"left it, remove it with 'netattest gc --target kubernetes --run-id {self.run_id}', or run with "
                "another --run-id") from None
        except ClusterPermissionError as exc:
            raise NodeCheckPodError(f"the node pre-flight cannot create its namespace: {exc}") from None
        for doc in self.plan.node_check_service_account_manifests():
            self._create_support_object(doc)
        self.progress(f"pre-flight: node debug pods go to namespace {self.namespace} on {self.cluster.where}"
                      f"{' (OpenShift, SCC ' + options.node_scc + ')' if openshift else ''}")

    def _create_support_object(self, doc: dict[str, Any]) -> None:
        create_support_object(self.cluster, doc, "node debug pods", self.options.node_scc)

    # -- per node --------------------------------------------------------------------------------------------
    def _check_node(self, node: str) -> None:
        if self.nodes is None:
            return
        obj = self.nodes.get(node)
        if obj is None:
            known = sorted(self.nodes)
            shown = ", ".join(known[:8]) + (f" (+{len(known) - 8} more)" if len(known) > 8 else "")
            raise NodeCheckPodError(
                f"node {node} is not a node of {self.cluster.where} (its nodes: {shown or 'none'}): no debug pod "
                "can run there. Fix: the topology's node names must be the cluster's (kubectl get nodes)")
        ready = next((c for c in (obj.get("status") or {}).get("conditions") or [] if c.get("type") == "Ready"),
                     None)
        if ready is not None and ready.get("status") != "True":
            why = one_line(f"{ready.get('reason') or 'NotReady'}: {ready.get('message') or ''}".rstrip(": "), 200)
            raise NodeCheckPodError(f"node {node} is not Ready ({why}): its kubelet cannot start the debug pod. "
                                    "Fix: bring the node back (kubectl describe node " + node + ")")

    def start(self, node: str) -> tuple[str, str]:
        """Create ``node``'s debug pod and wait until it runs; (namespace, pod). On any failure the pod is deleted
        again and the error names why in one line."""
        self._prepare()
        self._check_node(node)
        body = self.manifest(node, self.run_id, self.namespace, self.options.probe_image,
                             service_account=NODE_CHECK_SERVICE_ACCOUNT,
                             annotations=self.plan.node_check_pod_annotations())
        name = body["metadata"]["name"]
        with self._lock:
            if self._closed:
                raise NodeCheckPodError("the node pre-flight is over (its debug pods were removed)")
            self.pods[node] = name  # before the request: a create that times out may still have happened
        started = time.monotonic()
        try:
            try:
                self.cluster.create_pod(self.namespace, body)
            except ClusterPermissionError as exc:
                raise NodeCheckPodError(f"node {node}: {_refused(exc, self.options.node_scc)}. "
                                        f"{ACCESS_FIX.format(node=node)}") from None
            label = names.label_value(node)
            selector = f"{names.run_selector(self.run_id)},{names.LABEL_ROLE}={ROLE},{names.LABEL_NODE}={label}"
            state = PodState(self.namespace, name, f"{self.namespace}/{name} (node {node})", body)
            wait_for_pods(self.cluster, [state], selector=selector, timeout=self.options.pod_timeout,
                          grace=self.options.stuck_grace, interval=self.options.poll_interval,
                          progress=self.progress, cancelled=lambda: self._closed)
            if not state.running:
                reason = state.diagnosis.reason
                fix = "" if "Fix:" in reason else f". {ACCESS_FIX.format(node=node)}"
                raise NodeCheckPodError(f"node {node}: its debug pod {self.namespace}/{name} did not run: "
                                        f"{reason}{fix}")
        except BaseException:
            self.release(node)
            raise
        self.startup[node] = time.monotonic() - started
        self.progress(f"pre-flight: debug pod on node {node} running after {self.startup[node]:.1f} s")
        return self.namespace, name

    def release(self, node: str) -> None:
        """Delete ``node``'s pod (no wait); never raises, problems are kept for :meth:`close`."""
        from netattest.k8s.api import NotFound

        with self._lock:
            name = self.pods.pop(node, None)
        if name is None or self.cluster is None:
            return
        try:
            self.cluster.delete_pod(self.namespace, name)
        except NotFound:
            pass
        except ClusterError as exc:
            self.problems.append(f"debug pod {self.namespace}/{name}: {exc}")

    def close(self) -> list[str]:
        """Delete every debug pod left and the namespace; returns the problems met (never raises half-way)."""
        from netattest.k8s.api import NotFound

        with deferred_interrupts():
            with self._lock:
                self._closed = True
                nodes = list(self.pods)
            for node in nodes:
                self.release(node)
            if self.created_namespace:
                try:
                    self.cluster.delete_namespace(self.namespace)
                    self.created_namespace = False
                except NotFound:
                    self.created_namespace = False
                except ClusterError as exc:
                    self.problems.append(f"namespace {self.namespace}: {exc}")
            if self.connection is not None:
                self.connection.close()
            problems = list(self.problems)
            if problems:
                problems.append(f"remove what is left with: netattest gc --target kubernetes --run-id {self.run_id}")
            return problems


def _refused(exc: ClusterPermissionError, scc: str) -> str:
    """A 403 on a debug pod, named for what refused it, without the probe pods' fix."""
    text = str(exc).split(". Fix:")[0]
    if "PodSecurity" in text:
        head = ("PodSecurity admission rejected its debug pod (its namespace is labelled enforce=privileged; a "
                "cluster-wide policy overrides that)")
    elif "security context constraint" in text:
        head = (f"OpenShift SCC admission rejected its debug pod (it needs SCC {scc}, shipped in "
                "deploy/rbac-openshift.yaml, or another one named by --node-scc)")
    else:
        head = "RBAC refused its debug pod"
    return f"{head}: {text}"

