"""``netattest gc``: remove what interrupted runs left behind, by run id, never another live run's objects.

``--target lab`` (default): lab namespaces whose owner process is gone. ``--target kubernetes``: cluster namespaces
labelled as netattest's (``app.kubernetes.io/managed-by=netattest`` and ``netattest.io/run-id``) that are past
their ``netattest.io/expires-at``, or every one of ``--run-id`` (how a SIGKILLed cluster run is removed before
its TTL; ``netattest run`` prints the command); never by name prefix.
"""

from __future__ import annotations

import argparse

NAME = "gc"
HELP = "remove what interrupted runs left behind (by run id)"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--run-id", default=None, help="remove this run even if its owner looks alive / not expired")
    parser.add_argument("--dry-run", action="store_true")
    parser.add_argument("--target", default="lab", choices=("lab", "kubernetes"))
    parser.add_argument("--kubeconfig", default=None, help="kubernetes: kubeconfig (default: $KUBECONFIG, ...)")
    parser.add_argument("--context", default=None, help="kubernetes: kubeconfig context")


def run(args: argparse.Namespace) -> int:
    if args.target == "kubernetes":
        return _cluster_gc(args)
    return _lab_gc(args)


def _cluster_gc(args: argparse.Namespace) -> int:
    from netattest.k8s.api import Cluster
    from netattest.k8s.config import connect
    from netattest.k8s.gc import collect

    connection = connect(args.kubeconfig, args.context)
    try:
        cluster = Cluster(connection)
        leftovers, problems = collect(cluster, args.run_id, dry_run=args.dry_run)
    finally:
        connection.close()
    verb = "would remove" if args.dry_run else "removed"
    removed = [lo for lo in leftovers if lo.remove]
    for lo in leftovers:
        print(f"  {verb if lo.remove else 'kept':12} {lo.namespace:50} run {lo.run_id}: {lo.why}")
    print(f"netattest gc on {connection.where}: {verb} {len(removed)} namespace(s) of "
          f"{len({lo.run_id for lo in removed})} run(s); {len(leftovers) - len(removed)} kept")
    for problem in problems:
        print(f"  problem: {problem}")
    return 2 if problems else 0


def _lab_gc(args: argparse.Namespace) -> int:
    from netattest.lab.gc import collect

    removed = collect(args.run_id, dry_run=args.dry_run)
    verb = "would remove" if args.dry_run else "removed"
    for leftover in removed:
        print(f"{verb} run {leftover.run_id}: {leftover.why} ({leftover.namespaces} namespaces)")
    if not removed:
        print("nothing left behind")
    return 0
