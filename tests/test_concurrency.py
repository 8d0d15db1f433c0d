"""Concurrent runs on one machine never see or delete each other's objects, and ``gc`` never touches a live run.

Three ``netattest run`` of the macvlan-only topology at once, with different run ids, while ``netattest gc`` runs
in a loop: every run passes, no gc pass names a live run, every probe of a run leaves from that run's own
namespaces, and nothing of any of them is left afterwards. Plus a deterministic interleaving of gc with a run that
is just starting.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from netattest.lab import gc as gc_module
from netattest.lab.lab import Lab, run_namespaces
from netattest.lab.state import RunDir, stale_staging_dirs
from netattest.runid import new_run_id, parse_netns_name
from netattest.topology import load_topology
from tests.conftest import MACVLAN_ONLY, REPO
from tests.harness_runs import gc_looping, wait_all

pytestmark = pytest.mark.lab

RUNS = int(os.environ.get("NETATTEST_CONCURRENT_RUNS", "3"))


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "netattest.cli", *args]


def test_concurrent_runs_all_pass_and_gc_never_touches_them(tmp_path: Path) -> None:
    run_ids = [new_run_id() for _ in range(RUNS)]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    reports = tmp_path / "reports"
    procs = {run_id: subprocess.Popen(_cli("run", "--kernel", "host", "--topology", str(MACVLAN_ONLY), "--run-id",
                                           run_id, "--reports-dir", str(reports), "--capture", "none"),
                                      cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for run_id in run_ids}
    seen_alive: dict[str, int] = {run_id: 0 for run_id in run_ids}

    def count_alive() -> None:  # the gc passes that ran while a run had namespaces
        for run_id in run_ids:
            if run_namespaces(run_id):
                seen_alive[run_id] += 1

    with gc_looping(_cli("gc"), env, before_each=count_alive) as gc_outputs:
        outputs = wait_all(procs, timeout=600)
    for run_id, proc in procs.items():
        assert proc.returncode == 0, f"run {run_id} exit {proc.returncode}:\n{outputs[run_id][-3000:]}"
        summary = json.loads((reports / run_id / "summary.json").read_text())
        assert summary["counts"]["failed"] == summary["counts"]["broken"] == 0, summary["problems"][:3]
        assert summary["counts"]["passed"] > 50
        # every probe left from this run's own namespaces, and answers came from its own MACs
        sources = set()
        for line in (reports / run_id / "probes.jsonl").read_text().splitlines():
            record = json.loads(line)
            netns = (record.get("source") or {}).get("netns")
            if netns:
                sources.add(netns)
        assert sources and all((parse_netns_name(n) or ("",))[0] == run_id for n in sources), sources
    named = [run_id for run_id in run_ids for out in gc_outputs if run_id in out]
    assert named == [], f"gc touched live runs: {named}"
    assert len(gc_outputs) >= 2 and any(seen_alive.values()), "gc never ran while a lab was up: proves nothing"
    for run_id in run_ids:
        assert run_namespaces(run_id) == [] and not RunDir(run_id).path.exists()


def test_gc_during_a_live_lab_removes_nothing_of_it() -> None:
    lab = Lab(load_topology(MACVLAN_ONLY))
    lab.up()
    try:
        before = run_namespaces(lab.run_id)
        removed = subprocess.run(_cli("gc"), cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)},
                                 capture_output=True, text=True, timeout=120).stdout
        assert lab.run_id not in removed
        assert run_namespaces(lab.run_id) == before and RunDir(lab.run_id).owner() is not None
        assert lab.inventory().pod("mac-a").interfaces["net1"].addresses == ("192.168.112.31/24",)
    finally:
        assert lab.down() == []


# RunDir.create makes the directory, then writes owner.json: in between, gc sees "run directory without owner
# record" and treats the run as abandoned. If gc's teardown then comes after the run has written its owner and
# created namespaces (gc is slow: CNI DELs of other runs, a loaded machine), it deletes a LIVE run's namespaces.
# Here gc decides in that gap and acts once the run has its first namespaces. Fix (lead, netattest/lab/state.py
# RunDir.create): write owner.json into a temporary directory and rename it into place (known_runs then lists
# only names that are run ids), or gc spares owner-less directories younger than a grace period.
def test_gc_never_tears_down_a_run_that_is_starting(tmp_path: Path) -> None:
    """A run directory appears only with its owner record (a staging directory renamed into place): gc sees
    either nothing or a live owner, and leaves a live run's staging directory alone."""
    root = tmp_path / "state"
    root.mkdir()
    live = root / f".{new_run_id()}.{os.getpid()}.tmp"  # a run of ours, caught before its rename
    live.mkdir()
    stale = root / f".{new_run_id()}.{_a_dead_pid()}.tmp"  # a run killed before its rename
    stale.mkdir()
    # (a private state root: namespaces are global, so gc itself is not run against it here)
    assert gc_module.known_runs(root) == []  # staging directories are not runs, so never "abandoned runs"
    assert stale_staging_dirs(root) == [stale]  # only the dead creator's staging directory is gc's to remove
    run = RunDir(new_run_id(), root)
    run.create("t.yaml")
    owner = run.owner()
    assert owner is not None and owner.alive()
    with pytest.raises(FileExistsError):
        RunDir(run.run_id, root).create("t.yaml")


def _a_dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid
