"""Expectations -> the full matrix of checks, derived from the topology alone.

Checks are planned by *name* (``pod-a@node1 -> ext-host``) before anything runs, so pytest can parametrize test ids
from them; addresses and MACs are resolved later against what the target really built. Known L2 behaviour
(a child cannot reach its own master, macvlan private mode isolates pods on one node, vepa needs a hairpin
switch) turns an expectation around *with its explanation*, instead of leaving it to fail.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from ipaddress import IPv4Address
from typing import Literal

from netattest.scheduling import schedule
from netattest.topology.model import Attachment, Topology

#: pod, host, node: members of a network. address: an address of a network that no member holds (its declared
#: gateway, or unused addresses watched by listeners). network: a network with no pod to send from.
SubjectKind = Literal["pod", "host", "node", "address", "network"]


@dataclass(frozen=True)
class Subject:
    """A pod interface, an external host or a node NIC on a network; or an address nobody holds; or a network."""

    kind: SubjectKind
    name: str  # pod key (namespace/name), host name, node name; "gateway" or "unused"; network name
    iface: str
    network: str
    node: str | None = None  # where a pod is expected to land
    attachment: Attachment | None = None  # pods only
    address: str | None = None  # the address the topology gives (hosts and node NICs), for sanity twins
    many: bool = False  # pods: the pod has several secondary interfaces, so its label names this one
    master: str | None = None  # pods: the NIC its plugin hangs it off on its node (NAD's, or default-route NIC)
    local_bridge: bool = False  # pods: on a node bridge without uplink (only pods of the same node share it)

    @cached_property  # frozen, and asked for hundreds of thousands of times by a 200-pod matrix
    def label(self) -> str:
        if self.kind == "pod":
            where = f"{self.name.split('/')[-1]}@{self.node or 'unscheduled'}"
            return f"{where}:{self.iface}" if self.many else where
        if self.kind == "node":
            return f"{self.name}/{self.iface}"
        if self.kind == "address":
            return f"{self.network}/{self.name}"
        if self.kind == "network":
            return f"no-pod-on-{self.network}"
        return self.name

    @property
    def interface_id(self) -> str:
        """``nad:pod@node:iface``: a pod interface's test id (the label of a many-interface pod names it already)."""
        label = self.label if self.many else f"{self.label}:{self.iface}"
        return f"{self.attachment.name}:{label}" if self.attachment else label


@dataclass(frozen=True)
class Check:
    """One (source, target) pair with the answer the topology expects."""

    verdict: Literal["reachable", "isolated"]
    source: Subject
    target: Subject
    why: str
    known_behaviour: str | None = None  # explanation when L2 behaviour decides the verdict
    not_applicable: str | None = None  # why an L2 probe cannot be made for this pair (the test says so, skipped)
    untestable: str | None = None  # why the expectation cannot be tested at all (judged broken, never passed)

    @property
    def expect_answer(self) -> bool:
        return self.verdict == "reachable"

    @cached_property
    def id(self) -> str:
        if self.source.kind == "network":
            arrow = self.source.network if self.source.network == self.target.network \
                else f"{self.source.network}->{self.target.network}"
            return f"{arrow}:{self.source.label}"
        if self.source.kind == "host":
            return f"{self.source.network}:{self.source.label}->{self.target.label}:{self.target.iface}"
        if self.source.network == self.target.network:
            return f"{self.source.network}:{self.source.label}->{self.target.label}"
        return f"{self.source.network}->{self.target.network}:{self.source.label}->{self.target.label}"


def pod_subjects(topology: Topology) -> list[Subject]:
    """Every secondary interface of every pod, with the node the pod is expected on. A pod that expects its
    attachment to fail has none: it is checked by the attachment suite, never probed."""
    placement = schedule(topology, honour_drift=False)
    networks = topology.networks_by_name()
    nodes = {n.name: n for n in topology.nodes}
    subjects = []
    for pod in topology.pods:
        if pod.attach_fails:
            continue
        node = nodes.get(placement[pod.key] or "")
        for net in pod.networks:
            attachment = topology.nad_of(pod, net)
            assert attachment is not None, "the loader refuses a missing NAD unless the pod expects to fail"
            master = attachment.master_on(node, networks) if node else attachment.master
            local = (attachment.bridge is not None and node is not None
                     and not (node.bridge(attachment.bridge.name) and node.bridge(attachment.bridge.name).uplink))  # type: ignore[union-attr]
            subjects.append(Subject("pod", pod.key, net.interface, attachment.network, placement[pod.key],
                                    attachment, many=len(pod.networks) > 1, master=master, local_bridge=local))
    return subjects


