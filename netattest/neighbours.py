"""Neighbour discovery: who is on a VLAN, as the pods' own interfaces see it.

Isolation is a claim about *paths*: two VLANs are isolated only if no frame from one reaches the other by any next
hop, and the router that leaks is the one nobody wrote down. So before isolation is probed, one pod per source VLAN
sweeps its subnet with ARP (the whole subnet up to a bound, plus every address the topology names there) while a
passive listener on the same interface notes the source of every frame it hears (gratuitous ARP, a router asking
for a host). Every neighbour found is named from the inventory — pod, node NIC, declared host or gateway — or is
**unknown**; every one that is not one of the harness's own pods becomes a next hop for the isolation probes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network
from typing import Literal, Protocol

from netattest.actors import Actors
from netattest.probe.model import Endpoint, Listener, Probe, ProbeResult, WindowStats
from netattest.topology.model import Topology

NeighbourKind = Literal["pod", "node", "host", "gateway", "router", "impostor", "unknown"]
SWEEP_LIMIT = 4094  # addresses per VLAN: a whole /20
#: the sweep waits this share of the probe timeout: ARP is answered in milliseconds on a LAN, and whoever answers
#: later is asked again in the probe window (found there, it makes the census untrustworthy: never silently missed)
SWEEP_SHARE = 0.5


class Prober(Protocol):
    def probe(self, probes: Sequence[Probe], listeners: Sequence[Listener] = (), timeout: float | None = None) \
            -> tuple[list[ProbeResult], WindowStats]: ...


@dataclass(frozen=True)
class Neighbour:
    """One (address, MAC) seen on a VLAN, and who it is."""

    ip: str
    mac: str
    kind: NeighbourKind
    who: str  # e.g. "host ext-host", "router rogue (lab-only, not in the topology)", "unknown host (...)"
    how: str  # "ARP sweep", "heard", or both

    @property
    def can_forward(self) -> bool:
        """Anything but the harness's own pods may route a frame elsewhere (nodes forward IP by default)."""
        return self.kind != "pod"


@dataclass
class NeighbourTable:
    """The census of one VLAN."""

    network: str
    subnet: str
    swept_from: str = ""  # label of the sweeping pod interface ("" when no pod could sweep)
    sweeper_pod: str = ""  # its pod (namespace/name), for the evidence
    addresses_swept: int = 0
    bounded: bool = False  # the subnet is larger than the sweep: addresses beyond it were not asked
    neighbours: list[Neighbour] = field(default_factory=list)
    problem: str = ""  # why the census cannot be trusted ("" when it can)
    duration_s: float = 0.0

    def next_hops(self, exclude_macs: set[str]) -> list[Neighbour]:
        """One neighbour per MAC that could forward, never the harness's own pods (by MAC) nor ``exclude_macs``."""
        pod_macs = {n.mac for n in self.neighbours if n.kind == "pod"}
        hops: dict[str, Neighbour] = {}
        for n in self.neighbours:
            if n.can_forward and n.mac not in pod_macs | exclude_macs and n.ip and n.mac not in hops:
                hops[n.mac] = n
        return list(hops.values())

    def unknown(self) -> list[Neighbour]:
        return [n for n in self.neighbours if n.kind in ("unknown", "router", "impostor")]


@dataclass
class Sweep:
    """The probes and listeners of one discovery window, and the table each belongs to."""

    probes: list[Probe] = field(default_factory=list)
    listeners: list[Listener] = field(default_factory=list)
    tables: dict[str, NeighbourTable] = field(default_factory=dict)


def sweep_addresses(topology: Topology, network: str, limit: int = SWEEP_LIMIT) -> tuple[list[str], bool]:
    """The addresses to ask for on ``network``: the whole subnet up to ``limit`` hosts, then every address the
    topology names there outside that range (never its ``lab:`` section: the lab's faults must be *found*).
    Returns (addresses, bounded)."""
    subnet: IPv4Network = topology.network(network).subnet
    hosts = subnet.num_addresses - 2 if subnet.prefixlen < 31 else subnet.num_addresses
    first = int(subnet.network_address) + (1 if subnet.prefixlen < 31 else 0)
    addresses = [str(IPv4Address(first + n)) for n in range(min(hosts, limit))]
    bounded = hosts > limit
    if bounded:
        seen = set(addresses)
        named = [str(n.gateway) for n in topology.networks if n.gateway] \
            + [str(h.address.ip) for h in topology.external_hosts] \
            + [str(nic.address.ip) for node in topology.nodes for nic in node.nics if nic.address] \
            + [str(ip.ip) for pod in topology.pods for net in pod.networks for ip in net.ips]
        addresses += [a for a in dict.fromkeys(named) if IPv4Address(a) in subnet and a not in seen]
    return addresses, bounded


