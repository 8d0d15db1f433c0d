"""``netattest discover``: draft a topology from a live cluster — its NADs, its nodes and their labels, and the
nodes' NICs as short-lived host-network pods read them — for the user to review and run.

Every guessed value is marked in a YAML comment (``GUESSED``, ``CONFIRM``); the draft loads as it is, so
``netattest render`` and ``netattest run --target kubernetes`` accept it before any edit.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from netattest.errors import NetattestError

if TYPE_CHECKING:
    from netattest.discover import ClusterFacts
    from netattest.inventory import InterfaceView

NAME = "discover"
HELP = "draft a topology from a live cluster (NADs, nodes, labels, NICs)"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--kubeconfig", default=None, help="kubeconfig (default: $KUBECONFIG, ~/.kube/config)")
    parser.add_argument("--context", default=None, help="kubeconfig context (default: the current one)")
    parser.add_argument("-n", "--namespace", action="append", required=True, dest="namespaces",
                        help="namespace whose NADs to read (repeat for several)")
    parser.add_argument("--node-selector", action="append", default=[], metavar="KEY=VALUE",
                        help="only nodes with this label (repeat for several; default: every schedulable node)")
    parser.add_argument("--no-node-pods", action="store_true",
                        help="do not start host-network pods to read the nodes' NICs (NIC names are then guessed)")
    parser.add_argument("--name", default="discovered", help="the topology's name (default: discovered)")
    parser.add_argument("-o", "--output", default="-", help="file to write (default: - for stdout)")
    parser.add_argument("--pod-timeout", type=float, default=300.0, help="seconds for the node pods to run")


def _selector(pairs: list[str]) -> dict[str, str]:
    selector = {}
    for pair in pairs:
        key, eq, value = pair.partition("=")
        if not eq or not key:
            raise NetattestError(f"--node-selector {pair!r} is not KEY=VALUE. Fix: e.g. --node-selector "
                                 "node-role.kubernetes.io/worker=")
        selector[key] = value
    return selector


def run(args: argparse.Namespace) -> int:
    from netattest.discover import draft_topology
    from netattest.topology import load_topology_text

    facts = gather(args)
    text, notes = draft_topology(facts, args.name)
    load_topology_text(text, f"the draft of {facts.where}")  # a draft that does not load is a bug, said as one
    for note in notes:
        sys.stderr.write(f"netattest discover: {note}\n")
    if args.output == "-":
        sys.stdout.write(text)
    else:
        Path(args.output).write_text(text)
        sys.stderr.write(f"netattest discover: wrote {args.output} ({len(facts.nads)} NAD(s), "
                         f"{len(facts.nodes)} node(s) read); review the GUESSED and CONFIRM lines, then: netattest "
                         f"render --topology {args.output}\n")
    return 0


def gather(args: argparse.Namespace) -> ClusterFacts:
    """NADs of the namespaces, nodes, and (unless --no-node-pods) every node's links read by a node pod."""
    from netattest.discover import ClusterFacts
    from netattest.k8s.api import Cluster, NotFound
    from netattest.k8s.config import connect
    from netattest.k8s.plan import NAD_GROUP, NAD_PLURAL, NAD_VERSION

    selector = _selector(args.node_selector)
    connection = connect(args.kubeconfig, args.context)
    try:
        cluster = Cluster(connection)
        if not cluster.has_resource(NAD_GROUP, NAD_VERSION, NAD_PLURAL):
            raise NetattestError(f"{connection.where} has no NetworkAttachmentDefinition resource "
                                 f"({NAD_PLURAL}.{NAD_GROUP}): Multus is not installed. Fix: install Multus, or "
                                 "point --kubeconfig at the cluster that runs it")
        nads = []
        for namespace in args.namespaces:
            try:
                cluster.read_namespace(namespace)
            except NotFound:
                raise NetattestError(f"namespace {namespace} does not exist on {connection.where}. Fix: name a "
                                     "namespace that holds NADs (kubectl get net-attach-def -A)") from None
            found = cluster.list_custom(NAD_GROUP, NAD_VERSION, NAD_PLURAL, namespace)
            if not found:
                sys.stderr.write(f"netattest discover: namespace {namespace} holds no NAD\n")
            nads += found
        if not nads:
            raise NetattestError(f"no NAD in namespace(s) {', '.join(args.namespaces)} on {connection.where}: "
                                 "nothing to draft. Fix: name the namespaces that hold the NADs (kubectl get "
                                 "net-attach-def -A)")
        nodes = cluster.list_nodes()
        where = connection.where
    finally:
        connection.close()
    facts = ClusterFacts(where, nads, nodes, node_selector=selector)
    if not args.no_node_pods:
        facts.nics, facts.routes = _read_nics(args, facts)
    return facts


def _read_nics(args: argparse.Namespace, facts: ClusterFacts) \
        -> tuple[dict[str, dict[str, InterfaceView]], dict[str, list[str]]]:
    """The cluster target's node pods (host network, the probe agent) on every chosen node, nothing else."""
    from netattest.discover import Draft
    from netattest.k8s.plan import ClusterOptions
    from netattest.runid import new_run_id
    from netattest.targets.kubernetes import KubernetesTarget
    from netattest.topology.model import Node, Topology

    names = [n["name"] for n in Draft(facts).nodes()]
    topology = Topology("discover", "<discover>", "", (), tuple(Node(n, {}, ()) for n in names), (), (), (), ())
    options = ClusterOptions(kubeconfig=args.kubeconfig, context=args.context, pod_timeout=args.pod_timeout)
    target = KubernetesTarget(topology, new_run_id(), options=options,
                              progress=_progress)
    try:
        inventory = target.deploy()
        nics = {n.name: n.nics for n in inventory.nodes if n.nics}
        return nics, target.node_routes
    finally:
        target.teardown()


def _progress(message: str) -> None:
    sys.stderr.write(f"netattest discover: {message}\n")
