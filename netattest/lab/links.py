"""Read interfaces back from a namespace with netlink: the lab's observations come from here, not from config."""

from __future__ import annotations

from typing import Any

from netattest.inventory import InterfaceView

_IPVLAN_MODES = {0: "l2", 1: "l3", 2: "l3s"}
IFF_UP = 0x1


def _mode(kind: str, data: Any) -> str:
    if data is None:
        return ""
    if kind == "ipvlan":
        mode = data.get_attr("IFLA_IPVLAN_MODE")
        return _IPVLAN_MODES.get(mode, str(mode)) if isinstance(mode, int) else str(mode or "")
    if kind == "macvlan":
        return str(data.get_attr("IFLA_MACVLAN_MODE") or "")
    return ""


def read_interfaces(ipr: Any) -> dict[str, InterfaceView]:
    """Every interface of the namespace behind ``ipr`` (an IPRoute / NetNS), keyed by name."""
    addresses: dict[int, list[str]] = {}
    for msg in ipr.get_addr(family=2):
        addresses.setdefault(msg["index"], []).append(f"{msg.get_attr('IFA_ADDRESS')}/{msg['prefixlen']}")
    views: dict[str, InterfaceView] = {}
    for link in ipr.get_links():
        info = link.get_attr("IFLA_LINKINFO")
        kind = (info.get_attr("IFLA_INFO_KIND") if info else None) or ""
        data = info.get_attr("IFLA_INFO_DATA") if info else None
        name = link.get_attr("IFLA_IFNAME")
        views[name] = InterfaceView(
            name=name,
            mac=str(link.get_attr("IFLA_ADDRESS") or ""),
            addresses=tuple(addresses.get(link["index"], ())),
            kind=kind,
            mtu=int(link.get_attr("IFLA_MTU") or 0),
            up=bool(link["flags"] & IFF_UP),
            mode=_mode(kind, data),
        )
    return views


def read_routes(ipr: Any) -> list[str]:
    """IPv4 routes of the main table, written as ``ip route`` does (``default via X dev net1``)."""
    names = {link["index"]: link.get_attr("IFLA_IFNAME") for link in ipr.get_links()}
    routes = []
    for route in ipr.get_routes(family=2, table=254):
        dst = route.get_attr("RTA_DST")
        target = f"{dst}/{route['dst_len']}" if dst else "default"
        gateway = route.get_attr("RTA_GATEWAY")
        device = names.get(route.get_attr("RTA_OIF"), "?")
        routes.append(f"{target}{' via ' + gateway if gateway else ''} dev {device}")
    return routes
