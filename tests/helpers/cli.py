"""Run the real CLI on a topology with a ``lab:`` section appended, and read what the run decided."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO, with_lab_section


def run_cli(tmp_path: Path, base: Path, lab_yaml: str | None, *extra: str) -> tuple[int, dict, str]:
    topology = tmp_path / "topology.yaml"
    text = base.read_text()
    topology.write_text(with_lab_section(text, lab_yaml) if lab_yaml else text)
    reports = tmp_path / "reports"
    proc = subprocess.run([sys.executable, "-m", "netattest.cli", "run", "--topology", str(topology),
                           "--reports-dir", str(reports), "--kernel", "host", *extra],
                          cwd=REPO, capture_output=True, text=True, timeout=600,
                          env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "PYTHONPATH": str(REPO)})
    summaries = list(reports.glob("*/summary.json"))
    assert len(summaries) == 1, proc.stdout + proc.stderr
    return proc.returncode, json.loads(summaries[0].read_text()), proc.stdout


def problems(summary: dict, status: str, test: str) -> list[str]:
    return [p["reason"] for p in summary["problems"] if p["status"] == status and f"::{test}[" in p["test"]]
