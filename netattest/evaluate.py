"""Resolve planned checks against what the target built, discover each source VLAN's neighbours, probe everything
in one window with listeners on the target side, and judge each check.

Two windows: the discovery sweep (its answers decide the next hops), then every probe of the matrix at once — the
silent pairs cost one timeout in total, not one each. Every isolation check is paired with sanity twins sent from
the same socket in the same window, and listeners count only when a canary proved they hear; silence only counts
when the twins were answered.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Protocol

from netattest.actors import Actors
from netattest.inventory import Inventory
from netattest.judge import Evidence, judge_isolated_paths, judge_reachable, judge_silent_l2
from netattest.matrix import Check, Subject, l3_only, sanity_targets
from netattest.neighbours import SWEEP_LIMIT, NeighbourTable, census, late_answers, plan_sweep
from netattest.outcomes import ListenerReport, MatrixRun, Outcome, PathTried
from netattest.probe.model import Endpoint, Heard, Listener, Probe, ProbeResult, WindowStats
from netattest.probeset import ProbeSet
from netattest.resolve import Resolver
from netattest.topology.model import Topology

__all__ = ["MatrixRun", "Outcome", "Prober", "run_matrix"]


class Prober(Protocol):
    def probe(self, probes: Sequence[Probe], listeners: Sequence[Listener] = (), timeout: float | None = None) \
            -> tuple[list[ProbeResult], WindowStats]: ...


def run_matrix(checks: Sequence[Check], inventory: Inventory, prober: Prober, topology: Topology, *,
               twins: dict[str, list[Subject]] | None = None, sweep_limit: int = SWEEP_LIMIT,
               sweep_timeout: float | None = None, progress: Callable[[str], None] | None = None) -> MatrixRun:
    """Discover, probe every check in one window, and judge each; failures of resolution are judged without
    probing. ``sweep_timeout``: how long the discovery sweep waits (default: the prober's probe timeout); whoever
    answers it later is asked again in the probe window and, if found there, makes the census untrustworthy."""
    show = progress or (lambda message: None)
    actors = Actors(inventory)
    tables, sweep_stats, sweep_results = discover(checks, inventory, prober, topology, actors, sweep_limit, show,
                                                  sweep_timeout)
    probes = ProbeSet(topology, inventory, twins if twins is not None else sanity_targets(topology), tables)
    probes.plan(checks)
    late = probes.ask_again(sweep_results) if sweep_timeout else {}
    show(f"probing {len(checks)} checks in one window: {len(probes.probes)} probes, "
         f"{len(probes.listeners)} listener(s) on the target side")
    results, stats = prober.probe(probes.probes, probes.listener_list())
    late_answers(tables, [r for r in results if r.probe.id in late], actors, topology, sweep_timeout or 0.0)
    run = _judge(checks, probes, results, stats, actors, topology)
    run.neighbours, run.sweep_stats, run.sweep_results = tables, sweep_stats, sweep_results
    run.strict_neighbours = {n.name: n.unknown_neighbours == "fail" for n in topology.networks}
    return run


def discover(checks: Sequence[Check], inventory: Inventory, prober: Prober, topology: Topology, actors: Actors,
             limit: int, show: Callable[[str], None], timeout: float | None = None) -> tuple[
                 dict[str, NeighbourTable], WindowStats | None, list[ProbeResult]]:
    """Sweep every source VLAN of an isolation check across VLANs, from the first pod there that can send L2."""
    resolver = Resolver(inventory)
    sweepers: dict[str, Endpoint | str] = {}
    sweeper_pods: dict[str, str] = {}
    for check in checks:
        network = check.source.network
        if check.expect_answer or check.untestable or network == check.target.network:
            continue
        if isinstance(sweepers.get(network), Endpoint) or check.source.kind != "pod" or l3_only(check.source):
            continue
        resolved, why = resolver.resolve(check.source)
        sweepers[network] = resolver.endpoint(check.source, resolved) if resolved else \
            sweepers.get(network, f"no pod on {network} could sweep it: {why}")
        if resolved:
            sweeper_pods[network] = check.source.name
    if not sweepers:
        return {}, None, []
    sweep = plan_sweep(topology, sweepers, limit)
    for network, pod in sweeper_pods.items():
        sweep.tables[network].sweeper_pod = pod
    show(f"neighbour discovery: ARP sweep of {len(sweep.probes)} address(es) on {', '.join(sweepers)}")
    results, stats = prober.probe(sweep.probes, sweep.listeners, timeout)
    tables = census(sweep, results, stats, actors, topology)
    found = sum(len(t.neighbours) for t in tables.values())
    unknown = sum(len(t.unknown()) for t in tables.values())
    show(f"neighbours: {found} found, {unknown} not in the topology, in {stats.duration_s:.2f} s")
    return tables, stats, results


def _judge(checks: Sequence[Check], probes: ProbeSet, results: list[ProbeResult], stats: WindowStats,
           actors: Actors, topology: Topology) -> MatrixRun:
    by_id = {r.probe.id: r for r in results}
    listeners, proven = _listener_reports(probes, stats)
    evidence = _evidence(probes, stats, actors, proven, listeners)
    outcomes = dict(probes.early)
    wire: dict[tuple[str, str], set[str]] = defaultdict(set)
    flux: list[dict[str, str]] = []
    for check in checks:
        if check.not_applicable:
            outcomes[check.id] = Outcome(check, "skipped", check.not_applicable)
            continue
        if check.id in outcomes:
            continue
        source, target, endpoint = probes.resolved[check.id]
        mine = [by_id[pid] for pid in probes.by_check[check.id]]
        twin_id = probes.twin_of.get((str(endpoint.netns), endpoint.ifname))
        twin = by_id.get(twin_id) if twin_id else None
        paths = [PathTried(p.hop.mac, p.hop.ip, p.hop.who, p.sent_from, p.target_ip,
                           [by_id[pid] for pid in p.probe_ids]) for p in probes.paths.get(check.id, [])]
        sender = probes.sent_from.get(check.id)
        l3_twins = [by_id[pid] for pid in probes.l3_twins_of.get((str(sender.netns), sender.ifname), [])] \
            if sender else []
        everything = mine + [r for p in paths for r in p.results] + l3_twins + ([twin] if twin else [])
        errors = [r.error for r in everything if r.error]
        outcome = Outcome(check, "broken", "", mine, twin, target.ip, target.mac or None, paths, [], l3_twins)
        if errors:
            outcome.reason = f"probe could not be sent: {errors[0]}"
            outcomes[check.id] = outcome
            continue
        crosses = check.source.network != check.target.network
        if check.expect_answer:
            status, reason = judge_reachable(check, mine, source, target, actors, flux)
            if check.target.kind == "pod":
                # a sibling interface of the same pod answering for this one (ARP flux) is not this one's MAC
                siblings = actors.pod_macs(check.target.name) - {target.mac}
                wire[(check.target.name, check.target.iface)].update(
                    a.mac for r in mine if r.probe.kind == "arp" for a in r.answers if a.mac not in siblings)
        elif crosses:
            found = evidence.get(check.id) or Evidence(unwatched="no listener could be placed")
            outcome.heard = list(found.leaks)
            status, reason = judge_isolated_paths(
                check, next((r for r in mine if r.probe.kind == "arp"), None), twin, target, paths, l3_twins, found,
                probes.neighbours.get(check.source.network), topology.network(check.target.network).subnet, actors,
                stats)
        else:
            status, reason = judge_silent_l2(check, mine, twin, target, actors, stats)
        # Dropped frames taint the whole window (any socket may have lost an answer); a socket error only taints
        # the probes of that socket, which are judged broken above.
        if stats.kernel_drops and (status == "passed" or (status == "failed" and check.expect_answer
                                                          and any(not r.answers for r in mine))):
            lost = "; ".join(stats.socket_errors) or "in the probe sockets"
            status, reason = "broken", (f"{stats.kernel_drops} frames were dropped during the probe window ({lost}),"
                                        f" so a missing answer proves nothing: {reason}")
        outcome.status, outcome.reason = status, reason
        outcomes[check.id] = outcome
    unique_flux = list({(f["ip"], f["mac"]): f for f in flux}.values())
    heard, own = _worth_keeping(stats.heard, probes)
    return MatrixRun(outcomes, stats, results, dict(wire), listeners=listeners, heard=heard,
                     heard_on_own_network=own, findings=unique_flux)


def _worth_keeping(heard: list[Heard], probes: ProbeSet) -> tuple[list[Heard], int]:
    """The frames listeners heard, less our probes heard on their own source VLAN (a listener on a VLAN that is
    also a source hears every marked who-has broadcast there: 100,000 frames in a 100-pod lab, none of them
    evidence) — counted, not kept. Canaries, frames away from their VLAN and watched ARP requests stay."""
    network_of = {plan.listener.id: plan.network for plan in probes.listeners}
    canaries = {probes.probe(pid).mark for pids in probes.canaries.values() for pid in pids}
    source_network: dict[str, str] = {}
    for check_id, (network, _target) in probes.check_networks.items():
        for pid in probes.by_check.get(check_id, []):
            source_network[pid] = network
        for path in probes.paths.get(check_id, []):
            for pid in path.probe_ids:
                source_network[pid] = network
    kept, own = [], 0
    for h in heard:
        if h.what == "own-network":  # counted by the listener itself (its segment's own senders)
            own += h.count
            continue
        if h.what == "marked" and h.mark not in canaries:
            index = probes.mark_index.get(h.mark)
            if index is not None and source_network.get(probes.probes[index].id) == network_of.get(h.listener):
                own += h.count
                continue
        kept.append(h)
    return kept, own


def _listener_reports(probes: ProbeSet, stats: WindowStats) -> tuple[list[ListenerReport], dict[str, list[str]]]:
    """Which listeners were proven by a canary of their own VLAN; network -> labels of the proven ones."""
    canary_marks = {probes.probe(pid).mark: net for net, pids in probes.canaries.items() for pid in pids}
    heard_canary = {h.listener for h in stats.heard if h.what == "marked" and h.mark in canary_marks}
    reports, proven = [], defaultdict(list)
    for plan in probes.listeners:
        lid = plan.listener.id
        failure = stats.listening.get(lid, "not opened by the target")
        if failure:
            why = failure
        elif plan.network not in probes.canaries:
            why = f"no harness endpoint on {plan.network} could send a canary to prove it"
        elif lid not in heard_canary:
            why = "it did not hear the canary sent on its own VLAN"
        else:
            why = ""
        reports.append(ListenerReport(lid, plan.network, plan.listener.label or lid, not why, why))
        if not why:
            proven[plan.network].append(plan.listener.label or lid)
    return reports, proven


def _evidence(probes: ProbeSet, stats: WindowStats, actors: Actors, proven: dict[str, list[str]],
              listeners: list[ListenerReport]) -> dict[str, Evidence]:
    """Per isolation check: the marked frames and watched ARP requests heard where they must not be."""
    network_of = {plan.listener.id: plan.network for plan in probes.listeners}
    label_of = {plan.listener.id: plan.listener.label or plan.listener.id for plan in probes.listeners}
    checks_of: dict[str, list[str]] = defaultdict(list)  # probe id -> isolation checks it serves
    for check_id, pids in probes.by_check.items():
        for pid in pids:
            checks_of[pid].append(check_id)
    for check_id, paths in probes.paths.items():
        for path in paths:
            for pid in path.probe_ids:
                checks_of[pid].append(check_id)
    hop_of = {pid: path.hop for paths in probes.paths.values() for path in paths for pid in path.probe_ids}
    our_macs = {p.source.mac for p in probes.probes}
    evidence: dict[str, Evidence] = defaultdict(Evidence)
    unproven: dict[str, list[str]] = defaultdict(list)
    for report in listeners:
        if not report.proven:
            unproven[report.network].append(f"{report.label}: {report.why}")
    # (check, hop, listener, what was heard) -> protocols: one sentence per path and listener, not per frame. A
    # probe aimed at one VLAN but heard on another proves the source reaches that other one: it is evidence for
    # the (source, where heard) pair, kept apart from the check it was sent for
    grouped: dict[str | tuple[str, str], dict[tuple[str, ...], list[str]]] = defaultdict(dict)
    for heard in stats.heard:
        network = network_of.get(heard.listener)
        if network is None:
            continue
        listener = f"{label_of[heard.listener]} on {network}"
        if heard.what == "marked":
            index = probes.mark_index.get(heard.mark)
            if index is None:
                continue  # another run's probe, or a frame of no window of ours
            probe = probes.probes[index]
            for check_id in checks_of.get(probe.id, []):
                source_network, target_network = probes.check_networks[check_id]
                if source_network == network:
                    continue
                hop = hop_of.get(probe.id)
                owner = check_id if target_network == network else (source_network, network)
                if heard.ip_src != probe.source.ip and isinstance(owner, str):
                    evidence[owner].rewritten.add(heard.ip_src)
                via = f"through next hop {hop.who} (MAC {hop.mac}, {hop.ip})" if hop else "at L2 (no router)"
                nat = "" if heard.ip_src == probe.source.ip else \
                    f"; its source was rewritten to {heard.ip_src} on the way (NAT)"
                sent_by = actors.owners(heard.eth_src) if heard.eth_src in actors.by_mac else "unknown host"
                key = (f"frames from {source_network} reach {network} {via}: ", f" from {probe.source.describe()} "
                       f"to {probe.target_ip} heard by {listener} (Ethernet source {heard.eth_src}, {sent_by}){nat}")
                grouped[owner].setdefault(key, []).append(_describe(probe))
        elif heard.what == "watched-arp" and heard.eth_src not in our_macs:
            for check_id, hop in probes.watch.get(network, {}).get(heard.ip_dst, []):
                evidence[check_id].leaks.append(
                    f"frames from {_source_network(probes, check_id)} reach {network} through next hop {hop.who} "
                    f"(MAC {hop.mac}, {hop.ip}): {actors.who(heard.ip_src, heard.eth_src)} (MAC {heard.eth_src}, "
                    f"{heard.ip_src}) asked who-has {heard.ip_dst} on {network} right after probes aimed at that "
                    f"unused address through that hop (heard by {listener})")
    pair_leaks: dict[tuple[str, str], list[str]] = defaultdict(list)
    for owner, sentences in grouped.items():
        for (head, tail), kinds in sentences.items():
            sentence = f"{head}{', '.join(dict.fromkeys(kinds))}{tail}"
            if isinstance(owner, tuple):
                pair_leaks[owner].append(sentence + " (a probe aimed elsewhere)")
            else:
                evidence[owner].leaks.append(sentence)
    for check_id, pair in probes.check_networks.items():
        if pair in pair_leaks and not evidence[check_id].leaks:
            evidence[check_id].leaks += pair_leaks[pair][:3]
    for check_id in probes.resolved:
        target_network = _target_network(probes, check_id)
        found = evidence[check_id]
        found.watched_by = list(proven.get(target_network, []))
        found.unwatched = "; ".join(unproven.get(target_network, [])) or (
            "" if found.watched_by else f"no namespace on {target_network} is reachable by the harness")
    return evidence


def _source_network(probes: ProbeSet, check_id: str) -> str:
    return probes.check_networks[check_id][0]


def _target_network(probes: ProbeSet, check_id: str) -> str:
    return probes.check_networks[check_id][1]


def _describe(probe: Probe) -> str:
    return {"arp": "ARP who-has", "icmp": "ICMP echo", "udp": "UDP datagram", "tcp": "TCP SYN"}[probe.kind]

