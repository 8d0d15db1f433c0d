"""What a cluster does on its own after a request: a kubelet with Multus, and OpenShift's network operator.

* the *kubelet*: a pod is scheduled by ``spec.nodeName`` or its nodeSelector against the Node objects (least
  loaded first), Multus looks up the NADs of the networks annotation and writes
  ``k8s.v1.cni.cncf.io/network-status``; a missing NAD leaves the pod Pending with a ``FailedCreatePodSandBox``
  event, an unmatched selector with ``FailedScheduling``; tests replace any of it per pod with
  ``server.pod_behaviour`` and the network-status with ``server.network_status_hook``;
* the *cluster network operator*: Raw ``spec.additionalNetworks`` entries of ``networks.operator/cluster`` become
  NADs, and removed entries lose theirs.

Every function here is called with the store's lock held.
"""

from __future__ import annotations

import json
import uuid
from typing import TYPE_CHECKING, Any

from tests.fakeapi.model import CORE, NAD_GROUP, PodOutcome, now_stamp

if TYPE_CHECKING:
    from tests.fakeapi.server import FakeApiServer

NADS = "network-attachment-definitions"


def event(server: FakeApiServer, pod: dict[str, Any], type_: str, reason: str, message: str) -> None:
    ns, name = pod["metadata"]["namespace"], pod["metadata"]["name"]
    server.add_object(CORE, "events", ns, {
        "apiVersion": "v1", "kind": "Event",
        "metadata": {"name": f"{name}.{uuid.uuid4().hex[:12]}", "namespace": ns},
        "involvedObject": {"kind": "Pod", "name": name, "namespace": ns, "uid": pod["metadata"]["uid"]},
        "type": type_, "reason": reason, "message": message, "count": 1,
        "firstTimestamp": now_stamp(), "lastTimestamp": now_stamp(),
    })


# -- kubelet + Multus ------------------------------------------------------------------------------------------
def kubelet(server: FakeApiServer, namespace: str, name: str) -> None:
    """Run a newly created pod (or leave it Pending, saying why), after ``pod_behaviour``'s delay if any."""
    pod = server.objects.get((CORE, "pods", namespace, name))
    if pod is None:
        return
    outcome = server.pod_behaviour(pod)
    if outcome is not None and outcome.delay:
        server.later(outcome.delay, lambda: _apply(server, pod, outcome))
        return
    _apply(server, pod, outcome)


def _schedule(server: FakeApiServer, pod: dict[str, Any]) -> str | None:
    spec = pod.get("spec", {})
    if spec.get("nodeName"):
        return spec["nodeName"]
    selector = spec.get("nodeSelector") or {}
    matching = [n for n in server.list(CORE, "nodes")
                if all((n["metadata"].get("labels") or {}).get(k) == v for k, v in selector.items())]
    if not matching:
        return None
    load = {n["metadata"]["name"]: 0 for n in matching}
    for other in server.list(CORE, "pods"):
        node = other.get("spec", {}).get("nodeName")
        if node in load:
            load[node] += 1
    return min(load, key=lambda n: load[n])


def _multus(server: FakeApiServer, pod: dict[str, Any], node: str) -> tuple[list[dict[str, Any]], str | None]:
    """network-status for the pod, or the sandbox error Multus would report."""
    ns, name = pod["metadata"]["namespace"], pod["metadata"]["name"]
    raw = (pod["metadata"].get("annotations") or {}).get("k8s.v1.cni.cncf.io/networks")
    statuses: list[dict[str, Any]] = [{"name": "ovn-kubernetes", "interface": "eth0", "ips": ["10.128.2.15"],
                                       "mac": "0a:58:0a:80:02:0f", "default": True, "dns": {}}]
    if not raw:
        return statuses, None
    for index, sel in enumerate(json.loads(raw), 1):
        nad_ns = sel.get("namespace", ns)
        if (NAD_GROUP, NADS, nad_ns, sel["name"]) not in server.objects:
            return statuses, (
                f'Failed to create pod sandbox: rpc error: code = Unknown desc = failed to setup network for '
                f'sandbox "{uuid.uuid4().hex}": plugin type="multus" name="multus-cni-network" failed (add): '
                f'Multus: [{ns}/{name}/{pod["metadata"]["uid"]}]: error loading k8s delegates k8s args: '
                f'TryLoadPodDelegates: error in getting k8s network for pod: GetNetworkDelegates: failed getting '
                f'the delegate: getKubernetesDelegate: cannot find a network-attachment-definition '
                f'({sel["name"]}) in namespace ({nad_ns}): network-attachment-definitions.k8s.cni.cncf.io '
                f'"{sel["name"]}" not found')
        mac = sel.get("mac") or "02:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}".format(
            index, *(uuid.uuid5(uuid.NAMESPACE_DNS, f"{ns}/{name}/{node}").bytes[:4]))
        statuses.append({"name": f"{nad_ns}/{sel['name']}", "interface": sel.get("interface", f"net{index}"),
                         "ips": [ip.split("/")[0] for ip in sel.get("ips", [])], "mac": mac, "dns": {}})
    return statuses, None


