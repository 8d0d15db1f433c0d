"""What a namespace holds, read over netlink with the stdlib alone: interfaces, neighbours, routes, bridge ports.

Shipped into probe pods with the agent (no pyroute2 or iproute2 in the image), and called by the lab inside its
own namespaces, so a pod's or a node's facts are read the same way on every target.
"""

from __future__ import annotations

import os
import socket
import struct
from typing import Any

NETLINK_ROUTE = 0
RTM_GETLINK, RTM_GETADDR, RTM_GETNEIGH = 18, 22, 30
NLM_F_REQUEST, NLM_F_DUMP = 0x1, 0x300
NLMSG_ERROR, NLMSG_DONE = 2, 3
IFLA_ADDRESS, IFLA_IFNAME, IFLA_MTU, IFLA_LINK, IFLA_MASTER, IFLA_PROTINFO, IFLA_LINKINFO = 1, 3, 4, 5, 10, 12, 18
IFLA_AF_SPEC, IFLA_EXT_MASK = 26, 29
IFLA_BRPORT_MODE = 4  # hairpin
IFLA_BRIDGE_VLAN_INFO = 2
IFLA_BR_VLAN_FILTERING = 7
RTEXT_FILTER_BRVLAN = 1 << 1
BRIDGE_VLAN_INFO_PVID, BRIDGE_VLAN_INFO_UNTAGGED = 1 << 1, 1 << 2
AF_BRIDGE = 7
IFLA_INFO_KIND, IFLA_INFO_DATA = 1, 2
IFA_ADDRESS, IFA_LOCAL = 1, 2
IFF_UP = 0x1
IFF_PROMISC = 0x100
NLA_TYPE_MASK = 0x3FFF
IPVLAN_MODES = {0: "l2", 1: "l3", 2: "l3s"}
MACVLAN_MODES = {1: "private", 2: "vepa", 4: "bridge", 8: "passthru", 16: "source"}


def _attrs(data: bytes, offset: int = 0) -> dict[int, bytes]:
    attrs: dict[int, bytes] = {}
    while offset + 4 <= len(data):
        length, kind = struct.unpack_from("=HH", data, offset)
        if length < 4:
            break
        attrs.setdefault(kind & NLA_TYPE_MASK, data[offset + 4:offset + length])
        offset += (length + 3) & ~3
    return attrs


def _all(data: bytes, kind: int) -> list[bytes]:
    """Every attribute of one type (the kernel repeats IFLA_BRIDGE_VLAN_INFO once per VLAN)."""
    found, offset = [], 0
    while offset + 4 <= len(data):
        length, attr = struct.unpack_from("=HH", data, offset)
        if length < 4:
            break
        if attr & NLA_TYPE_MASK == kind:
            found.append(data[offset + 4:offset + length])
        offset += (length + 3) & ~3
    return found


def _dump(sock: socket.socket, msg_type: int, body: bytes, seq: int) -> list[bytes]:
    header = struct.pack("=LHHLL", 16 + len(body), msg_type, NLM_F_REQUEST | NLM_F_DUMP, seq, 0)
    sock.send(header + body)
    messages: list[bytes] = []
    while True:
        data = sock.recv(1 << 20)
        offset = 0
        while offset + 16 <= len(data):
            length, kind, _flags, mseq, _pid = struct.unpack_from("=LHHLL", data, offset)
            if length < 16:
                return messages
            payload = data[offset + 16:offset + length]
            offset += (length + 3) & ~3
            if mseq != seq:
                continue
            if kind == NLMSG_DONE:
                return messages
            if kind == NLMSG_ERROR:
                code = struct.unpack_from("=i", payload)[0]
                if code:
                    raise OSError(-code, f"netlink: {os.strerror(-code)}")
                continue
            messages.append(payload)


def _mode(kind: str, data: bytes | None) -> str:
    if not data:
        return ""
    attrs = _attrs(data)
    raw = attrs.get(1)
    if raw is None:
        return ""
    if kind == "ipvlan" and len(raw) >= 2:
        value = struct.unpack_from("=H", raw)[0]
        return IPVLAN_MODES.get(value, str(value))
    if kind == "macvlan" and len(raw) >= 4:
        value = struct.unpack_from("=I", raw)[0]
        return MACVLAN_MODES.get(value, str(value))
    return ""


def read_interfaces() -> list[dict[str, Any]]:
    """Every interface of this network namespace, as the lab's netlink reader reports it."""
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_ROUTE) as sock:
        sock.bind((0, 0))
        links = _dump(sock, RTM_GETLINK, struct.pack("=BxHiII", socket.AF_UNSPEC, 0, 0, 0, 0), 1)
        addrs = _dump(sock, RTM_GETADDR, struct.pack("=BBBBI", socket.AF_INET, 0, 0, 0, 0), 2)
    by_index: dict[int, list[str]] = {}
    for msg in addrs:
        _family, prefix, _flags, _scope, index = struct.unpack_from("=BBBBI", msg)
        attrs = _attrs(msg, 8)
        raw = attrs.get(IFA_LOCAL) or attrs.get(IFA_ADDRESS)
        if raw and len(raw) == 4:
            by_index.setdefault(index, []).append(f"{socket.inet_ntoa(raw)}/{prefix}")
    result = []
    for msg in links:
        _family, _type, index, flags, _change = struct.unpack_from("=BxHiII", msg)
        attrs = _attrs(msg, 16)
        name = attrs.get(IFLA_IFNAME, b"").rstrip(b"\0").decode(errors="replace")
        info = _attrs(attrs[IFLA_LINKINFO]) if IFLA_LINKINFO in attrs else {}
        kind = info.get(IFLA_INFO_KIND, b"").rstrip(b"\0").decode(errors="replace")
        mac = attrs.get(IFLA_ADDRESS, b"")
        mtu = struct.unpack_from("=I", attrs[IFLA_MTU])[0] if len(attrs.get(IFLA_MTU, b"")) >= 4 else 0
        peer = struct.unpack_from("=i", attrs[IFLA_LINK])[0] if len(attrs.get(IFLA_LINK, b"")) >= 4 else 0
        result.append({"name": name, "mac": mac.hex(":") if len(mac) == 6 else "",
                       "addresses": by_index.get(index, []), "kind": kind, "mtu": mtu, "up": bool(flags & IFF_UP),
                       "mode": _mode(kind, info.get(IFLA_INFO_DATA)), "index": index,
                       "promisc": bool(flags & IFF_PROMISC), "peer_index": peer})
    return result


IFLA_STATS64 = 23
RX_DROPPED_AT = 6 * 8  # struct rtnl_link_stats64: rx/tx packets, rx/tx bytes, rx/tx errors, then rx_dropped


def read_rx_dropped() -> int:
    """Frames the interfaces of this namespace dropped on receive (macvlan broadcast queues, backlogs): one
    netlink dump, read around every probe window."""
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_ROUTE) as sock:
        sock.bind((0, 0))
        links = _dump(sock, RTM_GETLINK, struct.pack("=BxHiII", socket.AF_UNSPEC, 0, 0, 0, 0), 1)
    total = 0
    for msg in links:
        stats = _attrs(msg, 16).get(IFLA_STATS64, b"")
        if len(stats) >= RX_DROPPED_AT + 8:
            total += struct.unpack_from("=Q", stats, RX_DROPPED_AT)[0]
    return total


NDA_DST, NDA_LLADDR = 1, 2
NUD_INCOMPLETE, NUD_FAILED, NUD_NOARP = 0x01, 0x20, 0x40
NUD_NAMES = {0x01: "incomplete", 0x02: "reachable", 0x04: "stale", 0x08: "delay", 0x10: "probe", 0x20: "failed",
             0x40: "noarp", 0x80: "permanent"}


def read_neighbours() -> list[dict[str, Any]]:
    """The IPv4 neighbour (ARP) table of this namespace: who was seen at which MAC, without sending anything."""
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_ROUTE) as sock:
        sock.bind((0, 0))
        neigh = _dump(sock, RTM_GETNEIGH, struct.pack("=BBHiHBB", socket.AF_INET, 0, 0, 0, 0, 0, 0), 3)
        links = _dump(sock, RTM_GETLINK, struct.pack("=BxHiII", socket.AF_UNSPEC, 0, 0, 0, 0), 4)
    ifnames = {}
    for msg in links:
        index = struct.unpack_from("=BxHiII", msg)[2]
        ifnames[index] = _attrs(msg, 16).get(IFLA_IFNAME, b"").rstrip(b"\0").decode(errors="replace")
    entries = []
    for msg in neigh:
        _family, _p1, _p2, index, state, _flags, _type = struct.unpack_from("=BBHiHBB", msg)
        attrs = _attrs(msg, 12)
        dst, lladdr = attrs.get(NDA_DST, b""), attrs.get(NDA_LLADDR, b"")
        if len(dst) != 4 or len(lladdr) != 6 or state & (NUD_INCOMPLETE | NUD_FAILED | NUD_NOARP):
            continue
        entries.append({"ip": socket.inet_ntoa(dst), "mac": lladdr.hex(":"), "ifname": ifnames.get(index, ""),
                        "state": NUD_NAMES.get(state, str(state))})
    return entries


RTM_GETROUTE = 26
RTA_DST, RTA_OIF, RTA_GATEWAY, RTA_TABLE = 1, 4, 5, 15
RT_TABLE_MAIN = 254


