"""``netattest lab up|down|status``: keep a lab running to inspect it."""

from __future__ import annotations

import argparse

from netattest.errors import NetattestError
from netattest.lab.lab import Lab, teardown_run
from netattest.lab.state import KEPT_FILE, known_runs
from netattest.options import DEFAULT_TOPOLOGY, TOPOLOGY_HELP
from netattest.serialize import to_jsonable
from netattest.topology import load_topology, resolve_topology

NAME = "lab"
HELP = "keep a lab running to inspect it"


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="lab_command", required=True)
    up = sub.add_parser("up", help="build the lab and leave it running")
    up.add_argument("--topology", default=DEFAULT_TOPOLOGY, help=TOPOLOGY_HELP)
    up.add_argument("--run-id", default=None)
    down = sub.add_parser("down", help="remove a kept lab")
    down.add_argument("--run-id", default=None, help="which lab (default: every kept lab)")
    sub.add_parser("status", help="list labs on this machine")


def run(args: argparse.Namespace) -> int:
    if args.lab_command == "up":
        return _up(args)
    if args.lab_command == "down":
        return _down(args)
    return _status()


INVENTORY_FILE = "inventory.json"


def _up(args: argparse.Namespace) -> int:
    topology = load_topology(resolve_topology(args.topology))
    lab = Lab(topology, args.run_id, progress=lambda message: print(f"  {message}", flush=True))
    inventory = lab.up()
    try:
        lab.run_dir.write_json(INVENTORY_FILE, to_jsonable(inventory))
        lab.keep()
    except BaseException:
        lab.down()
        raise
    print(f"lab {lab.run_id} is up (topology {topology.name}); check it again with: netattest run --topology "
          f"{args.topology} --lab {lab.run_id}; remove it with: netattest lab down --run-id {lab.run_id}")
    for pod in inventory.pods:
        ifaces = ", ".join(f"{i.name} {','.join(i.addresses)} {i.mac}" for i in pod.interfaces.values()
                           if i.name != "lo")
        print(f"  {pod.key:28} {pod.node or '-':8} {pod.phase:8} {ifaces or pod.reason or ''}")
        if pod.netns:
            print(f"      ip netns exec {pod.netns} ip -br addr")
    return 0


def _down(args: argparse.Namespace) -> int:
    runs = [r for r in known_runs() if (r.path / KEPT_FILE).exists()]
    if args.run_id:
        runs = [r for r in known_runs() if r.run_id == args.run_id]
        if not runs:
            raise NetattestError(f"no lab with run id {args.run_id} on this machine. Fix: list labs with "
                                 "'netattest lab status'")
    for run in runs:
        problems = teardown_run(run.run_id)
        print(f"lab {run.run_id} removed" + (f" (problems: {problems})" if problems else ""))
    if not runs:
        print("no kept lab to remove")
    return 0


def _status() -> int:
    runs = known_runs()
    if not runs:
        print("no lab on this machine")
    for run in runs:
        owner = run.owner()
        kept = (run.path / KEPT_FILE).exists()
        state = "kept" if kept else ("running" if owner and owner.alive() else "abandoned (netattest gc)")
        print(f"{run.run_id}  {state:26} topology {owner.topology if owner else '?'}")
    return 0
