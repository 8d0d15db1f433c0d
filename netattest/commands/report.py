"""``netattest report``: the Allure HTML report of a run (real Allure command line, history and trends kept across
runs in the reports directory), or ``--verify`` a run's evidence against its manifest."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from netattest.errors import NetattestError

NAME = "report"
HELP = "generate the Allure HTML report (with history) or verify a run's manifest"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run", nargs="?", default=None,
                        help="run directory or run id (default: the latest run in --reports-dir)")
    parser.add_argument("--reports-dir", default="reports")
    parser.add_argument("--all", action="store_true",
                        help="rebuild the Allure history from scratch: every run of --reports-dir, oldest first")
    parser.add_argument("--no-single-file", action="store_true",
                        help="skip the one-file version of the Allure report (saves one Allure run)")
    parser.add_argument("--verify", action="store_true",
                        help="check every evidence file of the run against its manifest (exit 1 on any difference)")


def runs_in(reports_dir: Path) -> list[Path]:
    """Run directories, oldest first."""
    found = []
    for summary in reports_dir.glob("*/summary.json"):
        try:
            started = float(json.loads(summary.read_text()).get("started") or 0)
        except (OSError, ValueError):
            continue
        found.append((started, summary.parent))
    return [path for _, path in sorted(found)]


def _resolve(args: argparse.Namespace, reports_dir: Path) -> Path:
    from netattest.report.diff import resolve_run
    if args.run:
        return resolve_run(args.run, reports_dir)
    runs = runs_in(reports_dir)
    if not runs:
        raise NetattestError(f"no runs in {reports_dir}. Fix: run `netattest run` first, or pass --reports-dir")
    return runs[-1]


def run(args: argparse.Namespace) -> int:
    reports_dir = Path(args.reports_dir).absolute()
    if args.verify:
        from netattest.report.manifest import verify
        run_dir = _resolve(args, reports_dir)
        result = verify(run_dir)
        for line in result.lines():
            print(line)
        print(f"netattest: {run_dir}: {result.checked} files checked against manifest.json: "
              + ("all intact" if result.ok else "EVIDENCE CHANGED"))
        return 0 if result.ok else 1

    from netattest.report.allure_cli import AllureReports
    reports = AllureReports(reports_dir)
    if args.all:
        targets = runs_in(reports_dir)
        reports.reset()
    else:
        targets = [_resolve(args, reports_dir)]
    for run_dir in targets:
        made = reports.generate(run_dir, single_file=not args.no_single_file)
        print(f"netattest: Allure report of run {made.run_id} (history point #{made.build_order}, "
              f"allure {made.allure_version}, {made.seconds:.1f} s)")
        print(f"  {made.report_dir}/index.html   (serve: allure open {made.report_dir})")
        if made.single_file:
            print(f"  {made.single_file}   (one file, opens from disk)")
    return 0
