"""Namespaces and wires: the fabric switch, access ports, and hosts plugged into them.

Links are only ever created *inside* namespaces of this run (veth pairs are created in the fabric namespace with
their peer moved straight into the target namespace), so the root namespace never sees a link or an address.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from ipaddress import IPv4Interface
from typing import Any

from pyroute2 import IPRoute, netns

from netattest.lab.nsenter import in_netns, netns_path, write_sysctls

#: Lab namespaces drop IPv6 so that router solicitations and DAD never add noise to probe windows.
QUIET_SYSCTLS = {
    "net/ipv6/conf/all/disable_ipv6": "1",
    "net/ipv6/conf/default/disable_ipv6": "1",
}
#: No ARP flux on nodes: answer only on the NIC that owns the address, announce only matching sources.
NODE_SYSCTLS = {
    "net/ipv4/conf/all/arp_ignore": "1",
    "net/ipv4/conf/all/arp_announce": "2",
    "net/ipv4/conf/default/arp_ignore": "1",
    "net/ipv4/conf/default/arp_announce": "2",
}


@dataclass
class Namespace:
    """A network namespace of this run with one open netlink handle.

    The handle is a plain IPRoute opened while the thread is inside the namespace (a netlink socket stays bound
    to the namespace it was created in): 0.2 ms, against 6 ms for pyroute2's NetNS, which forks a helper.
    """

    name: str
    ipr: Any = field(default=None, repr=False)

    @classmethod
    def create(cls, name: str, sysctls: dict[str, str] | None = None) -> "Namespace":
        netns.create(name)
        with in_netns(name):
            handle = IPRoute()
        ns = cls(name, handle)
        ns.link_up("lo")
        write_sysctls(name, {**QUIET_SYSCTLS, **(sysctls or {})})
        return ns

    def index(self, ifname: str) -> int:
        found = self.ipr.link_lookup(ifname=ifname)
        if not found:
            raise LookupError(f"no interface {ifname} in {self.name}")
        return int(found[0])

    def link_up(self, ifname: str, *, mtu: int | None = None, mac: str | None = None,
                master: int | None = None) -> int:
        idx = self.index(ifname)
        settings: dict[str, Any] = {"state": "up"}
        if mtu:
            settings["mtu"] = mtu
        if mac:
            settings["address"] = mac
        if master is not None:
            settings["master"] = master
        self.ipr.link("set", index=idx, **settings)
        return idx

    def add_address(self, ifname: str, address: IPv4Interface) -> None:
        self.ipr.addr("add", index=self.index(ifname), address=str(address.ip), prefixlen=address.network.prefixlen)

    def add_default_route(self, gateway: str) -> None:
        self.ipr.route("add", dst="0.0.0.0/0", gateway=gateway)

    def close(self) -> None:
        if self.ipr is not None:
            self.ipr.close()
            self.ipr = None


class Fabric:
    """The switch: one Linux bridge per network (this needs no 802.1Q support from the kernel)."""

    def __init__(self, ns: Namespace) -> None:
        self.ns = ns
        self.bridges: dict[str, int] = {}
        self._ports = 0

    def add_network(self, network: str, mtu: int) -> None:
        name = f"br{len(self.bridges)}"
        self.ns.ipr.link("add", ifname=name, kind="bridge", br_stp_state=0, br_forward_delay=0)
        self.bridges[network] = self.ns.link_up(name, mtu=mtu)

    def plug(self, network: str, target: Namespace, ifname: str, *, mtu: int = 1500,
             mac: str | None = None) -> None:
        """Wire ``target:ifname`` to the access port of ``network`` and bring both ends up."""
        self._ports += 1
        port = f"p{self._ports}"
        self.ns.ipr.link("add", ifname=port, kind="veth",
                         peer={"ifname": ifname, "net_ns_fd": netns_path(target.name)})
        self.ns.link_up(port, mtu=mtu, master=self.bridges[network])
        target.link_up(ifname, mtu=mtu, mac=mac)


def remove_namespace(name: str) -> None:
    """Delete a namespace; links inside it die with it. 'Already gone' is not an error."""
    try:
        netns.remove(name)
    except FileNotFoundError:
        pass
