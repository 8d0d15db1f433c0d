"""Judge a node's facts against its duties. Pure functions: facts in, a :class:`Finding` out.

Every problem names the node, the NIC, what was found, what it breaks and the fix, so the line in the run summary
is enough to act on. A check that cannot be judged (the master NIC is missing, so its MTU means nothing) is
*skipped* with a pointer to the check that failed instead of failing twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from ipaddress import ip_address

from netattest.nodes.duties import MasterDuty, OffVlan
from netattest.nodes.facts import LinkFacts, NodeFacts

LIST_MAX = 4


@dataclass(frozen=True)
class Finding:
    problems: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    skip: str | None = None

    @property
    def ok(self) -> bool:
        return not self.problems and self.skip is None

    @property
    def message(self) -> str:
        return "; ".join(self.problems)


def _listing(items: list[str]) -> str:
    shown = items[:LIST_MAX]
    more = f" (+{len(items) - LIST_MAX} more)" if len(items) > LIST_MAX else ""
    return ", ".join(shown) + more


def _missing(duty: MasterDuty) -> Finding:
    return Finding(skip=f"{duty.node} has no master NIC {duty.master} (see test_master_nic[{duty.id}])")


def check_master_nic(duty: MasterDuty, facts: NodeFacts) -> Finding:
    """The master exists; a VLAN sub-interface sits on the right trunk and tags the right VLAN."""
    node, master = duty.node, duty.master
    link = facts.link(master)
    problems: list[str] = []
    if link is None:
        where = (f" (a VLAN sub-interface of {duty.parent} tagging VLAN {duty.vlan})" if duty.parent else "")
        undeclared = "" if duty.declared else "; the topology does not declare it on this node either"
        problems.append(
            f"node {node} carries the label {duty.label} but has no master NIC {master}{where} for NAD "
            f"{duty.nads}: pods scheduled there fail with 'Link not found'{undeclared}. Fix: add {master} to "
            f"{node}, or remove the label from {node}")
        if duty.parent and facts.link(duty.parent) is None:
            problems.append(f"node {node} has no trunk NIC {duty.parent} either")
        return Finding(tuple(problems))
    if duty.parent:
        if facts.link(duty.parent) is None:
            problems.append(f"node {node} has no trunk NIC {duty.parent} under {master}")
        if link.kind != "vlan":
            problems.append(f"{node} {master} is a {link.kind or 'plain NIC'}, not a VLAN sub-interface of "
                            f"{duty.parent} tagging VLAN {duty.vlan}: frames of NAD {duty.nads} leave untagged. "
                            f"Fix: ip link add link {duty.parent} name {master} type vlan id {duty.vlan}")
        else:
            if duty.vlan is not None and link.vlan_id != duty.vlan:
                problems.append(f"{node} {master} tags VLAN {link.vlan_id}, but NAD {duty.nads} is for VLAN "
                                f"{duty.vlan} ({', '.join(duty.networks)}): its pods land in the wrong VLAN. Fix: "
                                f"recreate {master} with id {duty.vlan}")
            if link.parent != duty.parent:
                problems.append(f"{node} {master} sits on {link.parent}, expected trunk {duty.parent}")
    notes = (f"{master}: {link.kind or 'NIC'} {link.mac}, {link.state()}"
             + (f", VLAN {link.vlan_id} on {link.parent}" if link.kind == "vlan" else ""),)
    return Finding(tuple(problems), notes)


def check_master_link(duty: MasterDuty, facts: NodeFacts) -> Finding:
    """The master (and a sub-interface's trunk) is administratively up and has carrier."""
    master = facts.link(duty.master)
    if master is None:
        return _missing(duty)
    problems = []
    for link in [master] + ([facts.link(duty.parent)] if duty.parent else []):
        if link is None:
            continue
        role = "master" if link.name == duty.master else f"trunk under {duty.master}"
        if not link.up:
            problems.append(
                f"{duty.node} {link.name} ({role} of NAD {duty.nads}) is down ({link.state()}): ipvlan/macvlan "
                f"children of a down master carry nothing. Fix: ip link set {link.name} up, and make it persistent "
                "in the node's network configuration")
        elif not link.carrier:
            problems.append(
                f"{duty.node} {link.name} ({role} of NAD {duty.nads}) is up but has no carrier ({link.state()}): "
                "the cable, switch port or virtual NIC is disconnected, so its pods reach nobody. Fix: connect "
                f"{link.name} (check the switch port / the VM's network adapter)")
    return Finding(tuple(problems), (f"{duty.master}: {master.state()}",))


def check_master_mtu(duty: MasterDuty, facts: NodeFacts) -> Finding:
    """The master has the MTU its VLAN and the topology expect; NADs do not ask for more than it carries."""
    link = facts.link(duty.master)
    if link is None:
        return _missing(duty)
    source = (f"declared for {duty.master} on {duty.node}" if duty.declared
              else f"the MTU of VLAN {', '.join(duty.networks)}")
    problems = []
    if link.mtu != duty.expected_mtu:
        effect = (f"frames of {duty.expected_mtu} bytes that the VLAN carries do not fit through {duty.node}'s "
                  "pods (large packets are dropped or fragmented)" if link.mtu < duty.expected_mtu
                  else f"pods on {duty.node} send frames of up to {link.mtu} bytes that the VLAN's "
                       f"{duty.expected_mtu} does not carry (dropped silently on the way)")
        problems.append(f"{duty.node} {duty.master} has MTU {link.mtu}, expected {duty.expected_mtu} ({source}): "
                        f"{effect}. Fix: ip link set {duty.master} mtu {duty.expected_mtu}, or correct the "
                        "topology")
    if duty.nad_mtu and duty.nad_mtu > link.mtu:
        problems.append(f"NAD {duty.nads} asks for mtu {duty.nad_mtu}, more than {duty.node} {duty.master}'s "
                        f"{link.mtu}: the plugin refuses the pod (ADD fails). Fix: lower the NAD's mtu or raise "
                        "the NIC's")
    parent = facts.link(duty.parent) if duty.parent else None
    if parent is not None and parent.mtu < link.mtu:
        problems.append(f"{duty.node} trunk {parent.name} has MTU {parent.mtu}, below its VLAN sub-interface "
                        f"{duty.master}'s {link.mtu}: tagged frames above {parent.mtu} bytes cannot leave. Fix: "
                        f"ip link set {parent.name} mtu {link.mtu}")
    return Finding(tuple(problems), (f"{duty.master} MTU {link.mtu}, expected {duty.expected_mtu} ({source})",))


def check_master_address(duty: MasterDuty, facts: NodeFacts) -> Finding:
    """A NIC that is only a master for ipvlan/macvlan children carries no address of the node's."""
    link = facts.link(duty.master)
    if link is None:
        return _missing(duty)
    if not duty.only_master:
        why = (f"{duty.master} also carries the node's own address {duty.declared.address} (topology)"
               if duty.declared and duty.declared.address else
               f"{duty.master} is a master for {', '.join(duty.plugins)} only; the rule is for ipvlan/macvlan")
        return Finding(skip=f"not only a master: {why}")
    if link.routable:
        problem = (f"{duty.node} {duty.master} carries {', '.join(link.routable)}, but it is only a master for NAD "
                   f"{duty.nads}: the node itself joins VLAN {', '.join(duty.networks)}, where its own "
                   "ipvlan/macvlan children can never reach it (a child cannot talk to its master) and the address "
                   f"answers ARP for the VLAN. Fix: ip addr flush dev {duty.master} (give the node its address on a "
                   "NIC that is not a master)")
        return Finding((problem,))
    return Finding(notes=(f"{duty.master} has no address of its own",))


def check_master_rx_mode(duty: MasterDuty, facts: NodeFacts) -> Finding:
    """Promiscuous / allmulti receive mode as each plugin needs it, recorded with the reason.

    No plugin needs a hand-set mode on Linux: macvlan puts each child's MAC into the master's unicast filter (the
    kernel turns promiscuous mode on by itself when the driver has no filter) and passthru sets promiscuous mode
    itself; ipvlan children share the master's MAC. So this check records the state as evidence and names what
    the node cannot show (a hypervisor's port-group policy) instead of failing on a setting that is not needed.
    """
    link = facts.link(duty.master)
    if link is None:
        return _missing(duty)
    state = (f"{duty.master}: PROMISC flag {'on' if 'PROMISC' in link.flags else 'off'} (promiscuity "
             f"{link.promiscuity}), ALLMULTI flag {'on' if 'ALLMULTI' in link.flags else 'off'} (allmulti "
             f"{link.allmulti})")
    notes = [state]
    for attachment in duty.attachments:
        if attachment.plugin == "macvlan" and attachment.mode == "passthru":
            notes.append(f"{attachment.key} macvlan passthru: the plugin puts {duty.master} into promiscuous mode "
                         "itself and takes the whole NIC")
        elif attachment.plugin == "macvlan":
            notes.append(f"{attachment.key} macvlan {attachment.mode}: each child's MAC goes into {duty.master}'s "
                         "unicast filter (the kernel turns promiscuous mode on when the driver has none); on a VM "
                         "the port group must accept foreign MACs (VMware: promiscuous mode, forged transmits, MAC "
                         "changes), which the node cannot show")
        elif attachment.plugin == "ipvlan":
            notes.append(f"{attachment.key} ipvlan: children share {duty.master}'s MAC; no promiscuous mode needed")
    return Finding(notes=tuple(notes))


def _owned(facts: NodeFacts) -> list[tuple[str, LinkFacts]]:
    """IPv4 addresses the node answers ARP for (loopback's 127/8 never)."""
    return [(ip, link) for link in facts.links.values() for ip in link.ipv4
            if not ip_address(ip).is_loopback]


def check_arp_flux(facts: NodeFacts) -> Finding:
    """No NIC answers (arp_ignore) or announces (arp_announce) an address that lives on another interface."""
    owned = _owned(facts)
    answering: list[tuple[LinkFacts, list[str]]] = []
    quiet: list[tuple[LinkFacts, list[str]]] = []
    announcing: list[tuple[LinkFacts, list[str], int]] = []
    for link in facts.links.values():
        if link.loopback or not link.arp:
            continue
        foreign = [f"{ip} ({other.name})" for ip, other in owned if other.name != link.name]
        ignore, announce = facts.effective_arp(link)
        if ignore == 0:
            (answering if foreign else quiet).append((link, foreign))
        if announce < 2 and foreign:
            announcing.append((link, foreign, announce))
    all_ignore, all_announce = facts.arp_all
    problems = []
    if answering:
        names = [f"{link.name} (arp_ignore {link.arp_ignore})" for link, _ in answering]
        addresses = sorted({f for _, foreign in answering for f in foreign})
        problems.append(
            f"ARP flux on node {facts.node}: with net.ipv4.conf.all.arp_ignore={all_ignore}, "
            f"{_listing(names)} answer ARP requests for {_listing(addresses)}, which live on other interfaces: "
            "hosts in those NICs' VLANs learn a path to the node's other networks (an isolation leak). Fix: "
            "sysctl -w net.ipv4.conf.all.arp_ignore=1 and persist it in /etc/sysctl.d")
    if announcing:
        names = [f"{link.name} (arp_announce {announce})" for link, _, announce in announcing]
        addresses = sorted({f for _, foreign, _ in announcing for f in foreign})
        problems.append(
            f"ARP flux on node {facts.node}: with net.ipv4.conf.all.arp_announce={all_announce}, "
            f"{_listing(names)} may announce {_listing(addresses)} as the sender of ARP requests, so neighbours "
            "bind those addresses to the wrong NIC. Fix: sysctl -w net.ipv4.conf.all.arp_announce=2 and persist it")
    notes = [(f"conf/all arp_ignore={all_ignore} arp_announce={all_announce}; conf/default "
             f"arp_ignore={facts.arp_default[0]} arp_announce={facts.arp_default[1]}")]
    if quiet:
        notes.append(f"arp_ignore is 0 on {_listing([link.name for link, _ in quiet])}, but no other interface "
                     "holds an address, so no flux is possible yet (it is as soon as one does)")
    if not owned:
        notes.append("the node holds no IPv4 address: nothing to answer for")
    return Finding(tuple(problems), tuple(notes))


def check_cni_binaries(required: Mapping[str, tuple[str, ...]], facts: NodeFacts, *,
                       emulated: dict[str, str] | None = None) -> Finding:
    """Every CNI binary the node's NADs name (plugin and IPAM) is in one of its CNI bin dirs."""
    if not required:
        return Finding(skip=f"{facts.node} carries no NAD")
    dirs = " or ".join(facts.bin_dirs) or "(no CNI bin dir configured)"
    missing = [binary for binary in required if facts.binaries.get(binary) is None]
    problems = []
    if missing:
        names = ", ".join(f"'{b}' (NAD {', '.join(required[b])})" for b in missing)
        problems.append(
            f"{facts.node} lacks CNI plugin binar{'ies' if len(missing) > 1 else 'y'} {names} in {dirs}: every "
            f"pod ADD there fails with 'failed to find plugin \"{missing[0]}\" in path'. Fix: install the CNI "
            "reference plugins (containernetworking-plugins) into the node's CNI bin dir, or point --cni-bin-dir "
            f"{facts.node}=DIR at the dir the node really uses")
    notes = [f"{binary}: {facts.binaries.get(binary) or 'missing'}" for binary in required]
    for real, stand_in in (emulated or {}).items():
        notes.append(f"{real} is emulated by {stand_in} in the lab (a shared data directory stands for its "
                     "cluster-wide pool); on a cluster node the real binary must be present")
    return Finding(tuple(problems), tuple(notes))


def check_ipam_daemons(dhcp_nads: tuple[str, ...], facts: NodeFacts, sockets: tuple[str, ...] = ()) -> Finding:
    """The CNI dhcp daemon runs on a node whose NADs use dhcp IPAM, listening where the NADs' config says
    (``sockets``; any daemon will do when empty)."""
    if not dhcp_nads:
        return Finding(skip=f"no NAD that {facts.node} carries uses dhcp IPAM")
    daemons = facts.dhcp_daemons
    if not daemons:
        problem = (f"{facts.node} runs no CNI dhcp daemon ('dhcp daemon'), which NAD {', '.join(dhcp_nads)} (dhcp "
                   "IPAM) needs: every pod ADD there fails with 'error dialing DHCP daemon'. Fix: run the dhcp "
                   "plugin's daemon on the node (Multus/OpenShift deploy it as a DaemonSet; by hand: "
                   "<cni-bin-dir>/dhcp daemon)")
        return Finding((problem,))
    serving = [d for d in daemons if not sockets or d.socket in sockets]
    if not serving:
        listening = ", ".join(sorted({d.socket for d in daemons}))
        problem = (f"{facts.node} runs the CNI dhcp daemon on {listening}, but NAD {', '.join(dhcp_nads)} talks to "
                   f"{', '.join(sockets)}: its pods get no lease. Fix: start the daemon with -socketpath as the "
                   "NAD says")
        return Finding((problem,))
    if not any(d.socket_present for d in serving):
        problem = (f"{facts.node} runs the CNI dhcp daemon (pid {serving[0].pid}) but its socket "
                   f"{serving[0].socket} is missing: the plugin cannot reach it. Fix: restart the daemon")
        return Finding((problem,))
    return Finding(notes=tuple(f"dhcp daemon pid {d.pid}: {d.args} (socket {d.socket})" for d in serving))


def check_off_vlan(off: OffVlan, facts: NodeFacts) -> Finding:
    """A node without the label stays off the VLAN; a master-named NIC without an address there is harmless."""
    in_vlan = [f"{ip} on {link.name}" for link in facts.links.values() for ip in link.ipv4
               if ip_address(ip) in off.subnet]
    tagged = [link.name for link in facts.links.values() if link.kind == "vlan" and off.vlan is not None
              and link.vlan_id == off.vlan]
    present = [name for name in off.masters if facts.link(name) is not None]
    if in_vlan:
        problem = (f"node {off.node} carries no label of VLAN {off.network}'s NADs, yet holds {', '.join(in_vlan)} "
                   f"in {off.network} ({off.subnet}): the node itself sits in a VLAN only labelled nodes should "
                   f"carry, an unwatched way into it. Fix: remove the address (and unplug the NIC from VLAN "
                   f"{off.network}), or label {off.node} and make it a full member")
        return Finding((problem,))
    carried = sorted(set(present + tagged))
    if carried:
        note = (f"harmless: {off.node} has {', '.join(carried)} but no address in {off.network}, and no pod of the "
                f"VLAN's NADs can be scheduled onto it without the label; whether it answers ARP there for its "
                f"other addresses is test_arp_flux[{off.node}]")
        return Finding(notes=(note,))
    return Finding(notes=(f"{off.node} has none of {', '.join(off.masters)} and no address in {off.network}",))
