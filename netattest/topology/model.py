"""The topology model: what a lab or cluster looks like and what its secondary networks must do.

Plain frozen dataclasses so that a loaded topology can be shared by fixtures, targets and the matrix builder
without anyone mutating it. The loader (``netattest.topology.loader``) is the only place that builds them from
YAML; lab-only drift (deliberate mis-wiring) lives in :class:`LabSpec` so expectations stay untouched by it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Interface, IPv4Network
from typing import Literal, Mapping

Plugin = Literal["ipvlan", "macvlan", "vlan"]
IpamType = Literal["static", "host-local", "dhcp", "whereabouts"]
Verdict = Literal["reachable", "isolated"]

#: Modes each plugin accepts, as the CNI plugins spell them.
PLUGIN_MODES: dict[str, tuple[str, ...]] = {
    "ipvlan": ("l2", "l3", "l3s"),
    "macvlan": ("bridge", "private", "vepa", "passthru"),
    "vlan": ("",),
}
HOSTNAME_LABEL = "kubernetes.io/hostname"


@dataclass(frozen=True)
class Network:
    """A VLAN / L2 segment."""

    name: str
    subnet: IPv4Network
    vlan: int | None = None
    gateway: IPv4Address | None = None
    routed: bool = True
    mtu: int = 1500
    #: what a host on this VLAN that the topology does not declare is: a finding the report lists ("report"),
    #: or a failure of the VLAN's neighbour census ("fail")
    unknown_neighbours: str = "report"


@dataclass(frozen=True)
class Nic:
    """A node NIC: an access port in one network, or a trunk carrying several tagged networks.

    A VLAN sub-interface of a trunk (``ens224.112``) is a Nic with ``parent`` and ``vlan`` set.
    """

    name: str
    network: str | None = None
    address: IPv4Interface | None = None
    mtu: int = 1500
    trunk: tuple[str, ...] = ()
    parent: str | None = None
    vlan: int | None = None


@dataclass(frozen=True)
class Node:
    name: str
    labels: Mapping[str, str]
    nics: tuple[Nic, ...]

    def nic(self, name: str) -> Nic | None:
        return next((n for n in self.nics if n.name == name), None)

    def all_labels(self) -> dict[str, str]:
        """Labels including the implicit ``kubernetes.io/hostname`` every real node carries."""
        return {HOSTNAME_LABEL: self.name, **dict(self.labels)}


@dataclass(frozen=True)
class ExternalHost:
    """A host on a VLAN that is not a pod: a gateway, a DHCP server, a server pods must (not) reach."""

    name: str
    network: str
    address: IPv4Interface
    mac: str | None = None
    dhcp_server: bool = False
    #: May the DHCP server hand itself out as default router? By default it must not hijack the pod's default route.
    dhcp_default_route: bool = False

    def dhcp_range(self, subnet: IPv4Network) -> tuple[IPv4Address, IPv4Address]:
        """The lab's DHCP pool: host addresses .100 to .199 of the subnet (offsets, so any prefix works)."""
        return subnet.network_address + 100, subnet.network_address + 199


@dataclass(frozen=True)
class Ipam:
    type: IpamType
    #: Extra keys passed through to the IPAM plugin (ranges, routes, gateway, ...), camelCase as CNI spells them.
    config: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class Attachment:
    """A NetworkAttachmentDefinition."""

    name: str
    namespace: str
    network: str
    plugin: Plugin
    mode: str
    master: str
    ipam: Ipam
    mtu: int | None = None

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True)
class PodNetwork:
    """One entry of a pod's ``k8s.v1.cni.cncf.io/networks`` annotation."""

    attachment: str  # NAD name, in the pod's namespace unless given as ns/name
    interface: str
    ips: tuple[IPv4Interface, ...] = ()
    mac: str | None = None
    namespace: str | None = None


@dataclass(frozen=True)
class Pod:
    name: str
    namespace: str
    node_selector: Mapping[str, str]
    networks: tuple[PodNetwork, ...] = ()

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True)
class Expectation:
    """Pods on network ``source`` must (not) reach the addresses on network ``target``."""

    source: str
    target: str
    verdict: Verdict
    why: str = ""


@dataclass(frozen=True)
class RouterSpec:
    """Lab-only: a router joining networks, to model a mis-wired network on purpose.

    ``forward``: the directions it forwards, as (from network, to network); empty = every direction. ``stateful``:
    answers to a forwarded direction come back even when the reverse direction is not forwarded (a stateful
    firewall); off, a one-way router drops them. ``protocols``: the IP protocols it forwards (icmp, udp, tcp);
    empty = all. ``nat``: masquerade what it forwards (the far side sees the router's address).
    """

    name: str
    legs: tuple[tuple[str, IPv4Interface], ...]  # (network, address)
    proxy_arp: bool = True
    forward: tuple[tuple[str, str], ...] = ()
    protocols: tuple[str, ...] = ()
    nat: bool = False
    stateful: bool = False


@dataclass(frozen=True)
class ImpostorSpec:
    """Lab-only: a host on ``network`` that answers ARP for an address it does not own."""

    name: str
    network: str
    claims: IPv4Address


@dataclass(frozen=True)
class LeakSpec:
    """Lab-only: an L2 leak that bridges the frames of several VLANs together (a trunk leaking 112 into 113)."""

    name: str
    networks: tuple[str, ...]


@dataclass(frozen=True)
class Drift:
    """Lab-only: how the built lab deliberately differs from what the topology expects."""

    nad_plugin: Mapping[str, tuple[str, str]] = field(default_factory=dict)  # NAD name -> (plugin, mode)
    pod_node: Mapping[str, str] = field(default_factory=dict)  # pod name -> node name (bypass the selector)
    pod_ips: Mapping[str, tuple[IPv4Interface, ...]] = field(default_factory=dict)  # "pod/iface" -> ips
    remove_external_hosts: tuple[str, ...] = ()
    dhcp_default_route: tuple[str, ...] = ()  # DHCP servers that hand out a default route against the topology


@dataclass(frozen=True)
class LabSpec:
    routers: tuple[RouterSpec, ...] = ()
    impostors: tuple[ImpostorSpec, ...] = ()
    drift: Drift = field(default_factory=Drift)
    leaks: tuple[LeakSpec, ...] = ()


@dataclass(frozen=True)
class Topology:
    name: str
    source: str  # file path as given (for messages)
    sha256: str  # of the file's bytes, for evidence
    networks: tuple[Network, ...]
    nodes: tuple[Node, ...]
    external_hosts: tuple[ExternalHost, ...]
    attachments: tuple[Attachment, ...]
    pods: tuple[Pod, ...]
    expectations: tuple[Expectation, ...]
    lab: LabSpec = field(default_factory=LabSpec)
    description: str = ""

    def network(self, name: str) -> Network:
        return next(n for n in self.networks if n.name == name)

    def node(self, name: str) -> Node:
        return next(n for n in self.nodes if n.name == name)

    def attachment(self, namespace: str, name: str) -> Attachment:
        return next(a for a in self.attachments if a.namespace == namespace and a.name == name)

    def nodes_matching(self, selector: Mapping[str, str]) -> tuple[Node, ...]:
        """Nodes whose labels satisfy a nodeSelector (every key present with an equal value)."""
        return tuple(n for n in self.nodes if all(n.all_labels().get(k) == v for k, v in selector.items()))

    def plugins(self) -> set[str]:
        """CNI plugin types the lab really applies, lab drift included (decides the kernel features needed)."""
        drift = self.lab.drift.nad_plugin
        return {drift[a.name][0] if a.name in drift else a.plugin for a in self.attachments}
