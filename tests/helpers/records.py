"""A scripted run for the evidence layer's tests: a small topology (two macvlan pods and a host on restricted,
isolated from openshift), its inventory, probers that answer by rule and keep frames as the engine does, the
records' schema check, and a whole run directory written from it (records, summary, HTML report)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import jsonschema
from scapy.layers.inet import ICMP, IP
from scapy.layers.l2 import ARP, Ether

from netattest.evaluate import MatrixRun, run_matrix
from netattest.inventory import HostView, InterfaceView, Inventory, NodeView, PodAttachment, PodView
from netattest.matrix import plan_checks
from netattest.probe.engine import Answer, CapturedFrame, Listener, Probe, ProbeResult, WindowStats
from netattest.report import records, schema_path
from netattest.report.html import REPORT, write_html
from netattest.topology import load_topology_text
from netattest.topology.model import Topology

SMALL = """
apiVersion: netattest/v1
kind: Topology
name: small
description: two pods and a host on VLAN restricted, isolated from openshift
networks:
  - {name: restricted, vlan: 112, subnet: 192.168.112.0/24, routed: false}
  - {name: openshift, vlan: 111, subnet: 192.168.111.0/24, gateway: 192.168.111.1}
nodes:
  - name: node1
    labels: {node-role.kubernetes.io/multus-node: "yes"}
    nics: [{name: ens224, network: restricted}, {name: ens192, network: openshift, address: 192.168.111.21/24}]
externalHosts:
  - {name: ext-host, network: restricted, address: 192.168.112.1/24}
  - {name: gateway, network: openshift, address: 192.168.111.1/24}
attachments:
  - {name: net1, namespace: t, network: restricted, plugin: macvlan, mode: bridge, master: ens224, ipam: {type: static}}
pods:
  - {name: pod-a, namespace: t, networks: [{attachment: net1, ips: [192.168.112.11/24]}]}
  - {name: pod-c, namespace: t, networks: [{attachment: net1, ips: [192.168.112.21/24]}]}
expectations:
  - {from: restricted, to: restricted, expect: reachable, why: one VLAN talks at L2}
  - {from: restricted, to: openshift, expect: isolated, why: not routed}
"""
MACS = {"pod-a": "02:00:00:00:00:0a", "pod-c": "02:00:00:00:00:0c", "ext-host": "02:00:00:00:00:e1",
        "ens224": "02:00:00:00:01:24", "ens192": "02:00:00:00:01:92"}
OWNERS = {"192.168.112.11": MACS["pod-a"], "192.168.112.21": MACS["pod-c"], "192.168.112.1": MACS["ext-host"]}
T0 = 1_790_000_000.25
Responder = Callable[[Probe], list[Answer]]


def _iface(name: str, mac: str, address: str, kind: str = "macvlan") -> InterfaceView:
    return InterfaceView(name, mac, (address,) if address else (), kind, 1500, True, "bridge")


def small_inventory() -> tuple[Inventory, Topology]:
    topology = load_topology_text(SMALL, "small.yaml")
    net1 = topology.attachment("t", "net1")
    pods = [PodView(name, "t", "node1", "Running", None,
                    {"net1": _iface("net1", MACS[name], f"192.168.112.{ip}/24")},
                    attachments=[PodAttachment("restricted", net1, "macvlan", "bridge", "net1",
                                               (f"192.168.112.{ip}/24",), "ens224", MACS["ens224"])],
                    netns=f"ns-{name}")
            for name, ip in (("pod-a", 11), ("pod-c", 21))]
    nodes = [NodeView("node1", {"node-role.kubernetes.io/multus-node": "yes"},
                      {"ens224": _iface("ens224", MACS["ens224"], "", "veth"),
                       "ens192": _iface("ens192", MACS["ens192"], "192.168.111.21/24", "veth")})]
    hosts = [HostView("ext-host", "restricted", _iface("eth0", MACS["ext-host"], "192.168.112.1/24", "veth")),
             HostView("gateway", "openshift", _iface("eth0", "02:00:00:00:00:91", "192.168.111.1/24", "veth"))]
    return Inventory("0000abcd", "lab", pods, nodes, hosts), topology


def healthy(probe: Probe) -> list[Answer]:
    mac = OWNERS.get(probe.target_ip)
    if mac is None or (probe.kind == "icmp" and probe.target_mac != mac):
        return []
    return [Answer(probe.target_ip, mac, 0.5, 1, mac)]


def leaky(probe: Probe) -> list[Answer]:
    """A router answers ARP for the other VLAN's node address: isolation broken."""
    if probe.target_ip == "192.168.111.21" and probe.kind == "arp":
        return [Answer(probe.target_ip, "02:66:00:00:00:01", 0.4, 1, "02:66:00:00:00:01")]
    return healthy(probe)