def read_routes() -> list[str]:
    """IPv4 routes of the main table, written as ``ip route`` does (``default via X dev net1``), like the lab's
    netlink reader, so the suites compare a cluster pod's routes the same way."""
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_ROUTE) as sock:
        sock.bind((0, 0))
        routes = _dump(sock, RTM_GETROUTE, struct.pack("=BBBBBBBBI", socket.AF_INET, 0, 0, 0, 0, 0, 0, 0, 0), 5)
        links = _dump(sock, RTM_GETLINK, struct.pack("=BxHiII", socket.AF_UNSPEC, 0, 0, 0, 0), 6)
    names = {struct.unpack_from("=BxHiII", m)[2]: _attrs(m, 16).get(IFLA_IFNAME, b"").rstrip(b"\0").decode()
             for m in links}
    result = []
    for msg in routes:
        _family, dst_len, _src_len, _tos, table, _proto, _scope, _type, _flags = struct.unpack_from("=BBBBBBBBI", msg)
        attrs = _attrs(msg, 12)
        table_id = struct.unpack_from("=I", attrs[RTA_TABLE])[0] if RTA_TABLE in attrs else table
        if table_id != RT_TABLE_MAIN:
            continue
        dst = attrs.get(RTA_DST)
        target = f"{socket.inet_ntoa(dst)}/{dst_len}" if dst and len(dst) == 4 else "default"
        gateway = attrs.get(RTA_GATEWAY)
        via = f" via {socket.inet_ntoa(gateway)}" if gateway and len(gateway) == 4 else ""
        oif = struct.unpack_from("=I", attrs[RTA_OIF])[0] if RTA_OIF in attrs else 0
        result.append(f"{target}{via} dev {names.get(oif, '?')}")
    return result


def read_bridge_ports() -> list[dict[str, Any]]:
    """Every bridge port of this namespace: its bridge, its VLAN entries (vid, pvid, untagged) and hairpin mode,
    as ``bridge -d vlan show`` would print them; how a bridge NAD's VLAN tag is checked on the node."""
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_ROUTE) as sock:
        sock.bind((0, 0))
        mask = struct.pack("=HHI", 8, IFLA_EXT_MASK, RTEXT_FILTER_BRVLAN)
        ports = _dump(sock, RTM_GETLINK, struct.pack("=BxHiII", AF_BRIDGE, 0, 0, 0, 0) + mask, 7)
        links = _dump(sock, RTM_GETLINK, struct.pack("=BxHiII", socket.AF_UNSPEC, 0, 0, 0, 0), 8)
    names, filtering = {}, {}
    for link in links:
        index = struct.unpack_from("=BxHiII", link)[2]
        attrs = _attrs(link, 16)
        names[index] = attrs.get(IFLA_IFNAME, b"").rstrip(b"\0").decode(errors="replace")
        info = _attrs(attrs[IFLA_LINKINFO]) if IFLA_LINKINFO in attrs else {}
        if info.get(IFLA_INFO_KIND, b"").rstrip(b"\0") == b"bridge":
            flag = _attrs(info.get(IFLA_INFO_DATA, b"")).get(IFLA_BR_VLAN_FILTERING, b"")
            filtering[index] = bool(flag and flag[0])
    result = []
    for msg in ports:
        index = struct.unpack_from("=BxHiII", msg)[2]
        attrs = _attrs(msg, 16)
        master = struct.unpack_from("=I", attrs[IFLA_MASTER])[0] if len(attrs.get(IFLA_MASTER, b"")) >= 4 else 0
        if not master or master == index:
            continue  # the bridge itself
        vlans = []
        for raw in _all(attrs.get(IFLA_AF_SPEC, b""), IFLA_BRIDGE_VLAN_INFO):
            if len(raw) >= 4:
                flags, vid = struct.unpack_from("=HH", raw)
                vlans.append({"vid": vid, "pvid": bool(flags & BRIDGE_VLAN_INFO_PVID),
                              "untagged": bool(flags & BRIDGE_VLAN_INFO_UNTAGGED)})
        mode = _attrs(attrs.get(IFLA_PROTINFO, b"")).get(IFLA_BRPORT_MODE, b"")
        result.append({"name": names.get(index, ""), "index": index, "bridge": names.get(master, ""),
                       "vlans": vlans, "hairpin": bool(mode and mode[0]),
                       "vlan_filtering": filtering.get(master, False)})
    return result


def sysctl_path(name: str) -> str:
    """``net.ipv4.conf.net1.arp_ignore`` -> ``/proc/sys/net/ipv4/conf/net1/arp_ignore`` (the tuning plugin's own
    rule, so a name it can set is a name read back the same way)."""
    return "/proc/sys/" + name.replace(".", "/")


def read_sysctls(names: list[str]) -> dict[str, str]:
    """Current values of ``names`` in this network namespace (``/proc/sys/net`` shows the namespace of the thread
    that opens it); a missing sysctl reads as ``"<missing>"``, never as an exception."""
    values = {}
    for name in names:
        try:
            with open(sysctl_path(name), encoding="ascii") as handle:
                values[name] = handle.read().strip()
        except OSError as exc:
            values[name] = f"<missing: {exc.strerror}>"
    return values