def network_members(topology: Topology, network: str, pods: list[Subject]) -> list[Subject]:
    """Everything holding an address on ``network``: pod interfaces, external hosts, node NICs."""
    members = [p for p in pods if p.network == network]
    members += [Subject("host", h.name, "eth0", network, address=str(h.address.ip))
                for h in topology.external_hosts if h.network == network]
    members += [Subject("node", node.name, nic.name, network, node.name, address=str(nic.address.ip))
                for node in topology.nodes for nic in node.nics if nic.network == network and nic.address]
    return members


def sanity_targets(topology: Topology) -> dict[str, list[Subject]]:
    """Per network, what a sanity twin should ARP for: the topology's external hosts first (they are there for
    every pod), then pods. Taken from the topology, not from what was built, so a vanished host is reported."""
    pods = pod_subjects(topology)
    targets: dict[str, list[Subject]] = {}
    for network in topology.networks:
        members = network_members(topology, network.name, pods)
        hosts = [m for m in members if m.kind == "host"]
        targets[network.name] = hosts + [m for m in members if m.kind == "pod"]
    return targets


L3_ONLY = ("l3", "l3s")
L3_SOURCE = ("ipvlan {mode}: the child passes IP packets only, so raw L2 probes (ARP, crafted frames) cannot be sent "
             "from it (the kernel refuses them); its reachability is L3 only")
L3_TARGET = ("ipvlan {mode}: the child answers no ARP from the wire (the master forwards at L3 only, there is no "
             "L2 presence to find)")


def l3_only(subject: Subject) -> bool:
    att = subject.attachment
    return att is not None and att.plugin == "ipvlan" and att.mode in L3_ONLY


def not_applicable(source: Subject, target: Subject, unique: bool = False) -> str | None:
    """Why an L2 probe for the pair cannot be made at all (as opposed to known silence, which is probed)."""
    if l3_only(source):
        return L3_SOURCE.format(mode=source.attachment.mode)  # type: ignore[union-attr]
    if unique and l3_only(target):
        return L3_TARGET.format(mode=target.attachment.mode) + "; duplicate addresses cannot be seen at L2"  # type: ignore[union-attr]
    return None


def known_behaviour(source: Subject, target: Subject) -> str | None:
    """Why an L2 pair inside one VLAN stays silent by design, or None when it must answer."""
    att = source.attachment
    if att is None:
        return None
    if l3_only(target):
        return L3_TARGET.format(mode=target.attachment.mode)  # type: ignore[union-attr]
    if (source.local_bridge or target.local_bridge) and target.node != source.node:
        bridge = att.bridge.name if att.bridge else (target.attachment.bridge.name  # type: ignore[union-attr]
                                                     if target.attachment and target.attachment.bridge else "?")
        return (f"bridge {bridge} has no uplink on {source.node if source.local_bridge else target.node}: it is "
                "local to its node, so pods and hosts elsewhere share no L2 segment with it (by design)")
    master = source.master
    if master and target.kind == "node" and target.node == source.node and target.iface == master:
        return (f"a {att.plugin} child cannot reach its own master {master} on the same node: the kernel "
                "does not loop frames between master and children (by design, not a fault)")
    same_master = (target.kind == "pod" and target.node == source.node and master is not None
                   and target.master == master)
    if same_master and att.plugin == "macvlan" and att.mode == "private":
        return "macvlan private mode drops traffic between children of one master (by design)"
    if same_master and att.plugin == "macvlan" and att.mode == "vepa":
        return ("macvlan vepa mode sends child-to-child traffic to the switch, which must hairpin it back; the "
                "lab's switch port does not hairpin (by design of vepa)")
    return None