def _unschedulable(server: FakeApiServer, pod: dict[str, Any], status: dict[str, Any], now: str) -> None:
    nodes = server.list(CORE, "nodes")
    message = (f"0/{len(nodes)} nodes are available: {len(nodes)} node(s) didn't match Pod's node "
               f"affinity/selector. preemption: 0/{len(nodes)} nodes are available: {len(nodes)} "
               "Preemption is not helpful for scheduling.")
    status["conditions"] = [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                             "message": message, "lastTransitionTime": now}]
    event(server, pod, "Warning", "FailedScheduling", message)
    pod["metadata"]["resourceVersion"] = server.store.next_version()


def _apply(server: FakeApiServer, pod: dict[str, Any], outcome: PodOutcome | None) -> None:
    ns, name = pod["metadata"]["namespace"], pod["metadata"]["name"]
    if server.objects.get((CORE, "pods", ns, name)) is not pod:
        return  # deleted meanwhile
    now = now_stamp()
    status = pod.setdefault("status", {})
    node = outcome.node if outcome and outcome.node else _schedule(server, pod)
    if node is None:
        _unschedulable(server, pod, status, now)
        return
    pod["spec"]["nodeName"] = node
    conditions = [{"type": "PodScheduled", "status": "True", "lastTransitionTime": now}]
    event(server, pod, "Normal", "Scheduled", f"Successfully assigned {ns}/{name} to {node}")
    statuses, sandbox_error = _multus(server, pod, node)
    events = list(outcome.events) if outcome else []
    phase = outcome.phase if outcome else "Running"
    waiting = outcome.container_waiting if outcome else None
    if sandbox_error and not outcome:
        events.append(("Warning", "FailedCreatePodSandBox", sandbox_error))
        phase = "Pending"
    for type_, reason, message in events:
        event(server, pod, type_, reason, message)
    containers = pod["spec"].get("containers", [])
    if phase == "Running":
        statuses = server.network_status_hook(pod) or statuses
        pod["metadata"].setdefault("annotations", {})["k8s.v1.cni.cncf.io/network-status"] = json.dumps(
            statuses, indent=4)
        status.update({"phase": "Running", "podIP": "10.128.2.15", "hostIP": "10.0.0.1", "startTime": now})
        conditions += [{"type": t, "status": "True", "lastTransitionTime": now}
                       for t in ("Initialized", "ContainersReady", "Ready")]
        status["containerStatuses"] = [{"name": c["name"], "image": c.get("image"), "ready": True,
                                        "restartCount": 0, "started": True,
                                        "state": {"running": {"startedAt": now}}} for c in containers]
    else:
        status["phase"] = "Pending"
        conditions += [{"type": "Ready", "status": "False", "reason": "ContainersNotReady",
                        "lastTransitionTime": now}]
        reason, message = waiting or ("ContainerCreating", "")
        status["containerStatuses"] = [{"name": c["name"], "image": c.get("image"), "ready": False,
                                        "restartCount": 0, "started": False,
                                        "state": {"waiting": {"reason": reason, "message": message}}}
                                       for c in containers]
    status["conditions"] = (outcome.conditions if outcome and outcome.conditions else conditions)
    pod["metadata"]["resourceVersion"] = server.store.next_version()


# -- cluster network operator ----------------------------------------------------------------------------------
def reconcile_operator(server: FakeApiServer) -> None:
    """Make the NADs match the Raw entries of ``spec.additionalNetworks`` (in namespaces that exist)."""
    if not server.operator_creates_nads:
        return
    network = server.objects.get(("operator.openshift.io", "networks", None, "cluster"))
    wanted = {(e.get("namespace", "default"), e["name"]): e
              for e in ((network or {}).get("spec") or {}).get("additionalNetworks") or [] if e.get("type") == "Raw"}
    for (ns, name), entry in wanted.items():
        if (NAD_GROUP, NADS, ns, name) in server.objects:
            continue
        if (CORE, "namespaces", None, ns) not in server.objects:
            continue  # the real operator logs and retries
        server.add_object(NAD_GROUP, NADS, ns, {
            "apiVersion": "k8s.cni.cncf.io/v1", "kind": "NetworkAttachmentDefinition",
            "metadata": {"name": name, "namespace": ns, "ownerReferences": [
                {"apiVersion": "operator.openshift.io/v1", "kind": "Network", "name": "cluster",
                 "uid": network["metadata"]["uid"]}]},  # type: ignore[index]
            "spec": {"config": entry.get("rawCNIConfig", "")}})
        server.operator_nads.add((ns, name))
    for ns, name in list(server.operator_nads):
        if (ns, name) not in wanted:
            server.objects.pop((NAD_GROUP, NADS, ns, name), None)
            server.operator_nads.discard((ns, name))
