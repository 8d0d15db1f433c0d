"""Daemons a lab runs (dnsmasq as a DHCP server, the CNI dhcp daemon), recorded so every exit path stops them.

Each daemon's pid *and* start time go into the run directory: teardown and ``gc`` stop exactly those processes,
never a process that merely reuses the pid.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from netattest.errors import LabError
from netattest.lab.nsenter import netns_path
from netattest.lab.state import process_start_time

DAEMONS_DIR = "daemons"


def start(run_dir: Path, name: str, argv: Sequence[str], *, netns: str | None,
          ready: Callable[[], bool], timeout: float = 10.0) -> int:
    """Start ``argv`` (inside ``netns`` if given) as a recorded daemon and wait until ``ready()``."""
    directory = run_dir / DAEMONS_DIR
    directory.mkdir(parents=True, exist_ok=True)
    program = Path(argv[0]).name
    if netns:
        argv = [shutil.which("nsenter") or "/usr/bin/nsenter", f"--net={netns_path(netns)}", *argv]
    log = directory / f"{name}.log"
    with log.open("ab") as out:
        proc = subprocess.Popen(list(argv), stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    (directory / f"{name}.json").write_text(json.dumps(
        {"pid": proc.pid, "start": process_start_time(proc.pid), "argv": list(argv)}))
    deadline = time.monotonic() + timeout
    while not ready():
        if proc.poll() is not None or time.monotonic() > deadline:
            tail = log.read_text(errors="replace").strip().splitlines()[-3:]
            proc.kill()
            raise LabError(f"lab daemon {name} did not start ({' | '.join(tail) or 'no output'}); command: "
                           f"{' '.join(argv)}. Fix: check that {program} is installed (Debian packages "
                           "dnsmasq-base, containernetworking-plugins)")
        time.sleep(0.02)
    return proc.pid


def stop_all(run_dir: Path) -> list[str]:
    """Stop every recorded daemon of the run (TERM, then KILL); returns problems."""
    problems = []
    directory = run_dir / DAEMONS_DIR
    for record in sorted(directory.glob("*.json")) if directory.is_dir() else []:
        try:
            data = json.loads(record.read_text())
        except (OSError, ValueError) as exc:
            problems.append(f"daemon record {record.name}: {exc}")
            continue
        pid = int(data["pid"])
        if process_start_time(pid) != data.get("start"):
            continue  # gone already, or the pid now belongs to someone else
        _terminate(pid)
        if process_start_time(pid) == data.get("start"):
            problems.append(f"daemon {record.stem} (pid {pid}) would not stop")
    return problems


def _terminate(pid: int, grace: float = 2.0) -> None:
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, grace)):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            try:
                if os.waitpid(pid, os.WNOHANG)[0] == pid:
                    return
            except ChildProcessError:  # not our child (a gc run): poll /proc instead
                if not os.path.exists(f"/proc/{pid}") or _is_zombie(pid):
                    return
            time.sleep(0.02)


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True
