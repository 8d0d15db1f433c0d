"""The kept-lab workflow: keep a lab, break something by hand, re-run every suite against it in seconds.

``netattest lab up`` (or ``netattest run --keep``) leaves a lab running; ``netattest run --lab RUN_ID`` adopts it:
nothing is built or torn down, every suite runs, and what was changed by hand shows as the check that owns it
(a master NIC taken down is one pre-flight failure on that node and NIC, not a cascade of reachability failures).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from netattest.lab.lab import run_namespaces
from netattest.runid import netns_name
from tests.conftest import MACVLAN_ONLY, REPO, with_lab_section

pytestmark = pytest.mark.lab


def netattest(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "netattest.cli", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=300, env={**os.environ, "PYTHONPATH": str(REPO)})


def summary(reports: Path, stdout: str) -> dict:
    run_id = re.search(r"netattest run ([0-9a-f]{8}) ", stdout)
    assert run_id, stdout[-2000:]
    return json.loads((reports / run_id.group(1) / "summary.json").read_text())


@pytest.fixture
def kept_lab() -> Iterator[str]:
    up = netattest("lab", "up", "--topology", str(MACVLAN_ONLY))
    found = re.search(r"lab ([0-9a-f]{8}) is up", up.stdout)
    assert up.returncode == 0 and found, up.stdout[-2000:] + up.stderr[-2000:]
    run_id = found.group(1)
    try:
        yield run_id
    finally:
        netattest("lab", "down", "--run-id", run_id)
        assert run_namespaces(run_id) == []


def test_every_suite_runs_against_a_kept_lab_and_leaves_it_running(kept_lab: str, tmp_path: Path) -> None:
    before = run_namespaces(kept_lab)
    proc = netattest("run", "--topology", str(MACVLAN_ONLY), "--lab", kept_lab, "--reports-dir", str(tmp_path))
    record = summary(tmp_path, proc.stdout)
    assert proc.returncode == 0, proc.stdout[-3000:]
    markers = {m for t in record["tests"] for m in t.get("markers", [])}
    assert {"attachment", "reachability", "mac", "isolation"} <= markers, "every probe suite ran"
    assert record["counts"]["passed"] > 0 and record["counts"]["failed"] == record["counts"]["broken"] == 0
    assert "lab is up" not in proc.stdout and f"kept lab {kept_lab} left running" in proc.stdout
    assert run_namespaces(kept_lab) == before, "nothing built, nothing torn down"


def test_a_nic_taken_down_by_hand_is_one_preflight_failure_naming_node_and_nic(kept_lab: str,
                                                                                 tmp_path: Path) -> None:
    subprocess.run(["ip", "netns", "exec", netns_name(kept_lab, "node", "node2"), "ip", "link", "set", "ens224",
                    "down"], check=True)
    proc = netattest("run", "--topology", str(MACVLAN_ONLY), "--lab", kept_lab, "--reports-dir", str(tmp_path))
    record = summary(tmp_path, proc.stdout)
    assert proc.returncode == 1, proc.stdout[-3000:]
    assert [(p["test"].split("::")[-1], p["status"]) for p in record["problems"]] == [
        ("test_master_link[node2:ens224]", "failed")]
    assert "node2 ens224" in record["problems"][0]["reason"] and "is down" in record["problems"][0]["reason"]
    assert "stopped before any probe was sent" in proc.stdout  # no reachability cascade: the probes never ran
    assert not any("isolation" in t.get("markers", []) for t in record["tests"] if t["status"] != "skipped")


@pytest.mark.parametrize("case", ["unknown run id", "other topology"])
def test_a_kept_lab_that_cannot_be_adopted_stops_the_run_in_one_paragraph(kept_lab: str, tmp_path: Path,
                                                                          case: str) -> None:
    run_id, topology = ("0badc0de", MACVLAN_ONLY) if case == "unknown run id" else \
        (kept_lab, REPO / "topologies" / "isolation.yaml")
    proc = netattest("run", "--topology", str(topology), "--lab", run_id, "--reports-dir", str(tmp_path))
    record = summary(tmp_path, proc.stdout)
    assert proc.returncode == 2, proc.stdout[-3000:]
    reason = record["stopped"]["reason"]
    assert reason.startswith(f"--lab {run_id}: ") and "Fix: " in reason
    assert ("no kept lab with that run id" in reason) if case == "unknown run id" else (
        "was built from" in reason and str(MACVLAN_ONLY) in reason)
    assert record["counts"] == {"passed": 0, "failed": 0, "broken": 0, "skipped": 0}
    assert proc.stdout.count(reason[:60]) == 1, "said once"


def test_a_run_with_keep_can_be_checked_again_and_gc_spares_it(tmp_path: Path) -> None:
    proc = netattest("run", "--topology", str(MACVLAN_ONLY), "--keep", "--reports-dir", str(tmp_path))
    run_id = summary(tmp_path, proc.stdout)["run_id"]
    try:
        assert proc.returncode == 0, proc.stdout[-3000:]
        assert netattest("gc").returncode == 0
        assert run_namespaces(run_id), "gc removed a lab kept on purpose"
        again = netattest("run", "--topology", str(MACVLAN_ONLY), "--lab", run_id, "--reports-dir", str(tmp_path))
        assert again.returncode == 0, again.stdout[-3000:]
    finally:
        netattest("lab", "down", "--run-id", run_id)
    assert run_namespaces(run_id) == []


def test_lab_drift_takes_a_nic_down_and_the_preflight_names_it(tmp_path: Path) -> None:
    """The same fault built by the lab itself (``drift.nicDown``): a detection test that needs no hand edit."""
    topology = tmp_path / "nic-down.yaml"
    topology.write_text(with_lab_section(MACVLAN_ONLY.read_text(), "drift:\n  nicDown: [node1/ens224]"))
    proc = netattest("run", "--topology", str(topology), "--reports-dir", str(tmp_path / "reports"))
    record = summary(tmp_path / "reports", proc.stdout)
    assert proc.returncode == 1, proc.stdout[-3000:]
    assert [(p["test"].split("::")[-1], p["status"]) for p in record["problems"]] == [
        ("test_master_link[node1:ens224]", "failed")]
    assert "stopped before any pod was created" in proc.stdout
