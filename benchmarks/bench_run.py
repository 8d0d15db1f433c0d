"""Benchmark the whole main job, ``netattest run``, phase by phase, so that a regression shows which phase grew.

Two runs, alternating, N times each (median per phase):
  * the seed topology (restricted-vlan, ipvlan) inside the kernel sandbox (targets: pytest session <= 15 s, probe
    window <= 1.5 probe timeouts);
  * the macvlan-only topology on the host kernel (target: pytest session <= 3 s).
The phases come from the run's own timeline (``--timings``, see netattest/timeline.py); their sum is the wall
time. Baselines measured in the same run: one sandbox boot running ``true`` and one ``pytest --collect-only`` of
the suites. Figures only, no timing asserts; the exit status says whether every run held its expectations.
Run as root from the repository: ``python benchmarks/bench_run.py [--runs 5]``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from netattest.sandbox.uml import run_in_sandbox
from netattest.timeline import Timeline

SEED = ("seed, sandbox", "topologies/restricted-vlan.yaml")
HOST = ("macvlan-only, host", "topologies/macvlan-only.yaml")
PHASES = ("host side (CLI, kernel check)", "sandbox boot", "startup (imports, collection)",
          "pre-flight (nodes, facts, checks)", "lab build (pods)", "inventory and pod evidence",
          "neighbour discovery (sweep window)", "probe setup", "probe window (listening)", "suites (the other tests)",
          "teardown", "evidence", "exit (power-off, summary)")


def phases(line: Timeline, began: float, ended: float) -> dict[str, float]:
    """The run's wall time cut into PHASES (a phase the run did not have is absent)."""
    m, spans = line.marks, {name: end - start for name, start, end in line.phases}
    boot = m.get("sandbox boot")
    out = {}
    if boot is not None:
        out["host side (CLI, kernel check)"] = boot - began
        out["sandbox boot"] = m["interpreter"] - boot
    else:
        out["host side (CLI, kernel check)"] = m["interpreter"] - began
    out["startup (imports, collection)"] = m["tests begin"] - m["interpreter"]
    inside = {
        "pre-flight (nodes, facts, checks)": m.get("pre-flight end", 0.0) - m.get("pre-flight begin", 0.0),
        "lab build (pods)": spans.get("lab build", 0.0),
        "inventory and pod evidence": spans.get("inventory and pod evidence", 0.0),
        "neighbour discovery (sweep window)": line.figures.get("probe sweep_s", 0.0),
        "probe setup": (spans.get("probe", 0.0) - line.figures.get("probe listen_s", 0.0)
                        - line.figures.get("probe sweep_s", 0.0)),
        "probe window (listening)": line.figures.get("probe listen_s", 0.0),
        "teardown": spans.get("teardown", 0.0),
    }
    out.update(inside)
    out["suites (the other tests)"] = m["tests end"] - m["tests begin"] - sum(inside.values())
    out["evidence"] = spans["evidence"]
    evidence_end = next(end for name, _, end in line.phases if name == "evidence")
    out["exit (power-off, summary)"] = ended - evidence_end
    out["pytest session"] = evidence_end - m["session start"]
    out["wall"] = ended - began
    return out


def one_run(topology: str, reports: Path, index: int) -> tuple[dict[str, float], int, str]:
    timings = reports / f"timings-{index}.json"
    argv = [sys.executable, "-m", "netattest.cli", "run", "--topology", topology, "--reports-dir", str(reports),
            "--timings", str(timings)]
    began = time.time()
    proc = subprocess.run(argv, check=False, cwd=REPO, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    ended = time.time()
    held = "ALL EXPECTATIONS HELD" in proc.stdout
    if not timings.exists():
        return {}, proc.returncode, proc.stdout[-2000:] + proc.stderr[-2000:]
    return phases(Timeline.read(timings), began, ended), proc.returncode, "" if held else proc.stdout[-2000:]


def baselines(reports: Path) -> tuple[float, float]:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "pytest", "suites", "--collect-only", "-q", "-p", "no:cacheprovider",
                    "--topology", HOST[1], "--reports-dir", str(reports)], check=False, cwd=REPO,
                   capture_output=True)
    collect = time.perf_counter() - start
    start = time.perf_counter()
    with open(os.devnull, "w") as sink:
        run_in_sandbox(["true"], cwd=REPO, writable=[reports], stdout=sink)
    return collect, time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="runs of each topology (median per phase; default 5)")
    parser.add_argument("--timeout", type=float, default=1.0, help="the runs' probe timeout (default 1.0 s)")
    args = parser.parse_args()
    reports = Path(tempfile.mkdtemp(prefix="netattest-bench-run-"))
    load_before = os.getloadavg()[0]
    collect, boot = baselines(reports)
    results: dict[str, list[dict[str, float]]] = {SEED[0]: [], HOST[0]: []}
    failures = []
    for index in range(args.runs):
        for name, topology in (SEED, HOST):
            figures, status, problem = one_run(topology, reports, len(failures) + index * 2 + (name == HOST[0]))
            if status != 0 or not figures:
                failures.append(f"{name} run {index + 1}: exit {status}\n{problem}")
            if figures:
                results[name].append(figures)
    load_after = os.getloadavg()[0]
    width = max(map(len, PHASES)) + 2
    print(f"netattest run, phase by phase: median of {args.runs} run(s) each "
          f"(load average {load_before:.1f} before, {load_after:.1f} after)")
    print(f"{'phase':<{width}}" + "".join(f"{name:>22}" for name in results))
    medians = {name: {key: statistics.median(run[key] for run in runs) for key in runs[0]}
               for name, runs in results.items() if runs}

    def row(label: str, key: str) -> str:
        cells = [f"{medians[n][key]:>20.2f} s" if n in medians and key in medians[n] else f"{'-':>22}"
                 for n in results]
        return f"{label:<{width}}" + "".join(cells)

    for phase in PHASES:
        print(row(phase, phase))
    print("-" * (width + 22 * len(results)))
    print(row("wall (sum of the phases)", "wall"))
    print(row("pytest session", "pytest session"))
    for name, runs in results.items():
        if runs:
            spread = sorted(r["pytest session"] for r in runs)
            print(f"  {name}: pytest session per run {', '.join(f'{s:.1f}' for s in spread)} s")
    seed, host = medians.get(SEED[0], {}), medians.get(HOST[0], {})
    # the isolation issue's neighbour discovery is a window of its own before the probes (SWEEP_SHARE of a probe
    # timeout); the speed issue allows it at most one probe timeout on top of these budgets
    allowance = args.timeout
    if seed:
        print(f"seed in the sandbox: session {seed['pytest session']:.1f} s (target <= 15 s), probe window "
              f"{seed['probe window (listening)'] / args.timeout:.2f} probe timeouts (target <= 1.5) + discovery "
              f"{seed['neighbour discovery (sweep window)'] / args.timeout:.2f} (allowed <= 1); baseline sandbox "
              f"boot running `true` {boot:.1f} s")
    if host:
        print(f"macvlan-only on the host: session {host['pytest session']:.1f} s (target <= 3 s + {allowance:g} s "
              f"for the discovery window), probe window {host['probe window (listening)'] / args.timeout:.2f} "
              f"probe timeouts + discovery {host['neighbour discovery (sweep window)'] / args.timeout:.2f}; "
              f"baseline pytest --collect-only {collect:.1f} s")
    print(json.dumps({"runs": args.runs, "medians": medians, "baseline_boot_s": boot,
                      "baseline_collect_s": collect}))
    for failure in failures:
        print("FAILED:", failure, file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
