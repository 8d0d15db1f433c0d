"""``netattest run``: the acceptance suites against a target, as a child pytest session, then a short summary."""

from __future__ import annotations

import argparse
import json
import os
import shlex
import signal
import subprocess
import sys
from pathlib import Path

from netattest.errors import EXIT_BROKEN, NetattestError
from netattest.nodes.report import preflight_lines
from netattest.options import add_to_argparse, to_pytest_argv
from netattest.paths import PACKAGE_DIR, PYTEST_INI, SUITES_DIR, child_pythonpath
from netattest.runid import is_run_id, new_run_id
from netattest.topology import load_topology, resolve_topology

NAME = "run"
HELP = "run the acceptance suites against a target and write the reports"
#: pytest plugins installed beside netattest that the suites never use; hypothesis's imports the whole library for
#: its terminal summary (0.5 s natively, over a second inside the kernel sandbox)
UNUSED_PLUGINS = ("hypothesispytest", "benchmark")


def configure(parser: argparse.ArgumentParser) -> None:
    add_to_argparse(parser)
    select = parser.add_argument_group("selecting checks (pytest's own options)")
    select.add_argument("-m", dest="markers", default=None,
                        help="suites by marker: attachment, reachability, isolation, mac, ipam, nodes")
    select.add_argument("-k", dest="keyword", default=None, help="checks by keyword expression, e.g. 'pod-a'")
    select.add_argument("-v", "--verbose", action="store_true", help="list every check as it runs")
    select.add_argument("pytest_args", nargs="*", metavar="-- PYTEST_ARG",
                        help="anything after -- goes to the pytest session as it is (e.g. -- --tb=short)")
    parser.epilog = ("Every option above also works with plain pytest on the installed suites (pytest --pyargs "
                     "netattest.suites --topology ...; in a checkout also pytest suites/ ...).")


def pytest_argv(args: argparse.Namespace, run_id: str, reports_root: Path) -> list[str]:
    """The suites of this very package, with its own pytest configuration: nothing is read from a checkout or from
    the current directory's pytest configuration (rootdir is the package, so test ids read suites/test_*.py)."""
    given = argparse.Namespace(**{**vars(args), "run_id": run_id, "reports_dir": str(reports_root),
                                  "topology": str(resolve_topology(args.topology).absolute())})
    argv = [sys.executable, "-m", "pytest", str(SUITES_DIR), "--rootdir", str(PACKAGE_DIR),
            "-c", str(PYTEST_INI), "-p", "no:cacheprovider",
            *(arg for name in UNUSED_PLUGINS for arg in ("-p", f"no:{name}")), *to_pytest_argv(given),
            "--run-id", run_id, "--reports-dir", str(reports_root), "--topology", given.topology,
            "--tb=no", "--no-header", "-rN", "-v" if args.verbose else "-q"]
    if args.markers:
        preflight = not args.skip_preflight and "nodes" not in args.markers
        # the node pre-flight gates whatever part is selected: it stays in unless skipped
        argv += ["-m", f"({args.markers}) or nodes" if preflight else args.markers]
    if args.keyword:
        argv += ["-k", args.keyword]
    return argv + list(args.pytest_args or [])


def run(args: argparse.Namespace) -> int:
    load_topology(resolve_topology(args.topology))  # a broken topology stops here, as one paragraph
    run_id = args.run_id or new_run_id()
    if not is_run_id(run_id):
        raise NetattestError(f"--run-id {run_id!r}: a run id is 8 lowercase hex digits, e.g. 3fa2c901")
    reports_root = Path(args.reports_dir).absolute()
    if getattr(args, "baseline", None):
        from netattest.report.diff import resolve_run
        args.baseline = resolve_run(args.baseline, reports_root)
    status = _run_forwarding_signals(pytest_argv(args, run_id, reports_root))
    summary_path = reports_root / run_id / "summary.json"
    if status < 0:  # killed (SIGKILL, the OOM killer): its teardown never ran
        sys.stderr.write(f"netattest: the session was killed by signal {-status}; remove what it left with: "
                         f"{gc_command(args, run_id)}\n")
    if not summary_path.exists():
        sys.stderr.write(f"netattest: the session ended (status {status}) before writing {summary_path}\n")
        return EXIT_BROKEN if status not in (0, 1) else status
    print_summary(json.loads(summary_path.read_text()), reports_root / run_id)
    from netattest.report.finish import evidence_lines, seal
    print("\n".join(evidence_lines(reports_root / run_id, seal(reports_root / run_id))))
    return status if status in (0, 1, 2) else EXIT_BROKEN


def gc_command(args: argparse.Namespace, run_id: str) -> str:
    """The gc command for a killed run: a cluster's namespaces are removed by run id (they have not expired yet,
    and the cluster cannot tell that their owner is dead), with the run's own kubeconfig and context."""
    if args.target != "kubernetes":
        return "netattest gc"  # the lab's gc sees that the run's owner process is gone
    where = [arg for key in ("kubeconfig", "context") if getattr(args, key, None)
             for arg in (f"--{key}", str(getattr(args, key)))]
    return shlex.join(["netattest", "gc", "--target", "kubernetes", *where, "--run-id", run_id])


def _run_forwarding_signals(argv: list[str]) -> int:
    """Run the session as a child; SIGTERM/SIGINT reach it, so it tears its lab down before we exit."""
    # Its own process group: a terminal's Ctrl-C reaches us only, and we forward it once (not twice).
    child = subprocess.Popen(argv, env={**os.environ, "PYTHONPATH": child_pythonpath()}, process_group=0)

    def forward(signum: int, _frame: object) -> None:
        child.send_signal(signum)

    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)}
    try:
        return child.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def print_summary(summary: dict, run_dir: Path) -> None:
    counts = summary["counts"]
    verdict = {0: "ALL EXPECTATIONS HELD", 1: "EXPECTATIONS FAILED", 2: "BROKEN (harness or target)"}.get(
        summary["exit_status"], f"exit {summary['exit_status']}")
    topo = summary.get("topology") or {}
    print()
    print(f"netattest run {summary['run_id']} on {summary['target']} · topology {topo.get('name')} · {verdict}")
    stopped = summary.get("stopped")
    not_run = f" · {stopped['checks_not_run']} checks not run" if stopped else ""
    print("  " + ", ".join(f"{counts[k]} {k}" for k in ("passed", "failed", "broken", "skipped")) + not_run)
    if stopped:
        print(f"  STOPPED before any check: {stopped['reason']}")
    for problem in summary["problems"][:50]:
        test = problem["test"].split("::")[-1]
        print(f"  {problem['status'].upper():6} {test}\n         {problem['reason']}")
    if len(summary["problems"]) > 50:
        print(f"  ... and {len(summary['problems']) - 50} more (see summary.json)")
    findings = summary.get("findings") or []
    if findings:
        print(f"  FINDINGS: {len(findings)} (neighbours the topology does not declare, each probed as a next hop; ARP "
              "flux inside pods):")
        for f in findings[:20]:
            print(f"         {f['network']}: {f['ip']} {f['mac']} — {f['who']} ({f['how']})")
    for line in preflight_lines(run_dir):
        print(line)
    print(f"  reports: {run_dir}/")
