"""What proving isolation on paths costs: the probe window with and without the new probes, and the sweep.

Builds a lab, then measures, in the same run and on the same lab:
  * before: the matrix as it was probed when isolation meant L2 only (ARP who-has, reachability ARP + ICMP, ARP
    sanity twins) — one window;
  * after: neighbour discovery (an ARP sweep of every source VLAN of an isolation expectation) and then one window
    with every probe (IP probes through every next hop, IP sanity twins, canaries) and the target-side listeners;
  * the growth, in probe timeouts (target: at most one), and the sweep time for a /24.
Prints figures and asserts nothing (timed tests are flaky; ratios measured in one run are not).

    python3 benchmarks/bench_isolation.py                    # macvlan-only seed variant, host kernel
    python3 benchmarks/bench_isolation.py --sandbox          # the seed (ipvlan) inside the kernel sandbox
    python3 benchmarks/bench_isolation.py --topology topologies/isolation.yaml --runs 5
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from netattest.actors import Actors
from netattest.evaluate import discover, run_matrix
from netattest.lab.lab import Lab
from netattest.matrix import plan_checks, sanity_targets
from netattest.neighbours import SWEEP_SHARE
from netattest.probeset import ProbeSet
from netattest.targets.lab import LabTarget
from netattest.topology import load_topology

SEED = REPO / "topologies" / "restricted-vlan.yaml"
MACVLAN_SEED = REPO / "topologies" / "macvlan-only.yaml"


def l2_only_probes(probes: ProbeSet) -> list:
    """The probes of the matrix as it was before isolation covered paths: no next hops, IP twins or canaries."""
    path_ids = {pid for paths in probes.paths.values() for p in paths for pid in p.probe_ids}
    twin_ids = {pid for pids in probes.l3_twins_of.values() for pid in pids}
    canary_ids = {pid for pids in probes.canaries.values() for pid in pids}
    dropped = path_ids | twin_ids | canary_ids
    return [p for p in probes.probes if p.id not in dropped]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--topology", type=Path, default=None)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--timeout", type=float, default=1.0, help="probe timeout, s (default 1.0, as netattest run)")
    parser.add_argument("--sandbox", action="store_true", help="run inside the kernel sandbox (the ipvlan seed)")
    args = parser.parse_args()
    if args.sandbox and not os.environ.get("NETATTEST_IN_SANDBOX"):
        from netattest.sandbox.uml import run_in_sandbox

        argv = [sys.executable, str(Path(__file__).resolve()), "--runs", str(args.runs), "--timeout",
                str(args.timeout), "--topology", str(args.topology or SEED)]
        return run_in_sandbox(argv, cwd=REPO, writable=[], env={**os.environ, "NETATTEST_IN_SANDBOX": "1"})
    if os.geteuid() != 0:
        print("needs root (network namespaces, CNI plugins)", file=sys.stderr)
        return 2
    topology = load_topology(args.topology or MACVLAN_SEED)
    checks = plan_checks(topology)
    lab = Lab(topology)
    target = LabTarget(topology, lab=lab, timeout=args.timeout)
    before, after, sweeps, windows, counts = [], [], [], [], None
    try:
        lab.up()
        target.lab = lab
        inventory = lab.inventory()
        actors = Actors(inventory)
        sweep = args.timeout * SWEEP_SHARE  # as netattest run
        run_matrix(checks, inventory, target, topology, sweep_timeout=sweep)  # warm-up: sockets, templates
        for _ in range(args.runs):
            tables, _, _ = discover(checks, inventory, target, topology, actors, 4094, lambda m: None, sweep)
            probes = ProbeSet(topology, inventory, sanity_targets(topology), tables)
            probes.plan(checks)
            old = l2_only_probes(probes)
            _, stats = target.probe(old)
            before.append(stats.duration_s / args.timeout)
            run = run_matrix(checks, inventory, target, topology, sweep_timeout=sweep)
            sweep_s = run.sweep_stats.duration_s / args.timeout if run.sweep_stats else 0.0
            sweeps.append(sweep_s)  # measured, as a share of the probe timeout (it printed the configured wait)
            windows.append(run.stats.duration_s / args.timeout)
            after.append(sweep_s + run.stats.duration_s / args.timeout)
            counts = (len(old), run.stats.probes, len(probes.listeners),
                      sum(t.addresses_swept for t in tables.values()))
            bad = [o for o in run.outcomes.values() if o.status not in ("passed", "skipped")]
            if bad:
                print(f"warning: {len(bad)} check(s) did not pass, e.g. {bad[0].check.id}: {bad[0].reason}")
    finally:
        target.teardown()
    assert counts is not None
    median = statistics.median
    print(f"topology {topology.name} ({len(checks)} checks), probe timeout {args.timeout:.2f} s, {args.runs} runs, "
          f"medians in probe timeouts")
    print(f"before (L2 only)   : {counts[0]:5d} probes, window {median(before):.2f}")
    print(f"after  (paths)     : {counts[1]:5d} probes + {counts[2]} listeners, sweep of {counts[3]} addresses "
          f"{median(sweeps):.2f} + window {median(windows):.2f} = {median(after):.2f}")
    growth = median(after) - median(before)
    print(f"growth             : {growth:+.2f} probe timeouts (target <= 1.00: {'met' if growth <= 1.0 else 'MISSED'})")
    print(f"sweep of a /24     : {median(sweeps) * args.timeout:.2f} s (waits {SWEEP_SHARE:.0%} of the timeout; "
          "unanswered addresses are asked again in the window)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
