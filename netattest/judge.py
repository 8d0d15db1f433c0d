"""The judge: one check's probe results -> passed, failed or broken, with a reason that names the right actor.

Pure functions over data, so every verdict can be tested against scripted answers. A reason says who answered
(by the MAC that answered, not by the address that was asked for), through which next hop, and what proves a
silence: the sanity twins from the same socket, and the listeners that would have heard a one-way leak.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network

from netattest.actors import Actors
from netattest.matrix import Check
from netattest.neighbours import NeighbourTable
from netattest.outcomes import PathTried, Status
from netattest.probe.model import Answer, ProbeResult, WindowStats
from netattest.resolve import Resolved

WHAT = {"icmp": "ICMP echo", "udp": "UDP datagram", "tcp": "TCP SYN"}
REPLY = {"echo-reply": "an echo reply", "rst": "a TCP RST", "syn-ack": "a TCP SYN-ACK",
         "icmp-error 3/3": "ICMP port unreachable"}


def _answer_text(answer: Answer) -> str:
    return REPLY.get(answer.kind, answer.kind or "an answer")


def duplicate_holders(ip: str, actors: Actors, but: str = "") -> list[str]:
    """Everyone the inventory says holds ``ip`` (beside ``but``, a label)."""
    return [a.label for a in actors.by_ip.get(ip, ()) if a.label != but]


def judge_reachable(check: Check, results: list[ProbeResult], source: Resolved, target: Resolved,
                    actors: Actors, findings: list[dict[str, str]] | None = None) -> tuple[Status, str]:
    """``findings``: where ARP flux inside the target pod is noted (its own finding, not a duplicate address)."""
    arp = next(r for r in results if r.probe.kind == "arp")
    icmp = next((r for r in results if r.probe.kind == "icmp"), None)
    macs = sorted({a.mac for a in arp.answers})
    who = f"{target.label} ({target.ip})"
    if source.ip == target.ip:
        return "failed", (f"duplicate address: {check.source.label} and {target.label} both hold {target.ip}, so "
                          "neither can reach the other (each takes the other's ARP for its own address)")
    if not macs:
        reason = (f"no ARP reply from {who} to {check.source.label} after {arp.attempts} attempt(s): no L2 path "
                  f"inside VLAN {check.source.network}")
        others = duplicate_holders(source.ip, actors, but=f"pod {source.label}")
        if others:
            reason = (f"duplicate address: {check.source.label}'s own address {source.ip} is also held by "
                      f"{' and '.join(others)}, so answers to it may go to the other holder; {reason}")
        return "failed", reason
    flux = ""
    if len(macs) > 1 and check.target.kind == "pod" and target.mac in macs \
            and set(macs) <= actors.pod_macs(check.target.name):
        # the pod's other interfaces on the VLAN answer for this one's address: ARP flux inside one pod
        siblings = ", ".join(f"{actors.owners(m)} ({m})" for m in macs if m != target.mac)
        flux = (f"; ARP flux in pod {check.target.label.split(':')[0]}: {siblings} also answered for {target.ip} "
                "(the pod's kernel answers ARP for any of its addresses on every interface, arp_ignore=0; set "
                "net.ipv4.conf.all.arp_ignore=1 in the pod, e.g. with the tuning plugin, if it matters)")
        if findings is not None:
            findings += [{"network": check.target.network, "ip": target.ip, "mac": m, "how": "ARP flux",
                          "who": f"{actors.owners(m)} answers ARP for {target.ip}, the address of {target.label}"}
                         for m in macs if m != target.mac]
        macs = [target.mac]
    if len(macs) > 1:
        listing = "; ".join(f"{mac} = {actors.who(target.ip, mac)}" for mac in macs)
        return "failed", (f"duplicate address: {target.ip}, the address of {target.label}, answered by "
                          f"{len(macs)} MACs ({listing})")
    if macs[0] != target.mac:
        return "failed", (f"{actors.who(target.ip, macs[0])} (MAC {macs[0]}) answered ARP for {target.ip}, the "
                          f"address of {target.label} (MAC {target.mac}): someone else answers for this address")
    if icmp is None or not icmp.answers:
        return "failed", f"ARP for {who} answered from {macs[0]}, but ICMP echo got no reply"
    return "passed", (f"ARP reply from {macs[0]} (owner {target.label}) in {arp.answers[0].rtt_ms:.1f} ms; "
                      f"ICMP echo reply in {icmp.answers[0].rtt_ms:.1f} ms{flux}")


def _l2_answer_reason(check: Check, answer: ProbeResult, target: Resolved, actors: Actors) -> str:
    parts = []
    for a in answer.answers:
        answerer = actors.who(a.ip, a.mac)
        if a.mac == target.mac and target.mac:
            parts.append(f"{target.label} ({target.ip}, MAC {a.mac}) on {check.target.network} answered ARP "
                         f"from {check.source.label} on {check.source.network} in {a.rtt_ms:.1f} ms")
        else:
            whose = f", the address of {target.label}" if target.mac else f" ({target.label})"
            parts.append(f"{answerer} (MAC {a.mac}) answered ARP for {target.ip}{whose} on {check.target.network},"
                         f" asked by {check.source.label} on {check.source.network}, in {a.rtt_ms:.1f} ms")
    return "; ".join(parts)


def judge_silent_l2(check: Check, results: list[ProbeResult], twin: ProbeResult | None, target: Resolved,
                    actors: Actors, stats: WindowStats) -> tuple[Status, str]:
    """A pair that must stay silent at L2 (across VLANs, or by known behaviour inside one)."""
    if stats.kernel_drops:
        return "broken", f"the kernel dropped {stats.kernel_drops} frames in the probe window: silence proves nothing"
    heard = [r for r in results if r.answers]
    reused = _reused_elsewhere(check, heard, target, actors)
    if reused:
        heard = []
    if heard:
        reason = f"isolation broken: {_l2_answer_reason(check, heard[0], target, actors)}"
        if check.known_behaviour:
            reason += f" — expected silence: {check.known_behaviour}"
        return "failed", reason
    problem = twin_problem(check, twin)
    if problem:
        return "broken", problem
    assert twin is not None
    reason = (f"silent: no ARP answer from {target.ip} within one window; sanity twin {twin.probe.target_ip} "
              f"answered the same socket in {twin.answers[0].rtt_ms:.1f} ms")
    if check.known_behaviour:
        reason += f" (known behaviour: {check.known_behaviour})"
    if reused:
        reason += f"; {reused}"
    return "passed", reason


def _reused_elsewhere(check: Check, heard: list[ProbeResult], target: Resolved, actors: Actors) -> str:
    """Across node-local segments (known silence) an address may be reused: a pod on the source's own segment that
    holds the same address answers for itself, which is not the target answering. Said, never hidden."""
    if not check.known_behaviour or not heard:
        return ""
    answers = [a for r in heard for a in r.answers]
    if any(a.mac == target.mac for a in answers):
        return ""
    holders = [actors.holder(a.ip, a.mac) for a in answers]
    if not all(h is not None and h.kind == "pod" for h in holders):
        return ""
    names = ", ".join(sorted({h.label for h in holders if h}))
    return (f"{target.ip} is also held by {names} on {check.source.label}'s own segment, which answered for "
            "itself (the address is reused on another segment, e.g. per-node host-local pools): not a path to "
            f"{target.label}")


def twin_problem(check: Check, twin: ProbeResult | None) -> str:
    if twin is None:
        return (f"no sanity twin for {check.source.label}: network {check.source.network} has no host or pod that "
                "must answer it, so silence proves nothing. Fix: add an external host, or another pod on the same "
                "segment (node)")
    if not twin.answers:
        return (f"sanity twin got no answer: {check.source.label} heard nothing from {twin.probe.target_ip}, which "
                f"must answer in its own VLAN {check.source.network}, from the same socket; the probe may be deaf, "
                "so silence proves nothing")
    return ""


@dataclass
class Evidence:
    """What the listeners heard that concerns one isolation check, and how the target VLAN was watched."""

    leaks: list[str] = field(default_factory=list)  # marked frames / ARP requests heard where they must not be
    rewritten: set[str] = field(default_factory=set)  # source addresses the heard probes arrived with (NAT)
    watched_by: list[str] = field(default_factory=list)  # proven listeners on the target VLAN
    unwatched: str = ""  # why the target VLAN is not (fully) watched


def judge_isolated_paths(check: Check, arp: ProbeResult | None, twin: ProbeResult | None, target: Resolved,
                         paths: list[PathTried], l3_twins: list[ProbeResult], evidence: Evidence,
                         census: NeighbourTable | None, subnet: IPv4Network, actors: Actors,
                         stats: WindowStats) -> tuple[Status, str]:
    """Isolation across VLANs: L2, L3 through every next hop, and what the target side heard."""
    if stats.kernel_drops:
        return "broken", f"the kernel dropped {stats.kernel_drops} frames in the probe window: silence proves nothing"
    sibling = _sibling_answer(check, arp, target, actors)
    if arp is not None and arp.answers and not sibling:
        return "failed", f"isolation broken at L2: {_l2_answer_reason(check, arp, target, actors)}"
    leaks = _l3_leaks(check, paths, target, subnet, actors)
    if leaks:
        also = f"; the probes were also heard on {check.target.network} ({len(evidence.leaks)} sighting(s))" \
            if evidence.leaks else ""
        if evidence.rewritten:
            also += f", their source rewritten to {', '.join(sorted(evidence.rewritten))} on the way (NAT)"
        return "failed", "isolation broken at L3: " + "; ".join(leaks) + also
    if evidence.leaks:
        return "failed", "isolation broken one way: " + "; ".join(evidence.leaks)
    problem = twin_problem(check, twin)
    if problem:
        return "broken", problem
    deaf = [r for r in l3_twins if not r.answers]
    if paths and (not l3_twins or deaf):
        kinds = ", ".join(WHAT[r.probe.kind] for r in deaf) or "ICMP, UDP and TCP"
        to = f" to {deaf[0].probe.target_ip}" if deaf else ""
        return "broken", (f"sanity twin for the IP probes got no answer ({kinds}{to} from {paths[0].sent_from}, in "
                          f"its own VLAN {check.source.network}): the socket may not hear IP answers, so silence "
                          "through the next hops proves nothing")
    if census is not None and census.problem:
        return "broken", f"neighbour discovery on {check.source.network} cannot be trusted: {census.problem}"
    if not target.mac and not evidence.watched_by:
        return "broken", (f"nothing on {check.target.network} can be probed or listened to: {target.label} belongs "
                          f"to nobody, and no listener proven by a canary watches {check.target.network} "
                          f"({evidence.unwatched or 'none could be placed'}), so silence proves nothing. Fix: attach a "
                          f"probe pod to {check.target.network}, or declare a host there")
    reason = _silence_reason(check, target, paths, l3_twins, twin, evidence, census)
    return "passed", (reason.replace("silent: no ARP answer", f"{sibling}; otherwise silent: no ARP answer", 1)
                      if sibling else reason)


def _sibling_answer(check: Check, arp: ProbeResult | None, target: Resolved, actors: Actors) -> str:
    """The target pod's own interface on the source VLAN answered ARP for the target's address (ARP flux in a
    dual-homed pod): that reaches the pod, which the source VLAN holds anyway, not the target VLAN. Said in the
    reason; whether the pod forwards is what the probes through it as a next hop decide."""
    if arp is None or not arp.answers or check.target.kind != "pod":
        return ""
    siblings = set()
    for answer in arp.answers:
        owners = [a for a in actors.by_mac.get(answer.mac, ()) if a.kind == "pod" and a.pod == check.target.name]
        if not owners or answer.mac == target.mac:
            return ""
        siblings.add(owners[0].label)
    return (f"{target.ip} was answered by {', '.join(sorted(siblings))}, {check.target.label}'s own interface on "
            f"{check.source.network} (ARP flux in a dual-homed pod: the pod, not {check.target.network}; IP probes "
            "through that interface reach the pod itself)")


def _l3_leaks(check: Check, paths: list[PathTried], target: Resolved, subnet: IPv4Network,
              actors: Actors) -> list[str]:
    """Answers from the target address or from anywhere on the target VLAN, one sentence per next hop and answerer."""
    leaks = []
    for path in paths:
        by_answerer: dict[tuple[str, int], list[str]] = {}
        # the target pod's own interface as the next hop: answering for its own address is the pod, not a route
        own_pod = check.target.kind == "pod" and any(
            a.pod == check.target.name for a in actors.by_mac.get(path.hop_mac, ()))
        for result in path.results:
            for a in result.answers:
                if a.ip != path.target_ip and IPv4Address(a.ip) not in subnet:
                    continue  # an error from the hop itself, or from elsewhere: not the target VLAN answering
                if own_pod and a.ip == target.ip:
                    continue
                by_answerer.setdefault((a.ip, a.ttl), []).append(f"{WHAT[result.probe.kind]} ({_answer_text(a)})")
        for (ip, ttl), answered in by_answerer.items():
            who = target.label if ip == target.ip else (actors.address_of(ip) or ip)
            where = "" if ip == target.ip else f" ({ip}, on {check.target.network})"
            leaks.append(f"{who}{where} answered the {', '.join(answered)} that {path.sent_from} addressed to "
                         f"{path.target_ip} through next hop {path.hop_who} (MAC {path.hop_mac}, {path.hop_ip}), "
                         f"TTL {ttl}")
    return leaks


def _silence_reason(check: Check, target: Resolved, paths: list[PathTried], l3_twins: list[ProbeResult],
                    twin: ProbeResult | None, evidence: Evidence, census: NeighbourTable | None) -> str:
    assert twin is not None
    parts = [f"silent: no ARP answer for {target.ip} on {check.source.network}"]
    if paths:
        refused = [f"{path.hop_who} refused ({', '.join(sorted({a.kind for r in path.results for a in r.answers}))})"
                   for path in paths if any(r.answers for r in path.results)]
        hops = ", ".join(f"{p.hop_who} ({p.hop_mac})" for p in paths)
        parts.append(f"no ICMP/UDP/TCP answer from {check.target.network} through {len(paths)} next hop(s) "
                     f"[{hops}], sent from {paths[0].sent_from}" + (f"; {'; '.join(refused)}" if refused else ""))
    else:
        swept = f" (swept {census.addresses_swept} addresses from {census.swept_from})" if census else ""
        parts.append(f"no neighbour on {check.source.network} could forward IP: none but the harness's pods{swept}")
    if evidence.watched_by:
        parts.append(f"nothing heard on {check.target.network} by {len(evidence.watched_by)} listener(s) "
                     f"proven by a canary")
    else:
        parts.append(f"one-way paths into {check.target.network} not watched: {evidence.unwatched or 'no listener'}")
    twins = f"sanity twin {twin.probe.target_ip} answered the same socket in {twin.answers[0].rtt_ms:.1f} ms"
    if l3_twins:
        twins += f"; IP twins ({', '.join(r.probe.kind for r in l3_twins)}) to {l3_twins[0].probe.target_ip} answered"
    return "; ".join(parts) + "; " + twins
