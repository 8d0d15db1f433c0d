"""Which addresses an IPAM config may hand out, so a pod's address can be checked against its NAD's pool.

An address inside the VLAN's subnet but outside the NAD's range (or inside an ``exclude``) is the sign of a stale
NAD, a second allocator, or a hand-set address: the subnet check alone cannot see it. The same spans drive the
lab's whereabouts emulation (``netattest.lab.nads``), so what the lab hands out and what is checked agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, ip_address, ip_network
from typing import Any

Span = tuple[IPv4Address, IPv4Address]


@dataclass(frozen=True)
class Pool:
    """Contiguous spans of addresses an IPAM config allocates from, and the excluded networks (for messages)."""

    spans: tuple[Span, ...]
    excluded: tuple[IPv4Network, ...] = ()

    def holds(self, ip: IPv4Address) -> bool:
        return any(a <= ip <= b for a, b in self.spans)

    def describe(self) -> str:
        spans = ", ".join(f"{a}-{b}" if a != b else str(a) for a, b in self.spans) or "nothing"
        return spans + (f" (excluding {', '.join(map(str, self.excluded))})" if self.excluded else "")


def whereabouts_range(ipam: dict[str, Any]) -> tuple[IPv4Network, IPv4Address, IPv4Address]:
    """A whereabouts range (``range`` as a CIDR or ``first-last/prefix``, ``range_start``, ``range_end``) as its
    network and first and last usable addresses."""
    text = str(ipam.get("range", ""))
    start, end = ipam.get("range_start"), ipam.get("range_end")
    if "-" in text and "/" in text:  # "192.168.112.10-192.168.112.50/24"
        span, prefix = text.rsplit("/", 1)
        start, end = span.split("-", 1)
        text = f"{start}/{prefix}"
    network: IPv4Network = ip_network(text, strict=False)  # type: ignore[assignment]
    first = IPv4Address(str(start)) if start else network.network_address + 1
    last = IPv4Address(str(end)) if end else network.broadcast_address - 1
    return network, first, last


def free_spans(first: IPv4Address, last: IPv4Address, excluded: list[IPv4Network]) -> list[Span]:
    """``first..last`` with every excluded network cut out, as contiguous spans."""
    spans = [(first, last)]
    for net in excluded:
        low, high = net.network_address, net.broadcast_address
        kept = []
        for a, b in spans:
            if high < a or low > b:
                kept.append((a, b))
                continue
            if a < low:
                kept.append((a, low - 1))
            if high < b:
                kept.append((high + 1, b))
        spans = kept
    return spans


def _host_local_range(entry: dict[str, Any]) -> Span:
    network: IPv4Network = ip_network(str(entry["subnet"]), strict=False)  # type: ignore[assignment]
    first = IPv4Address(str(entry["rangeStart"])) if entry.get("rangeStart") else network.network_address + 1
    last = IPv4Address(str(entry["rangeEnd"])) if entry.get("rangeEnd") else network.broadcast_address - 1
    return first, last


def ipam_pool(kind: str, config: dict[str, Any]) -> Pool | None:
    """The pool of a host-local or whereabouts config; None for IPAM without a pool of its own (static, dhcp,
    none), whose addresses are checked elsewhere."""
    if kind == "whereabouts":
        _, first, last = whereabouts_range(config)
        excluded = [ip_network(str(e), strict=False) for e in config.get("exclude") or []]
        return Pool(tuple(free_spans(first, last, excluded)), tuple(excluded))  # type: ignore[arg-type]
    if kind == "host-local":
        if isinstance(config.get("ranges"), list):
            entries = [e for range_set in config["ranges"] for e in range_set]
        else:
            entries = [config]
        return Pool(tuple(_host_local_range(e) for e in entries if isinstance(e, dict) and e.get("subnet")))
    return None


def outside_pool(addresses: list[str], pool: Pool) -> list[str]:
    """The CIDRs of ``addresses`` whose address the pool could not have handed out."""
    return [a for a in addresses if not pool.holds(ip_address(a.split("/")[0]))]  # type: ignore[arg-type]
