"""Find and remove what runs left behind, one run id at a time, never another live run's objects.

A run is abandoned when its owner process is gone (pid *and* start time, so a recycled pid does not count) and
it was not kept on purpose with ``netattest lab up``. Namespaces whose run has no run directory at all are
leftovers too: a run creates its directory before any namespace and removes it last.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass

from pyroute2 import netns

from netattest.lab.lab import teardown_run
from netattest.lab.state import KEPT_FILE, STATE_ROOT, RunDir, known_runs, process_start_time, stale_staging_dirs
from netattest.lab.wiring import remove_namespace
from netattest.runid import parse_netns_name


@dataclass(frozen=True)
class Leftover:
    run_id: str
    why: str
    namespaces: int


def _namespaces_by_run() -> dict[str, int]:
    counts: dict[str, int] = {}
    for name in netns.listnetns():
        parsed = parse_netns_name(name)
        if parsed:
            counts[parsed[0]] = counts.get(parsed[0], 0) + 1
    return counts


def find_leftovers(state_root=STATE_ROOT) -> list[Leftover]:
    namespaces = _namespaces_by_run()
    found = []
    runs = {run.run_id: run for run in known_runs(state_root)}
    for run_id, run in runs.items():
        owner = run.owner()
        if (run.path / KEPT_FILE).exists():
            continue
        if owner is None:
            found.append(Leftover(run_id, "run directory without owner record", namespaces.get(run_id, 0)))
        elif not owner.alive():
            found.append(Leftover(run_id, f"owner pid {owner.pid} is gone", namespaces.get(run_id, 0)))
    for run_id, count in namespaces.items():
        if run_id not in runs:
            found.append(Leftover(run_id, "namespaces without a run directory", count))
    return found


def collect(run_id: str | None = None, *, dry_run: bool = False, state_root=STATE_ROOT) -> list[Leftover]:
    """Remove abandoned runs (or exactly ``run_id``); returns what was (or would be) removed."""
    if run_id:
        targets = [Leftover(run_id, "asked for by run id", _namespaces_by_run().get(run_id, 0))]
        if not RunDir(run_id, state_root).path.exists() and not targets[0].namespaces:
            return []
    else:
        targets = find_leftovers(state_root)
    if not dry_run:
        for leftover in targets:
            teardown_run(leftover.run_id, state_root)
        if not run_id:
            for staging in stale_staging_dirs(state_root):
                shutil.rmtree(staging, ignore_errors=True)
            for name in orphan_probe_namespaces():
                remove_namespace(name)
    return targets


KPROBE_PREFIX = "netattest-kprobe-"


def orphan_probe_namespaces() -> list[str]:
    """Kernel-feature probe namespaces (``netattest-kprobe-<pid>-<random>``) whose process is gone."""
    orphans = []
    for name in netns.listnetns():
        if not name.startswith(KPROBE_PREFIX):
            continue
        try:
            pid = int(name[len(KPROBE_PREFIX):].split("-")[0])
        except ValueError:
            continue
        if process_start_time(pid) is None:
            orphans.append(name)
    return orphans
