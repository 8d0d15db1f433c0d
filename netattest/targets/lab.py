"""The embedded lab as a target: namespaces built by :class:`netattest.lab.lab.Lab`, probed in-process."""

from __future__ import annotations

import os
from collections.abc import Sequence

from netattest.inventory import Inventory
from netattest.lab.lab import Lab, Progress
from netattest.probe.engine import Listener, Probe, ProbeEngine, ProbeResult, WindowStats
from netattest.sandbox.uml import IN_SANDBOX_ENV
from netattest.topology.model import Topology


class LabTarget:
    name = "lab"

    def __init__(self, topology: Topology, run_id: str | None = None, *, timeout: float = 1.0,
                 retries: int = 2, progress: Progress | None = None, lab: Lab | None = None,
                 kept: str | None = None) -> None:
        """``lab``: a lab already built up to its nodes (``Lab.up(stage="nodes")``, by the node pre-flight), which
        deploy() completes with the pods. ``kept``: the run id of a kept lab to adopt instead of building one
        (``--lab``): nothing is built, and teardown leaves it running."""
        self.topology, self.progress, self.kept = topology, progress, kept
        self.lab = lab if lab is not None else Lab(topology, kept or run_id, progress=progress)
        self._nodes_built = lab is not None
        self.run_id = self.lab.run_id
        # Inside the kernel sandbox one slow CPU runs the sender, the macvlan broadcast worker and the input
        # backlog: a burst of who-has overflowed them (thousands of frames dropped, a broken window), so every
        # DRAIN_EVERY sends pause 1 ms there (about 10 ms for the seed's window). Natively no pause is needed.
        pace = 0.001 if os.environ.get(IN_SANDBOX_ENV) == "1" else 0.0
        self.engine = ProbeEngine(timeout=timeout, retries=retries, pace_s=pace)

    def deploy(self) -> Inventory:
        if self.kept:
            self.lab = Lab.adopt(self.kept, self.topology, progress=self.progress)
            return self.lab.inventory()
        return self.lab.attach_pods() if self._nodes_built else self.lab.up()

    def inventory(self) -> Inventory:
        return self.lab.inventory()

    def probe(self, probes: Sequence[Probe], listeners: Sequence[Listener] = (), timeout: float | None = None) \
            -> tuple[list[ProbeResult], WindowStats]:
        """One window, with ``listeners`` open from before the first send to after the last answer; drops outside
        the engine's sockets (neighbour table, node/switch receive queues) count as kernel drops of the window, so
        the judge reports its silences broken rather than passed."""
        before = self.lab.drop_counters()
        self.engine.listen(listeners)
        usual = self.engine.timeout
        self.engine.timeout = timeout or usual
        try:
            results, stats = self.engine.run(probes)
        finally:
            self.engine.timeout = usual
            stats_heard, listening = self.engine.collect()
        stats.heard, stats.listening = stats_heard, listening
        after = self.lab.drop_counters()
        grown = {key: after[key] - before.get(key, 0) for key in after if after[key] > before.get(key, 0)}
        if grown:
            stats.kernel_drops += sum(grown.values())
            stats.socket_errors.append("frames lost outside the probe sockets: "
                                       + ", ".join(f"{key} +{count}" for key, count in sorted(grown.items())))
        return results, stats

    def teardown(self) -> list[str]:
        self.engine.close()
        if self.kept:
            self.lab.release()
            return []
        return self.lab.down()

    def record_frames(self) -> None:
        self.engine.keep_frames = True

    def keep(self) -> str:
        self.engine.close()
        self.lab.keep()
        self.lab.release()
        return (f"lab {self.run_id} left running; check it again with 'netattest run --topology "
                f"{self.topology.source} --lab {self.run_id}', remove it with 'netattest lab down --run-id "
                f"{self.run_id}'")
