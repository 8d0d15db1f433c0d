"""The state one cluster run carries from deploy through observation and probing to teardown."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from netattest.errors import NetattestError
from netattest.inventory import HostView, InterfaceView, Inventory
from netattest.k8s.plan import (
    ClusterOptions,
    ClusterPlan,
)
from netattest.k8s.pods import PodState
from netattest.probe.engine import Listener, Probe, ProbeResult, WindowStats
from netattest.topology.model import Topology

Progress = Callable[[str], None]
ROUTE_PREFIX = "k8s:"  # Endpoint.netns of a pod's probes: "k8s:<namespace>/<pod>", routes them to its agent
NODE_ROUTE_PREFIX = "k8s-node:"  # ... and of a node's (its host-network inventory pod's agent): "k8s-node:<node>"
AGENT_START_WORKERS = 8


class EngineSettings:
    """The probe-engine settings every agent gets per window; attributes like a ProbeEngine's, so layers that tune
    the lab's engine (``keep_frames`` for pcaps) tune the agents' the same way."""

    def __init__(self, timeout: float, retries: int) -> None:
        self.timeout = float(timeout)
        self.retries = int(retries)
        self.keep_frames = False

    def as_dict(self) -> dict[str, Any]:
        return {"timeout": self.timeout, "retries": self.retries, "keep_frames": self.keep_frames}


def _route(namespace: str, pod: str) -> str:
    return f"{ROUTE_PREFIX}{namespace}/{pod}"


def _interface(data: dict[str, Any]) -> InterfaceView:
    return InterfaceView(name=data["name"], mac=str(data.get("mac") or "").lower(),
                         addresses=tuple(data.get("addresses") or ()), kind=str(data.get("kind") or ""),
                         mtu=int(data.get("mtu") or 0), up=bool(data.get("up")), mode=str(data.get("mode") or ""),
                         promisc=bool(data.get("promisc")), peer_index=int(data.get("peer_index") or 0))




def _catch(fn: Callable[[Any], Any], arg: Any) -> Any:
    try:
        return fn(arg)
    except NetattestError as exc:
        return exc



class TargetState:
    """What the phases of a cluster run share: the run, its connection and plan, its pods and agents."""

    name = "kubernetes"

    def __init__(self, topology: Topology, run_id: str, *, options: ClusterOptions | None = None,
                 timeout: float = 1.0, retries: int = 2, progress: Progress | None = None) -> None:
        self.topology = topology
        self.run_id = run_id
        self.options = options or ClusterOptions()
        self.engine = EngineSettings(timeout, retries)
        self.progress = progress or (lambda message: None)
        self.plan: ClusterPlan | None = None
        self.cluster: Any = None  # netattest.k8s.api.Cluster
        self.connection: Any = None
        self.openshift = False
        self.created_namespaces: list[str] = []
        self.operator: Any = None  # netattest.k8s.provision.OperatorProvision
        self.probe_pods: dict[str, PodState] = {}  # topology pod key -> state
        self.node_pods: dict[str, PodState] = {}  # node name -> state
        self.agents: dict[str, Any] = {}  # route ("k8s:ns/pod") -> AgentClient
        self.node_agents: dict[str, Any] = {}  # node -> AgentClient
        self._default_devs: dict[str, str] = {}  # node -> its default route's device, read by its node pod
        self._node_routes: dict[str, list[Any]] = {}  # node -> its routing table, read by its node pod
        self.hosts: list[HostView] = []
        self.notes: list[str] = []
        self._reached: Any = None  # netattest.k8s.reach.Reached, from _connect
        self.timings: dict[str, float] = {}
        self._refreshed = 0.0

    @property
    def node_routes(self) -> dict[str, list[str]]:
        """node -> its IPv4 routing table as its node pod read it (after :meth:`inventory`)."""
        return {node: [str(r) for r in table] for node, table in self._node_routes.items()}

    # -- what one phase asks of another (each is defined by the phase that owns it) -----------------------------
    def inventory(self) -> Inventory:
        raise NotImplementedError  # Observation

    def _discover_hosts(self) -> None:
        raise NotImplementedError  # Observation

    def probe(self, probes: Sequence[Probe], listeners: Sequence[Listener] = (), timeout: float | None = None) \
            -> tuple[list[ProbeResult], WindowStats]:
        raise NotImplementedError  # Probing
