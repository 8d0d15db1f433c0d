"""The builder's plumbing: where a field is, how to fail there, and the checks every section shares.

Every check knows the field path, hence the line, it complains about; names, labels, MACs and addresses are
checked once here (with the shared naming rules of :mod:`netattest.naming`) and claimed, so a duplicate anywhere in
the file names both places.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping
from typing import Any, NoReturn

from ..naming import dns1123_fix, dns1123_problem, ifname_problem, label_key_problem, label_value_problem
from .model import PLUGIN_MODES, Attachment, ExternalHost, MultusConfig, Network, Node, Pod
from .schema_errors import line_of
from .wording import Path, _choose, _q, format_path, make_error

_MAC = re.compile(r"[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}")


class BuilderBase:
    """State shared by the sections (built in dependency order: networks, nodes, hosts, NADs, pods, expectations,
    lab, so each checks its references against the finished earlier ones) and the checks they share."""

    def __init__(self, source: str, data: dict[str, Any], lines: Mapping[Path, int]) -> None:
        self.source = source
        self.data = data
        self.lines = lines
        self.networks: dict[str, Network] = {}
        self.nodes: dict[str, Node] = {}
        self.external_hosts: dict[str, ExternalHost] = {}
        self.attachments: dict[tuple[str, str], Attachment] = {}
        self.pods: dict[tuple[str, str], Pod] = {}
        self.host_names: dict[str, tuple[str, Path]] = {}  # nodes, external hosts, routers, impostors: lab hosts
        self.ips: dict[ipaddress.IPv4Address, tuple[str, Path]] = {}
        self.macs: dict[str, tuple[str, Path]] = {}
        self.multus = MultusConfig()

    # -- plumbing ----------------------------------------------------------------------------------------------

    def fail(self, path: Path, problem: str, fix: str) -> NoReturn:
        raise make_error(self.source, line_of(self.lines, path), path, problem, fix)

    def at(self, path: Path) -> str:
        """Where a first definition was, for duplicate messages."""
        line = line_of(self.lines, path)
        return f"{format_path(path)} (line {line})" if line else format_path(path)

    def items(self, key: str) -> Iterable[tuple[Path, dict[str, Any]]]:
        return (((key, i), raw) for i, raw in enumerate(self.data.get(key, [])))

    def k8s_name(self, path: Path, value: str, what: str, subdomain: bool = False) -> str:
        problem = dns1123_problem(value, subdomain)
        if problem:
            kind = "DNS-1123 subdomain" if subdomain else "DNS-1123 label"
            self.fail(
                path, f"{what} {_q(value)} {problem}; it must be a Kubernetes name ({kind})", dns1123_fix(value)
            )
        return value

    def ifname(self, path: Path, value: str, what: str = "interface name") -> str:
        problem = ifname_problem(value)
        if problem:
            self.fail(path, f"{what} {_q(value)} {problem}", "use 1-15 characters without '/', ':' or spaces")
        return value

    def labels(self, path: Path, raw: Mapping[str, str], what: str) -> dict[str, str]:
        for key, value in raw.items():
            key_problem = label_key_problem(key)
            value_problem = label_value_problem(value)
            if key_problem or value_problem:
                shown = (
                    f"key {_q(key)} {key_problem}"
                    if key_problem
                    else f"{_q(key)} value {_q(value)} {value_problem}"
                )
                self.fail(path + (key,), f"{what} {shown}", "use a Kubernetes label like example.com/role: worker")
        return dict(raw)

    def mac(self, path: Path, value: str, holder: str) -> str:
        if not _MAC.fullmatch(value):
            self.fail(path, f"{_q(value)} is not a MAC address", "write six hex pairs like 02:00:00:00:00:01")
        mac = value.lower()
        if int(mac[:2], 16) & 1 or mac == "00:00:00:00:00:00":
            self.fail(
                path,
                f"{mac} is not a unicast MAC",
                "use a locally administered unicast MAC like 02:00:00:00:00:01",
            )
        if mac in self.macs:
            other, first = self.macs[mac]
            self.fail(
                path,
                f"MAC {mac} of {holder} is already used by {other} at {self.at(first)}",
                "give each a unique MAC",
            )
        self.macs[mac] = (holder, path)
        return mac

    def claim_ip(self, ip: ipaddress.IPv4Address, holder: str, path: Path) -> None:
        if ip in self.ips:
            other, first = self.ips[ip]
            self.fail(
                path,
                f"duplicate IP {ip}: {holder} and {other} at {self.at(first)} both use it",
                "give each holder its own address (model a deliberate conflict with lab.impostors or lab.drift)",
            )
        self.ips[ip] = (holder, path)

    def unique_host(self, name: str, path: Path, kind: str) -> None:
        if name in self.host_names:
            other, first = self.host_names[name]
            self.fail(
                path, f"duplicate name {_q(name)}: {kind} and {other} at {self.at(first)}", "rename one of them"
            )
        self.host_names[name] = (kind, path)

    def network_ref(self, path: Path, name: str) -> Network:
        if name not in self.networks:
            self.fail(
                path,
                f"unknown network {_q(name)}",
                f"define it under networks, or {_choose(name, list(self.networks))}",
            )
        return self.networks[name]

    # -- addresses ---------------------------------------------------------------------------------------------

    def subnet(self, path: Path, value: str) -> ipaddress.IPv4Network:
        try:
            iface = ipaddress.ip_interface(value)
        except ValueError:
            self.fail(path, f"{_q(value)} is not an IPv4 CIDR", "write network/prefix, e.g. 192.168.112.0/24")
        if iface.version != 4:
            self.fail(path, f"{value} is IPv6; netattest topologies are IPv4 only", "use an IPv4 subnet")
        if "/" not in value:
            self.fail(
                path, f"subnet {_q(value)} has no prefix length", f"write it as {value}/<prefix>, e.g. {value}/24"
            )
        if iface.ip != iface.network.network_address:
            self.fail(path, f"subnet {value} has host bits set", f"use the network address: {iface.network}")
        return iface.network

    def address(self, path: Path, value: str, network: Network | None) -> ipaddress.IPv4Address:
        if "/" in value:
            self.fail(
                path,
                f"{_q(value)} has a prefix length but this field takes a bare address",
                f"write {value.split('/')[0]}",
            )
        try:
            ip = ipaddress.ip_address(value)
        except ValueError:
            self.fail(path, f"{_q(value)} is not an IPv4 address", "write four dotted numbers, e.g. 192.168.112.1")
        if ip.version != 4:
            self.fail(path, f"{value} is IPv6; netattest topologies are IPv4 only", "use an IPv4 address")
        if network is not None:
            self.inside(path, ip, network)
        return ip

    def interface(self, path: Path, value: str, network: Network | None) -> ipaddress.IPv4Interface:
        """An address with prefix, inside ``network`` (when given) and no wider than its subnet."""
        if "/" not in value:
            prefix = network.subnet.prefixlen if network else 24
            self.fail(path, f"{_q(value)} has no prefix length", f"write {value}/{prefix}")
        try:
            iface = ipaddress.ip_interface(value)
        except ValueError:
            self.fail(path, f"{_q(value)} is not an IPv4 address with prefix", "write it like 192.168.112.11/24")
        if iface.version != 4:
            self.fail(path, f"{value} is IPv6; netattest topologies are IPv4 only", "use an IPv4 address")
        if network is not None:
            self.inside(path, iface.ip, network)
            if iface.network.prefixlen < network.subnet.prefixlen:
                self.fail(
                    path,
                    f"{value} is wider than network {network.name}'s subnet {network.subnet}",
                    f"write {iface.ip}/{network.subnet.prefixlen}",
                )
        return iface

    def inside(self, path: Path, ip: ipaddress.IPv4Address, network: Network) -> None:
        subnet = network.subnet
        vlan = f" (VLAN {network.vlan})" if network.vlan else ""
        if ip not in subnet:
            owner = next((n.name for n in self.networks.values() if ip in n.subnet), None)
            hint = f", or move it to network {owner}, whose subnet holds it" if owner else ""
            self.fail(
                path,
                f"{ip} is outside subnet {subnet} of network {network.name}{vlan}",
                f"use an address in {subnet}{hint}",
            )
        if subnet.prefixlen <= 30 and ip in (subnet.network_address, subnet.broadcast_address):
            kind = "network" if ip == subnet.network_address else "broadcast"
            self.fail(path, f"{ip} is the {kind} address of {subnet}", f"use a host address in {subnet}")

    def mode(self, path: Path, plugin: str, mode: str | None) -> str:
        """The plugin's mode, defaulted as the CNI plugin does (ipvlan l2, macvlan bridge; vlan has none)."""
        allowed = PLUGIN_MODES[plugin]
        if plugin == "vlan":
            if mode:
                self.fail(path + ("mode",), f"the vlan plugin has no mode, got {_q(mode)}", "remove mode")
            return ""
        if mode is None:
            return allowed[0]
        if mode not in allowed:
            other = next((p for p, modes in PLUGIN_MODES.items() if p != plugin and mode in modes), None)
            hint = f" ({mode} is a {other} mode)" if other else ""
            self.fail(path + ("mode",), f"mode {_q(mode)} is not valid for {plugin}{hint}", _choose(mode, allowed))
        return mode
