"""``netattest gc``: remove what interrupted runs left behind, by run id, never another live run's objects."""

from __future__ import annotations

import argparse

NAME = "gc"
HELP = "remove what interrupted runs left behind (by run id)"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--run-id", default=None, help="remove this run even if its owner looks alive")
    parser.add_argument("--dry-run", action="store_true")


def run(args: argparse.Namespace) -> int:
    from netattest.lab.commands import gc_command
    return gc_command(args)
