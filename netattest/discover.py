"""A starting topology drafted from what a live cluster already holds: its NADs, its nodes and their labels, and the
nodes' NICs as host-network pods read them.

Pure: :class:`ClusterFacts` in, YAML text out (``netattest discover`` gathers the facts). Every value the cluster
does not state — a VLAN id read from a NIC name, a subnet behind dhcp, the addresses of static probe pods, the
expectations themselves — carries a ``# GUESSED`` or ``# CONFIRM`` comment, so the user reviews exactly those lines.
A NAD the topology schema cannot express is skipped with one line saying why.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Interface, IPv4Network, ip_interface, ip_network
from typing import Any

import yaml

from netattest.inventory import InterfaceView
from netattest.ipam_pool import whereabouts_range
from netattest.naming import DNS1123_LABEL_MAX, is_dns1123_label
from netattest.routes import parse_route
from netattest.topology.model import CHAIN_PLUGINS
from netattest.topology.model import PLUGIN_MODES as MODES

#: node labels every node carries or that describe the machine, not the networks: left out of the draft
NOISE_LABEL_PREFIXES = ("beta.kubernetes.io/", "kubernetes.io/", "topology.kubernetes.io/", "feature.node.",
                        "node.openshift.io/", "machineconfiguration.openshift.io/", "node.kubernetes.io/")
#: links on a node that are not NICs a NAD could use (CNI, overlays, bridges of the default network)
NOT_NICS = re.compile(r"^(lo|veth.*|cni.*|flannel.*|cilium.*|vxlan.*|genev_sys.*|ovs-.*|br-int|br-ex|ovn-.*|"
                      r"tun.*|tap.*|docker.*|kube-.*|cali.*|tunl.*|weave.*|nodelocaldns)$")
IPAM_STATE_KEYS = ("dataDir", "daemonSocketPath", "kubernetes", "kubeconfig", "log_file", "log_level",
                   "etcd_host", "datastore")
PLACEHOLDER_SUBNET = "192.0.2.0/24"  # TEST-NET-1: never a real network, obviously a placeholder


@dataclass
class ClusterFacts:
    """What ``netattest discover`` read from the cluster."""

    where: str
    nads: list[dict[str, Any]]
    nodes: list[dict[str, Any]]
    nics: dict[str, dict[str, InterfaceView]] = field(default_factory=dict)  # node -> links, read by node pods
    routes: dict[str, list[str]] = field(default_factory=dict)  # node -> its routing table, read by node pods
    node_selector: dict[str, str] = field(default_factory=dict)


@dataclass
class _Nad:
    namespace: str
    name: str
    entry: dict[str, Any]  # the topology's attachment entry
    subnet: IPv4Network | None
    subnet_note: str
    vlan: int | None
    vlan_note: str
    static_addresses: list[str]  # addresses the NAD itself gives (static IPAM): one pod only


class Draft:
    """Collects the draft's entries and the lines that say what was skipped or guessed."""

    def __init__(self, facts: ClusterFacts) -> None:
        self.facts = facts
        self.skipped: list[str] = []

    # -- NADs ------------------------------------------------------------------------------------------------
    def nad(self, obj: dict[str, Any]) -> _Nad | None:
        meta = obj.get("metadata") or {}
        namespace, name = str(meta.get("namespace") or ""), str(meta.get("name") or "")
        where = f"NAD {namespace}/{name}"
        try:
            config = json.loads((obj.get("spec") or {}).get("config") or "")
        except ValueError:
            self.skipped.append(f"{where}: spec.config is not JSON")
            return None
        plugins = config.get("plugins") if isinstance(config.get("plugins"), list) else [config]
        if not plugins or not isinstance(plugins[0], dict):
            self.skipped.append(f"{where}: no plugin in its config")
            return None
        main, chained = plugins[0], plugins[1:]
        kind = str(main.get("type") or "")
        if kind not in MODES:
            self.skipped.append(f"{where}: plugin {kind or '(none)'} is not one netattest can express "
                                f"({', '.join(MODES)})")
            return None
        entry: dict[str, Any] = {"name": name, "namespace": namespace, "network": "", "plugin": kind}
        if main.get("mode") and main["mode"] in MODES[kind]:
            entry["mode"] = main["mode"]
        if main.get("master"):
            entry["master"] = main["master"]
        if isinstance(main.get("mtu"), int):
            entry["mtu"] = main["mtu"]
        if kind == "bridge":
            entry["bridge"] = main.get("bridge") or "cni0"
            for key in ("vlan", "isGateway", "ipMasq", "hairpinMode"):
                if key in main:
                    entry[key] = main[key]
        if kind == "host-device":
            if not main.get("device"):
                self.skipped.append(f"{where}: host-device by hwaddr/kernelpath/pciBusID cannot be expressed (only "
                                    "device)")
                return None
            entry["device"] = main["device"]
        for plugin in chained:
            if not isinstance(plugin, dict) or plugin.get("type") not in CHAIN_PLUGINS:
                self.skipped.append(f"{where}: chained plugin {plugin.get('type') if isinstance(plugin, dict) else '?'}"
                                    f" is not one of {', '.join(CHAIN_PLUGINS)}")
                return None
            if plugin["type"] == "tuning" and "tuning" not in entry:
                entry["tuning"] = {k: plugin[k] for k in ("mac", "promisc", "sysctl") if k in plugin}
            else:
                entry.setdefault("chain", []).append({k: v for k, v in plugin.items() if k != "capabilities"})
        ipam = main.get("ipam") or {}
        ipam_type = str(ipam.get("type") or "none")
        entry["ipam"] = {"type": ipam_type, **{k: v for k, v in ipam.items() if k != "type"
                                               and k not in IPAM_STATE_KEYS}}
        subnet, subnet_note = self.subnet_of(ipam_type, ipam)
        vlan, vlan_note = self.vlan_of(kind, main)
        statics = [str(a.get("address")) for a in ipam.get("addresses") or [] if isinstance(a, dict)]
        return _Nad(namespace, name, entry, subnet, subnet_note, vlan, vlan_note,
                    statics if ipam_type == "static" else [])

    @staticmethod
    def subnet_of(kind: str, ipam: dict[str, Any]) -> tuple[IPv4Network | None, str]:
        try:
            if kind == "host-local":
                ranges = ipam.get("ranges")
                first = ranges[0][0] if isinstance(ranges, list) and ranges and ranges[0] else ipam
                return ip_network(str(first["subnet"]), strict=False), ""  # type: ignore[return-value]
            if kind == "whereabouts":
                return whereabouts_range(ipam)[0], ""
            if kind == "static" and ipam.get("addresses"):
                return ip_interface(str(ipam["addresses"][0]["address"])).network, ""  # type: ignore[return-value]
        except (KeyError, TypeError, ValueError, IndexError):
            pass
        return None, f"{kind} IPAM does not state the subnet"

    @staticmethod
    def vlan_of(kind: str, main: dict[str, Any]) -> tuple[int | None, str]:
        if kind == "vlan" and isinstance(main.get("vlanId"), int):
            return int(main["vlanId"]), ""
        if kind == "bridge" and isinstance(main.get("vlan"), int):
            return None, ""  # the tag is on the bridge port, not the network's wire
        match = re.search(r"\.(\d{1,4})$", str(main.get("master") or ""))
        if match and 1 <= int(match.group(1)) <= 4094:
            return int(match.group(1)), f"VLAN read from the master's name {main['master']}"
        return None, ""

    # -- nodes -----------------------------------------------------------------------------------------------
    def nodes(self) -> list[dict[str, Any]]:
        """Schedulable nodes matching the selector, as (name, labels, taints) dicts."""
        chosen = []
        for node in self.facts.nodes:
            meta = node.get("metadata") or {}
            labels = dict(meta.get("labels") or {})
            if any(labels.get(k) != v for k, v in self.facts.node_selector.items()):
                continue
            taints = (node.get("spec") or {}).get("taints") or []
            if any(t.get("effect") in ("NoSchedule", "NoExecute") for t in taints):
                continue
            chosen.append({"name": meta.get("name"), "labels": labels})
        return chosen