def _frames(probe: Probe, answers: list[Answer]) -> list[CapturedFrame]:
    """The frames a real engine would have kept: the request, then each answer."""
    src = probe.source
    if probe.kind == "arp":
        sent = Ether(src=src.mac, dst="ff:ff:ff:ff:ff:ff") / ARP(op=1, hwsrc=src.mac, psrc=src.ip,
                                                                 pdst=probe.target_ip)
        got = [Ether(src=a.mac, dst=src.mac) / ARP(op=2, hwsrc=a.mac, psrc=a.ip, hwdst=src.mac, pdst=src.ip)
               for a in answers]
    else:
        sent = Ether(src=src.mac, dst=probe.target_mac) / IP(src=src.ip, dst=probe.target_ip) / ICMP()
        got = [Ether(src=a.mac, dst=src.mac) / IP(src=a.ip, dst=src.ip) / ICMP(type=0) for a in answers]
    frames = [CapturedFrame(T0, True, bytes(sent))]
    frames += [CapturedFrame(T0 + a.rtt_ms / 1000, False, bytes(g)) for a, g in zip(answers, got, strict=True)]
    return frames


class FramedProber:
    """Answers probes by rule and keeps frames, as ProbeEngine(keep_frames=True) does."""

    def __init__(self, respond: Responder) -> None:
        self.respond = respond

    def probe(self, probes: Sequence[Probe], listeners: Sequence[Listener] = (),
              timeout: float | None = None) -> tuple[list[ProbeResult], WindowStats]:
        results = []
        for probe in probes:
            answers = self.respond(probe)
            results.append(ProbeResult(probe, T0, 1, answers, f"{probe.kind} to {probe.target_ip}", "00" * 42,
                                       frames=_frames(probe, answers)))
        return results, WindowStats(len(probes), len(probes), len(probes), 0, 1.0, rounds=1,
                                    listening={x.id: "" for x in listeners})


def judged(respond: Responder = healthy) -> tuple[MatrixRun, Inventory]:
    inventory, topology = small_inventory()
    return run_matrix(plan_checks(topology), inventory, FramedProber(respond), topology), inventory


def validate(name: str, document: object) -> None:
    schema = json.loads(schema_path(name).read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(document, schema, cls=jsonschema.Draft202012Validator)


def synthetic_run(run_dir: Path, respond: Any = leaky, extra_problem: str = "") -> Path:
    """A run directory as the evidence layer writes it, from a scripted matrix."""
    run_dir.mkdir(parents=True, exist_ok=True)
    run, inventory = judged(respond)
    test_of = {cid: f"suites/test_x.py::test_isolation[{cid}]" for cid in run.outcomes}
    records.write_checks(run_dir, run, inventory, test_of, "failed", run_dir.name)
    checks = json.loads((run_dir / "checks.json").read_text())["checks"]
    evidence = {"t/pod-a": {"node": "node1", "nad_as_applied": "kind: NetworkAttachmentDefinition\n",
                            "pod_manifest": "kind: Pod\n", "network_status": "[]", "ip_addr": "3: net1@if2: ..."}}
    records.write_inventory(run_dir, inventory, evidence, run_dir.name)
    tests = [{"nodeid": c["test"], "name": c["test"].split("::")[1], "status": c["status"], "reason": c["reason"],
              "subject": {"check": c["id"]}, "markers": [c["kind"]], "duration_s": 0.001} for c in checks]
    tests += [{"nodeid": f"suites/test_mac.py::test_mac_behaviour[net1:{pod}@node1:net1]",
               "name": f"test_mac_behaviour[net1:{pod}@node1:net1]", "status": "passed", "reason": "",
               "subject": {"pod": f"t/{pod}", "iface": "net1", "network": "restricted"}} for pod in ("pod-a", "pod-c")]
    if extra_problem:
        tests.append({"nodeid": "suites/test_attachment.py::test_pod_placement[t/pod-a]",
                      "name": "test_pod_placement[t/pod-a]", "status": "failed", "reason": extra_problem,
                      "subject": {"pod": "t/pod-a"}})
    problems = [{"test": t["nodeid"], "status": t["status"], "reason": t["reason"]} for t in tests
                if t["status"] in ("failed", "broken")]
    now = time.time()
    summary = {
        "schema": "netattest.run-summary/v1", "run_id": run_dir.name, "harness_version": "0.1.0", "target": "lab",
        "kernel": "6.1.0-test", "started": now - 3, "finished": now, "exit_status": 1 if problems else 0,
        "topology": {"name": "small", "file": "/t/small.yaml", "sha256": "c" * 64, "description": "small lab",
                     "networks": [{"name": "restricted", "vlan": 112, "subnet": "192.168.112.0/24"},
                                  {"name": "openshift", "vlan": 111, "subnet": "192.168.111.0/24"}]},
        "counts": {s: sum(1 for t in tests if t["status"] == s) for s in ("passed", "failed", "broken", "skipped")},
        "problems": problems, "reports": {"html": REPORT}, "capture": "failed", "baseline": None,
        "environment": {"kernel_kind": "host kernel", "os": "Debian", "python": "3.11", "libraries": {},
                        "cni_plugins": {"macvlan": {"path": "/usr/lib/cni/macvlan", "sha256": "d" * 64,
                                                    "version": "CNI macvlan plugin version unknown",
                                                    "protocols": "1.0.0", "package": "containernetworking-plugins"}}},
        "tests": tests,
    }
    validate("run-summary", summary)
    (run_dir / "summary.json").write_text(json.dumps(summary))
    write_html(run_dir)
    return run_dir
