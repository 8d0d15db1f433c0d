"""Read interfaces back from a namespace with netlink: the lab's observations come from here, not from config."""

from __future__ import annotations

from typing import Any

from netattest.inventory import InterfaceView
from netattest.lab.nsenter import in_netns
from netattest.probe import readers

IFF_UP = 0x1
AF_BRIDGE = 7
RTEXT_FILTER_BRVLAN = 1 << 1


def read_interfaces(netns: str) -> dict[str, InterfaceView]:
    """Every interface of namespace ``netns``, keyed by name: read from inside it with the probe agent's stdlib
    netlink reader (one dump, a tenth of pyroute2's decoding), so the lab and a cluster's pods report alike."""
    with in_netns(netns):
        return _views(readers.read_interfaces())


def read_pod_namespace(netns: str, sysctls: list[str]) -> tuple[dict[str, InterfaceView], list[str], dict[str, str]]:
    """A pod's interfaces, routes and the ``sysctls`` asked for, in one visit to its namespace."""
    with in_netns(netns):
        return (_views(readers.read_interfaces()), readers.read_routes(),
                readers.read_sysctls(sysctls) if sysctls else {})


def _views(rows: list[dict[str, Any]]) -> dict[str, InterfaceView]:
    return {row["name"]: InterfaceView(row["name"], row["mac"], tuple(row["addresses"]), row["kind"], row["mtu"],
                                       row["up"], row["mode"], row["promisc"], row["peer_index"]) for row in rows}


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
