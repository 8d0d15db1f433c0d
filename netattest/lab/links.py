"""Read interfaces and routes back from a namespace over netlink: the lab's observations come from here, not from
config. Read with the probe engine's stdlib reader (:mod:`netattest.probe.rtnl`), from inside the namespace."""

from __future__ import annotations

from typing import Any

from netattest.inventory import InterfaceView
from netattest.probe import rtnl
from netattest.probe.netns import in_netns


def interface_views(rows: list[dict[str, Any]]) -> dict[str, InterfaceView]:
    """:func:`netattest.probe.rtnl.read_interfaces` rows as views, keyed by name."""
    return {row["name"]: InterfaceView(name=row["name"], mac=row["mac"], addresses=tuple(row["addresses"]),
                                       kind=row["kind"], mtu=row["mtu"], up=row["up"], mode=row["mode"])
            for row in rows}


def read_interfaces(netns: str) -> dict[str, InterfaceView]:
    """Every interface of namespace ``netns``, keyed by name."""
    with in_netns(netns):
        return interface_views(rtnl.read_interfaces())


def read_interfaces_and_routes(netns: str) -> tuple[dict[str, InterfaceView], list[str]]:
    """Every interface of ``netns`` and its IPv4 routes of the main table, written as ``ip route`` does."""
    with in_netns(netns):
        return interface_views(rtnl.read_interfaces()), rtnl.read_routes()