def plan_sweep(topology: Topology, sweepers: dict[str, Endpoint | str], limit: int = SWEEP_LIMIT) -> Sweep:
    """Sweep probes and passive listeners for each network: ``sweepers`` maps a network to the pod interface that
    sweeps it, or to the reason no pod can."""
    sweep = Sweep()
    for network, endpoint in sweepers.items():
        subnet = str(topology.network(network).subnet)
        if isinstance(endpoint, str):
            sweep.tables[network] = NeighbourTable(network, subnet, problem=endpoint)
            continue
        addresses, bounded = sweep_addresses(topology, network, limit)
        addresses = [a for a in addresses if a != endpoint.ip]
        sweep.tables[network] = NeighbourTable(network, subnet, swept_from=endpoint.describe(),
                                               addresses_swept=len(addresses), bounded=bounded)
        sweep.probes += [Probe(f"sweep:{network}:{a}", "arp", endpoint, a, None, expect_answer=False)
                         for a in addresses]
        sweep.listeners.append(Listener(f"passive:{network}", endpoint.netns, endpoint.ifname, "passive",
                                        label=f"{endpoint.describe()} (passive)"))
    return sweep


def census(sweep: Sweep, results: list[ProbeResult], stats: WindowStats, actors: Actors,
           topology: Topology) -> dict[str, NeighbourTable]:
    """Fill each table from the sweep's answers and the passive listeners' sightings, naming every neighbour."""
    found: dict[str, dict[tuple[str, str], set[str]]] = {n: {} for n in sweep.tables}
    for result in results:
        network = result.probe.id.split(":", 2)[1]
        for answer in result.answers:
            found[network].setdefault((answer.ip, answer.mac), set()).add("ARP sweep")
    for heard in stats.heard:
        if heard.listener.startswith("passive:") and heard.what == "source" and heard.ip_src:
            network = heard.listener.split(":", 1)[1]
            subnet = topology.network(network).subnet
            if IPv4Address(heard.ip_src) in subnet:  # a frame routed in from elsewhere keeps its far source
                found[network].setdefault((heard.ip_src, heard.eth_src), set()).add("heard")
    own_sources = {(p.source.ip, p.source.mac) for p in sweep.probes}
    for network, table in sweep.tables.items():
        if table.problem:
            continue
        gateway = topology.network(network).gateway
        for (ip, mac), hows in sorted(found[network].items(), key=lambda kv: IPv4Address(kv[0][0])):
            if (ip, mac) in own_sources:
                continue
            kind, who = classify(ip, mac, actors, str(gateway) if gateway else "")
            table.neighbours.append(Neighbour(ip, mac, kind, who, " + ".join(sorted(hows))))
        listening = stats.listening.get(f"passive:{network}", "")
        if not stats.trustworthy:
            table.problem = (f"the discovery window lost frames ({'; '.join(stats.socket_errors) or 'kernel drops'}):"
                             " a neighbour may have gone unheard")
        elif not table.neighbours:
            table.problem = (f"the sweep from {table.swept_from} heard nobody on {network}, not even the harness's "
                             "own pods: the sweeping socket may be deaf")
        elif listening:
            table.problem = f"passive listening on {network} failed: {listening}"
        table.duration_s = stats.duration_s
    return sweep.tables


def late_answers(tables: dict[str, NeighbourTable], results: list[ProbeResult], actors: Actors,
                 topology: Topology, waited: float) -> None:
    """Neighbours that answered only when asked again in the probe window: listed, and the census of their VLAN
    is untrustworthy, because no IP probe went through them."""
    for result in results:
        network = result.probe.id.split(":")[3] if result.probe.id.count(":") >= 3 else ""
        table = tables.get(network)
        if table is None:
            continue
        gateway = topology.network(network).gateway
        for answer in result.answers:
            kind, who = classify(answer.ip, answer.mac, actors, str(gateway) if gateway else "")
            table.neighbours.append(Neighbour(answer.ip, answer.mac, kind, who, "late ARP answer"))
            if kind != "pod":
                table.problem = table.problem or (
                    f"{answer.ip} ({answer.mac}, {who}) answered ARP only after the sweep's {waited:.2f} s wait, so no "
                    "IP probe went through it. Fix: raise --sweep-timeout")


def classify(ip: str, mac: str, actors: Actors, gateway: str) -> tuple[NeighbourKind, str]:
    """Who an (address, MAC) pair is: its holder by the inventory, or a MAC answering for someone else's address."""
    holder = actors.holder(ip, mac)
    if holder is not None:
        kind: NeighbourKind = holder.kind  # type: ignore[assignment]
        if kind == "host" and ip == gateway:
            return "gateway", f"gateway {ip} ({holder.label})"
        return kind, holder.label
    owners = actors.by_mac.get(mac, [])
    owner = next((a for a in owners if a.kind in ("router", "impostor")), None) or (owners[0] if owners else None)
    rightful = actors.address_of(ip)
    if owner is not None and owner.kind in ("router", "impostor"):
        claim = f", answering for {ip}" + (f", the address of {rightful}" if rightful else "")
        return owner.kind, owner.label + claim  # type: ignore[return-value]
    siblings = [a for a in actors.by_ip.get(ip, ()) if owner is not None and owner.pod and a.pod == owner.pod]
    if owner is not None and siblings:  # reported once, as ARP flux inside the pod, by the checks that see it
        return "pod", f"{owner.label} answering for {ip}, its sibling {siblings[0].label}'s address (ARP flux)"
    if owner is not None:
        return "unknown", (f"{owner.label} answering for {ip}, which is not its address"
                           + (f" ({rightful}'s)" if rightful else ""))
    if rightful:
        return "unknown", f"unknown host answering for {ip}, the address of {rightful}"
    if ip == gateway:
        return "gateway", f"gateway {ip} (declared on the network, not a declared host)"
    return "unknown", "unknown host (not in the topology)"
