"""A fake cluster over a real lab: the fake API server's exec runs each probe agent inside the matching lab pod's
network namespace (and each node-inventory agent in the lab node's), so a whole ``--target kubernetes`` run carries
real ARP and ICMP between real macvlan interfaces. Shared by the end-to-end, crash and concurrency tests and by
``scripts/crash_tally.py --target kubernetes``.

Several runs (any run ids) can share one cluster and one lab: pods are matched to lab pods by name, so every run's
probe pod ``pod-a`` sends from the lab's ``pod-a``.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from netattest.inventory import Inventory, PodView
from netattest.k8s import names
from netattest.lab.lab import Lab
from netattest.topology import load_topology
from tests.fakeapi import FakeApiServer, PodOutcome

#: the one kind of problem a cluster run of a topology with external hosts always has (they cannot send there)
CLUSTER_CANNOT_SEND = "sends probes from its probe pods and node pods only"


def cluster_over_lab(lab: Lab, inventory: Inventory, **server_options: Any) -> FakeApiServer:
    """A (not yet started) fake API server whose nodes are the lab's and whose pods run in the lab's pods."""
    server = FakeApiServer(nodes={n.name: dict(n.labels) for n in lab.topology.nodes}, **server_options)

    def lab_pod(pod: dict[str, Any]) -> PodView:
        return inventory.pod(pod["metadata"]["name"])

    def exec_argv(namespace: str, name: str, command: list[str]) -> list[str]:
        pod = server.get("", "pods", namespace, name)
        assert pod is not None
        role = pod["metadata"]["labels"].get(names.LABEL_ROLE)
        if role == "node-check":  # the pre-flight's "chroot /host /bin/sh -c ...": the lab node's shell
            netns = inventory.node(pod["spec"]["nodeName"]).netns
            return ["ip", "netns", "exec", str(netns), *command[2:]] if command[:1] == ["chroot"] else command
        if role == "node-inventory":
            netns = inventory.node(pod["spec"]["nodeName"]).netns
        else:
            netns = lab_pod(pod).netns
        return ["ip", "netns", "exec", str(netns), sys.executable, *command[1:]]

    def network_status(pod: dict[str, Any]) -> list[dict[str, Any]] | None:
        if pod["metadata"]["labels"].get(names.LABEL_ROLE) != "probe":
            return None
        view = lab_pod(pod)
        return [{"name": f"{pod['metadata']['namespace']}/{s.name.split('/')[-1]}", "interface": s.interface,
                 "ips": list(s.ips), "mac": s.mac, "dns": {}} for s in view.network_status]

    def behaviour(pod: dict[str, Any]) -> PodOutcome | None:
        """A probe pod whose lab twin failed to attach stays Pending with Multus's sandbox event, in its words."""
        if pod["metadata"]["labels"].get(names.LABEL_ROLE) != "probe":
            return None
        view = lab_pod(pod)
        if view.phase == "Running" or not view.reason:
            return None
        message = view.reason.removeprefix("FailedCreatePodSandBox: ")
        return PodOutcome(phase="Pending", node=view.node, events=[("Warning", "FailedCreatePodSandBox", (
            "Failed to create pod sandbox: rpc error: code = Unknown desc = failed to setup network for sandbox: "
            f'plugin type="multus" name="multus-cni-network" failed (add): {message}'))])

    server.exec_argv = exec_argv
    server.network_status_hook = network_status
    server.pod_behaviour = behaviour
    return server


@contextmanager
def lab_up(topology: Path) -> Iterator[tuple[Lab, Inventory]]:
    """A lab of ``topology``, torn down on every exit path."""
    built = Lab(load_topology(topology))
    try:
        inventory = built.up()
        yield built, inventory
    finally:
        built.down()


def unexpected_problems(summary: dict[str, Any]) -> list[str]:
    """The problems of a cluster run's summary beyond the external hosts' (a cluster cannot send from them)."""
    return [f"{p['status']} {p['test']}: {p['reason']}" for p in summary["problems"]
            if not (p["status"] == "broken" and CLUSTER_CANNOT_SEND in p["reason"])]


def cluster_run_passed(summary: dict[str, Any], status: int | None) -> bool:
    """A cluster run of the macvlan-only topology passed: every check held but those of the external hosts, which
    are broken saying why (exit 2 then, as for any broken check)."""
    return (not unexpected_problems(summary) and summary["counts"]["failed"] == 0
            and summary["counts"]["passed"] > 50 and status == (2 if summary["problems"] else 0))
