"""What a node really has, read through a testinfra host: links, addresses, ARP sysctls, CNI binaries, daemons.

The testinfra host is the transport (a lab namespace, SSH, a debug pod). Every command is a round trip (``ip netns
exec`` natively costs ~4 ms, but ~100 ms inside the user-mode Linux sandbox, and SSH more), so one shell script
reads everything in one: all links with their details and addresses (``ip -d -j addr show``; testinfra's
``host.interface(name)`` costs two commands per interface and lacks kind, VLAN id and receive-mode counters), all
ARP sysctls (one read of /proc/sys; ``host.sysctl`` is one command per key), which candidate CNI binaries are
executable files (``test -f`` and ``test -x``, as testinfra's ``host.file`` asks them) and, where a NAD uses dhcp,
the process list. Only a dhcp daemon's socket costs one more command (``host.file``), per daemon found.
Facts are collected once per node and judged by :mod:`netattest.nodes.checks`; they are also the node side of the
evidence (``nodes.json``).

A fact that cannot be read at all is an infrastructure fault (:class:`NodeFactsError`, reported *broken*), never a
failed check: testinfra's ``check_output`` raises AssertionError, which pytest would count as a failure.
"""

from __future__ import annotations

import json
import posixpath
import shlex
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from netattest.errors import NetattestError

#: CNI bin dirs searched on cluster nodes: the upstream default, OpenShift's Multus copy, RHCOS's packaged plugins.
CLUSTER_CNI_BIN_DIRS = ("/opt/cni/bin", "/var/lib/cni/bin", "/usr/libexec/cni")
#: Where the CNI dhcp daemon listens unless started with -socketpath.
DHCP_DEFAULT_SOCKET = "/run/cni/dhcp.sock"


class NodeFactsError(NetattestError):
    """The node's facts could not be read (no access, a command missing on the node)."""


@dataclass(frozen=True)
class LinkFacts:
    name: str
    kind: str  # link kind (vlan, veth, bond, ...); "" for a plain NIC
    flags: tuple[str, ...]  # as ip prints them: UP, LOWER_UP, NO-CARRIER, PROMISC, ALLMULTI, NOARP, ...
    operstate: str
    mtu: int
    mac: str
    parent: str | None  # lower device (a VLAN sub-interface's trunk)
    vlan_id: int | None
    vlan_protocol: str | None
    promiscuity: int  # the kernel's counter (plugins and taps raise it without the PROMISC flag)
    allmulti: int
    addresses: tuple[str, ...]  # IPv4 and IPv6, without prefix
    arp_ignore: int | None  # conf/<name>/arp_ignore
    arp_announce: int | None

    @property
    def up(self) -> bool:
        return "UP" in self.flags

    @property
    def carrier(self) -> bool:
        return "LOWER_UP" in self.flags

    @property
    def loopback(self) -> bool:
        return "LOOPBACK" in self.flags

    @property
    def arp(self) -> bool:
        return "NOARP" not in self.flags

    @property
    def ipv4(self) -> tuple[str, ...]:
        return tuple(a for a in self.addresses if ":" not in a)

    @property
    def routable(self) -> tuple[str, ...]:
        """Addresses that make the node present on the link: IPv4 and non-link-local IPv6."""
        return tuple(a for a in self.addresses if not a.lower().startswith("fe80:"))

    def state(self) -> str:
        return f"{'up' if self.up else 'down'}, operstate {self.operstate}, flags {','.join(self.flags) or '-'}"


@dataclass(frozen=True)
class DhcpDaemon:
    pid: int
    args: str
    socket: str
    socket_present: bool


@dataclass
class NodeFacts:
    node: str
    access: str  # how they were read (netns://..., ssh://..., debug pod ...)
    root: str  # where the node's filesystem is visible to the commands ("" = /)
    links: dict[str, LinkFacts]
    arp_all: tuple[int | None, int | None]  # conf/all (arp_ignore, arp_announce)
    arp_default: tuple[int | None, int | None]
    bin_dirs: tuple[str, ...]
    binaries: dict[str, str | None]  # binary -> path where found (None: in no bin dir)
    dhcp_daemons: tuple[DhcpDaemon, ...] = ()
    collected_at: float = 0.0
    duration_s: float = 0.0
    notes: list[str] = field(default_factory=list)

    def link(self, name: str) -> LinkFacts | None:
        return self.links.get(name)

    def effective_arp(self, link: LinkFacts) -> tuple[int, int]:
        """(arp_ignore, arp_announce) in force on ``link``: the kernel uses the larger of conf/all and conf/<if>."""
        ignore = max(v for v in (self.arp_all[0], link.arp_ignore, 0) if v is not None)
        announce = max(v for v in (self.arp_all[1], link.arp_announce, 0) if v is not None)
        return ignore, announce


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def parse_links(ip_json: str) -> dict[str, dict[str, Any]]:
    """``ip -d -j addr show`` (or ``link show``) output keyed by interface name."""
    return {entry["ifname"]: entry for entry in json.loads(ip_json or "[]")}


def link_facts(name: str, detail: dict[str, Any], addresses: Iterable[str], arp_ignore: int | None,
               arp_announce: int | None) -> LinkFacts:
    info = detail.get("linkinfo") or {}
    data = info.get("info_data") or {}
    kind = str(info.get("info_kind") or "")
    return LinkFacts(
        name=name, kind=kind, flags=tuple(detail.get("flags") or ()), operstate=str(detail.get("operstate", "")),
        mtu=int(detail.get("mtu") or 0), mac=str(detail.get("address") or ""),
        parent=detail.get("link"), vlan_id=_int(data.get("id")) if kind == "vlan" else None,
        vlan_protocol=data.get("protocol") if kind == "vlan" else None,
        promiscuity=int(detail.get("promiscuity") or 0), allmulti=int(detail.get("allmulti") or 0),
        addresses=tuple(addresses), arp_ignore=arp_ignore, arp_announce=arp_announce)


