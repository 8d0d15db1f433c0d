"""``netattest render``: print the manifests a run would apply (change review)."""

from __future__ import annotations

import argparse

import yaml

from netattest.k8s.validation import KUBERNETES_SCHEMA_VERSION, validate_manifest
from netattest.options import DEFAULT_TOPOLOGY, TOPOLOGY_HELP
from netattest.topology import load_topology, resolve_topology

NAME = "render"
HELP = "print the manifests a run would apply"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--topology", default=DEFAULT_TOPOLOGY, help=TOPOLOGY_HELP)
    parser.add_argument("--run-id", default=None, help="show the names a run with this id would use")
    parser.add_argument("--provision", default="direct", choices=("direct", "operator"))
    parser.add_argument("--probe-image", default=None)
    parser.add_argument("--openshift", action="store_true", help="render for OpenShift (SCC RoleBinding)")
    parser.add_argument("--scc", default="netattest-probe")
    parser.add_argument("--no-node-inventory", action="store_true")


def run(args: argparse.Namespace) -> int:
    """Print (and validate) what a cluster run applies: the Kubernetes target's own plan, not a copy of it."""
    from netattest.k8s.plan import ClusterOptions, ClusterPlan, default_probe_image

    topology = load_topology(resolve_topology(args.topology))
    run_id = args.run_id or "00000000"
    options = ClusterOptions(provision=args.provision, probe_image=args.probe_image or default_probe_image(),
                             scc=args.scc, node_inventory=not args.no_node_inventory)
    plan = ClusterPlan(topology, run_id, options, openshift=args.openshift)
    docs = plan.manifests()
    if options.provision == "operator":
        docs.append({"apiVersion": "operator.openshift.io/v1", "kind": "Network", "metadata": {"name": "cluster"},
                     "spec": {"additionalNetworks": [plan.operator_entry(a) for a in topology.attachments]}})
    for doc in docs:
        validate_manifest(doc)
    placeholder = " (a placeholder: every run uses its own; pass --run-id to see exact names)" \
        if run_id == "00000000" else ""
    print(f"# netattest render: topology {topology.name}, run id {run_id}{placeholder}")
    print(f"# {len(docs)} manifests, validated against the Kubernetes {KUBERNETES_SCHEMA_VERSION} schemas"
          + (" and the NAD CRD schema" if options.provision == "direct" else ""))
    if options.provision == "operator":
        print("# the last document is a merge patch: its entries are appended to the operator's "
              "spec.additionalNetworks and removed after the run")
    print(yaml.safe_dump_all(docs, sort_keys=False), end="")
    return 0

