"""What the lab knows of each pod, written to the run directory as it is built, so that a later process can adopt
a kept lab (``netattest run --lab RUN_ID``) and report its pods as the builder would, and ``gc`` can undo the CNI
ADDs of a run whose process died.

Only what cannot be read back from the namespaces is kept (where the pod was scheduled, the CNI calls and their
results, why a pod failed, its manifest, each attachment as requested); everything live (links, addresses,
routes, sysctls) is read again from the namespaces by whoever reports it, so a hand edit to a kept lab shows.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from netattest.annotations import NetworkStatus
from netattest.inventory import DeviceRoundTrip, PodAttachment
from netattest.lab.cni_status import network_status_from_cni_result
from netattest.topology.model import Pod, Topology

POD_RECORDS = "pods"


@dataclass
class PodRecord:
    pod: Pod
    node: str | None
    netns: str | None
    reason: str | None
    calls: list[dict[str, object]]  # each: config, node_netns, pod_netns, ifname, container_id, result, nad
    attachments: list[PodAttachment]
    statuses: list[NetworkStatus]
    manifest: dict[str, Any] = field(default_factory=dict)

    @property
    def file_name(self) -> str:
        return f"{POD_RECORDS}/{self.pod.namespace}.{self.pod.name}.json"

    def to_json(self) -> dict[str, Any]:
        return {"pod": self.pod.key, "node": self.node, "netns": self.netns, "reason": self.reason,
                "calls": self.calls, "manifest": self.manifest,
                "attachments": [_attachment_to_json(a) for a in self.attachments]}


def _attachment_to_json(view: PodAttachment) -> dict[str, Any]:
    data = asdict(view)
    data["attachment"] = view.attachment.key  # the topology's own object is looked up again by its key
    data["requested_ips"] = list(view.requested_ips)
    return data


def record_from_json(data: dict[str, Any], topology: Topology) -> PodRecord:
    """A pod record as written by :meth:`PodRecord.to_json`, its topology objects looked up in ``topology``.
    Raises KeyError/ValueError/TypeError when the record does not fit the topology (the caller explains)."""
    pods = {p.key: p for p in topology.pods}
    attachments = {a.key: a for a in topology.attachments}
    views = []
    for raw in data.get("attachments") or []:
        trip = raw.get("round_trip")
        views.append(PodAttachment(**{**raw, "attachment": attachments[raw["attachment"]],
                                      "requested_ips": tuple(raw.get("requested_ips") or ()),
                                      "round_trip": None if trip is None else DeviceRoundTrip(
                                          **{**trip, "left_in_pod": tuple(trip.get("left_in_pod") or ())})}))
    calls = list(data.get("calls") or [])
    statuses = [network_status_from_cni_result(str(call["nad"]), str(call["ifname"]), call["result"])  # type: ignore[arg-type]
                for call in calls]
    return PodRecord(pods[str(data["pod"])], data.get("node"), data.get("netns"), data.get("reason"), calls, views,
                     statuses, dict(data.get("manifest") or {}))
