"""What a target actually built, as observed: the suites compare this with the topology's expectations.

Target-neutral on purpose: the lab fills it from namespaces it reads with netlink, the cluster target from the
API and from inside the pods. Every field is *observed*, never copied from the topology, so a check that compares
the two can fail.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from netattest.annotations import NetworkStatus
from netattest.topology.model import Attachment


@dataclass(frozen=True)
class InterfaceView:
    """An interface as seen inside its namespace / pod."""

    name: str
    mac: str
    addresses: tuple[str, ...]  # CIDRs
    kind: str  # link kind from netlink (ipvlan, macvlan, veth, vlan, ...); "" when unknown
    mtu: int
    up: bool
    mode: str = ""  # ipvlan/macvlan mode as the kernel reports it

    @cached_property  # frozen; resolving a large matrix asks for it tens of thousands of times
    def ips(self) -> tuple[str, ...]:
        return tuple(a.split("/")[0] for a in self.addresses)


@dataclass(frozen=True)
class PodAttachment:
    """One requested secondary network of a pod and what became of it."""

    network: str  # topology network (VLAN) name
    attachment: Attachment  # as the topology expects it
    applied_plugin: str  # as actually applied (differs only under lab drift or cluster drift)
    applied_mode: str
    interface: str  # requested interface name inside the pod
    requested_ips: tuple[str, ...]
    master: str
    master_mac: str | None  # the node's master NIC MAC, observed on the node
    error: str | None = None  # why the attachment failed (CNI error, pod not scheduled, ...)


@dataclass
class PodView:
    name: str
    namespace: str
    node: str | None
    phase: str  # Running | Pending | Failed
    reason: str | None
    interfaces: dict[str, InterfaceView] = field(default_factory=dict)
    network_status: list[NetworkStatus] = field(default_factory=list)
    attachments: list[PodAttachment] = field(default_factory=list)
    netns: str | None = None  # lab only: where probes of this pod are sent from
    manifest: dict[str, object] = field(default_factory=dict)
    routes: list[str] = field(default_factory=list)  # IPv4 routes inside the pod, "default via 1.2.3.4 dev net1"

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def label(self) -> str:
        return f"{self.name}@{self.node or 'unscheduled'}"


@dataclass
class NodeView:
    name: str
    labels: dict[str, str]
    nics: dict[str, InterfaceView]
    netns: str | None = None


@dataclass
class HostView:
    """An external host (or lab-only element) on a network."""

    name: str
    network: str
    interface: InterfaceView
    role: str = "external"  # external | router | impostor
    netns: str | None = None


@dataclass
class Inventory:
    run_id: str
    target: str  # "lab" | "kubernetes"
    pods: list[PodView]
    nodes: list[NodeView]
    hosts: list[HostView]
    notes: list[str] = field(default_factory=list)  # things the report must say (emulations, drift)

    def pod(self, name: str, namespace: str | None = None) -> PodView:
        return next(p for p in self.pods if p.name == name and (namespace is None or p.namespace == namespace))

    def node(self, name: str) -> NodeView:
        return next(n for n in self.nodes if n.name == name)
