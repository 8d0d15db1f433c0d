"""The wired part of a topology: networks (VLANs), nodes with their NICs (access ports, trunks, VLAN
sub-interfaces) and the external hosts on the VLANs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .build_base import BuilderBase
from .model import ExternalHost, Network, Nic, Node, NodeBridge
from .wording import Path, _choose, _int, _q


class InfraSection(BuilderBase):
    def build_networks(self) -> tuple[Network, ...]:
        vlans: dict[int, Path] = {}
        for path, raw in self.items("networks"):
            name = self.k8s_name(path + ("name",), raw["name"], "network name")
            if name in self.networks:
                first = next(p for p, r in self.items("networks") if r["name"] == name)
                self.fail(
                    path + ("name",),
                    f"duplicate network name {_q(name)} (first at {self.at(first)})",
                    "rename one",
                )
            vlan = _int(raw.get("vlan"))
            if vlan is not None and vlan in vlans:
                self.fail(
                    path + ("vlan",),
                    f"VLAN {vlan} is already used by {self.at(vlans[vlan])}",
                    "give each network its own VLAN id",
                )
            if vlan is not None:
                vlans[vlan] = path
            subnet = self.subnet(path + ("subnet",), raw["subnet"])
            network = Network(name, subnet, vlan, None, raw.get("routed", True), _int(raw.get("mtu")) or 1500,
                              raw.get("unknownNeighbours", "report"))
            if "gateway" in raw:
                gateway = self.address(path + ("gateway",), raw["gateway"], network)
                network = Network(name, subnet, vlan, gateway, network.routed, network.mtu, network.unknown_neighbours)
            self.networks[name] = network
        return tuple(self.networks.values())

    # -- nodes and NICs ----------------------------------------------------------------------------------------

    def build_nodes(self) -> tuple[Node, ...]:
        for path, raw in self.items("nodes"):
            name = self.k8s_name(path + ("name",), raw["name"], "node name", subdomain=True)
            self.unique_host(name, path + ("name",), f"node {name}")
            labels = self.labels(path + ("labels",), raw.get("labels", {}), f"node {name} label")
            nics = self.build_nics(path, name, raw["nics"])
            bridges = tuple(self.node_bridge(path + ("bridges", k), name, b, nics)
                            for k, b in enumerate(raw.get("bridges", [])))
            self.nodes[name] = Node(name, labels, nics, bridges)
        return tuple(self.nodes.values())

    def node_bridge(self, path: Path, node: str, raw: dict[str, Any], nics: tuple[Nic, ...]) -> NodeBridge:
        """A bridge the node keeps for bridge NADs; its uplink must be one of the node's access NICs."""
        name = self.ifname(path + ("name",), raw["name"], "bridge name")
        if any(nic.name == name for nic in nics):
            self.fail(path + ("name",), f"node {node} already has a NIC named {name}", "give the bridge its own name")
        uplink = raw.get("uplink")
        if uplink is not None:
            nic = next((n for n in nics if n.name == uplink), None)
            if nic is None or nic.trunk or nic.parent:
                self.fail(path + ("uplink",), f"uplink {_q(uplink)} of bridge {name} is not an access NIC of node "
                                              f"{node}", _choose(uplink, [n.name for n in nics if n.network]))
        return NodeBridge(name, uplink, bool(raw.get("vlanFiltering", False)))

    def build_nics(self, path: Path, node: str, raws: list[dict[str, Any]]) -> tuple[Nic, ...]:
        index: dict[str, int] = {}
        for j, raw in enumerate(raws):
            nic_path = path + ("nics", j, "name")
            name = self.ifname(nic_path, raw["name"], "NIC name")
            if name in index:
                first = path + ("nics", index[name], "name")
                self.fail(
                    nic_path, f"node {node} has two NICs named {name} (first at {self.at(first)})", "rename one"
                )
            index[name] = j
        return tuple(self.build_nic(path + ("nics", j), node, raw, raws, index) for j, raw in enumerate(raws))

    def build_nic(
        self, path: Path, node: str, raw: dict[str, Any], raws: list[dict[str, Any]], index: Mapping[str, int]
    ) -> Nic:
        name = raw["name"]
        network = self.network_ref(path + ("network",), raw["network"]) if "network" in raw else None
        trunk = self.trunk(path + ("trunk",), raw["trunk"]) if "trunk" in raw else ()
        vlan = _int(raw.get("vlan"))
        if trunk:
            if network is not None:
                self.fail(
                    path + ("network",),
                    f"NIC {name} on node {node} is a trunk and also names access network {network.name}",
                    "remove 'network' (a trunk carries its networks tagged) or remove 'trunk'",
                )
            for key in ("parent", "vlan", "address"):
                if key in raw:
                    self.fail(
                        path + (key,),
                        f"trunk NIC {name} on node {node} cannot have '{key}' (it has no untagged network)",
                        f"remove '{key}'; put addresses on a VLAN sub-interface (a NIC with parent: {name})",
                    )
        elif "parent" in raw:
            vlan = self.sub_interface(path, node, raw, network, raws, index)
        elif vlan is not None:
            self.fail(
                path + ("vlan",),
                f"NIC {name} on node {node} has 'vlan' but no 'parent'",
                "add parent: <trunk NIC> to make it a VLAN sub-interface, or remove vlan (an access port's VLAN "
                "comes from its network)",
            )
        elif network is None:
            self.fail(
                path,
                f"NIC {name} on node {node} is not wired to any network",
                "add network: <name> (access port), trunk: [<networks>], or parent: <trunk NIC> with network",
            )
        address = None
        if "address" in raw and network is not None:
            address = self.interface(path + ("address",), raw["address"], network)
            self.claim_ip(address.ip, f"NIC {name} of node {node}", path + ("address",))
        # a NIC carries its network's MTU unless told otherwise; a trunk must carry the largest of its networks'
        mtu = _int(raw.get("mtu")) or (network.mtu if network else max(self.networks[n].mtu for n in trunk))
        return Nic(name, network.name if network else None, address, mtu, trunk, raw.get("parent"), vlan)

    def trunk(self, path: Path, names: list[str]) -> tuple[str, ...]:
        for k, name in enumerate(names):
            network = self.network_ref(path + (k,), name)
            if names.index(name) != k:
                self.fail(path + (k,), f"network {name} is listed twice in the trunk", "list it once")
            if network.vlan is None:
                self.fail(
                    path + (k,),
                    f"network {name} has no vlan id, so a trunk cannot carry it tagged",
                    f"give network {name} a vlan, or connect it through an access NIC (network: {name})",
                )
        return tuple(names)

    def sub_interface(
        self,
        path: Path,
        node: str,
        raw: dict[str, Any],
        network: Network | None,
        raws: list[dict[str, Any]],
        index: Mapping[str, int],
    ) -> int:
        """Check a VLAN sub-interface against its trunk parent; return its VLAN id (the network's)."""
        name, parent = raw["name"], raw["parent"]
        if network is None:
            self.fail(
                path,
                f"VLAN sub-interface {name} on node {node} has no network",
                "add network: <the VLAN's network>",
            )
        if parent not in index or parent == name:
            others = [r["name"] for r in raws if r["name"] != name]
            self.fail(
                path + ("parent",),
                f"parent NIC {_q(parent)} does not exist on node {node}",
                _choose(parent, others),
            )
        if network.vlan is None:
            self.fail(
                path + ("network",),
                f"network {network.name} has no vlan id, so {name} cannot be a VLAN sub-interface in it",
                f"give network {network.name} a vlan, or make {name} an access NIC (remove parent)",
            )
        trunk = raws[index[parent]].get("trunk", [])
        if network.name not in trunk:
            what = (
                f"trunk {parent} does not carry"
                if trunk
                else f"parent {parent} is not a trunk, so it cannot carry"
            )
            self.fail(
                path + ("parent",),
                f"{what} network {network.name}",
                f"add {network.name} to {parent}'s trunk list",
            )
        vlan = _int(raw.get("vlan", network.vlan))
        if vlan != network.vlan:
            self.fail(
                path + ("vlan",),
                f"vlan {vlan} of {name} does not match network {network.name}'s VLAN id {network.vlan}",
                f"set vlan: {network.vlan}, or remove vlan (it defaults to the network's)",
            )
        return vlan

    # -- external hosts ----------------------------------------------------------------------------------------

    def build_external_hosts(self) -> tuple[ExternalHost, ...]:
        for path, raw in self.items("externalHosts"):
            name = self.k8s_name(path + ("name",), raw["name"], "external host name")
            self.unique_host(name, path + ("name",), f"external host {name}")
            network = self.network_ref(path + ("network",), raw["network"])
            address = self.interface(path + ("address",), raw["address"], network)
            self.claim_ip(address.ip, f"external host {name}", path + ("address",))
            mac = self.mac(path + ("mac",), raw["mac"], f"external host {name}") if "mac" in raw else None
            host = ExternalHost(name, network.name, address, mac, raw.get("dhcpServer", False),
                                raw.get("dhcpDefaultRoute", False))
            self.external_hosts[name] = host
        return tuple(self.external_hosts.values())
