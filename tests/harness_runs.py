"""Driving whole `netattest` processes from the tests: the reduced crash tally with the checks every target shares,
and several runs at once while `netattest gc` loops beside them."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.conftest import REPO


def reduced_tally(tmp_path: Path, points: int, seed: int, *extra: str, timeout: float = 1200) -> tuple[
        dict[str, Any], str, subprocess.CompletedProcess[str]]:
    """Run scripts/crash_tally.py (``extra``: target options) and assert what holds for every target: each signal
    reached each phase, a fresh run after the kills passed, and nothing was left after gc."""
    out = tmp_path / "tally.json"
    proc = subprocess.run([sys.executable, str(REPO / "scripts" / "crash_tally.py"), "--points", str(points),
                           "--fresh", "end", "--seed", str(seed), "--json", str(out), *extra],
                          cwd=REPO, capture_output=True, text=True, timeout=timeout, check=False)
    report = proc.stdout[-6000:] + proc.stderr[-3000:]
    assert out.exists(), report
    tally = json.loads(out.read_text())
    for sig in ("INT", "TERM", "KILL"):
        mine = [p for p in tally["points"] if p["signal"] == sig]
        assert len(mine) >= points, report
        assert {p["phase"] for p in mine} == {"up", "probe", "down"}, report
        assert all("not reached" not in p["fired"] and "never saw" not in p["fired"] for p in mine), report
        assert tally["fresh_end"][sig] == 0, f"a fresh run after the SIG{sig} kills failed\n{report}"
    left = [(p["signal"], p["phase"], p["how"], p["left_after_gc"] + p["late_leftovers"]) for p in tally["points"]
            if p["left_after_gc"] or p["late_leftovers"]]
    assert left == [], report
    return tally, report, proc


@contextmanager
def gc_looping(argv: list[str], env: Mapping[str, str], before_each: Callable[[], None] | None = None
               ) -> Iterator[list[str]]:
    """`netattest gc` (``argv``) again and again until the block ends; yields the outputs of its passes."""
    outputs: list[str] = []
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            if before_each is not None:
                before_each()
            out = subprocess.run(argv, cwd=REPO, env=dict(env), capture_output=True, text=True, timeout=120,
                                 check=False)
            outputs.append(out.stdout + out.stderr)

    looper = threading.Thread(target=loop, daemon=True)
    looper.start()
    try:
        yield outputs
    finally:
        stop.set()
        looper.join(timeout=120)


def wait_all(procs: Mapping[str, subprocess.Popen[str]], timeout: float) -> dict[str, str]:
    """The output of every run; any run still going when this fails is killed."""
    outputs = {}
    try:
        for key, proc in procs.items():
            outputs[key] = proc.communicate(timeout=timeout)[0]
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    return outputs