def plan_checks(topology: Topology) -> list[Check]:
    """The whole matrix: for each expectation, every pod interface on its source network against every member of
    its target network (the pod itself excluded, all its interfaces: its own addresses are local, not on the VLAN).
    An isolated target network is also probed at its declared gateway when no member holds it, and at unused
    addresses when it has no member at all (listeners then watch who asks for them); an expectation without a pod on
    its source network is one *untestable* check, never a silent pass."""
    pods = pod_subjects(topology)
    checks: list[Check] = []
    for expectation in topology.expectations:
        targets = network_members(topology, expectation.target, pods)
        if expectation.verdict == "isolated":
            targets += address_subjects(topology, expectation.target, targets)
        sources = [p for p in pods if p.network == expectation.source]
        if not sources:
            source = Subject("network", expectation.source, "", expectation.source)
            target = Subject("network", expectation.target, "", expectation.target)
            checks.append(Check(expectation.verdict, source, target, expectation.why, untestable=(
                f"no pod attaches to network {expectation.source}, so nothing can be sent from it: the expectation "
                f"{expectation.source} -> {expectation.target} ({expectation.verdict}) is untested. Fix: add a pod "
                f"with an attachment on {expectation.source}")))
            continue
        for source in sources:
            for target in targets:
                if target.kind == "pod" and target.name == source.name:
                    # itself, or a sibling interface: the pod reaches its own addresses locally, not on the VLAN
                    continue
                known = known_behaviour(source, target) if expectation.verdict == "reachable" else None
                verdict = "isolated" if known else expectation.verdict
                checks.append(Check(verdict, source, target, expectation.why, known,  # type: ignore[arg-type]
                                    not_applicable(source, target)))
    return checks


UNUSED_ADDRESSES = 8  # per network: enough to tell up to 8 next hops apart by the address each was asked for


def address_subjects(topology: Topology, network: str, members: list[Subject]) -> list[Subject]:
    """Addresses of an isolated network that no member holds: its declared gateway, and (when it has no member at
    all) its unused addresses. Without them an isolated network with nobody in it would plan no check at all."""
    net = topology.network(network)
    held = {m.address for m in members if m.address}
    subjects = []
    if net.gateway is not None and str(net.gateway) not in held:
        subjects.append(Subject("address", "gateway", "", network, address=str(net.gateway)))
    if not members:
        unused = unused_addresses(topology, network, 1)
        if unused:
            subjects.append(Subject("address", "unused", "", network, address=unused[0]))
    return subjects


def unused_addresses(topology: Topology, network: str, count: int = UNUSED_ADDRESSES) -> list[str]:
    """``count`` addresses of ``network``'s subnet that the topology file names nowhere (lab section included),
    from the top of the subnet down, skipping the last host address (routers and gateways like .254): the same
    addresses on every run, so test ids and evidence are stable."""
    subnet = topology.network(network).subnet
    named = _named_addresses(topology)
    found: list[str] = []
    candidate = int(subnet.broadcast_address) - 2
    while candidate > int(subnet.network_address) and len(found) < count:
        address = str(IPv4Address(candidate))
        if address not in named:
            found.append(address)
        candidate -= 1
    return found


def _named_addresses(topology: Topology) -> set[str]:
    """Every address the topology file names (pods, hosts, node NICs, gateways, lab routers and impostors)."""
    named = {str(n.gateway) for n in topology.networks if n.gateway}
    named |= {str(h.address.ip) for h in topology.external_hosts}
    named |= {str(nic.address.ip) for node in topology.nodes for nic in node.nics if nic.address}
    named |= {str(ip.ip) for pod in topology.pods for net in pod.networks for ip in net.ips}
    named |= {str(address.ip) for router in topology.lab.routers for _, address in router.legs}
    named |= {str(imp.claims) for imp in topology.lab.impostors}
    return named


def plan_uniqueness(topology: Topology) -> list[Check]:
    """Duplicate-address detection: every pod address of a VLAN, probed from a neutral host of that VLAN, must be
    answered by exactly one MAC (two MACs name both holders). Neutral: an external host, not another pod, so a
    pod that shares the address cannot hide the conflict by answering for itself."""
    pods = pod_subjects(topology)
    checks = []
    for network in topology.networks:
        hosts = [h for h in topology.external_hosts if h.network == network.name]
        if not hosts:
            continue
        source = Subject("host", hosts[0].name, "eth0", network.name, address=str(hosts[0].address.ip))
        for target in (p for p in pods if p.network == network.name):
            checks.append(Check("reachable", source, target, "every address in a VLAN has exactly one owner",
                                not_applicable=not_applicable(source, target, unique=True)))
    return checks