ARP_SYSCTLS = "grep -H . /proc/sys/net/ipv4/conf/*/arp_ignore /proc/sys/net/ipv4/conf/*/arp_announce"


def parse_arp_sysctls(text: str) -> dict[tuple[str, str], int]:
    """``grep -H`` lines ``/proc/sys/net/ipv4/conf/<if>/<key>:<value>`` -> {(if, key): value}; interface names may
    contain dots (ens224.112), which /proc keeps as they are."""
    values = {}
    for line in text.splitlines():
        path, _, value = line.rpartition(":")
        parts = path.split("/")
        if len(parts) >= 2 and _int(value) is not None:
            values[(parts[-2], parts[-1])] = int(value)
    return values


SECTION = "--- netattest:"  # marks where each part of the facts script's output begins
PS = "ps -ww -eo pid=,comm=,args="  # -ww: never cut the arguments


def facts_script(candidates: Iterable[str], ps: bool) -> str:
    """The one command that reads a node's facts: sections ``links``, ``arp``, ``binaries`` (the ``candidates``
    that are executable files) and, when ``ps``, ``ps``. A failing read ends it with that read's status."""
    q = shlex.quote
    parts = ['PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"',  # ip is in sbin, which a non-login PATH may lack
             f"echo {q(SECTION + 'links')}", "ip -d -j addr show || exit",
             f"echo {q(SECTION + 'arp')}", f"{ARP_SYSCTLS} || exit",
             f"echo {q(SECTION + 'binaries')}"]
    names = " ".join(q(c) for c in candidates)
    if names:
        parts.append(f'for f in {names}; do if [ -f "$f" ] && [ -x "$f" ]; then echo "$f"; fi; done')
    if ps:
        parts += [f"echo {q(SECTION + 'ps')}", f"{PS} || exit"]
    return "; ".join(parts)


def split_sections(text: str) -> dict[str, str]:
    """The facts script's output, by section."""
    sections: dict[str, list[str]] = {}
    current: list[str] = []
    for line in text.splitlines():
        if line.startswith(SECTION):
            current = sections.setdefault(line[len(SECTION):].strip(), [])
        else:
            current.append(line)
    return {name: "\n".join(lines) for name, lines in sections.items()}


def _binary_paths(root: str, bin_dirs: Iterable[str], binaries: Iterable[str]) -> dict[str, list[tuple[str, str]]]:
    """Per binary, (path to test, path to report) in each bin dir, in the dirs' order."""
    return {binary: [(posixpath.join(root + directory, binary) if root else posixpath.join(directory, binary),
                      posixpath.join(directory, binary)) for directory in bin_dirs] for binary in binaries}


def _dhcp_daemons(host: Any, root: str, listing: str) -> tuple[DhcpDaemon, ...]:
    """The CNI dhcp daemons in a plain ``ps -eo pid=,comm=,args=`` listing (testinfra's ``host.process`` asks ps
    for start times and fails where the kernel reports no boot time: user-mode Linux, some containers)."""
    daemons = []
    for line in listing.splitlines():
        fields = line.split(None, 2)
        if len(fields) < 3 or fields[1] != "dhcp":
            continue
        pid, args = fields[0], fields[2]
        words = args.split()
        if "daemon" not in words:
            continue
        socket = DHCP_DEFAULT_SOCKET
        if "-socketpath" in words and words.index("-socketpath") + 1 < len(words):
            socket = words[words.index("-socketpath") + 1]
        daemons.append(DhcpDaemon(int(pid), args, socket, host.file(root + socket).is_socket))
    return tuple(daemons)


def gather(host: Any, node: str, *, access: str, bin_dirs: Iterable[str], binaries: Iterable[str],
           root: str = "", dhcp: bool = False) -> NodeFacts:
    """Read one node's facts through testinfra ``host``; ``binaries`` are looked up in ``bin_dirs``."""
    started = time.monotonic()
    bin_dirs = tuple(bin_dirs)
    candidates = _binary_paths(root, bin_dirs, binaries)
    try:
        sections = split_sections(host.check_output(facts_script(
            [tested for paths in candidates.values() for tested, _ in paths], dhcp)))
        details = parse_links(sections.get("links", ""))
        arp = parse_arp_sysctls(sections.get("arp", ""))
        found = set(sections.get("binaries", "").splitlines())
        links = {}
        for name, detail in details.items():
            addresses = [a["local"] for a in detail.get("addr_info") or () if a.get("local")]
            links[name] = link_facts(name, detail, addresses, arp.get((name, "arp_ignore")),
                                     arp.get((name, "arp_announce")))
        facts = NodeFacts(
            node=node, access=access, root=root, links=links,
            arp_all=(arp.get(("all", "arp_ignore")), arp.get(("all", "arp_announce"))),
            arp_default=(arp.get(("default", "arp_ignore")), arp.get(("default", "arp_announce"))),
            bin_dirs=bin_dirs,
            binaries={binary: next((shown for tested, shown in paths if tested in found), None)
                      for binary, paths in candidates.items()},
            dhcp_daemons=_dhcp_daemons(host, root, sections.get("ps", "")) if dhcp else (),
            collected_at=time.time())
    except (AssertionError, ValueError, NotImplementedError, RuntimeError) as exc:
        # testinfra's check_output/run_expect raise AssertionError on a failing command
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise NodeFactsError(f"could not read the facts of node {node} through {access}: {first}. Fix: make sure "
                             "the node is reachable that way and has iproute2, procps (sysctl, ps) and "
                             "coreutils") from exc
    facts.duration_s = time.monotonic() - started
    return facts
