"""Checks are planned by name; this resolves each name against what the target really built: its address, its MAC,
and where probes leave from. Memoised, because a 200-pod matrix resolves tens of thousands of subjects."""

from __future__ import annotations

from dataclasses import dataclass

from netattest.inventory import InterfaceView, Inventory
from netattest.matrix import Subject
from netattest.probe.model import Endpoint


@dataclass(frozen=True)
class Resolved:
    ip: str
    mac: str  # "" for an address nobody holds
    label: str


class Resolver:
    """Subjects -> (address, MAC) as built, or the reason a subject has none."""

    def __init__(self, inventory: Inventory) -> None:
        self.inventory = inventory
        self.pods = {(p.namespace, p.name): p for p in inventory.pods}
        self.hosts = {h.name: h for h in inventory.hosts if h.role == "external"}
        self.nodes = {n.name: n for n in inventory.nodes}
        self._resolved: dict[tuple[str, str, str, str], tuple[Resolved | None, str]] = {}

    def resolve(self, subject: Subject) -> tuple[Resolved | None, str]:
        key = (subject.kind, subject.name, subject.iface, subject.network)
        known = self._resolved.get(key)
        if known is None:
            known = self._resolved[key] = self._resolve(subject)
        return known

    def _resolve(self, subject: Subject) -> tuple[Resolved | None, str]:
        iface: InterfaceView | None = None
        if subject.kind == "address":
            return Resolved(str(subject.address), "", f"{subject.name} address {subject.address} of "
                                                          f"{subject.network}"), ""
        if subject.kind == "network":
            return None, f"no pod on network {subject.network}"
        if subject.kind == "pod":
            namespace, name = subject.name.split("/", 1)
            pod = self.pods.get((namespace, name))
            if pod is None:
                return None, f"pod {subject.name} does not exist"
            iface = pod.interfaces.get(subject.iface)
            if iface is None or not iface.ips:
                why = pod.reason or f"it has no {subject.iface} interface with an address"
                return None, f"pod {pod.label} cannot take part: {why}"
            label = f"{pod.label} {subject.iface}"
        elif subject.kind == "host":
            host = self.hosts.get(subject.name)
            if host is None:
                return None, f"external host {subject.name} is not present on network {subject.network}"
            iface, label = host.interface, f"host {host.name}"
        else:
            node = self.nodes.get(subject.name)
            iface = node.nics.get(subject.iface) if node else None
            if iface is None or not iface.ips:
                return None, f"node {subject.name} has no address on {subject.iface}"
            label = f"node {subject.label}"
        return Resolved(iface.ips[0], iface.mac, label), ""

    def can_send(self, subject: Subject) -> bool:
        """Can the harness send from this subject on this target? Pods always; hosts and nodes only where the
        target gives them a namespace (the lab)."""
        if subject.kind == "pod":
            return True
        if subject.kind == "host":
            host = self.hosts.get(subject.name)
            return host is None or host.netns is not None  # absent: resolution reports it as missing
        if subject.kind == "node":
            node = self.nodes.get(subject.name)
            return node is not None and node.netns is not None
        return False

    def endpoint(self, subject: Subject, resolved: Resolved) -> Endpoint:
        """Where probes of ``subject`` leave from."""
        if subject.kind == "host":
            host = self.hosts[subject.name]
            return Endpoint(host.netns, host.interface.name, resolved.ip, resolved.mac, f"host {host.name}")
        if subject.kind == "node":
            node = self.nodes[subject.name]
            return Endpoint(node.netns, subject.iface, resolved.ip, resolved.mac, f"node {subject.label}")
        namespace, name = subject.name.split("/", 1)
        pod = self.pods[(namespace, name)]
        return Endpoint(pod.netns, subject.iface, resolved.ip, resolved.mac,
                        f"{subject.name}@{pod.node}:{subject.iface}")