def _segment(nad: _Nad, nodes_known: bool) -> str:
    """Which L2 segment a NAD's pods land on: NADs on one master (or device, or bridge and tag) share it; a
    master-less ipvlan/macvlan takes the node's default-route NIC, hence the nodes' network."""
    entry = nad.entry
    if entry["plugin"] == "bridge":
        return f"bridge:{entry['bridge']}:{entry.get('vlan', '')}"
    link = entry.get("master") or entry.get("device")
    if link:
        return f"link:{link}"
    return "nodes" if nodes_known else f"nad:{nad.namespace}/{nad.name}"


def _flow(value: Any) -> str:
    return yaml.safe_dump(value, default_flow_style=True, width=10_000, sort_keys=False).strip()


def _label(text: str, taken: set[str]) -> str:
    base = re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")[:DNS1123_LABEL_MAX - 4].strip("-") or "net"
    name, n = base, 2
    while name in taken or not is_dns1123_label(name):
        name, n = f"{base}-{n}", n + 1
    taken.add(name)
    return name


#: link kinds that are never a node's NIC (the lab's node NICs are veths into its switch, hence not listed)
NOT_NIC_KINDS = ("bridge", "macvlan", "ipvlan", "vxlan", "geneve", "tun", "dummy", "openvswitch", "wireguard")


