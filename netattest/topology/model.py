"""The topology model: what a lab or cluster looks like and what its secondary networks must do.

Plain frozen dataclasses so that a loaded topology can be shared by fixtures, targets and the matrix builder
without anyone mutating it. The loader (``netattest.topology.loader``) is the only place that builds them from
YAML; lab-only drift (deliberate mis-wiring) lives in :class:`LabSpec` so expectations stay untouched by it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from ipaddress import IPv4Address, IPv4Interface, IPv4Network
from typing import Literal

Plugin = Literal["ipvlan", "macvlan", "vlan", "bridge", "host-device"]
IpamType = Literal["static", "host-local", "dhcp", "whereabouts", "none"]
Verdict = Literal["reachable", "isolated"]

#: Modes each plugin accepts, as the CNI plugins spell them ("" = the plugin has no mode).
PLUGIN_MODES: dict[str, tuple[str, ...]] = {
    "ipvlan": ("l2", "l3", "l3s"),
    "macvlan": ("bridge", "private", "vepa", "passthru"),
    "vlan": ("",),
    "bridge": ("",),
    "host-device": ("",),
}
#: plugins whose children hang off a master NIC (master optional: the node's default-route interface otherwise)
MASTER_PLUGINS = ("ipvlan", "macvlan", "vlan")
#: meta plugins a NAD may chain after its main plugin (a conflist), from the CNI reference plugins
CHAIN_PLUGINS = ("tuning", "bandwidth", "sbr", "firewall", "portmap", "vrf")
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
class NodeBridge:
    """A Linux bridge on a node that bridge NADs attach pods to: with an uplink NIC it joins that NIC's network;
    without one it is local to the node (pods on other nodes can never reach it at L2)."""

    name: str
    uplink: str | None = None
    vlan_filtering: bool = False  # the admin made it VLAN-aware; else the bridge plugin's tags mean nothing


@dataclass(frozen=True)
class Node:
    name: str
    labels: Mapping[str, str]
    nics: tuple[Nic, ...]
    bridges: tuple[NodeBridge, ...] = ()

    def nic(self, name: str) -> Nic | None:
        return next((n for n in self.nics if n.name == name), None)

    def bridge(self, name: str) -> NodeBridge | None:
        return next((b for b in self.bridges if b.name == name), None)

    def default_nic(self, networks: Mapping[str, Network]) -> Nic | None:
        """The NIC of the node's default route, as the lab sets it: the first NIC with an address in a network
        with a gateway (a macvlan/ipvlan NAD without master takes its children from it)."""
        for nic in self.nics:
            network = networks.get(nic.network or "")
            if nic.address and network is not None and network.gateway and network.gateway != nic.address.ip:
                return nic
        return None

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

    def routes(self) -> list[dict[str, object]]:
        """The ``routes`` entries of the config (each a mapping with ``dst`` and maybe ``gw``)."""
        routes = self.config.get("routes")
        return [dict(r) for r in routes if isinstance(r, Mapping)] if isinstance(routes, list) else []

    def static_addresses(self) -> list[str]:
        """The addresses a static IPAM config gives in the NAD itself (not through the annotation)."""
        entries = self.config.get("addresses") if self.type == "static" else None
        return [str(e["address"]) for e in entries if isinstance(e, Mapping) and "address" in e] \
            if isinstance(entries, list) else []


@dataclass(frozen=True)
class BridgeOptions:
    """The bridge plugin's settings (``bridge``, ``vlan``, ``isGateway``, ``ipMasq``, ``hairpinMode``)."""

    name: str = "cni0"
    vlan: int | None = None
    is_gateway: bool = False
    ip_masq: bool = False
    hairpin: bool = False


@dataclass(frozen=True)
class Tuning:
    """The tuning plugin chained after the main one: a static MAC, promiscuous mode, sysctls in the pod."""

    mac: str | None = None
    promisc: bool | None = None
    sysctl: Mapping[str, str] = field(default_factory=dict)

    def config(self) -> dict[str, object]:
        # "mac" capability: the MAC of a networks-annotation entry reaches tuning, as Multus hands it over
        out: dict[str, object] = {"type": "tuning", "capabilities": {"mac": True}}
        if self.mac:
            out["mac"] = self.mac
        if self.promisc is not None:
            out["promisc"] = self.promisc
        if self.sysctl:
            out["sysctl"] = dict(self.sysctl)
        return out


