"""A throwaway L2 lab for the probe engine's tests: a switch namespace with one Linux bridge per segment, hosts as
namespaces plugged into it, and routers joining segments (optionally with nftables rules: one-way, per protocol,
NAT). Nothing is added to the root namespace; every name starts with ``natest-<random>``.
"""

from __future__ import annotations

import os
import secrets
import subprocess

import pytest

from netattest.probe import Endpoint

#: the probe engine's own namespaces (not the embedded lab): the same requirements as ``@pytest.mark.lab``
needs_netns = pytest.mark.needs("root", "iproute2")
NET = "10.254.0"


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check)


def _netns_self() -> str:
    return os.readlink("/proc/thread-self/ns/net")


class NetnsLab:
    """A 'switch' namespace with one Linux bridge per segment; hosts are namespaces with a veth `eth0` on it."""

    def __init__(self) -> None:
        self.prefix = f"natest-{secrets.token_hex(3)}"
        self.created: list[str] = []
        self.sw = self._netns("sw")
        self.bridges: set[str] = set()
        self._n = 0

    def _netns(self, suffix: str) -> str:
        name = f"{self.prefix}-{suffix}"
        _ip("netns", "add", name)
        self.created.append(name)
        _ip("-n", name, "link", "set", "lo", "up")
        return name

    def host(self, name: str, *cidrs: str, segment: str = "br0", up: bool = True) -> Endpoint:
        ns = self._netns(name)
        if segment not in self.bridges:
            _ip("-n", self.sw, "link", "add", segment, "type", "bridge")
            _ip("-n", self.sw, "link", "set", segment, "up")
            self.bridges.add(segment)
        self._n += 1
        port = f"p{self._n}"
        mac = f"02:00:00:00:{self._n // 256:02x}:{self._n % 256:02x}"
        _ip("-n", ns, "link", "add", "eth0", "address", mac, "type", "veth", "peer", "name", port, "netns", self.sw)
        _ip("-n", self.sw, "link", "set", port, "master", segment, "up")
        for cidr in cidrs:
            _ip("-n", ns, "addr", "add", cidr, "dev", "eth0")
        if up:
            _ip("-n", ns, "link", "set", "eth0", "up")
        ip = cidrs[0].split("/")[0] if cidrs else "0.0.0.0"
        return Endpoint(netns=ns, ifname="eth0", ip=ip, mac=mac, label=f"{name}:eth0")

    def teardown(self) -> None:
        for name in reversed(self.created):
            res = _ip("netns", "del", name, check=False)
            if res.returncode and "No such file" not in res.stderr:
                raise RuntimeError(f"cannot delete netns {name}: {res.stderr.strip()}")



    def router(self, name: str, legs: list[tuple[str, str]], nft: str = "") -> list[Endpoint]:
        """A namespace with one leg per (segment, cidr), forwarding IPv4; ``nft`` is an nftables ruleset loaded
        inside it (``eth0``, ``eth1``... are its legs, in order)."""
        ns = self._netns(name)
        _ip("netns", "exec", ns, "sysctl", "-qw", "net.ipv4.ip_forward=1")
        legs_out = []
        for index, (segment, cidr) in enumerate(legs):
            if segment not in self.bridges:
                _ip("-n", self.sw, "link", "add", segment, "type", "bridge")
                _ip("-n", self.sw, "link", "set", segment, "up")
                self.bridges.add(segment)
            self._n += 1
            port, ifname = f"p{self._n}", f"eth{index}"
            mac = f"02:00:00:00:{self._n // 256:02x}:{self._n % 256:02x}"
            _ip("-n", ns, "link", "add", ifname, "address", mac, "type", "veth", "peer", "name", port,
                "netns", self.sw)
            _ip("-n", self.sw, "link", "set", port, "master", segment, "up")
            _ip("-n", ns, "addr", "add", cidr, "dev", ifname)
            _ip("-n", ns, "link", "set", ifname, "up")
            legs_out.append(Endpoint(netns=ns, ifname=ifname, ip=cidr.split("/")[0], mac=mac,
                                     label=f"{name}:{ifname}"))
        if nft:
            subprocess.run(["ip", "netns", "exec", ns, "nft", "-f", "-"], input=nft, text=True, check=True,
                           capture_output=True)
        return legs_out

    def default_route(self, host: Endpoint, via: str) -> None:
        _ip("-n", str(host.netns), "route", "add", "default", "via", via)
