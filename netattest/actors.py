"""Who is who on the wire, as observed: turns a bare MAC or address in an answer into the name of an actor.

One index for the judge, the neighbour census and the records, so a reason, a neighbour table and a probe record
never disagree about who answered. Built from the inventory (what the target really built), never from the
topology's promises. Lab-only mis-wiring (routers, impostors) is named as such: it is how a reason can say
"router parp answered ARP for 192.168.111.1, the address of host gateway" instead of blaming the owner.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Literal

from netattest.inventory import Inventory

ActorKind = Literal["pod", "node", "host", "router", "impostor", "unknown"]


@dataclass(frozen=True)
class Actor:
    """Something holding a MAC (and maybe addresses) on a network."""

    kind: ActorKind
    label: str  # "pod pod-a@node1 net1", "node node1/ens192", "host gateway", "router parp (lab-only, ...)"
    mac: str
    ips: tuple[str, ...] = ()
    network: str = ""  # hosts and lab elements: the network of that interface; pods and nodes: ""
    pod: str = ""  # pods: namespace/name, so the interfaces of one pod are known as siblings


UNKNOWN = "unknown host (not in the topology)"
LAB_ONLY = "lab-only, not in the topology"


class Actors:
    """MAC -> actors and address -> actors, for every pod interface, node NIC and host of an inventory."""

    def __init__(self, inventory: Inventory | None) -> None:
        self.by_mac: dict[str, list[Actor]] = defaultdict(list)
        self.by_ip: dict[str, list[Actor]] = defaultdict(list)
        self._pod_macs: dict[str, set[str]] | None = None
        if inventory is None:
            return
        for pod in inventory.pods:
            for iface in pod.interfaces.values():
                if iface.name not in ("lo", "eth0") and iface.mac:  # every secondary interface, whatever its kind
                    self._add(Actor("pod", f"pod {pod.label} {iface.name}", iface.mac, iface.ips, pod=pod.key))
        for node in inventory.nodes:
            for nic in node.nics.values():
                if nic.mac and nic.kind:
                    self._add(Actor("node", f"node {node.name}/{nic.name}", nic.mac, nic.ips))
        for host in inventory.hosts:
            kind: ActorKind = host.role if host.role in ("router", "impostor") else "host"  # type: ignore[assignment]
            label = f"host {host.name}" if kind == "host" else f"{kind} {host.name} ({LAB_ONLY})"
            self._add(Actor(kind, label, host.interface.mac, host.interface.ips, host.network))

    def _add(self, actor: Actor) -> None:
        self._pod_macs = None
        self.by_mac[actor.mac].append(actor)
        for ip in actor.ips:
            self.by_ip[ip].append(actor)

    def owners(self, mac: str) -> str:
        """Everyone carrying ``mac``, e.g. "pod pod-a@node1 net1 / node node1/ens224" for ipvlan."""
        actors = self.by_mac.get(mac)
        return " / ".join(a.label for a in actors) if actors else UNKNOWN

    def holder(self, ip: str, mac: str) -> Actor | None:
        """The actor that holds ``ip`` at ``mac``: who really answered, when both agree."""
        return next((a for a in self.by_ip.get(ip, ()) if a.mac == mac), None)

    def who(self, ip: str, mac: str) -> str:
        """A name for whoever answered as ``ip`` from ``mac``: its holder, or the owner of the MAC answering for an
        address that is not its own, or an unknown host."""
        holder = self.holder(ip, mac)
        if holder is not None:
            return holder.label
        return self.owners(mac)

    def pod_macs(self, pod: str) -> set[str]:
        """Every MAC of the secondary interfaces of pod ``namespace/name``."""
        if self._pod_macs is None:  # asked once per isolation check: indexed on first use
            self._pod_macs = {}
            for mac, actors in self.by_mac.items():
                for a in actors:
                    if a.pod:
                        self._pod_macs.setdefault(a.pod, set()).add(mac)
        return set(self._pod_macs.get(pod, ()))

    def address_of(self, ip: str) -> str:
        """Whose address ``ip`` is (by the inventory), e.g. "host gateway"; "" when nobody's."""
        return " / ".join(a.label for a in self.by_ip.get(ip, ()))
