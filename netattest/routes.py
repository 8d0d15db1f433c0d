"""Routes compared as what they mean, not as text.

An IPAM config asks for ``{"dst": "0.0.0.0/0"}`` (gateway implied) and the pod's table says ``default via 10.1.1.1
dev net1``: the same route. Both sides are parsed into (destination network, gateway, device) and compared field by
field, so a prefix written another way ("10.2.0.0/16" vs "10.2.0.0/16" with host bits, "default") still matches
and a wrong gateway or device is named.
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, ip_address, ip_network


@dataclass(frozen=True)
class Route:
    dst: IPv4Network
    gateway: IPv4Address | None
    device: str

    def __str__(self) -> str:
        dst = "default" if self.dst.prefixlen == 0 else str(self.dst)
        via = f" via {self.gateway}" if self.gateway else ""
        return f"{dst}{via} dev {self.device}"


def parse_route(text: str) -> Route | None:
    """``default via 10.1.1.1 dev net1`` / ``10.2.0.0/16 dev net1`` -> Route; None for anything else."""
    words = text.split()
    if not words:
        return None
    try:
        dst = IPv4Network("0.0.0.0/0") if words[0] == "default" else ip_network(words[0], strict=False)
        gateway = ip_address(words[words.index("via") + 1]) if "via" in words else None
        device = words[words.index("dev") + 1] if "dev" in words else ""
    except (ValueError, IndexError):
        return None
    if not isinstance(dst, IPv4Network) or (gateway is not None and not isinstance(gateway, IPv4Address)):
        return None
    return Route(dst, gateway, device)


def wanted_routes(routes: list[dict[str, object]], device: str, default_gateway: str | None) -> list[Route]:
    """The routes an IPAM config asks for on ``device``; a route without ``gw`` goes via the IPAM's gateway."""
    wanted = []
    for entry in routes:
        dst = ip_network(str(entry["dst"]), strict=False)
        gw = entry.get("gw") or default_gateway
        if isinstance(dst, IPv4Network):
            wanted.append(Route(dst, IPv4Address(str(gw)) if gw else None, device))
    return wanted


def missing_routes(wanted: list[Route], table: list[str]) -> list[str]:
    """Each wanted route that the table lacks, saying what the table has for that destination instead."""
    have = [r for r in (parse_route(t) for t in table) if r is not None]
    missing = []
    for route in wanted:
        same_dst = [r for r in have if r.dst == route.dst]
        if any(r.device == route.device and (route.gateway is None or r.gateway == route.gateway) for r in same_dst):
            continue
        instead = f" (the table has {', '.join(map(str, same_dst))})" if same_dst else ""
        missing.append(f"{route}{instead}")
    return missing


def ipam_gateway(config: dict[str, object]) -> str | None:
    """The gateway an IPAM config gives routes without ``gw``: ``gateway`` (host-local's old form, whereabouts), the
    first range's (host-local ``ranges``) or the first static address's."""
    if config.get("gateway"):
        return str(config["gateway"])
    for key in ("ranges", "addresses"):
        entries = config.get(key)
        if isinstance(entries, list) and entries:
            first = entries[0][0] if isinstance(entries[0], list) and entries[0] else entries[0]
            if isinstance(first, dict) and first.get("gateway"):
                return str(first["gateway"])
    return None


def default_device(table: list[str]) -> str | None:
    """The device of a routing table's default route: where a master-less macvlan/ipvlan NAD takes its children."""
    for text in table:
        route = parse_route(str(text))
        if route is not None and route.dst.prefixlen == 0 and route.device:
            return route.device
    return None
