"""``netattest topologies``: the topologies shipped with netattest, what each proves, and which kernel runs it here.

A shipped topology is run by its name (``netattest run --topology macvlan-only``). The kernel column is what
``--kernel auto`` would choose on this machine: the host kernel when it has every feature the topology needs
(tried in a throwaway network namespace, which needs root), else the user-mode Linux kernel sandbox.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from netattest.errors import NetattestError
from netattest.lab.lab import needs_vlan_fabric
from netattest.paths import TOPOLOGIES_DIR
from netattest.sandbox.kernel import FEATURES, KernelFeatures, detect_kernel_features, features_needed
from netattest.topology import load_topology, shipped_topologies

NAME = "topologies"
HELP = "list the shipped topologies: name, description, and whether they need the kernel sandbox here"
#: features every lab needs, so they say nothing about one topology
_ALWAYS = frozenset({"veth", "bridge", "netns"})


def configure(parser: argparse.ArgumentParser) -> None:
    parser.epilog = f"The files are in {TOPOLOGIES_DIR}; copy one to start your own."


def run(args: argparse.Namespace) -> int:
    features = detect_kernel_features()
    rows = [_row(path.stem, path, features) for path in shipped_topologies()]
    width = max((len(row[0]) for row in rows), default=0)
    print(f"{'NAME':{width}}  {'KERNEL':7}  NEEDS (beyond veth, bridge and namespaces) / DESCRIPTION")
    for name, kernel, needs, description in rows:
        print(f"{name:{width}}  {kernel:7}  {needs}")
        print(f"{'':{width}}  {'':7}  {description}")
    print()
    print("KERNEL: where --kernel auto runs it on this machine: the host kernel, or the user-mode Linux kernel "
          "sandbox when the host kernel lacks a feature it needs.")
    if "netns" not in features.present:
        print(f"KERNEL ?: {features.how}.")
    print("Run one by name: netattest run --topology NAME (a file of that name in the current directory wins).")
    return 0


def _row(name: str, path: Path, features: KernelFeatures) -> tuple[str, str, str, str]:
    """(name, kernel here, the features it needs beyond every lab's, description)."""
    try:
        topology = load_topology(path)
    except NetattestError as exc:  # a shipped file that does not load is a bug: say so, list the rest
        return name, "-", "-", f"(does not load: {exc})"
    needed = features_needed(topology.plugins(), needs_vlan_fabric(topology), topology.bridge_vlans())
    needs = ", ".join(f for f in FEATURES if f in needed - _ALWAYS) or "-"
    if "netns" in features.present:
        missing = [f for f in FEATURES if f in needed and f not in features.present]
        kernel = "sandbox" if missing else "host"
        needs += f" (host kernel lacks {', '.join(missing)})" if missing else ""
    else:
        kernel = "?"
    return name, kernel, needs, topology.description

