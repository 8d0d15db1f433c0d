"""What the IPAM plugins accept, checked before anything is deployed.

An IPAM config used to be passed through unchecked, so a host-local range outside the VLAN, or ``ranges`` written
as a string, loaded, deployed and ended as a network failure (exit 1) instead of a load error (exit 2) naming the
field. The rules follow the plugins' own documentation (CNI reference plugins host-local, static, dhcp; whereabouts):
only fields the plugin reads are checked, every other key passes through untouched, as the plugin ignores it.

Each rule returns problems as (field path below ``ipam``, problem, fix); the builder turns them into topology
errors — unless every pod of the NAD expects its attachment to fail, where the plugin's own refusal is the test.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from typing import Any

from .wording import Path, _q

Problem = tuple[Path, str, str]


#: keys that shape addresses, by the IPAM plugins that read them: another plugin ignores them without a word
#: (read from containernetworking/plugins host-local and static, and whereabouts)
OWNERS: dict[str, tuple[str, ...]] = {
    "ranges": ("host-local",), "subnet": ("host-local",), "rangeStart": ("host-local",),
    "rangeEnd": ("host-local",), "resolvConf": ("host-local",), "gateway": ("host-local", "whereabouts"),
    "routes": ("host-local", "static", "whereabouts"), "addresses": ("static",), "dns": ("static", "whereabouts"),
    "range": ("whereabouts",), "range_start": ("whereabouts",), "range_end": ("whereabouts",),
    "exclude": ("whereabouts",), "enable_overlapping_ranges": ("whereabouts",),
}
#: how the plugin at hand spells what a foreign key meant
SPELLING = {
    ("host-local", "range"): "ranges: [[{subnet: <CIDR>, rangeStart: <first>, rangeEnd: <last>}]]",
    ("host-local", "range_start"): "rangeStart inside ranges", ("host-local", "range_end"): "rangeEnd inside ranges",
    ("whereabouts", "ranges"): "range: <CIDR>, range_start: <first>, range_end: <last>",
    ("whereabouts", "rangeStart"): "range_start", ("whereabouts", "rangeEnd"): "range_end",
    ("whereabouts", "subnet"): "range: <CIDR>", ("static", "gateway"): "addresses: [{address: <CIDR>, gateway: <IP>}]",
}


def ipam_problems(kind: str, config: dict[str, Any], subnet: ipaddress.IPv4Network) -> list[Problem]:
    """Every problem of an IPAM config (``type`` excluded) for a NAD on a VLAN with ``subnet``."""
    rules = {"host-local": _host_local, "static": _static, "whereabouts": _whereabouts, "dhcp": _dhcp,
             "none": _none}
    return list(_foreign(kind, config)) + list(rules[kind](config, subnet))


def _foreign(kind: str, config: dict[str, Any]) -> Iterator[Problem]:
    """A key another IPAM plugin reads: this one ignores it, so what it says never happens (dhcp and none have
    their own, plainer rules)."""
    if kind in ("dhcp", "none"):
        return
    for key in config:
        owners = OWNERS.get(key)
        if owners is None or kind in owners:
            continue
        spelled = SPELLING.get((kind, key))
        fix = (f"write it as {kind} spells it: {spelled}" if spelled else f"remove {key}") \
            + f", or use {' or '.join(owners)} IPAM"
        yield (key,), f"{kind} IPAM ignores {key}, a setting of {' and '.join(owners)} IPAM", fix


def _cidr(value: Any, path: Path, what: str) -> tuple[ipaddress.IPv4Interface | None, Problem | None]:
    if not isinstance(value, str) or "/" not in value:
        return None, (path, f"{what} {_q(value)} is not in CIDR notation", "write it as address/prefix, e.g. "
                                                                          "192.168.112.0/24")
    try:
        iface = ipaddress.ip_interface(value)
    except ValueError:
        return None, (path, f"{what} {_q(value)} is not an IPv4 CIDR", "write it like 192.168.112.0/24")
    if iface.version != 4:
        return None, (path, f"{what} {value} is IPv6; netattest topologies are IPv4 only", "use IPv4")
    return iface, None  # type: ignore[return-value]


def _address(value: Any, path: Path, what: str) -> tuple[ipaddress.IPv4Address | None, Problem | None]:
    try:
        ip = ipaddress.ip_address(value) if isinstance(value, str) else None
    except ValueError:
        ip = None
    if ip is None or ip.version != 4:
        return None, (path, f"{what} {_q(value)} is not an IPv4 address", "write four dotted numbers")
    return ip, None  # type: ignore[return-value]


def _inside(ip: ipaddress.IPv4Address, within: ipaddress.IPv4Network, path: Path, what: str,
            where: str) -> Iterator[Problem]:
    if ip not in within:
        yield path, f"{what} {ip} is outside {where} {within}", f"use an address in {within}"


def _routes(config: dict[str, Any], subnet: ipaddress.IPv4Network) -> Iterator[Problem]:
    routes = config.get("routes")
    if routes is None:
        return
    if not isinstance(routes, list):
        yield ("routes",), f"routes is {type(routes).__name__}, not a list", "write routes: [{dst: 0.0.0.0/0}]"
        return
    for k, route in enumerate(routes):
        path: Path = ("routes", k)
        if not isinstance(route, dict) or "dst" not in route:
            yield path, "a route without dst", "write {dst: <CIDR>, gw: <address>} (gw optional)"
            continue
        _, problem = _cidr(route["dst"], path + ("dst",), "route destination")
        if problem:
            yield problem
        if "gw" in route:
            gw, problem = _address(route["gw"], path + ("gw",), "route gateway")
            if problem:
                yield problem
            elif gw is not None:
                yield from _inside(gw, subnet, path + ("gw",), "route gateway", "the VLAN's subnet (it must be on "
                                                                                "the link)")


def _range(entry: Any, path: Path, subnet: ipaddress.IPv4Network) -> Iterator[Problem]:
    """One host-local range: subnet inside the VLAN; rangeStart <= rangeEnd inside it; gateway inside it."""
    if not isinstance(entry, dict):
        yield path, f"a range is {type(entry).__name__}, not a mapping", "write {subnet: <CIDR>, ...}"
        return
    if "subnet" not in entry:
        yield path, "a range without subnet", "add subnet: <CIDR inside the VLAN>"
        return
    iface, problem = _cidr(entry["subnet"], path + ("subnet",), "range subnet")
    if problem or iface is None:
        yield problem  # type: ignore[misc]
        return
    network = iface.network
    if iface.ip != network.network_address:
        yield (path + ("subnet",), f"range subnet {entry['subnet']} has host bits set (host-local refuses it)",
               f"write the network address: {network}")
        return
    if not network.subnet_of(subnet):
        yield (path + ("subnet",), f"range subnet {network} is outside the VLAN's subnet {subnet}",
               f"use {subnet} or a part of it")
        return
    bounds = {}
    for key in ("rangeStart", "rangeEnd", "gateway"):
        if key in entry:
            ip, problem = _address(entry[key], path + (key,), key)
            if problem:
                yield problem
            elif ip is not None:
                bounds[key] = ip
                yield from _inside(ip, network, path + (key,), key, "the range's subnet")
    if "rangeStart" in bounds and "rangeEnd" in bounds and bounds["rangeStart"] > bounds["rangeEnd"]:
        yield (path + ("rangeEnd",), f"rangeEnd {bounds['rangeEnd']} comes before rangeStart {bounds['rangeStart']}",
               "swap them")


def _span(entry: dict[str, Any]) -> tuple[ipaddress.IPv4Address, ipaddress.IPv4Address]:
    network = ipaddress.ip_network(entry["subnet"], strict=False)
    first = ipaddress.IPv4Address(entry.get("rangeStart") or network.network_address + 1)
    last = ipaddress.IPv4Address(entry.get("rangeEnd") or network.broadcast_address - 1)
    return first, last


def _overlaps(spans: list[tuple[Path, ipaddress.IPv4Address, ipaddress.IPv4Address]]) -> Iterator[Problem]:
    """host-local refuses two ranges that share an address (within a range set and across sets)."""
    for i, (path, first, last) in enumerate(spans):
        for other, o_first, o_last in spans[:i]:
            if first <= o_last and o_first <= last:
                yield (path, f"range {first}-{last} overlaps range {o_first}-{o_last} of "
                             f"ranges[{other[1]}][{other[2]}] (host-local refuses it)", "make the ranges disjoint")


def _host_local(config: dict[str, Any], subnet: ipaddress.IPv4Network) -> Iterator[Problem]:
    if "ranges" in config:
        ranges = config["ranges"]
        if not isinstance(ranges, list) or not ranges or not all(isinstance(r, list) for r in ranges):
            yield (("ranges",), f"ranges is {_q(ranges)}, not a list of range sets (a list of lists of ranges)",
                   f"write ranges: [[{{subnet: {subnet}}}]]")
            return
        spans: list[tuple[Path, ipaddress.IPv4Address, ipaddress.IPv4Address]] = []
        for k, range_set in enumerate(ranges):
            if not range_set:
                yield ("ranges", k), "an empty range set", "give it at least one {subnet: ...}"
            for j, entry in enumerate(range_set):
                problems = list(_range(entry, ("ranges", k, j), subnet))
                yield from problems
                if not problems:
                    spans.append((("ranges", k, j), *_span(entry)))
        yield from _overlaps(spans)
    elif "subnet" in config:  # the older single-range form
        yield from _range({k: config[k] for k in ("subnet", "rangeStart", "rangeEnd", "gateway") if k in config},
                          (), subnet)
    else:
        yield (), "host-local needs ranges (or subnet)", f"add ranges: [[{{subnet: {subnet}}}]]"
    yield from _routes(config, subnet)


def _static(config: dict[str, Any], subnet: ipaddress.IPv4Network) -> Iterator[Problem]:
    addresses = config.get("addresses", [])
    if not isinstance(addresses, list):
        yield ("addresses",), f"addresses is {_q(addresses)}, not a list", "write addresses: [{address: <CIDR>}]"
        return
    for k, entry in enumerate(addresses):
        path: Path = ("addresses", k)
        if not isinstance(entry, dict) or "address" not in entry:
            yield path, "an address entry without address", "write {address: <CIDR>, gateway: <address>}"
            continue
        iface, problem = _cidr(entry["address"], path + ("address",), "static address")
        if problem:
            # the static plugin's own words: "the 'address' field is expected to be in CIDR notation"
            yield problem
            continue
        assert iface is not None
        yield from _inside(iface.ip, subnet, path + ("address",), "static address", "the VLAN's subnet")
        if "gateway" in entry:
            gw, problem = _address(entry["gateway"], path + ("gateway",), "gateway")
            if problem:
                yield problem
            elif gw is not None:
                yield from _inside(gw, subnet, path + ("gateway",), "gateway", "the VLAN's subnet")
    yield from _routes(config, subnet)


def _whereabouts(config: dict[str, Any], subnet: ipaddress.IPv4Network) -> Iterator[Problem]:
    text = config.get("range")
    if not isinstance(text, str):
        yield ("range",), f"whereabouts needs range as a CIDR, got {_q(text)}", f"add range: {subnet}"
        return
    start_end = None
    if "-" in text and "/" in text:  # "192.168.112.10-192.168.112.50/24"
        span, prefix = text.rsplit("/", 1)
        first, _, last = span.partition("-")
        start_end = (first, last)
        text = f"{first}/{prefix}"
    iface, problem = _cidr(text, ("range",), "range")
    if problem or iface is None:
        yield problem  # type: ignore[misc]
        return
    network = iface.network
    if not network.subnet_of(subnet):
        yield ("range",), f"range {network} is outside the VLAN's subnet {subnet}", f"use {subnet} or a part of it"
        return
    for key, value in (("range_start", config.get("range_start")), ("range_end", config.get("range_end")),
                       ("gateway", config.get("gateway"))):
        if value is not None:
            ip, problem = _address(value, (key,), key)
            if problem:
                yield problem
            elif ip is not None:
                yield from _inside(ip, network, (key,), key, "the range")
    if start_end:
        for value in start_end:
            ip, problem = _address(value, ("range",), "range bound")
            if problem:
                yield problem
    excludes = config.get("exclude", [])
    if not isinstance(excludes, list):
        yield ("exclude",), f"exclude is {_q(excludes)}, not a list", "write exclude: [<CIDR>, ...]"
        excludes = []
    for k, value in enumerate(excludes):
        excluded, problem = _cidr(value, ("exclude", k), "excluded range")
        if problem:
            yield problem
        elif excluded is not None and not excluded.network.subnet_of(network):
            yield ("exclude", k), f"excluded {excluded.network} is outside range {network}", "exclude a part of it"
    yield from _routes(config, subnet)


_DHCP_MEANINGLESS = ("ranges", "subnet", "rangeStart", "rangeEnd", "addresses", "range", "gateway", "routes")


def _dhcp(config: dict[str, Any], subnet: ipaddress.IPv4Network) -> Iterator[Problem]:
    for key in _DHCP_MEANINGLESS:
        if key in config:
            yield ((key,), f"dhcp IPAM takes its address, gateway and routes from the DHCP server; {key} means "
                           "nothing to it", f"remove {key} (configure the DHCP server instead)")


def _none(config: dict[str, Any], subnet: ipaddress.IPv4Network) -> Iterator[Problem]:
    for key in config:
        yield (key,), f"ipam type none assigns no address; {key} means nothing", f"remove {key}"
