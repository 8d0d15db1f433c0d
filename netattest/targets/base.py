"""The one interface every target implements; suites and fixtures only ever talk to this."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from netattest.inventory import Inventory
from netattest.probe.engine import Listener, Probe, ProbeResult, WindowStats


class Target(Protocol):
    """Deploy a topology, probe from its pods, and remove every trace of the run."""

    name: str
    run_id: str

    def deploy(self) -> Inventory:
        """Create namespaces, NADs and pods; return what was really built (observed, not assumed)."""

    def inventory(self) -> Inventory:
        """Re-read what exists now."""

    def probe(self, probes: Sequence[Probe], listeners: Sequence[Listener] = (), timeout: float | None = None) \
            -> tuple[list[ProbeResult], WindowStats]:
        """Send every probe from its source in one window, with ``listeners`` open from before the first send to
        after the last answer; return all answers, and what the listeners heard in the stats. ``timeout``
        overrides the probe timeout for this window (the discovery sweep waits less)."""

    def teardown(self) -> list[str]:
        """Remove everything this run created; returns problems met (never raises half-way)."""

    def record_frames(self) -> None:
        """Keep the raw bytes of every frame of the coming probe windows (for the pcaps)."""

    def keep(self) -> str:
        """Leave what this run built in place (``--keep``), marked so that gc spares it; returns how to check it
        again and how to remove it, for the user."""
