"""``netattest lab up|down|status``: keep a lab running to inspect it."""

from __future__ import annotations

import argparse

from netattest.options import DEFAULT_TOPOLOGY

NAME = "lab"
HELP = "keep a lab running to inspect it"


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="lab_command", required=True)
    up = sub.add_parser("up", help="build the lab and leave it running")
    up.add_argument("--topology", default=DEFAULT_TOPOLOGY, help="topology YAML file (default: %(default)s)")
    up.add_argument("--run-id", default=None)
    down = sub.add_parser("down", help="remove a kept lab")
    down.add_argument("--run-id", default=None, help="which lab (default: every kept lab)")
    sub.add_parser("status", help="list labs on this machine")


def run(args: argparse.Namespace) -> int:
    from netattest.lab.commands import lab_command
    return lab_command(args)
