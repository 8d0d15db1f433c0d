"""Choose and build the target a session runs against; the suites never know which one it is."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from netattest.errors import NetattestError
from netattest.targets.base import Target
from netattest.topology.model import Topology


def make_target(config: pytest.Config, topology: Topology, run_id: str, *, timeout: float, retries: int,
                progress: Callable[[str], None], nodes_only_lab: Any = None) -> Target:
    """``nodes_only_lab``: the lab the node pre-flight built up to its nodes; the lab target adds the pods to it
    instead of building the nodes a second time."""
    kind = config.getoption("target")
    if kind == "lab":
        from netattest.targets.lab import LabTarget
        return LabTarget(topology, run_id, timeout=timeout, retries=retries, progress=progress, lab=nodes_only_lab,
                         kept=config.getoption("lab") or None)
    if kind == "kubernetes":
        from netattest.targets.kubernetes import KubernetesTarget, options_from_pytest
        return KubernetesTarget(topology, run_id, options=options_from_pytest(config), timeout=timeout,
                                retries=retries, progress=progress)
    raise NetattestError(f"--target {kind}: this target is not available in this version. Fix: use --target lab")
