"""Where the wall-clock time of a run goes: named phases with start and end, written on request (``--timings``).

Every time is epoch seconds: the kernel sandbox's clock is the host's, so the host side (the sandbox's boot and
power-off) and the session inside it write into one timeline. ``benchmarks/bench_run.py`` reads it to show which
phase of a run grew; nothing in a run depends on it.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SCHEMA = "netattest.timings/v1"
#: set by the host side of the sandbox for the session inside: when the sandbox kernel was started
SANDBOX_BOOT_ENV = "NETATTEST_SANDBOX_BOOT"


def process_start(pid: int | str = "self") -> float | None:
    """Epoch seconds at which process ``pid`` started (clock-tick resolution), from /proc; None if unknown. Taken
    against /proc/uptime, not the boot time in /proc/stat, which is rounded to whole seconds."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        uptime = float(Path("/proc/uptime").read_text().split()[0])
    except (OSError, IndexError, ValueError):
        return None
    ticks = int(stat.rsplit(")", 1)[1].split()[19])
    return time.time() - (uptime - ticks / os.sysconf("SC_CLK_TCK"))


@dataclass
class Timeline:
    """Marks (one instant each) and phases (start, end) of one run, in the order they were recorded."""

    marks: dict[str, float] = field(default_factory=dict)
    phases: list[tuple[str, float, float]] = field(default_factory=list)
    figures: dict[str, float] = field(default_factory=dict)  # durations known only as a number (probe setup...)

    def mark(self, name: str, when: float | None = None) -> None:
        self.marks[name] = time.time() if when is None else when

    def add(self, name: str, start: float, end: float) -> None:
        self.phases.append((name, start, end))

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        start = time.time()
        try:
            yield
        finally:
            self.add(name, start, time.time())

    def to_json(self) -> dict[str, Any]:
        phases = [{"name": n, "start": s, "end": e, "seconds": round(e - s, 4)} for n, s, e in self.phases]
        return {"schema": SCHEMA, "marks": self.marks, "phases": phases, "figures": self.figures}

    def write(self, path: Path) -> None:
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(self.to_json(), indent=1))
        tmp.replace(path)

    @classmethod
    def read(cls, path: Path) -> Timeline:
        data = json.loads(path.read_text())
        phases = [(p["name"], p["start"], p["end"]) for p in data.get("phases") or []]
        return cls(dict(data.get("marks") or {}), phases, dict(data.get("figures") or {}))


def add_mark(path: Path, name: str, when: float | None = None) -> None:
    """Add one mark to a timings file written by someone else (the sandbox's power-off, after the session)."""
    timeline = Timeline.read(path) if path.exists() else Timeline()
    timeline.mark(name, when)
    timeline.write(path)
