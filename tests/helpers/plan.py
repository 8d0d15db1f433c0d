"""What a topology plans, for tests that count what a run must report: derived from the planner, never a number
copied from the shipped topology files (which change when a topology gains a pod)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from netattest.matrix import Check, plan_checks
from netattest.topology import load_topology


def planned(path: Path | str, verdict: Literal["reachable", "isolated"] | None = None) -> list[Check]:
    """The checks of the topology file at ``path`` (its ``lab:`` section changes what is built, not the plan)."""
    return [c for c in plan_checks(load_topology(path)) if verdict is None or c.verdict == verdict]


def planned_ids(path: Path | str, verdict: Literal["reachable", "isolated"] | None = None) -> set[str]:
    return {c.id for c in planned(path, verdict)}


def checks_with_status(summary: dict, status: str, test: str) -> set[str]:
    """The check ids of ``test``'s cases that ended with ``status`` in a run summary."""
    return {t["subject"]["check"] for t in summary["tests"]
            if t["status"] == status and t["name"].startswith(f"{test}[") and (t.get("subject") or {}).get("check")}
