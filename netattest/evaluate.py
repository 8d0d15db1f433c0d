"""Resolve planned checks against what the target built, probe them all in one window, and judge each one.

Verdicts follow Allure's vocabulary: *passed*, *failed* (a network expectation does not hold) and *broken* (the
evidence cannot be trusted: the probe's own socket heard nothing in its VLAN, or the kernel dropped frames).
Every isolation check is paired with a sanity twin sent from the same socket in the same window; silence only
counts when the twin was answered.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Literal, Protocol, Sequence

from netattest.inventory import InterfaceView, Inventory
from netattest.matrix import Check, Subject
from netattest.probe.engine import Endpoint, Probe, ProbeResult, WindowStats

Status = Literal["passed", "failed", "broken", "skipped"]


class Prober(Protocol):
    def probe(self, probes: Sequence[Probe]) -> tuple[list[ProbeResult], WindowStats]: ...


@dataclass
class Outcome:
    check: Check
    status: Status
    reason: str
    results: list[ProbeResult] = field(default_factory=list)
    twin: ProbeResult | None = None
    target_ip: str | None = None
    expected_mac: str | None = None


@dataclass
class MatrixRun:
    outcomes: dict[str, Outcome]
    stats: WindowStats
    results: list[ProbeResult]
    #: (pod key, iface) -> MACs seen on the wire in ARP answers for that pod interface's address
    wire_macs: dict[tuple[str, str], set[str]]


@dataclass(frozen=True)
class _Resolved:
    ip: str
    mac: str
    label: str


class _Index:
    """Who owns which address and MAC, as observed: turns a bare MAC in an answer into names."""

    def __init__(self, inventory: Inventory) -> None:
        self.inventory = inventory
        # dict lookups, not scans: a 200-pod matrix resolves tens of thousands of subjects
        self.pods = {(p.namespace, p.name): p for p in inventory.pods}
        self.hosts = {h.name: h for h in inventory.hosts if h.role == "external"}
        self.nodes = {n.name: n for n in inventory.nodes}
        self.mac_owners: dict[str, list[str]] = defaultdict(list)
        self._resolved: dict[tuple[str, str, str], tuple[_Resolved | None, str]] = {}
        for pod in inventory.pods:
            for iface in pod.interfaces.values():
                if iface.kind in ("ipvlan", "macvlan", "vlan"):
                    self.mac_owners[iface.mac].append(f"pod {pod.label} {iface.name}")
        for node in inventory.nodes:
            for nic in node.nics.values():
                if nic.mac and nic.kind:
                    self.mac_owners[nic.mac].append(f"node {node.name} {nic.name}")
        for host in inventory.hosts:
            self.mac_owners[host.interface.mac].append(f"{host.role} host {host.name}")

    def owners(self, mac: str) -> str:
        names = self.mac_owners.get(mac)
        return " / ".join(names) if names else "unknown host (not in the topology)"

    def resolve(self, subject: Subject) -> tuple[_Resolved | None, str]:
        """(address, MAC) of a subject as built, or None with the reason it has none (memoised per subject)."""
        key = (subject.kind, subject.name, subject.iface)
        known = self._resolved.get(key)
        if known is None:
            known = self._resolved[key] = self._resolve(subject)
        return known

    def _resolve(self, subject: Subject) -> tuple[_Resolved | None, str]:
        iface: InterfaceView | None = None
        if subject.kind == "pod":
            namespace, name = subject.name.split("/", 1)
            pod = self.pods.get((namespace, name))
            if pod is None:
                return None, f"pod {subject.name} does not exist"
            iface = pod.interfaces.get(subject.iface)
            if iface is None or not iface.ips:
                why = pod.reason or f"it has no {subject.iface} interface with an address"
                return None, f"pod {pod.label} cannot take part: {why}"
            label = f"{pod.label} {subject.iface}"
        elif subject.kind == "host":
            host = self.hosts.get(subject.name)
            if host is None:
                return None, f"external host {subject.name} is not present on network {subject.network}"
            iface, label = host.interface, f"host {host.name}"
        else:
            node = self.nodes.get(subject.name)
            iface = node.nics.get(subject.iface) if node else None
            if iface is None or not iface.ips:
                return None, f"node {subject.name} has no address on {subject.iface}"
            label = f"node {subject.label}"
        return _Resolved(iface.ips[0], iface.mac, label), ""


def _endpoint(index: _Index, subject: Subject, resolved: _Resolved) -> Endpoint:
    if subject.kind == "host":
        host = index.hosts[subject.name]
        return Endpoint(host.netns, host.interface.name, resolved.ip, resolved.mac, f"host {host.name}")
    namespace, name = subject.name.split("/", 1)
    pod = index.pods[(namespace, name)]
    return Endpoint(pod.netns, subject.iface, resolved.ip, resolved.mac, f"{subject.name}@{pod.node}:{subject.iface}")


class _Planner:
    """Turns checks into probes; remembers which probes belong to which check."""

    def __init__(self, inventory: Inventory, twins: dict[str, list[Subject]]) -> None:
        self.index = _Index(inventory)
        self.twins = twins
        self.probes: list[Probe] = []
        self.by_check: dict[str, list[str]] = defaultdict(list)
        self.twin_of: dict[tuple[str, str], str] = {}  # endpoint key -> probe id of its sanity twin
        self.early: dict[str, Outcome] = {}
        self.resolved: dict[str, tuple[_Resolved, _Resolved, Endpoint]] = {}

    def _host_can_send(self, name: str) -> bool:
        host = self.index.hosts.get(name)
        return host is None or host.netns is not None  # absent: resolution reports it as missing

    def add(self, kind: str, check_id: str, source: Endpoint, ip: str, mac: str | None, answer: bool) -> str:
        probe_id = f"{kind}:{len(self.probes)}:{check_id}"
        self.probes.append(Probe(probe_id, kind, source, ip, mac, answer))  # type: ignore[arg-type]
        self.by_check[check_id].append(probe_id)
        return probe_id

    def plan(self, checks: Sequence[Check]) -> None:
        for check in checks:
            if check.not_applicable:
                continue
            if check.source.kind == "host" and not self._host_can_send(check.source.name):
                self.early[check.id] = Outcome(check, "skipped", (
                    f"no neutral host to probe from on this target ({check.source.name} is not the harness's to "
                    "send from); duplicate addresses still fail the pod-to-pod reachability checks"))
                continue
            source, why = self.index.resolve(check.source)
            target, twhy = self.index.resolve(check.target) if source else (None, "")
            if source is None or target is None:
                status: Status = "failed" if check.expect_answer else "broken"
                self.early[check.id] = Outcome(check, status, why or twhy)
                continue
            endpoint = _endpoint(self.index, check.source, source)
            self.resolved[check.id] = (source, target, endpoint)
            self.add("arp", check.id, endpoint, target.ip, None, check.expect_answer)
            if check.expect_answer:
                self.add("icmp", check.id, endpoint, target.ip, target.mac, True)
        self._plan_isolation_paths(checks)
        self._plan_twins(checks)

    def _neighbours(self, network: str) -> list[_Resolved]:
        """Non-pod hosts of a VLAN that could route a frame elsewhere (gateways, servers)."""
        hosts = [h for h in self.index.inventory.hosts if h.network == network and h.role == "external"]
        return [_Resolved(h.interface.ips[0], h.interface.mac, f"host {h.name}") for h in hosts if h.interface.ips]

    def _plan_isolation_paths(self, checks: Sequence[Check]) -> None:
        """An isolated address must not answer ICMP sent through any host of the source VLAN either."""
        for check in checks:
            if check.expect_answer or check.id not in self.resolved or check.source.network == check.target.network:
                continue
            _, target, endpoint = self.resolved[check.id]
            for hop in self._neighbours(check.source.network):
                self.add("icmp", check.id, endpoint, target.ip, hop.mac, False)

    def _plan_twins(self, checks: Sequence[Check]) -> None:
        """One sanity twin per source socket that has silent checks: an ARP that must be answered."""
        for check in checks:
            if check.expect_answer or check.id not in self.resolved:
                continue
            _, _, endpoint = self.resolved[check.id]
            key = (str(endpoint.netns), endpoint.ifname)
            if key in self.twin_of:
                continue
            twin = self._twin_target(check)
            if twin is not None:
                self.twin_of[key] = self.add("arp", f"sanity:{key}", endpoint, twin, None, True)

    def _twin_target(self, check: Check) -> str | None:
        """Address of the first planned sanity target of the source's VLAN: an external host's address comes
        from the topology (so a vanished host leaves the twin unanswered: *broken*, never a silent pass)."""
        for subject in self.twins.get(check.source.network, []):
            if subject.kind == "pod" and subject.name == check.source.name:
                continue
            if subject.kind == "host" and subject.address:
                return subject.address
            resolved, _ = self.index.resolve(subject)
            if resolved is not None:
                return resolved.ip
        return None


def _describe(result: ProbeResult, index: _Index) -> str:
    return ", ".join(f"{a.mac} ({index.owners(a.mac)}) in {a.rtt_ms:.1f} ms" for a in result.answers)


def _judge_reachable(check: Check, results: list[ProbeResult], target: _Resolved, index: _Index) -> tuple[Status, str]:
    arp = next(r for r in results if r.probe.kind == "arp")
    icmp = next((r for r in results if r.probe.kind == "icmp"), None)
    macs = sorted({a.mac for a in arp.answers})
    who = f"{target.label} ({target.ip})"
    if not macs:
        return "failed", (f"no ARP reply from {who} to {check.source.label} after {arp.attempts} attempt(s): "
                          f"no L2 path inside VLAN {check.source.network}")
    if len(macs) > 1:
        listing = "; ".join(f"{mac} = {index.owners(mac)}" for mac in macs)
        return "failed", f"duplicate address: {target.ip} answered by {len(macs)} MACs ({listing})"
    if macs[0] != target.mac:
        return "failed", (f"{target.ip} answered from MAC {macs[0]} ({index.owners(macs[0])}), but it belongs to "
                          f"{target.label} with MAC {target.mac}: someone else answers for this address")
    if icmp is None or not icmp.answers:
        return "failed", f"ARP for {who} answered from {macs[0]}, but ICMP echo got no reply"
    return "passed", (f"ARP reply from {macs[0]} (owner {target.label}) in {arp.answers[0].rtt_ms:.1f} ms; "
                      f"ICMP echo reply in {icmp.answers[0].rtt_ms:.1f} ms")


def _judge_isolated(check: Check, results: list[ProbeResult], twin: ProbeResult | None, target: _Resolved,
                    index: _Index, stats: WindowStats) -> tuple[Status, str]:
    if stats.kernel_drops:
        return "broken", (f"the kernel dropped {stats.kernel_drops} frames in the probe window: silence proves "
                          "nothing")
    heard = [r for r in results if r.answers]
    if heard:
        first = heard[0]
        via = "ARP" if first.probe.kind == "arp" else f"ICMP routed via {first.probe.target_mac}"
        return "failed", (f"isolation broken: {target.label} ({target.ip}) on {check.target.network} answered "
                          f"{via} from {check.source.label} on {check.source.network}: {_describe(first, index)}"
                          + ("" if check.known_behaviour is None else f" — expected silence: {check.known_behaviour}"))
    if twin is None:
        return "broken", (f"no sanity twin for {check.source.label}: network {check.source.network} has no host "
                          "or pod that must answer, so silence proves nothing. Fix: add an external host")
    if not twin.answers:
        return "broken", (f"sanity twin got no answer: {check.source.label} heard nothing from "
                          f"{twin.probe.target_ip}, which must answer in its own VLAN {check.source.network}, from "
                          "the same socket; the probe may be deaf, so silence proves nothing")
    reason = (f"silent: no ARP{'/ICMP' if len(results) > 1 else ''} answer from {target.ip} within one window; "
              f"sanity twin {twin.probe.target_ip} answered the same socket in {twin.answers[0].rtt_ms:.1f} ms")
    if check.known_behaviour:
        reason += f" (known behaviour: {check.known_behaviour})"
    return "passed", reason


def run_matrix(checks: Sequence[Check], inventory: Inventory, prober: Prober,
               twins: dict[str, list[Subject]]) -> MatrixRun:
    """Probe every check in one window and judge each; failures of resolution are judged without probing.
    ``twins`` comes from :func:`netattest.matrix.sanity_targets`."""
    planner = _Planner(inventory, twins)
    planner.plan(checks)
    results, stats = prober.probe(planner.probes)
    by_id = {r.probe.id: r for r in results}
    outcomes = dict(planner.early)
    wire: dict[tuple[str, str], set[str]] = defaultdict(set)
    for check in checks:
        if check.not_applicable:
            outcomes[check.id] = Outcome(check, "skipped", check.not_applicable)
            continue
        if check.id in outcomes:
            continue
        _, target, endpoint = planner.resolved[check.id]
        mine = [by_id[pid] for pid in planner.by_check[check.id]]
        twin_id = planner.twin_of.get((str(endpoint.netns), endpoint.ifname))
        twin = by_id.get(twin_id) if twin_id else None
        errors = [r.error for r in mine + ([twin] if twin else []) if r.error]
        if errors:
            outcomes[check.id] = Outcome(check, "broken", f"probe could not be sent: {errors[0]}", mine, twin,
                                         target.ip, target.mac)
            continue
        if check.expect_answer:
            status, reason = _judge_reachable(check, mine, target, planner.index)
            if check.target.kind == "pod":
                wire[(check.target.name, check.target.iface)].update(
                    a.mac for r in mine if r.probe.kind == "arp" for a in r.answers)
        else:
            status, reason = _judge_isolated(check, mine, twin, target, planner.index, stats)
        # Dropped frames taint the whole window (any socket may have lost an answer); a socket error only taints
        # the probes of that socket, which are judged broken above.
        if stats.kernel_drops and (status == "passed" or (status == "failed" and check.expect_answer
                                                          and any(not r.answers for r in mine))):
            lost = "; ".join(stats.socket_errors) or "in the probe sockets"
            status, reason = "broken", (f"{stats.kernel_drops} frames were dropped during the probe window ({lost}),"
                                        f" so a missing answer proves nothing: {reason}")
        outcomes[check.id] = Outcome(check, status, reason, mine, twin, target.ip, target.mac)
    return MatrixRun(outcomes, stats, results, dict(wire))
