"""The run directory: every file a lab run owns, plus who owns the run.

``/run/netattest/<run-id>/`` holds the owner record (pid and the process start time, so a recycled pid is not
mistaken for a live owner), the CNI plugins' data directories, daemon pid files and per-pod records. It lives
under /run (tmpfs) on purpose: inside the kernel sandbox the host's files are read-only, and a reboot clears it.
``gc`` treats a run as abandoned exactly when its owner process is gone.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

STATE_ROOT = Path(os.environ.get("NETATTEST_STATE_ROOT", "/run/netattest"))
OWNER_FILE = "owner.json"
#: a lab kept on purpose (netattest lab up, or a run with --keep): gc spares it, --lab adopts it
KEPT_FILE = "kept.json"


def process_start_time(pid: int) -> int | None:
    """Start time of ``pid`` in clock ticks since boot (field 22 of /proc/<pid>/stat), None if gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[19])


@dataclass(frozen=True)
class Owner:
    run_id: str
    pid: int
    pid_start: int | None
    topology: str
    started: float

    def alive(self) -> bool:
        return self.pid_start is not None and process_start_time(self.pid) == self.pid_start


class RunDir:
    """The directory of one run; created by the owner, removed by teardown or gc."""

    def __init__(self, run_id: str, root: Path = STATE_ROOT) -> None:
        self.run_id = run_id
        self.path = root / run_id

    def create(self, topology: str) -> Owner:
        """Create the directory *with* its owner record, atomically (a rename), so ``gc`` never sees a run
        directory without an owner and mistakes a starting run for an abandoned one."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        staging = self.path.parent / f".{self.run_id}.{os.getpid()}.tmp"
        staging.mkdir()
        owner = Owner(self.run_id, os.getpid(), process_start_time(os.getpid()), topology, time.time())
        (staging / OWNER_FILE).write_text(json.dumps(owner.__dict__, indent=2, sort_keys=True))
        try:
            staging.rename(self.path)  # fails if the run id exists already, like mkdir(exist_ok=False)
        except OSError:
            shutil.rmtree(staging, ignore_errors=True)
            raise FileExistsError(f"run directory {self.path} exists already") from None
        return owner

    def owner(self) -> Owner | None:
        try:
            return Owner(**json.loads((self.path / OWNER_FILE).read_text()))
        except (OSError, ValueError, TypeError):
            return None

    def sub(self, *parts: str) -> Path:
        """A sub-directory for some piece of state (created on demand)."""
        path = self.path.joinpath(*parts)
        path.mkdir(parents=True, exist_ok=True)
        return path

    def write_json(self, name: str, data: object) -> Path:
        target = self.path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(target.suffix + ".tmp")
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True))
        tmp.replace(target)
        return target

    def read_json(self, name: str) -> object | None:
        try:
            return json.loads((self.path / name).read_text())
        except (OSError, ValueError):
            return None

    def remove(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


def known_runs(root: Path = STATE_ROOT) -> list[RunDir]:
    """Run directories (staging directories of runs being created start with a dot and are not runs yet)."""
    if not root.is_dir():
        return []
    return [RunDir(p.name, root) for p in sorted(root.iterdir()) if p.is_dir() and not p.name.startswith(".")]


def stale_staging_dirs(root: Path = STATE_ROOT) -> list[Path]:
    """Staging directories whose creating process is gone (killed between mkdir and rename)."""
    stale = []
    for path in root.glob(".*.tmp") if root.is_dir() else []:
        try:
            pid = int(path.name.split(".")[2])
        except (IndexError, ValueError):
            continue
        if process_start_time(pid) is None:
            stale.append(path)
    return stale