@dataclass(frozen=True)
class Attachment:
    """A NetworkAttachmentDefinition.

    ``master``: the parent NIC of ipvlan/macvlan/vlan children; None lets the plugin take the node's default-route
    interface. ``bridge``: the bridge plugin's settings; ``device``: the node link host-device moves into the pod.
    ``tuning`` and ``chain``: plugins chained after the main one (the NAD then holds a conflist).
    """

    name: str
    namespace: str
    network: str
    plugin: Plugin
    mode: str
    master: str | None
    ipam: Ipam
    mtu: int | None = None
    bridge: BridgeOptions | None = None
    device: str | None = None
    tuning: Tuning | None = None
    chain: tuple[Mapping[str, object], ...] = ()

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    def master_on(self, node: Node, networks: Mapping[str, Network]) -> str | None:
        """The master NIC the plugin uses on ``node``: the NAD's, or the node's default-route interface."""
        if self.plugin not in MASTER_PLUGINS:
            return None
        if self.master:
            return self.master
        nic = node.default_nic(networks)
        return nic.name if nic else None


@dataclass(frozen=True)
class PodNetwork:
    """One entry of a pod's ``k8s.v1.cni.cncf.io/networks`` annotation."""

    attachment: str  # NAD name, in the pod's namespace unless given as ns/name
    interface: str
    ips: tuple[IPv4Interface, ...] = ()
    mac: str | None = None
    namespace: str | None = None
    default_route: tuple[IPv4Address, ...] = ()  # Multus "default-route": the pod's default gateway via this one

    def nad(self, pod_namespace: str) -> tuple[str, str]:
        """(namespace, name) of the NAD this entry names, as Multus resolves it: ``ns/name``, else ``namespace``,
        else the pod's own namespace."""
        if "/" in self.attachment:
            namespace, name = self.attachment.split("/", 1)
            return namespace, name
        return self.namespace or pod_namespace, self.attachment


@dataclass(frozen=True)
class Pod:
    """A pod; ``attach_fails``: the pod's sandbox must fail to attach its networks, for a reason containing this
    text (the plugin's or Multus's own message) — a negative scenario, passed only when it fails that way."""

    name: str
    namespace: str
    node_selector: Mapping[str, str]
    networks: tuple[PodNetwork, ...] = ()
    attach_fails: str | None = None

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
    bridge_port_vlan: Mapping[str, int] = field(default_factory=dict)  # "pod/iface" -> the tag its port really gets
    host_device_kept: tuple[str, ...] = ()  # "pod/iface": renamed in the pod, so CNI DEL cannot give it back
    drop_chain: tuple[str, ...] = ()  # NAD names applied without their chained plugins (tuning never runs)
    nic_down: tuple[str, ...] = ()  # "node/nic": taken down after the node is built, as a hand edit would

    def any(self) -> bool:
        return any(bool(getattr(self, f.name)) for f in fields(self))


@dataclass(frozen=True)
class LabSpec:
    routers: tuple[RouterSpec, ...] = ()
    impostors: tuple[ImpostorSpec, ...] = ()
    drift: Drift = field(default_factory=Drift)
    leaks: tuple[LeakSpec, ...] = ()


@dataclass(frozen=True)
class MultusConfig:
    """How the cluster's Multus is configured where it changes what a pod may attach (``namespaceIsolation``:
    a pod may only use NADs of its own namespace and of ``nonIsolatedNamespaces``)."""

    namespace_isolation: bool = False
    non_isolated_namespaces: tuple[str, ...] = ("default",)


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
    multus: MultusConfig = field(default_factory=MultusConfig)

    def network(self, name: str) -> Network:
        return next(n for n in self.networks if n.name == name)

    def node(self, name: str) -> Node:
        return next(n for n in self.nodes if n.name == name)

    def attachment(self, namespace: str, name: str) -> Attachment:
        return next(a for a in self.attachments if a.namespace == namespace and a.name == name)

    def nad_of(self, pod: Pod, net: PodNetwork) -> Attachment | None:
        """The NAD a pod's networks entry names, or None when it names one the topology lacks (attachFails)."""
        return self.find_attachment(*net.nad(pod.namespace))

    def find_attachment(self, namespace: str, name: str) -> Attachment | None:
        """The NAD, or None when the topology does not define it (a pod expecting its attachment to fail)."""
        return next((a for a in self.attachments if a.namespace == namespace and a.name == name), None)

    def nodes_matching(self, selector: Mapping[str, str]) -> tuple[Node, ...]:
        """Nodes whose labels satisfy a nodeSelector (every key present with an equal value)."""
        return tuple(n for n in self.nodes if all(n.all_labels().get(k) == v for k, v in selector.items()))

    def plugins(self) -> set[str]:
        """CNI plugin types the lab really applies, lab drift included (decides the kernel features needed)."""
        drift = self.lab.drift.nad_plugin
        return {drift[a.name][0] if a.name in drift else a.plugin for a in self.attachments}

    def bridge_vlans(self) -> bool:
        """Does a bridge NAD tag its ports (the bridge plugin then turns on vlan_filtering), or a node keep a
        VLAN-aware bridge?"""
        return (any(a.bridge is not None and a.bridge.vlan is not None for a in self.attachments)
                or any(b.vlan_filtering for n in self.nodes for b in n.bridges))

    def networks_by_name(self) -> dict[str, Network]:
        return {n.name: n for n in self.networks}