def _nic_names(links: dict[str, InterfaceView]) -> list[str]:
    return [n for n, link in links.items() if not NOT_NICS.match(n) and link.kind not in NOT_NIC_KINDS]


def draft_topology(facts: ClusterFacts, name: str = "discovered") -> tuple[str, list[str]]:
    """The topology text and the lines to show the user (NADs skipped, what was guessed)."""
    draft = Draft(facts)
    nads = [n for n in (draft.nad(obj) for obj in facts.nads) if n is not None]
    nodes = draft.nodes()
    taken: set[str] = set()
    lines: list[str] = [
        f"# Drafted by 'netattest discover' from {facts.where}.",
        "# Review every line marked GUESSED or CONFIRM, then: netattest render --topology <this file>",
        "apiVersion: netattest/v1", "kind: Topology", f"name: {_label(name, set())}",
        f"description: drafted from {facts.where}", "", "networks:"]
    # the nodes' own network, from the default-route NIC's address where node pods read it
    node_net: IPv4Network | None = None
    gateway = None
    for node in nodes:
        default = next((r for r in map(parse_route, facts.routes.get(node["name"], []))
                        if r is not None and r.dst.prefixlen == 0), None)
        link = facts.nics.get(node["name"], {}).get(default.device if default else "")
        if link and link.addresses:
            node_net = ip_interface(link.addresses[0]).network  # type: ignore[assignment]
            gateway = default.gateway if default and default.gateway in node_net else None  # type: ignore[operator]
            break
    networks: dict[str, str] = {}  # segment key -> network name
    if node_net is not None:
        networks["nodes"] = _label("nodes", taken)
        nodes_entry = {"name": networks["nodes"], "subnet": str(node_net)}
        if gateway is not None:
            nodes_entry["gateway"] = str(gateway)
        lines.append(f"  - {_flow(nodes_entry)}  # the nodes' own network (default-route NIC)")
    groups: dict[str, list[_Nad]] = {}
    for nad in nads:
        groups.setdefault(_segment(nad, node_net is not None), []).append(nad)
    for key, members in groups.items():
        if key == "nodes":
            for nad in members:
                nad.entry["network"] = networks["nodes"]
            continue
        networks[key] = _label(members[0].name, taken)
        subnet = next((n.subnet for n in members if n.subnet), None)
        vlan = next((n for n in members if n.vlan is not None), None)
        entry: dict[str, Any] = {"name": networks[key], "subnet": str(subnet or PLACEHOLDER_SUBNET)}
        notes = [f"NADs {', '.join(f'{n.namespace}/{n.name}' for n in members)}"]
        if vlan is not None:
            entry["vlan"] = vlan.vlan
            if vlan.vlan_note:
                notes.append(f"GUESSED: {vlan.vlan_note}")
        if subnet is None:
            notes.append(f"GUESSED: {members[0].subnet_note}; set the VLAN's real subnet")
        for nad in members:
            nad.entry["network"] = networks[key]
            nad.subnet = nad.subnet or subnet  # a static NAD without addresses: its segment's subnet
        lines.append(f"  - {_flow(entry)}  # {'; '.join(notes)}")
    lines += ["", "nodes:"]
    masters = {str(n.entry.get("master") or n.entry.get("device") or ""): n for n in nads}
    for node in nodes:
        links = facts.nics.get(node["name"], {})
        labels = {k: v for k, v in node["labels"].items() if not k.startswith(NOISE_LABEL_PREFIXES)
                  or k.startswith("node-role.kubernetes.io/")}
        nics: list[tuple[dict[str, Any], str]] = []
        unwired: list[str] = []
        names = _nic_names(links) if links else sorted(m for m in masters if m)
        for nic in names:
            link = links.get(nic)
            entry = {"name": nic}
            note = "" if links else "GUESSED: a NAD's master; the node's NICs were not read"
            owner = masters.get(nic)
            if owner is not None:
                entry["network"] = owner.entry["network"]
            elif link and link.addresses and node_net and ip_interface(link.addresses[0]).ip in node_net:
                entry["network"] = networks["nodes"]
                entry["address"] = link.addresses[0]
            if "network" not in entry:
                unwired.append(nic)
                continue
            if link is not None and link.mtu and link.mtu != 1500:
                entry["mtu"] = link.mtu
            nics.append((entry, note))
        if not nics:  # the schema wants one NIC: the first NAD's link, marked
            first = next(iter(nads), None)
            if first is None:
                continue
            nics.append(({"name": str(first.entry.get("master") or first.entry.get("device") or "eth1"),
                          "network": first.entry["network"]}, "GUESSED: no NIC of this node was read"))
        lines.append(f"  - name: {node['name']}")
        if labels:
            lines.append(f"    labels: {_flow(labels)}")
        lines.append("    nics:")
        lines += [f"      - {_flow(e)}" + (f"  # {n}" if n else "") for e, n in nics]
        if unwired:
            lines.append(f"      # not in any NAD or the nodes' network: {', '.join(unwired)}")
    lines += ["", "attachments:"]
    lines += [f"  - {_flow(n.entry)}" for n in nads] or ["  []"]
    lines += ["", "pods:"]
    pods = _probe_pods(nads, nodes, facts, taken)
    lines += [f"  - {_flow(p)}" + (f"  # {note}" if note else "") for p, note in pods] or ["  []"]
    lines += ["", "expectations:"]
    expectations = []
    for network in dict.fromkeys(n.entry["network"] for n in nads):
        expectations.append(f"  - {_flow({'from': network, 'to': network, 'expect': 'reachable'})}"
                            "  # CONFIRM: pods of one VLAN reach each other")
        if node_net is not None and network != networks["nodes"]:
            expectations.append(f"  - {_flow({'from': network, 'to': networks['nodes'], 'expect': 'isolated'})}"
                                "  # CONFIRM: the VLAN is not routed to the nodes' network")
    lines += expectations or ["  []"]
    notes = [f"skipped {s}" for s in draft.skipped]
    if not facts.nics:
        notes.append("node NICs were not read (no node pods): NIC names are the NADs' masters, marked GUESSED")
    return "\n".join(lines) + "\n", notes


