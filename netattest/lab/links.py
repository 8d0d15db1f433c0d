"""Read interfaces back from a namespace with netlink: the lab's observations come from here, not from config."""

from __future__ import annotations

from typing import Any

from netattest.inventory import InterfaceView

_IPVLAN_MODES = {0: "l2", 1: "l3", 2: "l3s"}
IFF_UP = 0x1
IFF_PROMISC = 0x100
AF_BRIDGE = 7
RTEXT_FILTER_BRVLAN = 1 << 1


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
            promisc=bool(link["flags"] & IFF_PROMISC),
            peer_index=int(link.get_attr("IFLA_LINK") or 0),
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


def host_side(result: dict[str, Any], ifname: str) -> str | None:
    """The host end of a pod's interface in a CNI result (the bridge plugin lists the bridge, the veth's host side,
    then the pod's interface, which alone has a ``sandbox``); None when the plugin created no host end."""
    entries = [i for i in result.get("interfaces") or [] if isinstance(i, dict)]
    hosts = [i.get("name") for i in entries[1:] if not i.get("sandbox") and i.get("name") != ifname]
    return str(hosts[0]) if hosts else None


def set_default_route(ipr: Any, ifname: str, gateway: str) -> None:
    """Multus ``default-route``: the pod's only default route goes via ``gateway`` on ``ifname``."""
    for route in ipr.get_routes(family=2, table=254):
        if route["dst_len"] == 0:
            ipr.route("del", dst="0.0.0.0/0", gateway=route.get_attr("RTA_GATEWAY"), oif=route.get_attr("RTA_OIF"))
    index = ipr.link_lookup(ifname=ifname)[0]
    ipr.route("add", dst="0.0.0.0/0", gateway=gateway, oif=index)


def retag_bridge_port(ipr: Any, port: str, vid: int) -> None:
    """Lab drift ``bridgePortVlan``: move a pod's bridge port to VLAN ``vid`` (PVID, untagged) after the bridge
    plugin tagged it, as a hand edit on the node would; every other PVID entry of the port goes."""
    index = ipr.link_lookup(ifname=port)[0]
    for vlan in port_vlans(ipr, index):
        ipr.vlan_filter("del", index=index, vlan_info={"vid": vlan})
    ipr.vlan_filter("add", index=index, vlan_info={"vid": vid, "pvid": True})


def port_vlans(ipr: Any, index: int) -> list[int]:
    """VLAN ids a bridge port is a member of (RTEXT_FILTER_BRVLAN dump)."""
    vids = []
    for msg in ipr.link("dump", family=AF_BRIDGE, ext_mask=RTEXT_FILTER_BRVLAN):
        if msg["index"] != index:
            continue
        spec = msg.get_attr("IFLA_AF_SPEC")
        for name, value in (spec["attrs"] if spec else []):
            if name == "IFLA_BRIDGE_VLAN_INFO":
                vids.append(int(value["vid"]))
    return vids
