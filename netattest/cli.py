"""``netattest``: a thin front over the pytest suites and the lab.

Every user error ends as one paragraph on stderr and exit status 2; tracebacks are for bugs only.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Sequence

from netattest.errors import NetattestError
from netattest.runid import is_run_id, new_run_id
from netattest.signals import terminate_as_interrupt

REPO_ROOT = Path(__file__).resolve().parents[1]
SUITES_DIR = REPO_ROOT / "suites"
DEFAULT_TOPOLOGY = "topologies/restricted-vlan.yaml"
EXIT_BROKEN = 2


def _add_topology(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--topology", default=DEFAULT_TOPOLOGY, help="topology YAML (default: %(default)s)")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="netattest", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the acceptance suites against a target and write the reports")
    _add_topology(run)
    run.add_argument("--target", default="lab", choices=("lab",))
    run.add_argument("--kernel", default="auto", choices=("auto", "host", "uml"))
    run.add_argument("--reports-dir", default="reports")
    run.add_argument("--run-id", default=None)
    run.add_argument("-m", dest="markers", default=None, help="select suites by marker, e.g. isolation")
    run.add_argument("-k", dest="keyword", default=None, help="select checks by keyword expression")
    run.add_argument("--probe-timeout", type=float, default=1.0)
    run.add_argument("--keep", action="store_true", help="keep the lab after the run (debugging)")
    run.add_argument("-v", "--verbose", action="store_true", help="list every check as it runs")

    lab = sub.add_parser("lab", help="keep a lab running to inspect it")
    lab_sub = lab.add_subparsers(dest="lab_command", required=True)
    up = lab_sub.add_parser("up", help="build the lab and leave it running")
    _add_topology(up)
    up.add_argument("--run-id", default=None)
    down = lab_sub.add_parser("down", help="remove a kept lab")
    down.add_argument("--run-id", default=None, help="which lab (default: every kept lab)")
    lab_sub.add_parser("status", help="list labs on this machine")

    gc = sub.add_parser("gc", help="remove what interrupted runs left behind (by run id)")
    gc.add_argument("--run-id", default=None, help="remove this run even if its owner looks alive")
    gc.add_argument("--dry-run", action="store_true")

    render = sub.add_parser("render", help="print the manifests a run would apply")
    _add_topology(render)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    terminate_as_interrupt()
    try:
        if args.command == "run":
            return cmd_run(args)
        if args.command == "lab":
            from netattest.lab import commands
            return commands.lab_command(args)
        if args.command == "gc":
            from netattest.lab import commands
            return commands.gc_command(args)
        if args.command == "render":
            from netattest.render import render_command
            return render_command(args)
    except NetattestError as exc:
        sys.stderr.write(f"netattest: {exc}\n")
        return exc.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("netattest: interrupted\n")
        return EXIT_BROKEN
    return EXIT_BROKEN


def _validate_topology(path: str) -> None:
    from netattest.topology import load_topology
    load_topology(path)


def cmd_run(args: argparse.Namespace) -> int:
    _validate_topology(args.topology)
    run_id = args.run_id or new_run_id()
    if not is_run_id(run_id):
        raise NetattestError(f"--run-id {run_id!r}: a run id is 8 lowercase hex digits, e.g. 3fa2c901")
    reports_root = Path(args.reports_dir).absolute()
    argv = [sys.executable, "-m", "pytest", str(SUITES_DIR), "--rootdir", str(REPO_ROOT), "-p", "no:cacheprovider",
            "--topology", str(Path(args.topology).absolute()), "--target", args.target, "--kernel", args.kernel,
            "--run-id", run_id, "--reports-dir", str(reports_root), "--probe-timeout", str(args.probe_timeout),
            "--tb=no", "--no-header", "-rN", "-q" if not args.verbose else "-v"]
    if args.markers:
        argv += ["-m", args.markers]
    if args.keyword:
        argv += ["-k", args.keyword]
    if args.keep:
        argv.append("--keep")
    status = _run_forwarding_signals(argv)
    summary_path = reports_root / run_id / "summary.json"
    if not summary_path.exists():
        sys.stderr.write(f"netattest: the session ended (status {status}) before writing {summary_path}\n")
        return EXIT_BROKEN if status not in (0, 1) else status
    print_summary(json.loads(summary_path.read_text()), reports_root / run_id)
    return status if status in (0, 1, 2) else EXIT_BROKEN


def _run_forwarding_signals(argv: list[str]) -> int:
    """Run the session as a child; SIGTERM/SIGINT reach it, so it tears its lab down before we exit."""
    child = subprocess.Popen(argv, cwd=REPO_ROOT, env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})

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
    print(f"  reports: {run_dir}/ (summary.json, junit.xml, probes.jsonl, allure-results/)")


if __name__ == "__main__":
    sys.exit(main())
