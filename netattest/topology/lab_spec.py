"""The ``lab:`` section: deliberate mis-wiring that exists only in the embedded lab — routers (with one-way,
per-protocol and NAT faults), L2 leaks, ARP impostors and drift — so the harness can prove its checks fail, and fail
for the right reason. Only references are checked here; a fault may break every other rule on purpose."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

from .build_base import BuilderBase
from .model import Drift, ImpostorSpec, LabSpec, LeakSpec, Pod, RouterSpec
from .wording import Path, _choose, _q


class LabSection(BuilderBase):
    def build_lab(self) -> LabSpec:
        lab = self.data.get("lab", {})
        routers = tuple(self.router(("lab", "routers", i), raw) for i, raw in enumerate(lab.get("routers", [])))
        impostors = tuple(
            self.impostor(("lab", "impostors", i), raw) for i, raw in enumerate(lab.get("impostors", []))
        )
        drift = self.drift(("lab", "drift"), lab.get("drift", {}))
        leaks = tuple(self.leak(("lab", "leaks", i), raw) for i, raw in enumerate(lab.get("leaks", [])))
        return LabSpec(routers, impostors, drift, leaks)

    def leak(self, path: Path, raw: dict[str, Any]) -> LeakSpec:
        name = self.k8s_name(path + ("name",), raw["name"], "leak name")
        self.unique_host(name, path + ("name",), f"leak {name}")
        networks = tuple(self.network_ref(path + ("networks", k), ref).name for k, ref in enumerate(raw["networks"]))
        if len(set(networks)) != len(networks):
            self.fail(path + ("networks",), f"leak {name} names a network twice", "name each network once")
        return LeakSpec(name, networks)

    def router(self, path: Path, raw: dict[str, Any]) -> RouterSpec:
        name = self.k8s_name(path + ("name",), raw["name"], "router name")
        self.unique_host(name, path + ("name",), f"router {name}")
        legs: list[tuple[str, ipaddress.IPv4Interface]] = []
        for k, leg in enumerate(raw["legs"]):
            leg_path = path + ("legs", k)
            network = self.network_ref(leg_path + ("network",), leg["network"])
            if any(n == network.name for n, _ in legs):
                self.fail(
                    leg_path + ("network",), f"router {name} has two legs in network {network.name}", "keep one"
                )
            address = self.interface(leg_path + ("address",), leg["address"], network)
            self.claim_ip(address.ip, f"router {name} leg in {network.name}", leg_path + ("address",))
            legs.append((network.name, address))
        forward = tuple(self.direction(path + ("forward", k), text, name, [n for n, _ in legs])
                        for k, text in enumerate(raw.get("forward", [])))
        protocols = tuple(dict.fromkeys(raw.get("protocols", [])))
        return RouterSpec(name, tuple(legs), raw.get("proxyArp", True), forward, protocols, raw.get("nat", False),
                          raw.get("stateful", False))

    def direction(self, path: Path, text: str, router: str, legs: list[str]) -> tuple[str, str]:
        """A router's forwarding direction, written "from-network -> to-network" between two of its legs."""
        parts = [p.strip() for p in text.split("->")]
        if len(parts) != 2 or not all(parts):
            self.fail(path, f"router {router}: direction {_q(text)} is not 'from -> to'",
                      f"write it as '{legs[0]} -> {legs[-1]}'")
        for part in parts:
            if part not in legs:
                self.fail(path, f"router {router}: {_q(part)} is not one of its legs ({', '.join(legs)})",
                          "name two networks the router has a leg in")
        if parts[0] == parts[1]:
            self.fail(path, f"router {router}: direction {_q(text)} goes nowhere", "name two different legs")
        return parts[0], parts[1]

    def impostor(self, path: Path, raw: dict[str, Any]) -> ImpostorSpec:
        name = self.k8s_name(path + ("name",), raw["name"], "impostor name")
        self.unique_host(name, path + ("name",), f"impostor {name}")
        network = self.network_ref(path + ("network",), raw["network"])
        return ImpostorSpec(name, network.name, self.address(path + ("claims",), raw["claims"], network))

    def drift(self, path: Path, raw: dict[str, Any]) -> Drift:
        """Drift is deliberate mis-wiring: only its references are checked, never duplicates or subnets.

        Keys may be written ``name`` or ``namespace/name`` but are stored by bare name (``pod/iface`` for podIps),
        which is how the lab looks them up; so a referenced name must be unique across namespaces.
        """
        nad_plugin = {}
        for ref, spec in raw.get("nadPlugin", {}).items():
            ref_path = path + ("nadPlugin", ref)
            attachment = self.find(ref_path, ref, self.attachments, "NAD")
            nad_plugin[attachment.name] = (spec["plugin"], self.mode(ref_path, spec["plugin"], spec.get("mode")))
        pod_node = {}
        for ref, node in raw.get("podNode", {}).items():
            pod = self.find(path + ("podNode", ref), ref, self.pods, "pod")
            if node not in self.nodes:
                self.fail(path + ("podNode", ref), f"unknown node {_q(node)}", _choose(node, list(self.nodes)))
            pod_node[pod.name] = node
        pod_ips = {}
        for ref, ips in raw.get("podIps", {}).items():
            pod, iface = self.drift_interface(path + ("podIps", ref), ref)
            pod_ips[f"{pod.name}/{iface}"] = tuple(
                self.interface(path + ("podIps", ref, k), v, None) for k, v in enumerate(ips)
            )
        removed = self.host_refs(path + ("removeExternalHosts",), raw.get("removeExternalHosts", []))
        routers = self.host_refs(path + ("dhcpDefaultRoute",), raw.get("dhcpDefaultRoute", []))
        port_vlan = {}
        for ref, vid in raw.get("bridgePortVlan", {}).items():
            port_vlan[self.drift_key(path + ("bridgePortVlan", ref), ref)] = int(vid)
        kept = tuple(self.drift_key(path + ("hostDeviceKept", k), ref)
                     for k, ref in enumerate(raw.get("hostDeviceKept", [])))
        dropped = tuple(self.find(path + ("dropChain", k), ref, self.attachments, "NAD").name
                        for k, ref in enumerate(raw.get("dropChain", [])))
        down = tuple(self.node_nic(path + ("nicDown", k), ref) for k, ref in enumerate(raw.get("nicDown", [])))
        return Drift(nad_plugin, pod_node, pod_ips, removed, routers, port_vlan, kept, dropped, down)

    def node_nic(self, path: Path, ref: str) -> str:
        """``node/nic`` of a NIC the topology gives that node."""
        node, slash, nic = ref.partition("/")
        if not slash or not node or not nic:
            self.fail(path, f"{_q(ref)} is not node/nic", "write it like node1/ens224")
        if node not in self.nodes:
            self.fail(path, f"unknown node {_q(node)}", _choose(node, list(self.nodes)))
        nics = [n.name for n in self.nodes[node].nics]
        if nic not in nics:
            self.fail(path, f"node {node} has no NIC {_q(nic)}", _choose(nic, nics) if nics else "give it a NIC")
        return ref

    def drift_key(self, path: Path, ref: str) -> str:
        """``pod/iface`` as the lab looks it up (bare pod name)."""
        pod, iface = self.drift_interface(path, ref)
        return f"{pod.name}/{iface}"

    def drift_interface(self, path: Path, ref: str) -> tuple[Pod, str]:
        pod_ref, slash, iface = ref.rpartition("/")
        if not slash or not pod_ref:
            self.fail(path, f"key {_q(ref)} is not pod/interface", "write it like pod-a/net1")
        pod = self.find(path, pod_ref, self.pods, "pod")
        names = [n.interface for n in pod.networks]
        if iface not in names:
            fix = _choose(iface, names) if names else "give the pod a network first"
            self.fail(path, f"pod {pod.key} has no interface {_q(iface)}", fix)
        return pod, iface

    def host_refs(self, path: Path, names: list[str]) -> tuple[str, ...]:
        for k, name in enumerate(names):
            if name not in self.external_hosts:
                fix = _choose(name, list(self.external_hosts)) if self.external_hosts else "remove it"
                self.fail(path + (k,), f"unknown external host {_q(name)}", fix)
        return tuple(names)

    def find(self, path: Path, ref: str, table: Mapping[tuple[str, str], Any], what: str) -> Any:
        """Look up ``name`` or ``namespace/name``; the bare name must be unique (drift is applied by name)."""
        namespace, _, name = ref.rpartition("/")
        found = [v for (ns, n), v in table.items() if n == name and (not namespace or ns == namespace)]
        if not found:
            known = [f"{ns}/{n}" if namespace else n for ns, n in table]
            fix = _choose(ref, known) if known else f"define the {what} first"
            self.fail(path, f"unknown {what} {_q(ref)}", fix)
        namespaces = sorted(ns for ns, n in table if n == name)
        if len(namespaces) > 1:
            self.fail(
                path,
                f"lab drift applies by name, and {what} name {_q(name)} exists in several namespaces "
                f"({', '.join(namespaces)})",
                f"rename the {what} in all but one namespace",
            )
        return found[0]
