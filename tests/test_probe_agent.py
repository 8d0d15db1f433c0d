"""The probe agent's line protocol end to end: the agent runs as a process inside a lab pod's network namespace
(``ip netns exec <pod-ns> python -m netattest.probe.agent``, and the streamed form a cluster pod gets), the test talks
to it over stdin/stdout and checks real ARP answers against what the lab built."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from netattest.errors import ProbeAgentError
from netattest.inventory import Inventory
from netattest.k8s.channel import AgentClient, SubprocessChannel
from netattest.lab.lab import Lab
from netattest.probe.agent import BOOTSTRAP, bootstrap_payload
from netattest.probe.engine import Endpoint, Probe
from netattest.probe.readers import read_interfaces
from tests.conftest import REPO

pytestmark = pytest.mark.lab
ENV = {**os.environ, "PYTHONPATH": str(REPO)}


def agent_in(netns: str, *, streamed: bool = False) -> AgentClient:
    if streamed:  # exactly what a cluster pod gets: python -c BOOTSTRAP, sources on stdin
        argv = ["ip", "netns", "exec", netns, sys.executable, "-c", BOOTSTRAP]
        channel = SubprocessChannel(argv, f"streamed agent in {netns}",
                                    env={**os.environ, "PYTHONPATH": "/nonexistent"})
        agent = AgentClient(channel, netns)
        agent.start(bootstrap_payload(), timeout=60)
    else:
        argv = ["ip", "netns", "exec", netns, sys.executable, "-m", "netattest.probe.agent"]
        agent = AgentClient(SubprocessChannel(argv, f"agent in {netns}", env=ENV), netns)
        agent.start(None, timeout=60)
    return agent


def arp(probe_id: str, source: dict, target_ip: str, expect: bool = True) -> Probe:
    return Probe(probe_id, "arp", Endpoint(None, "net1", source["addresses"][0].split("/")[0], source["mac"]),
                 target_ip, expect_answer=expect)


@pytest.mark.parametrize("streamed", [False, True], ids=["python-m", "streamed"])
def test_agent_in_a_lab_pod_reads_interfaces_and_gets_real_arp_answers(macvlan_lab: tuple[Lab, Inventory],
                                                                       streamed: bool) -> None:
    _, inventory = macvlan_lab
    pod_a, pod_b = inventory.pod("pod-a"), inventory.pod("pod-b")
    mac_c = inventory.pod("mac-c")
    ext = next(h for h in inventory.hosts if h.name == "ext-host")
    agent = agent_in(str(pod_a.netns), streamed=streamed)
    try:
        assert agent.ready["protocol"] == 1 and agent.ready["scapy"]
        # interfaces, read over netlink inside the pod, agree with the lab's pyroute2 view
        seen = {i["name"]: i for i in agent.interfaces()}
        net1, expected = seen["net1"], pod_a.interfaces["net1"]
        assert (net1["mac"], tuple(net1["addresses"]), net1["kind"], net1["mode"], net1["up"]) == \
               (expected.mac, expected.addresses, "macvlan", "bridge", True)
        # real ARP: every answer comes from the MAC that owns the address; the other VLAN stays silent
        probes = [arp("b", net1, pod_b.interfaces["net1"].ips[0]), arp("c", net1, mac_c.interfaces["net1"].ips[0]),
                  arp("ext", net1, ext.interface.ips[0]), arp("gw", net1, "192.168.111.1", expect=False),
                  Probe("icmp-b", "icmp", Endpoint(None, "net1", net1["addresses"][0].split("/")[0], net1["mac"]),
                        pod_b.interfaces["net1"].ips[0], pod_b.interfaces["net1"].mac)]
        results, stats = agent.probe(probes, engine={"timeout": 0.5, "retries": 1}, timeout=30)
        got = {r.probe.id: r for r in results}
        assert [a.mac for a in got["b"].answers] == [pod_b.interfaces["net1"].mac]
        assert [a.mac for a in got["c"].answers] == [mac_c.interfaces["net1"].mac]
        assert [a.mac for a in got["ext"].answers] == [ext.interface.mac]
        assert got["gw"].answers == [] and got["gw"].attempts == 1
        assert got["icmp-b"].answered and got["icmp-b"].answers[0].ip == pod_b.interfaces["net1"].ips[0]
        assert got["b"].probe is probes[0], "results come back as the same Probe objects"
        assert stats.trustworthy and stats.frames_sent >= 5
        assert got["b"].frame_hex().startswith("ffffffffffff" + net1["mac"].replace(":", ""))
    finally:
        agent.close()


def test_protocol_errors_keep_the_agent_alive_and_eof_ends_it(macvlan_lab: tuple[Lab, Inventory]) -> None:
    _, inventory = macvlan_lab
    netns = str(inventory.pod("pod-b").netns)
    proc = subprocess.run(["ip", "netns", "exec", netns, sys.executable, "-m", "netattest.probe.agent"],
                          input=b'not json\n{"id": 1, "op": "nope"}\n{"id": 2, "op": "ping"}\n', capture_output=True,
                          env=ENV, timeout=60)
    lines = proc.stdout.decode().splitlines()
    assert proc.returncode == 0 and len(lines) == 4, proc.stderr
    assert '"event":"ready"' in lines[0]
    assert '"id":null,"ok":false,"error":"bad request line' in lines[1]
    assert '"id":1,"ok":false,"error":"ValueError: unknown op' in lines[2]
    assert '"id":2,"ok":true' in lines[3]


def test_neighbour_table_shows_who_asked(macvlan_lab: tuple[Lab, Inventory]) -> None:
    _, inventory = macvlan_lab
    pod_a, pod_b = inventory.pod("pod-a"), inventory.pod("pod-b")
    asking = agent_in(str(pod_b.netns))
    asked = agent_in(str(pod_a.netns))
    try:
        net1 = {i["name"]: i for i in asking.interfaces()}["net1"]
        asking.probe([arp("a", net1, pod_a.interfaces["net1"].ips[0])], engine={"timeout": 0.3, "retries": 1},
                     timeout=30)
        table = asked.request("neighbours", 10)["neighbours"]
        assert {"ip": pod_b.interfaces["net1"].ips[0], "mac": pod_b.interfaces["net1"].mac, "ifname": "net1"} in [
            {k: e[k] for k in ("ip", "mac", "ifname")} for e in table]
    finally:
        asking.close()
        asked.close()


def test_agent_that_dies_is_reported_with_its_stderr() -> None:
    channel = SubprocessChannel([sys.executable, "-c", "import sys; sys.stderr.write('boom\\n'); sys.exit(4)"])
    with pytest.raises(ProbeAgentError, match=r"ended while starting \(exit code 4; stderr: boom\)"):
        AgentClient(channel, "test").start(None, timeout=10)
    channel.close()


def test_read_interfaces_sees_loopback_without_privileges() -> None:
    lo = next(i for i in read_interfaces() if i["name"] == "lo")
    assert "127.0.0.1/8" in lo["addresses"] and lo["up"]
