"""``netattest render``: print the manifests a run would apply (change review)."""

from __future__ import annotations

import argparse

from netattest.render import render_command

NAME = "render"
HELP = "print the manifests a run would apply"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--topology", default="topologies/restricted-vlan.yaml")


def run(args: argparse.Namespace) -> int:
    return render_command(args)
