"""Checks -> the probes and listeners of one window, remembering which probe and which listener serves which check.

Reachability: an ARP who-has and an ICMP echo to the target's own MAC. Isolation inside a VLAN (known behaviour):
the who-has. Isolation across VLANs — a claim about *paths*:

* L2: a marked who-has from every source pod (answered = the VLANs share a segment, or someone answers for them);
* L3: an ICMP echo, a UDP datagram to a closed port and a TCP SYN to the target, sent to the MAC of every neighbour
  of the source VLAN that could forward (discovered by the sweep, declared hosts included). One representative per
  (node, VLAN, master) sends them: every pod behind one master reaches the same wire, so this proves the same at a
  fraction of the count, and each check names the representative;
* target side: listeners in every namespace the harness reaches with an interface on the target VLAN, hearing any
  marked frame (a one-way or NATed path) and ARP requests for the unused addresses probed there. A marked broadcast
  *canary* sent inside the target VLAN proves each listener can hear before its silence counts.

Every silent probe has a sanity twin from the same socket: an ARP that must be answered, and for the IP probes an
echo, a datagram and a SYN to a host of the source VLAN that must answer each.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from netattest.inventory import Inventory
from netattest.matrix import Check, Subject, known_behaviour, l3_only, unused_addresses
from netattest.neighbours import NeighbourTable
from netattest.outcomes import Outcome, Status
from netattest.probe.model import IP_KINDS, Endpoint, Listener, Probe, ProbeKind, ProbeResult
from netattest.resolve import Resolved, Resolver
from netattest.topology.model import Topology

EndpointKey = tuple[str, str]  # (netns, ifname)


@dataclass(frozen=True)
class Hop:
    """A neighbour of the source VLAN that might forward an IP probe elsewhere."""

    mac: str
    ip: str
    who: str


@dataclass
class PathPlan:
    """The IP probes of one isolation check through one next hop."""

    hop: Hop
    sent_from: str
    target_ip: str
    probe_ids: list[str] = field(default_factory=list)


@dataclass
class ListenerPlan:
    listener: Listener
    network: str


def endpoint_key(endpoint: Endpoint) -> EndpointKey:
    return str(endpoint.netns), endpoint.ifname


class ProbeSet:
    """The probes and listeners of one window, built from checks; ``early`` holds outcomes decided without
    probing (a subject that does not exist, an untestable expectation)."""

    def __init__(self, topology: Topology, inventory: Inventory, twins: dict[str, list[Subject]],
                 neighbours: dict[str, NeighbourTable]) -> None:
        self.topology = topology
        self.resolver = Resolver(inventory)
        self.twins = twins
        self.neighbours = neighbours
        self.probes: list[Probe] = []
        self.by_check: dict[str, list[str]] = defaultdict(list)
        self.twin_of: dict[EndpointKey, str] = {}  # endpoint -> probe id of its ARP sanity twin
        self.l3_twins_of: dict[EndpointKey, list[str]] = {}  # representative endpoint -> its ICMP/UDP/TCP twins
        self.paths: dict[str, list[PathPlan]] = defaultdict(list)  # check id -> paths through next hops
        self.sent_from: dict[str, Endpoint] = {}  # check id -> endpoint of its IP probes
        self.early: dict[str, Outcome] = {}
        self.resolved: dict[str, tuple[Resolved, Resolved, Endpoint]] = {}
        self.check_networks: dict[str, tuple[str, str]] = {}  # check id -> (source network, target network)
        self.listeners: list[ListenerPlan] = []
        self.canaries: dict[str, list[str]] = {}  # network -> probe ids of its canaries
        self._dual_homed_cache: dict[str, list[tuple[str | None, Hop]]] = {}
        self.watch: dict[str, dict[str, list[tuple[str, Hop]]]] = defaultdict(dict)  # net -> ip -> (check, hop)
        self.token = int.from_bytes(os.urandom(4), "big") or 1
        self.mark_index: dict[int, int] = {}  # mark -> index in probes
        self._index: dict[str, int] = {}  # probe id -> index
        self._l3: dict[tuple[object, ...], str] = {}  # dedupe of IP probes per representative, target, hop, kind

    # -- bookkeeping -------------------------------------------------------------------------------------------
    def add(self, kind: ProbeKind, owner: str, source: Endpoint, ip: str, mac: str | None, answer: bool,
            marked: bool = False) -> str:
        probe_id = f"{kind}:{len(self.probes)}:{owner}"
        mark = (self.token << 32 | (len(self.probes) + 1)) if marked else 0
        if mark:
            self.mark_index[mark] = len(self.probes)
        self._index[probe_id] = len(self.probes)
        self.probes.append(Probe(probe_id, kind, source, ip, mac, answer, mark))
        return probe_id

    def probe(self, probe_id: str) -> Probe:
        return self.probes[self._index[probe_id]]

    def ask_again(self, sweep: list[ProbeResult]) -> set[str]:
        """The sweep's unanswered addresses, asked again in this window: a neighbour slower than the sweep's short
        wait is found here (and reported), never missed."""
        again = set()
        for result in sweep:
            if not result.answers and not result.error:
                p = result.probe
                again.add(self.add("arp", f"late-{p.id}", p.source, p.target_ip, None, False))
        return again

    def listener_list(self) -> list[Listener]:
        return [plan.listener for plan in self.listeners]

    # -- planning ----------------------------------------------------------------------------------------------
    def plan(self, checks: Sequence[Check]) -> None:
        for check in checks:
            if check.untestable:
                self.early[check.id] = Outcome(check, "broken", check.untestable)
                continue
            if check.not_applicable:
                continue
            if not self.resolver.can_send(check.source):
                self.early[check.id] = Outcome(check, "skipped", (
                    f"no neutral host to probe from on this target ({check.source.name} is not the harness's to "
                    "send from); duplicate addresses still fail the pod-to-pod reachability checks"))
                continue
            source, why = self.resolver.resolve(check.source)
            target, twhy = self.resolver.resolve(check.target) if source else (None, "")
            if source is None or target is None:
                status: Status = "failed" if check.expect_answer else "broken"
                self.early[check.id] = Outcome(check, status, why or twhy)
                continue
            endpoint = self.resolver.endpoint(check.source, source)
            self.resolved[check.id] = (source, target, endpoint)
            self.check_networks[check.id] = (check.source.network, check.target.network)
            crosses = check.source.network != check.target.network
            self.by_check[check.id].append(self.add("arp", check.id, endpoint, target.ip, None, check.expect_answer,
                                                    marked=crosses and not check.expect_answer))
            if check.expect_answer:
                self.by_check[check.id].append(self.add("icmp", check.id, endpoint, target.ip, target.mac, True))
        isolated = [c for c in checks if not c.expect_answer and c.id in self.resolved
                    and c.source.network != c.target.network]
        self._plan_paths(isolated)
        self._plan_twins(checks)
        self._plan_listeners(isolated)

    def _plan_paths(self, checks: list[Check]) -> None:
        """IP probes through every next hop, from one representative per (node, VLAN, master)."""
        representative: dict[tuple[object, ...], tuple[Subject, Endpoint]] = {}
        for check in checks:
            group = (check.source.node, check.source.network, check.source.master or check.source.name,
                     check.source.iface if check.source.master is None else "")
            if group not in representative and not l3_only(check.source):
                representative[group] = (check.source, self.resolved[check.id][2])
            if group not in representative:
                continue
            _, endpoint = representative[group]
            self.sent_from[check.id] = endpoint
            _, target, _ = self.resolved[check.id]
            hops = self.next_hops(check.source.network, endpoint)
            pool = unused_addresses(self.topology, check.target.network) if check.target.name == "unused" \
                and check.target.kind == "address" else []
            for n, hop in enumerate(hops):
                target_ip = pool[n % len(pool)] if pool else target.ip
                if pool:
                    self.watch[check.target.network].setdefault(target_ip, []).append((check.id, hop))
                path = PathPlan(hop, endpoint.describe(), target_ip)
                for kind in IP_KINDS:
                    key = (group, target_ip, hop.mac, kind)
                    if key not in self._l3:
                        self._l3[key] = self.add(kind, f"path:{check.id}", endpoint, target_ip, hop.mac, False,
                                                 marked=True)
                    path.probe_ids.append(self._l3[key])
                self.paths[check.id].append(path)

    def next_hops(self, network: str, endpoint: Endpoint) -> list[Hop]:
        """Discovered neighbours that could forward, then declared hosts of the VLAN the sweep did not hear."""
        hops: dict[str, Hop] = {}
        table = self.neighbours.get(network)
        if table is not None:
            for n in table.next_hops({endpoint.mac}):
                hops[n.mac] = Hop(n.mac, n.ip, n.who)
        for host in self.resolver.inventory.hosts:
            if host.role == "external" and host.network == network and host.interface.ips \
                    and host.interface.mac not in hops and host.interface.mac != endpoint.mac:
                hops[host.interface.mac] = Hop(host.interface.mac, host.interface.ips[0],
                                               f"host {host.name} (declared; the sweep did not hear it)")
        for hop in self._dual_homed(network, endpoint):
            hops.setdefault(hop.mac, hop)
        return list(hops.values())

    def _dual_homed(self, network: str, endpoint: Endpoint) -> list[Hop]:
        """Pods with interfaces on ``network`` and on another VLAN: one with ip_forward on (the tuning plugin can
        set it) is a router between them, so its interface here is a next hop like any neighbour's."""
        return [hop for netns, hop in self._dual_homed_on(network) if netns != endpoint.netns]

    def _dual_homed_on(self, network: str) -> list[tuple[str | None, Hop]]:
        """(pod namespace, hop) of every dual-homed pod on ``network``; computed once per network (asked once per
        isolation check)."""
        cached = self._dual_homed_cache.get(network)
        if cached is not None:
            return cached
        found = []
        for pod in self.resolver.inventory.pods:
            networks = {a.network for a in pod.attachments if not a.error}
            if len(networks) < 2 or network not in networks:
                continue
            for att in pod.attachments:
                iface = pod.interfaces.get(att.interface)
                if att.network == network and iface is not None and iface.ips and iface.mac:
                    others = ", ".join(sorted(networks - {network}))
                    why = f"pod {pod.label} {iface.name} (also on {others}: forwards if its ip_forward is on)"
                    found.append((pod.netns, Hop(iface.mac, iface.ips[0], why)))
                    break
        self._dual_homed_cache[network] = found
        return found

    def _plan_twins(self, checks: Sequence[Check]) -> None:
        """One ARP sanity twin per source socket with silent checks; ICMP/UDP/TCP twins per sender of IP probes."""
        for check in checks:
            if check.expect_answer or check.id not in self.resolved:
                continue
            _, _, endpoint = self.resolved[check.id]
            key = endpoint_key(endpoint)
            if key not in self.twin_of:
                twin = self._twin_target(check.source, prefer_pods=False)
                if twin is not None:
                    self.twin_of[key] = self.add("arp", f"sanity:{key}", endpoint, twin.ip, None, True)
            sender = self.sent_from.get(check.id)
            if sender is not None and endpoint_key(sender) not in self.l3_twins_of:
                twin = self._twin_target(check.source, prefer_pods=True)
                self.l3_twins_of[endpoint_key(sender)] = [] if twin is None or not twin.mac else [
                    self.add(kind, f"sanity-l3:{endpoint_key(sender)}", sender, twin.ip, twin.mac, True)
                    for kind in IP_KINDS]

    def _twin_target(self, source: Subject, prefer_pods: bool) -> Resolved | None:
        """Who must answer a sanity twin in the source's own VLAN. ARP twins: the topology's external hosts first,
        their address from the topology (a vanished host leaves the twin unanswered: *broken*, never a silent
        pass). IP twins: the harness's own pods first, which answer every protocol, then hosts."""
        subjects = self.twins.get(source.network, [])
        if prefer_pods:
            subjects = [s for s in subjects if s.kind == "pod"] + [s for s in subjects if s.kind != "pod"]
        for subject in subjects:
            if subject.kind == "pod" and (subject.name == source.name or known_behaviour(source, subject)):
                continue
            if subject.kind == "host" and subject.address and not prefer_pods:
                resolved, _ = self.resolver.resolve(subject)
                return Resolved(subject.address, resolved.mac if resolved else "", f"host {subject.name}")
            resolved, _ = self.resolver.resolve(subject)
            if resolved is not None:
                return resolved
        return None

    def _plan_listeners(self, checks: list[Check]) -> None:
        """Listeners on every target VLAN of an isolation check, and a canary each must hear."""
        networks = list(dict.fromkeys(c.target.network for c in checks))
        for network in networks:
            watch = tuple(self.watch.get(network, {}))
            senders: list[Endpoint] = []
            found = self._listeners_on(network, watch)
            for _, sender in found:
                if sender is not None:
                    senders.append(sender)
            spare = unused_addresses(self.topology, network, len(watch) + 1)
            if senders and spare:
                self.canaries[network] = [self.add("arp", f"canary:{network}", senders[0], spare[-1], None, False,
                                                   marked=True)]
            own = self._own_senders(network)
            canaries = tuple(self.probe(pid).mark for pid in self.canaries.get(network, []))
            for listener, _ in found:
                self.listeners.append(ListenerPlan(replace(listener, own_senders=own, keep_marks=canaries), network))

    def _own_senders(self, network: str) -> tuple[tuple[str, str], ...]:
        """(MAC, IPv4) of the harness's pod interfaces on ``network``: the marked who-has they broadcast there (for
        their own isolation checks) reach every listener of the segment and are its own traffic. Pods only: a
        host or a node can be a router with source NAT, whose forwarded frames carry its own MAC and address on
        this segment, and those must stay evidence."""
        pairs: set[tuple[str, str]] = set()
        for pod in self.resolver.inventory.pods:
            for att in pod.attachments:
                iface = pod.interfaces.get(att.interface)
                if att.network == network and iface is not None and iface.mac:
                    pairs.update((iface.mac, ip) for ip in iface.ips)
        return tuple(sorted(pairs))

    def _listeners_on(self, network: str, watch: tuple[str, ...]) -> list[tuple[Listener, Endpoint | None]]:
        """Every interface on ``network`` the harness can listen on (pods; hosts and node NICs where the target
        gives them a namespace), with an endpoint to send a canary from when it can send."""
        inventory = self.resolver.inventory
        found: list[tuple[Listener, Endpoint | None]] = []
        for pod in inventory.pods:
            for att in pod.attachments:
                iface = pod.interfaces.get(att.interface)
                if att.network != network or att.error or iface is None or pod.netns is None:
                    continue
                sender = None if l3_only(Subject("pod", pod.key, att.interface, network, pod.node, att.attachment)) \
                    or not iface.ips else Endpoint(pod.netns, iface.name, iface.ips[0], iface.mac,
                                                   f"{pod.key}@{pod.node}:{iface.name}")
                found.append((Listener(f"{network}:pod:{pod.key}:{iface.name}", pod.netns, iface.name,
                                       watch_ips=watch, label=f"pod {pod.label} {iface.name}"), sender))
        for host in inventory.hosts:
            if host.role == "external" and host.network == network and host.netns is not None:
                sender = Endpoint(host.netns, host.interface.name, host.interface.ips[0] if host.interface.ips
                                  else "0.0.0.0", host.interface.mac, f"host {host.name}")
                found.append((Listener(f"{network}:host:{host.name}", host.netns, host.interface.name,
                                       watch_ips=watch, label=f"host {host.name}"), sender))
        views = {n.name: n for n in inventory.nodes}
        for node in self.topology.nodes:
            view = views.get(node.name)
            for nic in node.nics:
                seen = view.nics.get(nic.name) if view else None
                if nic.network != network or nic.trunk or view is None or view.netns is None or seen is None:
                    continue
                sender = Endpoint(view.netns, nic.name, seen.ips[0] if seen.ips else "0.0.0.0", seen.mac,
                                  f"node {node.name}/{nic.name}")
                found.append((Listener(f"{network}:node:{node.name}:{nic.name}", view.netns, nic.name,
                                       watch_ips=watch, label=f"node {node.name}/{nic.name}"), sender))
        return found
