"""Lab-only routers that join VLANs the topology says are isolated, with the faults real networks have.

A router that forwards both ways and answers proxy ARP is easy to catch; the ones that fool a weaker check forward
one way only (the way back is filtered), forward only some protocols (only TCP), or rewrite the source (NAT), and
none of them is written in the topology's hosts. Each is built from a plain IPv4-forwarding namespace and an
nftables ruleset loaded inside it with the ``nft`` command (Debian package nftables), so the lab can prove that
isolation checks fail on every one of them for the right reason.
"""

from __future__ import annotations

import shutil
import subprocess

from netattest.errors import LabError
from netattest.lab.nsenter import netns_path
from netattest.topology.model import RouterSpec

PROTOCOL_NAMES = ("icmp", "udp", "tcp")


def ruleset(router: RouterSpec) -> str:
    """The nftables ruleset for ``router`` ("" when it forwards everything both ways without NAT).

    Legs are ``eth0``, ``eth1``... in the order of ``router.legs``. ``forward`` lists the allowed directions as
    (from network, to network); ``protocols`` the IP protocols forwarded; ``nat`` masquerades on every leg a
    forwarded packet leaves by, so the far side sees the router's address instead of the prober's.
    """
    leg = {network: f"eth{index}" for index, (network, _) in enumerate(router.legs)}
    rules = []
    if router.forward:
        allowed = [f'iifname "{leg[a]}" oifname "{leg[b]}" accept' for a, b in router.forward]
        rules += ["ct state established,related accept" if router.stateful else "", *allowed, "drop"]
    if router.protocols:
        names = ", ".join(router.protocols)
        rules.insert(0, f"meta l4proto != {{ {names} }} drop")
    chains = []
    rules = [r for r in rules if r]
    if rules:
        body = "\n  ".join(rules)
        chains.append(f" chain forwarding {{\n  type filter hook forward priority 0; policy accept;\n  {body}\n }}")
    if router.nat:
        chains.append(" chain masquerading {\n  type nat hook postrouting priority 100; policy accept;\n"
                      "  masquerade\n }")
    if not chains:
        return ""
    return "table ip netattest_lab {\n" + "\n".join(chains) + "\n}\n"


def describe(router: RouterSpec) -> str:
    """How the router deviates from forwarding everything, for progress lines and the report's notes."""
    parts = []
    if router.forward:
        parts.append("forwarding only " + ", ".join(f"{a} -> {b}" for a, b in router.forward)
                     + (" (stateful)" if router.stateful else ""))
    if router.protocols:
        parts.append("only " + "/".join(router.protocols).upper())
    if router.nat:
        parts.append("with source NAT")
    if not router.proxy_arp:
        parts.append("no proxy ARP")
    return f" ({', '.join(parts)})" if parts else ""


def apply_ruleset(netns: str, text: str, router: str) -> None:
    """Load ``text`` with nft inside ``netns``; a missing nft or a refused ruleset is a lab error saying so."""
    nft = shutil.which("nft") or "/usr/sbin/nft"
    nsenter = shutil.which("nsenter") or "/usr/bin/nsenter"
    try:
        subprocess.run([nsenter, f"--net={netns_path(netns)}", nft, "-f", "-"], input=text, text=True,
                       capture_output=True, check=True, timeout=30)
    except FileNotFoundError:
        raise LabError(f"lab router {router} needs nftables rules, but the nft command is missing. Fix: install "
                       "the nftables package (apt-get install nftables)") from None
    except subprocess.CalledProcessError as exc:
        raise LabError(f"lab router {router}: nft refused its ruleset: {exc.stderr.strip() or exc}. The kernel "
                       "may lack nf_tables") from None
