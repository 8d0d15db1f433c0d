"""The node side of the evidence: ``nodes.json`` in the run's report directory, and the pre-flight lines of the
run summary that ``netattest run`` prints.

``nodes.json`` (schema ``netattest.node-facts/v1``) holds every node's facts as read before any pod existed, how
they were read, and the pre-flight verdict: which node checks failed or were broken, and whether the run was
stopped because of them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from netattest.serialize import to_jsonable

if TYPE_CHECKING:  # keep this module light: the CLI imports it for the summary
    from netattest.nodes.fleet import NodeSubject

FILE = "nodes.json"
SCHEMA = "netattest.node-facts/v1"


def _load(run_dir: Path) -> dict[str, Any] | None:
    try:
        return json.loads((run_dir / FILE).read_text())
    except (OSError, ValueError):
        return None


def _write(run_dir: Path, record: dict[str, Any]) -> Path:
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / FILE
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(record, indent=2, sort_keys=True))
    tmp.replace(path)
    return path


def write_facts(run_dir: Path, run_id: str, topology: str, stage: str, subjects: dict[str, NodeSubject]) -> Path:
    nodes = {}
    for name, subject in subjects.items():
        nodes[name] = {
            "access": subject.access.describe(),
            "required_binaries": to_jsonable(subject.required),
            "dhcp_nads": list(subject.dhcp),
            "facts": to_jsonable(subject.facts) if subject.facts else None,
            "error": str(subject.error) if subject.error else None,
        }
    record = _load(run_dir) or {}
    record.update({"schema": SCHEMA, "run_id": run_id, "topology": topology, "stage": stage, "nodes": nodes})
    return _write(run_dir, record)


def write_verdict(run_dir: Path, verdict: dict[str, Any]) -> Path:
    record = _load(run_dir) or {"schema": SCHEMA}
    record["preflight"] = verdict
    return _write(run_dir, record)


#: what a failed pre-flight stops the run before: a fresh lab or cluster has no pod yet; a kept lab (--lab) has its
#: pods, which stay as they are, and no probe is sent
BEFORE_PODS, BEFORE_PROBES = "any pod was created", "any probe was sent (the kept lab's pods stay as they are)"


def verdict_of(outcomes: dict[str, dict[str, str]], *, stopped: bool, before: str = BEFORE_PODS) -> dict[str, Any]:
    """``outcomes``: test id -> {node, status, reason}; the verdict names each unfit node and why."""
    unfit: dict[str, list[str]] = {}
    broken: dict[str, list[str]] = {}
    for test, outcome in outcomes.items():
        if outcome["status"] == "failed":
            unfit.setdefault(outcome["node"], []).append(f"{test}: {outcome['reason']}")
        elif outcome["status"] == "broken":
            broken.setdefault(outcome["node"], []).append(f"{test}: {outcome['reason']}")
    status = "unfit" if unfit else "broken" if broken else "fit"
    counts = {s: sum(1 for o in outcomes.values() if o["status"] == s) for s in ("passed", "failed", "broken",
                                                                                 "skipped")}
    return {"status": status, "stopped_run": stopped, **({"stopped_before": before} if stopped else {}),
            "unfit_nodes": unfit, "unchecked_nodes": broken, "checks": len(outcomes), "counts": counts}


def counts_text(verdict: dict[str, Any]) -> str:
    counts = verdict.get("counts") or {}
    return ", ".join(f"{n} {k}" for k, n in counts.items() if n) or f"{verdict.get('checks', 0)} checks"


def preflight_lines(run_dir: Path) -> list[str]:
    """Lines for the run summary; empty when the run had no node pre-flight."""
    record = _load(run_dir)
    verdict = (record or {}).get("preflight")
    if not verdict:
        return []
    where = f"node facts: {run_dir / FILE}"
    if verdict["status"] == "skipped":
        return ["  pre-flight skipped (--skip-preflight): node fitness was not checked"]
    if verdict["status"] == "fit":
        nodes = sorted((record or {}).get("nodes", {}))
        return [f"  pre-flight: nodes {', '.join(nodes)} fit ({counts_text(verdict)}); {where}"]
    parts = []
    if verdict["unfit_nodes"]:
        parts.append("unfit: " + ", ".join(f"{n} ({len(r)} check{'s' if len(r) > 1 else ''} failed)"
                                           for n, r in sorted(verdict["unfit_nodes"].items())))
    if verdict["unchecked_nodes"]:
        parts.append("could not be checked: " + ", ".join(sorted(verdict["unchecked_nodes"])))
    stop = (f"the run stopped before {verdict.get('stopped_before', BEFORE_PODS)}. Fix the nodes, or run anyway "
            "with --skip-preflight" if verdict["stopped_run"] else "only the node checks were selected")
    return [f"  PRE-FLIGHT FAILED: nodes {'; '.join(parts)}", f"         {stop}; {where}"]