def _probe_pods(nads: list[_Nad], nodes: list[dict[str, Any]], facts: ClusterFacts,
                taken: set[str]) -> list[tuple[dict[str, Any], str]]:
    """One probe pod per NAD and node that can carry it (the node has the master, or its NICs are unknown); a NAD
    with its own static addresses gets one pod, a static NAD without them gets guessed addresses."""
    pods: list[tuple[dict[str, Any], str]] = []
    claimed: set[IPv4Address] = {IPv4Interface(a).ip for n in nads for a in n.static_addresses if "/" in a}
    for nad in nads:
        link = str(nad.entry.get("master") or nad.entry.get("device") or "")
        carriers = [n["name"] for n in nodes if not link or not facts.nics.get(n["name"])
                    or link in facts.nics[n["name"]]]
        if nad.static_addresses:
            carriers = carriers[:1]
        hosts: list[IPv4Interface | None] = [None] * len(carriers)
        if nad.entry["ipam"]["type"] == "static" and not nad.static_addresses:
            subnet = nad.subnet or IPv4Network(PLACEHOLDER_SUBNET)
            free = [ip for ip in reversed(list(subnet.hosts())[1:-1]) if ip not in claimed][:len(carriers)]
            claimed.update(free)
            hosts = [IPv4Interface(f"{ip}/{subnet.prefixlen}") for ip in free]
        for node, address in zip(carriers, hosts, strict=False):  # a subnet too full for every carrier: fewer pods
            pod: dict[str, Any] = {"name": _label(f"{nad.name}-{node}", taken), "namespace": nad.namespace,
                                   "nodeSelector": {"kubernetes.io/hostname": node}}
            network: dict[str, Any] = {"attachment": nad.name}
            note = ""
            if address is not None:
                network["ips"] = [str(address)]
                note = "GUESSED: a free address for the probe pod (static IPAM)"
            pod["networks"] = [network]
            pods.append((pod, note))
    return pods
