"""Every manifest a cluster run applies, built from the topology alone (no cluster, no ``kubernetes`` import).

The target applies exactly these documents and ``netattest render`` prints them, so a change review sees what a run
will do. Per topology namespace: a run namespace (run-id label, expiry annotation, PodSecurity labels), a service
account for the probe pods (and on OpenShift a RoleBinding that lets it use the probe SCC), the NADs (or, with
``provision=operator``, entries for the network operator's ``spec.additionalNetworks``), and one probe pod per
topology pod. Optionally one host-network *node-inventory* pod per node reads the nodes' NICs (master MACs), which
the API does not expose.

Least privilege for the probe container: every capability dropped but ``NET_RAW`` (packet sockets), run as uid 0
because added capabilities only become effective for root, no privilege escalation, no service account token.
PodSecurity's *baseline* level does not allow adding ``NET_RAW`` (its list stops at the runtime defaults such as
CHOWN, KILL, NET_BIND_SERVICE), and host-network inventory pods are outside baseline too, so run namespaces are
labelled ``enforce=privileged`` — on namespaces the run creates and deletes, never on anything else.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from netattest.annotations import NETWORKS_ANNOTATION, NetworkSelection, render_networks_annotation
from netattest.k8s import names
from netattest.manifests import NAD_API_VERSION, PROBE_IMAGE, nad_cni_config, pod_selections
from netattest.topology.model import Attachment, Pod, Topology

NAD_GROUP, NAD_VERSION, NAD_PLURAL = "k8s.cni.cncf.io", "v1", "network-attachment-definitions"
OPERATOR_GROUP, OPERATOR_VERSION, OPERATOR_PLURAL, OPERATOR_NAME = "operator.openshift.io", "v1", "networks", "cluster"
SCC_GROUP, SCC_VERSION, SCC_PLURAL = "security.openshift.io", "v1", "securitycontextconstraints"
PROBE_SERVICE_ACCOUNT = "netattest-probe"
PROBE_CONTAINER = "probe"
DEFAULT_SCC = "netattest-probe"
#: the node pre-flight's debug pods: their namespace (topology-namespace slot), service account and OpenShift SCC
NODE_CHECK_NAMESPACE = "node-checks"
NODE_CHECK_SERVICE_ACCOUNT = "netattest-node-check"
DEFAULT_NODE_SCC = "netattest-node-check"
REQUIRED_SCC_ANNOTATION = "openshift.io/required-scc"
PODSECURITY_LEVEL = "privileged"
IMAGE_ENV = "NETATTEST_PROBE_IMAGE"
#: keeps the container alive and ends at once on SIGTERM; the agent is started by exec, never as the entrypoint
IDLE_COMMAND = ["/bin/sh", "-c", "trap 'exit 0' TERM INT; while :; do sleep 3600 & wait $!; done"]


def default_probe_image() -> str:
    """The probe image: ``$NETATTEST_PROBE_IMAGE`` or the pinned public default (python3 + scapy)."""
    return os.environ.get(IMAGE_ENV) or PROBE_IMAGE


def scc_cluster_role(scc: str) -> str:
    """The ClusterRole (shipped in deploy/rbac-openshift.yaml) granting ``use`` of the probe SCC."""
    return f"netattest:scc:{scc}"


@dataclass(frozen=True)
class ClusterOptions:
    """Everything the cluster target can be told; the defaults suit a real cluster, tests shorten the times."""

    kubeconfig: str | None = None
    context: str | None = None
    provision: str = "direct"  # direct: NADs through the custom objects API; operator: OpenShift network operator
    probe_image: str = field(default_factory=default_probe_image)
    openshift: bool | None = None  # None: detect from the API groups
    scc: str = DEFAULT_SCC
    node_scc: str = DEFAULT_NODE_SCC  # OpenShift SCC of the pre-flight's privileged host-network debug pods
    ttl: timedelta = names.DEFAULT_TTL
    node_inventory: bool = True  # host-network pods read the nodes' NICs (master MACs)
    keep: bool = False
    pod_timeout: float = 300.0  # seconds for every pod to run (image pulls included)
    stuck_grace: float = 30.0  # a pod with a diagnosed blocking reason is given up after this long
    poll_interval: float = 1.0
    request_timeout: float = 30.0  # per API request
    agent_timeout: float = 90.0  # exec + python start + scapy import in a pod
    operator_timeout: float = 120.0  # the network operator creating / removing the NADs
    delete_timeout: float = 0.0  # wait for run namespaces to be gone (0: do not wait)


#: the run's only namespace when the topology names none (node-inventory pods only)
INVENTORY_ONLY_NAMESPACE = "inventory"


@dataclass
class ClusterPlan:
    topology: Topology
    run_id: str
    options: ClusterOptions = field(default_factory=ClusterOptions)
    openshift: bool = False
    created_by: str = ""
    now: datetime | None = None

    def __post_init__(self) -> None:
        spaces = sorted({a.namespace for a in self.topology.attachments} | {p.namespace for p in self.topology.pods})
        # a topology of nodes only (netattest discover) still needs a namespace for its node-inventory pods
        spaces = spaces or [INVENTORY_ONLY_NAMESPACE]
        self.namespaces: dict[str, str] = {ns: names.run_namespace(self.run_id, ns) for ns in spaces}
        clash = {real for real in self.namespaces.values() if list(self.namespaces.values()).count(real) > 1}
        if clash:  # pragma: no cover - the hash makes this practically impossible
            raise ValueError(f"run namespace names collide: {sorted(clash)}")

    # -- names -----------------------------------------------------------------------------------------
    def real_namespace(self, topology_namespace: str) -> str:
        return self.namespaces[topology_namespace]

    @property
    def inventory_namespace(self) -> str:
        """Where the node-inventory pods live: the run's first namespace."""
        return next(iter(self.namespaces.values()))

    def labels(self, **extra: str) -> dict[str, str]:
        return names.run_labels(self.run_id, **extra)

    @property
    def node_check_namespace(self) -> str:
        """Where the node pre-flight's debug pods live: a namespace of the run's own, never one of the topology's
        (the target creates those later and refuses one that already exists)."""
        slot = NODE_CHECK_NAMESPACE
        while names.run_namespace(self.run_id, slot) in self.namespaces.values():
            slot += "-x"
        return names.run_namespace(self.run_id, slot)

    # -- documents -------------------------------------------------------------------------------------
    def namespace_manifest(self, topology_namespace: str) -> dict[str, Any]:
        return self._namespace_doc(self.real_namespace(topology_namespace),
                                   {names.LABEL_TOPOLOGY_NAMESPACE: topology_namespace})

    def node_check_namespace_manifest(self) -> dict[str, Any]:
        """The pre-flight's namespace: the run's labels and expiry (so ``netattest gc`` finds it by run id), and
        PodSecurity ``privileged`` (the debug pods use the host's network, PIDs and filesystem)."""
        return self._namespace_doc(self.node_check_namespace, {names.LABEL_ROLE: "node-check"})

    def _namespace_doc(self, name: str, extra: dict[str, str]) -> dict[str, Any]:
        level = PODSECURITY_LEVEL
        labels = self.labels(**extra, **{"pod-security.kubernetes.io/enforce": level,
                                         "pod-security.kubernetes.io/audit": level,
                                         "pod-security.kubernetes.io/warn": level})
        if self.openshift:  # keep OpenShift's label syncer from rewriting the PodSecurity labels
            labels["security.openshift.io/scc.podSecurityLabelSync"] = "false"
        annotations = {names.ANNOTATION_EXPIRES: names.expires_at(self.options.ttl, self.now),
                       names.ANNOTATION_TOPOLOGY: self.topology.name}
        if self.created_by:
            annotations[names.ANNOTATION_CREATED_BY] = self.created_by
        return {"apiVersion": "v1", "kind": "Namespace",
                "metadata": {"name": name, "labels": labels, "annotations": annotations}}

    def node_check_service_account_manifests(self) -> list[dict[str, Any]]:
        """The debug pods' service account (no token) and, on OpenShift, its binding to the node SCC's
        ClusterRole (deploy/rbac-openshift.yaml)."""
        return self._service_account_docs(self.node_check_namespace, NODE_CHECK_SERVICE_ACCOUNT,
                                          self.options.node_scc)

    def node_check_pod_annotations(self) -> dict[str, str]:
        return {REQUIRED_SCC_ANNOTATION: self.options.node_scc} if self.openshift else {}

    def service_account_manifests(self, topology_namespace: str) -> list[dict[str, Any]]:
        return self._service_account_docs(self.real_namespace(topology_namespace), PROBE_SERVICE_ACCOUNT,
                                          self.options.scc)

    def _service_account_docs(self, ns: str, account: str, scc: str) -> list[dict[str, Any]]:
        """A service account without a token and, on OpenShift, its binding to the ClusterRole using ``scc``."""
        docs: list[dict[str, Any]] = [{
            "apiVersion": "v1", "kind": "ServiceAccount",
            "metadata": {"name": account, "namespace": ns, "labels": self.labels()},
            "automountServiceAccountToken": False}]
        if self.openshift:
            docs.append({
                "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                "metadata": {"name": f"{account}-scc", "namespace": ns, "labels": self.labels()},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                            "name": scc_cluster_role(scc)},
                "subjects": [{"kind": "ServiceAccount", "name": account, "namespace": ns}]})
        return docs

    def nad_config(self, attachment: Attachment) -> str:
        return json.dumps(nad_cni_config(attachment), sort_keys=True)

    def nad_manifest(self, attachment: Attachment) -> dict[str, Any]:
        return {"apiVersion": NAD_API_VERSION, "kind": "NetworkAttachmentDefinition",
                "metadata": {"name": attachment.name, "namespace": self.real_namespace(attachment.namespace),
                             "labels": self.labels()},
                "spec": {"config": self.nad_config(attachment)}}

    def operator_entry(self, attachment: Attachment) -> dict[str, Any]:
        """One ``spec.additionalNetworks`` entry of ``networks.operator.openshift.io/cluster`` (type Raw)."""
        return {"name": attachment.name, "namespace": self.real_namespace(attachment.namespace), "type": "Raw",
                "rawCNIConfig": self.nad_config(attachment)}

    def selections(self, pod: Pod) -> list[NetworkSelection]:
        """The pod's networks, with NAD namespaces mapped to the run's namespaces."""
        return [NetworkSelection(s.name, self.real_namespace(s.namespace), s.interface, s.ips, s.mac,
                                 s.default_route) for s in pod_selections(pod)]

    def pod_manifest(self, pod: Pod) -> dict[str, Any]:
        ns = self.real_namespace(pod.namespace)
        annotations: dict[str, str] = {}
        selections = self.selections(pod)
        if selections:
            annotations[NETWORKS_ANNOTATION] = render_networks_annotation(selections, ns)
        if self.openshift:
            annotations[REQUIRED_SCC_ANNOTATION] = self.options.scc
        return self._idle_pod(
            pod.name, ns, self.labels(**{names.LABEL_ROLE: "probe", names.LABEL_POD: pod.name}), annotations,
            spec={"nodeSelector": dict(pod.node_selector)},
            resources={"requests": {"cpu": "10m", "memory": "64Mi"}, "limits": {"memory": "256Mi"}},
            security={"runAsUser": 0, "runAsNonRoot": False, "allowPrivilegeEscalation": False,
                      "capabilities": {"drop": ["ALL"], "add": ["NET_RAW"]}})

    def _idle_pod(self, name: str, namespace: str, labels: dict[str, str], annotations: dict[str, str], *,
                  spec: dict[str, Any], resources: dict[str, Any], security: dict[str, Any]) -> dict[str, Any]:
        """A pod whose one container idles in the probe image; the agent is streamed into it over exec later."""
        return {
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": namespace, "annotations": annotations, "labels": labels},
            "spec": {
                **spec,
                "serviceAccountName": PROBE_SERVICE_ACCOUNT,
                "automountServiceAccountToken": False,
                "enableServiceLinks": False,
                "restartPolicy": "Never",
                "terminationGracePeriodSeconds": 0,
                "containers": [{
                    "name": PROBE_CONTAINER,
                    "image": self.options.probe_image,
                    "imagePullPolicy": "IfNotPresent",
                    "command": list(IDLE_COMMAND),
                    "resources": resources,
                    "securityContext": security,
                }],
            },
        }

    def node_pod_manifest(self, node: str) -> dict[str, Any]:
        """A host-network pod on ``node`` that reads the node's interfaces and listens on its NICs for isolation
        probes that must not arrive there: NET_RAW (packet sockets) and nothing else, as uid 0 (added capabilities
        are only effective for root), no privilege escalation."""
        return self._idle_pod(
            names.node_pod_name(node), self.inventory_namespace,
            self.labels(**{names.LABEL_ROLE: "node-inventory", names.LABEL_NODE: names._shorten(node, 63)}),
            {REQUIRED_SCC_ANNOTATION: self.options.scc} if self.openshift else {},
            spec={"nodeName": node, "hostNetwork": True, "tolerations": [{"operator": "Exists"}]},
            resources={"requests": {"cpu": "10m", "memory": "32Mi"}, "limits": {"memory": "128Mi"}},
            security={"runAsUser": 0, "runAsNonRoot": False, "allowPrivilegeEscalation": False,
                      "capabilities": {"drop": ["ALL"], "add": ["NET_RAW"]}})

    def operator_patch(self, current: list[dict[str, Any]] | None) -> dict[str, Any]:
        """The merge patch that adds this run's entries to the operator's current ``additionalNetworks``."""
        mine = [self.operator_entry(a) for a in self.topology.attachments]
        return {"spec": {"additionalNetworks": list(current or []) + mine}}

    def manifests(self, nodes: list[str] | None = None) -> list[dict[str, Any]]:
        """Every document in the order the target applies them (``netattest render`` prints these)."""
        docs: list[dict[str, Any]] = []
        for ns in self.namespaces:
            docs.append(self.namespace_manifest(ns))
            docs += self.service_account_manifests(ns)
        if self.options.provision == "direct":
            docs += [self.nad_manifest(a) for a in self.topology.attachments]
        docs += [self.pod_manifest(p) for p in self.topology.pods]
        if self.options.node_inventory:
            docs += [self.node_pod_manifest(n) for n in (nodes if nodes is not None
                                                         else [n.name for n in self.topology.nodes])]
        return docs

    def images(self) -> list[str]:
        """Every image a run pulls (``netattest images``)."""
        return [self.options.probe_image]
