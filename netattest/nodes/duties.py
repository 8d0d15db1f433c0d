"""What the topology asks of each node, derived from the topology alone (never from what was built).

A node *carries the label* of a NAD when it matches the nodeSelector of a pod that asks for that NAD, with the
pod's ``kubernetes.io/hostname`` pin left out: the label, not the pin, is what promises that any such node can
carry the network (a pod pinned by hostname alone keeps its pin). A node that carries the label of a NAD must have
its master NIC fit for it; a node that carries no label of a VLAN must stay off that VLAN.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from ipaddress import IPv4Network
from pathlib import Path

from netattest.manifests import pod_selections
from netattest.nodes.facts import DHCP_DEFAULT_SOCKET
from netattest.topology.model import HOSTNAME_LABEL, Attachment, Network, Nic, Node, Topology

#: IPAM types whose binary differs in the lab: whereabouts cannot run without the Kubernetes API, so the lab
#: emulates it with host-local (see netattest.lab.nads).
LAB_IPAM_BINARY = {"whereabouts": "host-local"}


@dataclass(frozen=True)
class MasterDuty:
    """One master NIC a labelled node must have, for the NADs that name it."""

    node: str
    master: str
    attachments: tuple[Attachment, ...]
    declared: Nic | None  # the NIC as the topology declares it on this node (None: not declared there)
    expected_mtu: int
    parent: str | None  # a VLAN sub-interface's trunk NIC
    vlan: int | None  # the VLAN id a sub-interface must tag
    label: str  # the selector that makes the node carry these NADs, for messages

    @property
    def id(self) -> str:
        return f"{self.node}:{self.master}"

    @property
    def nads(self) -> str:
        return ", ".join(f"{a.key} ({a.plugin}{' ' + a.mode if a.mode else ''})" for a in self.attachments)

    @property
    def networks(self) -> tuple[str, ...]:
        return tuple(sorted({a.network for a in self.attachments}))

    @property
    def plugins(self) -> tuple[str, ...]:
        return tuple(sorted({a.plugin for a in self.attachments}))

    @property
    def only_master(self) -> bool:
        """The NIC exists for ipvlan/macvlan children only (the topology gives it no address of the node's)."""
        return (self.declared is None or self.declared.address is None) and bool(
            set(self.plugins) & {"ipvlan", "macvlan"})

    @property
    def nad_mtu(self) -> int | None:
        mtus = [a.mtu for a in self.attachments if a.mtu]
        return max(mtus) if mtus else None


@dataclass(frozen=True)
class OffVlan:
    """A node that carries no label of a VLAN's NADs: it must not sit in that VLAN."""

    node: str
    network: str
    subnet: IPv4Network
    vlan: int | None
    masters: tuple[str, ...]  # master NIC names the VLAN's NADs use on labelled nodes

    @property
    def id(self) -> str:
        return f"{self.node}:{self.network}"


def _selector_text(selector: dict[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(selector.items())) or "no nodeSelector (every node)"


def label_selectors(topology: Topology, attachment: Attachment) -> list[dict[str, str]]:
    """The node selectors (hostname pins left out) of the pods that ask for ``attachment``."""
    return _selectors_by_attachment(topology).get((attachment.namespace, attachment.name), [])


_LAST: list[tuple[Topology, dict[tuple[str, str], list[dict[str, str]]]]] = []


def _selectors_by_attachment(topology: Topology) -> dict[tuple[str, str], list[dict[str, str]]]:
    """Every attachment's selectors in one pass over the pods, kept for the last topology asked about: the node
    checks ask per node and per attachment, which at 200 pods was half a million annotation parses."""
    if _LAST and _LAST[0][0] is topology:
        return _LAST[0][1]
    found: dict[tuple[str, str], list[dict[str, str]]] = {}
    for pod in topology.pods:
        selector = {k: v for k, v in pod.node_selector.items() if k != HOSTNAME_LABEL} or dict(pod.node_selector)
        for selection in pod_selections(pod):
            known = found.setdefault((selection.namespace, selection.name), [])
            if selector not in known:
                known.append(selector)
    _LAST[:] = [(topology, found)]
    return found


def _matching(node: Node, selectors: list[dict[str, str]]) -> dict[str, str] | None:
    labels = node.all_labels()
    return next((s for s in selectors if all(labels.get(k) == v for k, v in s.items())), None)


def carried(topology: Topology, node: Node) -> list[tuple[Attachment, dict[str, str]]]:
    """The NADs ``node`` carries the label of, each with the selector that makes it so."""
    out = []
    for attachment in topology.attachments:
        selector = _matching(node, label_selectors(topology, attachment))
        if selector is not None:
            out.append((attachment, selector))
    return out


def node_link(attachment: Attachment, node: Node, networks: Mapping[str, Network]) -> str | None:
    """The node NIC a NAD's pods hang off on ``node``: the master (the default-route NIC when the NAD has none),
    host-device's device, or the uplink of a declared bridge; None for a node-local bridge."""
    if attachment.plugin == "host-device":
        return attachment.device
    if attachment.bridge is not None:
        bridge = node.bridge(attachment.bridge.name)
        return bridge.uplink if bridge else None
    return attachment.master_on(node, networks)


def master_duties(topology: Topology) -> list[MasterDuty]:
    duties = []
    networks = topology.networks_by_name()
    for node in topology.nodes:
        by_master: dict[str, list[tuple[Attachment, dict[str, str]]]] = {}
        for attachment, selector in carried(topology, node):
            link = node_link(attachment, node, networks)
            if link is not None:
                by_master.setdefault(link, []).append((attachment, selector))
        for master, entries in by_master.items():
            attachments = tuple(a for a, _ in entries)
            nic = node.nic(master)
            network = topology.network(attachments[0].network)
            parent = nic.parent if nic else None
            vlan = (nic.vlan or (topology.network(nic.network).vlan if nic.network else None)) if parent and nic \
                else None
            duties.append(MasterDuty(node.name, master, attachments, nic, nic.mtu if nic else network.mtu, parent,
                                     vlan, _selector_text(entries[0][1])))
    return duties


def labelled_nodes(topology: Topology) -> list[str]:
    return [n.name for n in topology.nodes if carried(topology, n)]


def off_vlan(topology: Topology) -> list[OffVlan]:
    """(node, VLAN) pairs where the node carries no label of any NAD of that VLAN — unless the topology itself puts
    an address of the node in that VLAN (a master that is the node's own default interface, the usual upstream
    setup with pods pinned by hostname): a declared address is intended, not an unwatched way in."""
    out = []
    for network in topology.networks:
        attachments = [a for a in topology.attachments if a.network == network.name]
        if not attachments:
            continue
        masters = tuple(sorted({m for a in attachments for m in [a.master or a.device] if m}))
        for node in topology.nodes:
            if any(nic.network == network.name and nic.address for nic in node.nics):
                continue
            if not any(a.network == network.name for a, _ in carried(topology, node)):
                out.append(OffVlan(node.name, network.name, network.subnet, network.vlan, masters))
    return out


def required_binaries(topology: Topology, node: str, *, lab: bool) -> dict[str, tuple[str, ...]]:
    """CNI binary -> the NADs that need it on ``node``. In the lab, the plugin the lab really applies (lab drift
    included) and the lab's IPAM emulation."""
    drift = topology.lab.drift.nad_plugin if lab else {}
    need: dict[str, list[str]] = {}
    for attachment, _ in carried(topology, topology.node(node)):
        plugin = drift[attachment.name][0] if attachment.name in drift else attachment.plugin
        ipam: str = attachment.ipam.type
        if lab:
            ipam = LAB_IPAM_BINARY.get(ipam, ipam)
        chained = (["tuning"] if attachment.tuning else []) + [str(c["type"]) for c in attachment.chain]
        for binary in [plugin, *([ipam] if ipam != "none" else []), *chained]:
            need.setdefault(binary, []).append(attachment.key)
    return {binary: tuple(nads) for binary, nads in sorted(need.items())}


def dhcp_nads(topology: Topology, node: str) -> tuple[str, ...]:
    """NADs with dhcp IPAM that ``node`` carries: the CNI dhcp daemon must run there."""
    return tuple(a.key for a, _ in carried(topology, topology.node(node)) if a.ipam.type == "dhcp")


def whereabouts_nads(topology: Topology, node: str) -> tuple[str, ...]:
    return tuple(a.key for a, _ in carried(topology, topology.node(node)) if a.ipam.type == "whereabouts")


def dhcp_sockets(topology: Topology, node: str, *, lab_run_dir: Path | None = None) -> tuple[str, ...]:
    """Where the dhcp IPAM of ``node``'s NADs dials the daemon: the lab's config (socket in its run directory)
    or the NAD's ``daemonSocketPath``, else the plugin's default."""
    sockets: list[str] = []
    for attachment, _ in carried(topology, topology.node(node)):
        if attachment.ipam.type != "dhcp":
            continue
        if lab_run_dir is not None:
            from netattest.lab.nads import NadStore
            nad = NadStore(topology).get(attachment.namespace, attachment.name)
            ipam = nad.cni_config(node, lab_run_dir)["ipam"] if nad else {}
        else:
            ipam = dict(attachment.ipam.config)
        socket = str(ipam.get("daemonSocketPath") or DHCP_DEFAULT_SOCKET)
        if socket not in sockets:
            sockets.append(socket)
    return tuple(sockets)
