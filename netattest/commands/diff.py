"""``netattest diff OLD NEW``: what changed between two runs after a cluster change — checks and tests that
flipped, pods and nodes that appeared, vanished or moved, addresses and MACs that moved, MAC relations that changed.

Exit status: 0 nothing changed, 1 something changed, 2 a run could not be read.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

NAME = "diff"
HELP = "what changed between two runs (checks flipped, pods/nodes/MACs/IPs moved)"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("old", help="the earlier run: directory or run id")
    parser.add_argument("new", help="the later run: directory or run id")
    parser.add_argument("--reports-dir", default="reports", help="where run ids are looked up")
    parser.add_argument("--json", action="store_true", help="print the diff as JSON (schema netattest.run-diff/v1)")
    parser.add_argument("--limit", type=int, default=50, help="at most this many lines per section (text output)")


def run(args: argparse.Namespace) -> int:
    from netattest.report.diff import diff_runs, format_diff, resolve_run
    reports_dir = Path(args.reports_dir)
    diff = diff_runs(resolve_run(args.old, reports_dir), resolve_run(args.new, reports_dir))
    print(json.dumps(diff, indent=1) if args.json else format_diff(diff, limit=args.limit))
    return 1 if diff["changed"] else 0
