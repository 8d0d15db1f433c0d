"""A scripted network for the judge's tests: a small topology, its inventory, and a prober that answers by rule
the way a network would (and lets listeners hear what a rule says leaks)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from netattest.evaluate import MatrixRun, run_matrix
from netattest.inventory import HostView, InterfaceView, Inventory, NodeView, PodView
from netattest.matrix import plan_checks
from netattest.probe.engine import Answer, Heard, Listener, Probe, ProbeResult, WindowStats
from netattest.topology import load_topology_text
from netattest.topology.model import Topology

MACS = {"pod-a": "02:00:00:00:00:0a", "pod-c": "02:00:00:00:00:0c", "ext-host": "02:00:00:00:00:e1"}


def iface(name: str, mac: str, address: str, kind: str = "macvlan") -> InterfaceView:
    return InterfaceView(name, mac, (address,), kind, 1500, True, "bridge")


SMALL = """
apiVersion: netattest/v1
kind: Topology
name: small
networks:
  - {name: restricted, subnet: 192.168.112.0/24, routed: false}
  - {name: openshift, subnet: 192.168.111.0/24, gateway: 192.168.111.1}
nodes:
  - name: node1
    nics: [{name: ens224, network: restricted}, {name: ens192, network: openshift, address: 192.168.111.21/24}]
externalHosts:
  - {name: ext-host, network: restricted, address: 192.168.112.1/24}
attachments:
  - {name: net1, namespace: t, network: restricted, plugin: macvlan, mode: bridge, master: ens224, ipam: {type: static}}
pods:
  - {name: pod-a, namespace: t, networks: [{attachment: net1, ips: [192.168.112.11/24]}]}
  - {name: pod-c, namespace: t, networks: [{attachment: net1, ips: [192.168.112.21/24]}]}
expectations:
  - {from: restricted, to: restricted, expect: reachable}
  - {from: restricted, to: openshift, expect: isolated}
"""


def small_inventory(text: str = SMALL, hosts: Sequence[HostView] = ()) -> tuple[Inventory, Topology]:
    """The small topology (or ``text``) as built: two macvlan pods and ext-host on restricted, node1 with an
    address on openshift; ``hosts`` adds hosts the inventory knows (lab-only routers, impostors)."""
    topology = load_topology_text(text, "small.yaml")
    pods = [PodView(name, "t", "node1", "Running", None,
                    {"net1": iface("net1", MACS[name], f"192.168.112.{ip}/24")}, netns=f"ns-{name}")
            for name, ip in (("pod-a", 11), ("pod-c", 21))]
    nodes = [NodeView("node1", {}, {"ens224": iface("ens224", "02:00:00:00:01:24", "", "veth"),
                                    "ens192": iface("ens192", "02:00:00:00:01:92", "192.168.111.21/24", "veth")},
                      netns="ns-node1")]
    views = [HostView("ext-host", "restricted", iface("eth0", MACS["ext-host"], "192.168.112.1/24", "veth"),
                      netns="ns-ext-host"), *hosts]
    return Inventory("00000000", "lab", pods, nodes, views), topology


Responder = Callable[[Probe], list[Answer]]


class ScriptedProber:
    """Answers probes by rule, the way a network would; records what it was asked."""

    def __init__(self, respond: Responder, drops: int = 0,
                 leak: Callable[[Probe, Listener], bool] = lambda probe, listener: False) -> None:
        self.respond, self.drops, self.leak = respond, drops, leak
        self.asked: list[list[Probe]] = []

    def probe(self, probes: Sequence[Probe], listeners: Sequence[Listener] = (),
              timeout: float | None = None) -> tuple[list[ProbeResult], WindowStats]:
        self.asked.append(list(probes))
        results = [ProbeResult(p, 0.0, 1, self.respond(p), p.kind, "") for p in probes]
        heard = [h for p in probes for h in self.hear(p, listeners)]
        return results, WindowStats(len(probes), len(probes), 0, self.drops, 1.0, heard=heard,
                                    listening={x.id: "" for x in listeners})

    def hear(self, probe: Probe, listeners: Sequence[Listener]) -> list[Heard]:
        """Canaries are heard by every listener of their VLAN; anything else only where ``leak`` says."""
        if probe.id.startswith("arp:") and ":canary:" in probe.id:
            network = probe.id.split(":canary:")[1]
            return [Heard(x.id, 0.0, "marked", probe.source.mac, "ff:ff:ff:ff:ff:ff", probe.source.ip,
                          probe.target_ip, "arp", probe.mark) for x in listeners if x.id.startswith(network + ":")]
        return [Heard(x.id, 0.0, "marked", "02:77:77:77:77:77", "", probe.source.ip, probe.target_ip, probe.kind,
                      probe.mark) for x in listeners if probe.mark and self.leak(probe, x)]


OWNERS = {"192.168.112.11": MACS["pod-a"], "192.168.112.21": MACS["pod-c"], "192.168.112.1": MACS["ext-host"]}


ANSWER_KIND = {"arp": "arp-reply", "icmp": "echo-reply", "udp": "icmp-error 3/3", "tcp": "rst"}


def healthy(probe: Probe) -> list[Answer]:
    """Every address of OWNERS answers ARP, and IP probes sent to its own MAC, as a Linux host does."""
    mac = OWNERS.get(probe.target_ip)
    if mac is None or (probe.kind != "arp" and probe.target_mac != mac):
        return []
    return [Answer(probe.target_ip, mac, 0.5, 1, mac, ANSWER_KIND[probe.kind], 64)]


def judge(respond: Responder, drops: int = 0, leak: Callable[[Probe, Listener], bool] | None = None,
          text: str = SMALL, hosts: Sequence[HostView] = ()) -> MatrixRun:
    inventory, topology = small_inventory(text, hosts)
    prober = ScriptedProber(respond, drops) if leak is None else ScriptedProber(respond, drops, leak)
    return run_matrix(plan_checks(topology), inventory, prober, topology)


