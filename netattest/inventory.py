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
    promisc: bool = False  # IFF_PROMISC: the tuning plugin's promisc, macvlan passthru's master
    peer_index: int = 0  # IFLA_LINK: a veth's peer (its ifindex in the peer's namespace), how a port is found

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
    master: str | None  # the master NIC the plugin used (the node's default-route interface when the NAD has none)
    master_mac: str | None  # the node's master NIC MAC, observed on the node
    error: str | None = None  # why the attachment failed (CNI error, pod not scheduled, ...)
    host_port: str | None = None  # bridge plugin: the pod's port on the node bridge (the veth's host side)
    round_trip: DeviceRoundTrip | None = None  # host-device: what CNI DEL gave back to the node (lab only)


@dataclass(frozen=True)
class DeviceRoundTrip:
    """A host-device attachment taken down and up again: whether CNI DEL put the node's link back, as the node
    shows it afterwards. Observed once at deploy (ADD, DEL, look, ADD), because a pod that releases its device
    on restart is half of what host-device promises."""

    device: str
    mac_before: str  # the device on the node before the first ADD
    returned: bool  # the node has a link of that name again after DEL
    mac_after: str = ""
    up_after: bool = False
    left_in_pod: tuple[str, ...] = ()  # pod links still there after DEL (a device DEL could not find)
    note: str = ""


@dataclass(frozen=True)
class BridgeVlan:
    vid: int
    pvid: bool
    untagged: bool


@dataclass(frozen=True)
class BridgePort:
    """A port of a node bridge as the node reports it (``bridge -d vlan show``): its bridge, VLAN entries and
    hairpin mode; a pod's port is the one whose index is the pod veth's peer."""

    name: str
    index: int
    bridge: str
    vlans: tuple[BridgeVlan, ...] = ()
    hairpin: bool = False
    vlan_filtering: bool = False  # of its bridge: without it, VLAN entries are kept but never enforced

    @property
    def pvid(self) -> int | None:
        return next((v.vid for v in self.vlans if v.pvid), None)

    @classmethod
    def from_wire(cls, data: dict[str, object]) -> BridgePort:
        vlans = tuple(BridgeVlan(int(v["vid"]), bool(v["pvid"]), bool(v["untagged"]))  # type: ignore[index]
                      for v in data.get("vlans") or [])  # type: ignore[attr-defined]
        return cls(str(data["name"]), int(data["index"]), str(data["bridge"]), vlans,  # type: ignore[call-overload]
                   bool(data.get("hairpin")), bool(data.get("vlan_filtering")))


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
    sysctls: dict[str, str] = field(default_factory=dict)  # the tuning sysctls its NADs set, as read in the pod

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def label(self) -> str:
        return f"{self.name}@{self.node or 'unscheduled'}"

    @property
    def annotations(self) -> dict[str, str]:
        """The pod's annotations as the target last saw them (networks, network-status)."""
        metadata = self.manifest.get("metadata")
        found = metadata.get("annotations") if isinstance(metadata, dict) else None
        return {str(k): str(v) for k, v in found.items()} if isinstance(found, dict) else {}


@dataclass
class NodeView:
    name: str
    labels: dict[str, str]
    nics: dict[str, InterfaceView]
    netns: str | None = None
    bridge_ports: list[BridgePort] = field(default_factory=list)  # read when a NAD uses the bridge plugin

    def port_of(self, iface: InterfaceView) -> BridgePort | None:
        """The bridge port a pod's veth is plugged into (the veth's peer index), or None."""
        return next((p for p in self.bridge_ports if iface.peer_index and p.index == iface.peer_index), None)


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
