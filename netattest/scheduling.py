"""Where pods land: nodeSelector matching with a least-loaded tie-break, like the default scheduler spreads.

Shared by the lab (which places pods) and the check planner (which names checks ``pod@node`` before anything
runs), so test ids and the lab agree.
"""

from __future__ import annotations

from netattest.topology.model import Pod, Topology


def no_node_reason(topology: Topology, pod: Pod) -> str:
    wanted = ", ".join(f"{k}={v}" for k, v in pod.node_selector.items())
    return (f"0/{len(topology.nodes)} nodes are available: no node carries the labels of the pod's "
            f"nodeSelector ({wanted})")


def schedule(topology: Topology, *, honour_drift: bool = True) -> dict[str, str | None]:
    """Pod key -> node name (None when no node matches). Lab drift may force a pod onto a node."""
    load: dict[str, int] = {}
    placement: dict[str, str | None] = {}
    for pod in topology.pods:
        forced = topology.lab.drift.pod_node.get(pod.name) if honour_drift else None
        if forced:
            node: str | None = forced
        else:
            matches = topology.nodes_matching(pod.node_selector)
            node = min(matches, key=lambda n: load.get(n.name, 0)).name if matches else None
        if node:
            load[node] = load.get(node, 0) + 1
        placement[pod.key] = node
    return placement
