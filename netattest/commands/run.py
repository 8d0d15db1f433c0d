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

from netattest.errors import NetattestError
from netattest.nodes.report import preflight_lines
from netattest.runid import is_run_id, new_run_id
from netattest.topology import load_topology

NAME = "run"
HELP = "run the acceptance suites against a target and write the reports"
REPO_ROOT = Path(__file__).resolve().parents[2]
SUITES_DIR = REPO_ROOT / "suites"
DEFAULT_TOPOLOGY = "topologies/restricted-vlan.yaml"
EXIT_BROKEN = 2
#: pytest plugins installed beside netattest that the suites never use; hypothesis's imports the whole library for
#: its terminal summary (0.5 s natively, over a second inside the kernel sandbox)
UNUSED_PLUGINS = ("hypothesispytest", "benchmark")


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--topology", default=DEFAULT_TOPOLOGY, help="topology YAML (default: %(default)s)")
    parser.add_argument("--target", default="lab", choices=("lab", "kubernetes"))
    parser.add_argument("--kernel", default="auto", choices=("auto", "host", "uml"))
    parser.add_argument("--reports-dir", default="reports")
    parser.add_argument("--run-id", default=None)
    parser.add_argument("-m", dest="markers", default=None, help="select suites by marker, e.g. isolation")
    parser.add_argument("-k", dest="keyword", default=None, help="select checks by keyword expression")
    parser.add_argument("--probe-timeout", type=float, default=1.0)
    parser.add_argument("--keep", action="store_true", help="keep the lab after the run (debugging)")
    parser.add_argument("-v", "--verbose", action="store_true", help="list every check as it runs")
    parser.add_argument("--capture", default="failed", choices=("all", "failed", "none"),
                        help="pcaps of the probe traffic: every check, checks that did not pass (default), none")
    parser.add_argument("--baseline", default=None, metavar="RUN",
                        help="an earlier run (directory or run id): the report lists what changed since")
    parser.add_argument("--skip-preflight", action="store_true",
                        help="do not check the nodes first (by default an unfit node stops the run before any "
                             "pod is created)")
    parser.epilog = ("Any other option is passed to the pytest session (e.g. --kubeconfig, --node-host "
                     "NODE=ssh://USER@ADDRESS, --cni-bin-dir [NODE=]DIR).")
    parser.set_defaults(passes_extra=True)


def pytest_argv(args: argparse.Namespace, run_id: str, reports_root: Path) -> list[str]:
    argv = [sys.executable, "-m", "pytest", str(SUITES_DIR), "--rootdir", str(REPO_ROOT),
            "-c", str(REPO_ROOT / "pyproject.toml"), "-p", "no:cacheprovider",
            *(arg for name in UNUSED_PLUGINS for arg in ("-p", f"no:{name}")),
            "--topology", str(Path(args.topology).absolute()), "--target", args.target, "--kernel", args.kernel,
            "--run-id", run_id, "--reports-dir", str(reports_root), "--probe-timeout", str(args.probe_timeout),
            "--tb=no", "--no-header", "-rN", "-v" if args.verbose else "-q"]
    if args.markers:
        preflight = not getattr(args, "skip_preflight", False) and "nodes" not in args.markers
        # the node pre-flight gates whatever part is selected: it stays in unless skipped
        argv += ["-m", f"({args.markers}) or nodes" if preflight else args.markers]
    if args.keyword:
        argv += ["-k", args.keyword]
    if args.keep:
        argv.append("--keep")
    if getattr(args, "skip_preflight", False):
        argv.append("--skip-preflight")
    argv += ["--pcap", getattr(args, "capture", "failed")]
    if getattr(args, "baseline", None):
        argv += ["--baseline", str(args.baseline)]
    return argv + list(getattr(args, "extra", []))


def run(args: argparse.Namespace) -> int:
    load_topology(args.topology)  # a broken topology stops here, as one paragraph
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
    extra = list(getattr(args, "extra", []))
    where = [arg for i, arg in enumerate(extra) if arg.startswith(("--kubeconfig=", "--context="))
             or arg in ("--kubeconfig", "--context") or (i and extra[i - 1] in ("--kubeconfig", "--context"))]
    return shlex.join(["netattest", "gc", "--target", "kubernetes", *where, "--run-id", run_id])


def _run_forwarding_signals(argv: list[str]) -> int:
    """Run the session as a child; SIGTERM/SIGINT reach it, so it tears its lab down before we exit."""
    # Its own process group: a terminal's Ctrl-C reaches us only, and we forward it once (not twice).
    child = subprocess.Popen(argv, cwd=REPO_ROOT, env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
                             process_group=0)

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
    print("  " + ", ".join(f"{counts[k]} {k}" for k in ("passed", "failed", "broken", "skipped")))
    for problem in summary["problems"][:50]:
        test = problem["test"].split("::")[-1]
        print(f"  {problem['status'].upper():6} {test}\n         {problem['reason']}")
    if len(summary["problems"]) > 50:
        print(f"  ... and {len(summary['problems']) - 50} more (see summary.json)")
    for line in preflight_lines(run_dir):
        print(line)
    print(f"  reports: {run_dir}/")
