"""Namespaces and wires: the fabric switch, access ports, and hosts plugged into them.

Links are only ever created *inside* namespaces of this run (veth pairs are created in the fabric namespace with
their peer moved straight into the target namespace), so the root namespace never sees a link or an address.
"""

from __future__ import annotations

import ctypes
import errno
import os
import signal
import socket
import struct
import threading
from dataclasses import dataclass, field
from ipaddress import IPv4Interface
from typing import Any

from pyroute2 import IPRoute

from netattest.lab.nsenter import in_netns, netns_path, write_sysctls

CLONE_NEWNET = 0x40000000
MS_BIND = 4096
MNT_DETACH = 2
_libc = ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def create_netns(name: str) -> None:
    """Create a named namespace as ``ip netns add`` does, but in a short-lived thread instead of a forked helper.

    A forked helper (pyroute2's way) outlives a SIGKILLed owner and may create the namespace after ``gc`` has run,
    and a signal landing in its at-fork callbacks is lost. A thread dies with the process: the namespace is either
    bind-mounted or not, and an empty mount-point file left by a kill is removed by ``remove_namespace``.
    """
    path = netns_path(name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    os.close(os.open(path, os.O_RDONLY | os.O_CREAT | os.O_EXCL, 0))
    failures: list[BaseException] = []

    def unshare_and_pin() -> None:  # unshare(CLONE_NEWNET) changes only this thread
        try:
            _check(_libc.unshare(CLONE_NEWNET), "unshare")
            _check(_libc.mount(b"/proc/thread-self/ns/net", path.encode(), b"none", MS_BIND, None), "bind mount")
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            failures.append(exc)

    worker = threading.Thread(target=unshare_and_pin, name=f"netns-{name}")
    # Hold Ctrl-C/SIGTERM for the few microseconds of the worker: an interrupt raised while joining would let the
    # namespace appear after teardown has listed the run's namespaces.
    held = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM, signal.SIGHUP})
    try:
        worker.start()
        worker.join()
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)
    if failures:
        remove_namespace(name)
        raise failures[0]

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


RTM_NEWLINK, NLM_F_REQUEST, NLM_F_ACK, NLMSG_ERROR = 16, 0x1, 0x4, 2
LOOPBACK_INDEX, IFF_UP = 1, 0x1  # a new namespace's lo is always ifindex 1


def set_loopback_up() -> None:
    """``ip link set lo up`` in the calling thread's namespace, as one netlink request (no pyroute2 handle)."""
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0) as sock:
        sock.bind((0, 0))
        body = struct.pack("=BxHiII", socket.AF_UNSPEC, 0, LOOPBACK_INDEX, IFF_UP, IFF_UP)
        sock.send(struct.pack("=LHHLL", 16 + len(body), RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK, 1, 0) + body)
        reply = sock.recv(4096)
    kind = struct.unpack_from("=H", reply, 4)[0]
    code = struct.unpack_from("=i", reply, 16)[0] if kind == NLMSG_ERROR else 0
    if code:
        raise OSError(-code, f"lo up: {os.strerror(-code)}")


@dataclass
class Namespace:
    """A network namespace of this run, with a netlink handle opened on first use.

    The handle is a plain IPRoute opened while the thread is inside the namespace (a netlink socket stays bound
    to the namespace it was created in): 0.2 ms, against 6 ms for pyroute2's NetNS, which forks a helper. Most pod
    namespaces never need one (the plugins configure them, the stdlib reader reads them), so it is not opened
    until something edits the namespace.
    """

    name: str
    _ipr: Any = field(default=None, repr=False)

    @classmethod
    def create(cls, name: str, sysctls: dict[str, str] | None = None) -> Namespace:
        create_netns(name)
        with in_netns(name):
            set_loopback_up()
        write_sysctls(name, {**QUIET_SYSCTLS, **(sysctls or {})})
        return cls(name)

    @classmethod
    def open(cls, name: str) -> Namespace:
        """A handle on an existing namespace of this run (an adopted, kept lab)."""
        return cls(name)

    @property
    def ipr(self) -> Any:
        if self._ipr is None:
            with in_netns(self.name):
                self._ipr = IPRoute()
        return self._ipr

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
        if self._ipr is not None:
            self._ipr.close()
            self._ipr = None


class Fabric:
    """The switch.

    Access NICs only: one plain Linux bridge per network, which needs no 802.1Q support from the kernel. With trunks:
    one VLAN-aware bridge (vlan_filtering) whose access ports carry their network's VLAN untagged and whose trunk
    ports carry several VLANs tagged, like a real switch.
    """

    def __init__(self, ns: Namespace, vlan_aware: bool = False) -> None:
        self.ns = ns
        self.vlan_aware = vlan_aware
        self.bridges: dict[str, int] = {}
        self.vids: dict[str, int] = {}
        self._ports = 0
        if vlan_aware:
            ns.ipr.link("add", ifname="br0", kind="bridge", br_stp_state=0, br_forward_delay=0,
                        br_vlan_filtering=1, br_vlan_default_pvid=0)

    def add_network(self, network: str, mtu: int, vlan: int | None = None) -> None:
        if self.vlan_aware:
            # networks without a VLAN id get one from a range real topologies rarely use
            self.vids[network] = vlan or 3900 + len(self.vids)
            self.bridges[network] = self.ns.link_up("br0", mtu=max(mtu, 1500))
            return
        name = f"br{len(self.bridges)}"
        self.ns.ipr.link("add", ifname=name, kind="bridge", br_stp_state=0, br_forward_delay=0)
        self.bridges[network] = self.ns.link_up(name, mtu=mtu)

    def _port(self, target: Namespace, ifname: str, mtu: int, mac: str | None, master: int) -> int:
        self._ports += 1
        port = f"p{self._ports}"
        self.ns.ipr.link("add", ifname=port, kind="veth",
                         peer={"ifname": ifname, "net_ns_fd": netns_path(target.name)})
        index = self.ns.link_up(port, mtu=mtu, master=master)
        target.link_up(ifname, mtu=mtu, mac=mac)
        return index

    def plug(self, network: str, target: Namespace, ifname: str, *, mtu: int = 1500,
             mac: str | None = None) -> None:
        """Wire ``target:ifname`` to an access port of ``network`` and bring both ends up."""
        index = self._port(target, ifname, mtu, mac, self.bridges[network])
        if self.vlan_aware:
            self.ns.ipr.vlan_filter("add", index=index,
                                    vlan_info={"vid": self.vids[network], "flags": ["pvid", "untagged"]})

    def plug_trunk(self, networks: tuple[str, ...], target: Namespace, ifname: str, *, mtu: int = 1500) -> None:
        """Wire ``target:ifname`` to a trunk port carrying ``networks`` tagged with their VLAN ids."""
        if not self.vlan_aware:
            raise RuntimeError("trunk ports need the VLAN-aware fabric")
        index = self._port(target, ifname, mtu, None, self.bridges[networks[0]])
        for network in networks:
            self.ns.ipr.vlan_filter("add", index=index, vlan_info={"vid": self.vids[network]})


def remove_namespace(name: str) -> None:
    """Delete a namespace (unmount and unlink its file); links inside it die with it. 'Already gone' and 'never
    mounted' (a build killed between creating the file and mounting it) are not errors."""
    path = netns_path(name)
    if _libc.umount2(path.encode(), MNT_DETACH) != 0 and ctypes.get_errno() not in (errno.EINVAL, errno.ENOENT):
        err = ctypes.get_errno()
        raise OSError(err, f"umount {path}: {os.strerror(err)}")
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
