"""After ``netattest run``'s session: seal the run directory and tell where its evidence is.

The session writes every record and the manifest itself; files written after it (the kernel sandbox's log) are
scrubbed and the manifest is taken again here, so it covers everything in the run directory.
"""

from __future__ import annotations

import json
from pathlib import Path

from netattest.report.diff import format_diff
from netattest.report.manifest import write_manifest
from netattest.report.scrub import default_scrubber


def seal(run_dir: Path) -> str:
    """Scrub and re-take the manifest; returns the manifest's SHA-256."""
    default_scrubber().tree(run_dir)
    return write_manifest(run_dir, run_dir.name)


def evidence_lines(run_dir: Path, digest: str) -> list[str]:
    lines = []
    html = run_dir / "report.html"
    if html.exists():
        lines.append(f"  HTML report: {html}")
    lines.append(f"  records: {run_dir}/ (summary.json, checks.json, probes.jsonl, inventory.json, junit.xml, "
                 "allure-results/, pcaps/)")
    lines.append(f"  integrity: manifest.json sha256 {digest} (verify: netattest report --verify {run_dir})")
    diff_path = run_dir / "diff.json"
    if diff_path.exists():
        lines.append("")
        lines += ["  " + line for line in format_diff(json.loads(diff_path.read_text()), limit=20).splitlines()]
    return lines
