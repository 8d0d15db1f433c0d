"""``netattest render``: print the manifests a run would apply (change review)."""

from __future__ import annotations

import argparse

from netattest.render import render_command

NAME = "render"
HELP = "print the manifests a run would apply"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--topology", default="topologies/restricted-vlan.yaml")
    parser.add_argument("--run-id", default=None, help="show the names a run with this id would use")
    parser.add_argument("--provision", default="direct", choices=("direct", "operator"))
    parser.add_argument("--probe-image", default=None)
    parser.add_argument("--openshift", action="store_true", help="render for OpenShift (SCC RoleBinding)")
    parser.add_argument("--scc", default="netattest-probe")
    parser.add_argument("--no-node-inventory", action="store_true")


def run(args: argparse.Namespace) -> int:
    return render_command(args)
