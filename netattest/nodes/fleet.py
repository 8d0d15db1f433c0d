"""The nodes of a run as subjects of the pre-flight: how each is reached, what it must carry, what it has."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from netattest.errors import NetattestError
from netattest.lab.cni import CNI_BIN_DIRS as LAB_CNI_BIN_DIRS
from netattest.lab.state import RunDir
from netattest.nodes import duties
from netattest.nodes.access import LabNodeAccess, NodeAccess
from netattest.nodes.facts import CLUSTER_CNI_BIN_DIRS, NodeFacts, gather
from netattest.topology.model import Topology


@dataclass
class NodeSubject:
    node: str
    access: NodeAccess
    bin_dirs: tuple[str, ...]
    required: dict[str, tuple[str, ...]]  # CNI binary -> NADs needing it
    dhcp: tuple[str, ...]  # NADs with dhcp IPAM
    dhcp_sockets: tuple[str, ...] = ()  # where their IPAM dials the dhcp daemon
    emulated: dict[str, str] = field(default_factory=dict)  # lab stand-ins: real binary -> stand-in
    facts: NodeFacts | None = None
    error: NetattestError | None = None

    def require_facts(self) -> NodeFacts:
        """The node's facts; re-raises why they could not be read (the test is then *broken*, not failed)."""
        if self.error is not None:  # a fresh traceback per test: re-raising one object would grow it each time
            raise self.error.with_traceback(None)
        if self.facts is None:
            raise NetattestError(f"the facts of node {self.node} were never collected")
        return self.facts


def plan_subjects(topology: Topology, accesses: dict[str, NodeAccess], *,
                  bin_dirs_per_node: dict[str, list[str]] | None = None,
                  bin_dirs_everywhere: list[str] | None = None,
                  only: set[str] | None = None) -> dict[str, NodeSubject]:
    """One subject per topology node (or per node in ``only``: the nodes the selected checks look at)."""
    subjects = {}
    for node in topology.nodes:
        if only is not None and node.name not in only:
            continue
        access = accesses[node.name]
        lab = isinstance(access, LabNodeAccess)
        default_dirs = LAB_CNI_BIN_DIRS if lab else CLUSTER_CNI_BIN_DIRS
        dirs = tuple((bin_dirs_per_node or {}).get(node.name) or bin_dirs_everywhere or default_dirs)
        emulated = ({"whereabouts": duties.LAB_IPAM_BINARY["whereabouts"]}
                    if lab and duties.whereabouts_nads(topology, node.name) else {})
        run_dir = RunDir(access.run_id).path if isinstance(access, LabNodeAccess) else None
        subjects[node.name] = NodeSubject(node.name, access, dirs,
                                          duties.required_binaries(topology, node.name, lab=lab),
                                          duties.dhcp_nads(topology, node.name),
                                          duties.dhcp_sockets(topology, node.name, lab_run_dir=run_dir), emulated)
    return subjects


def _collect_one(subject: NodeSubject) -> None:
    try:
        host = subject.access.open()
        subject.facts = gather(host, subject.node, access=subject.access.describe(), bin_dirs=subject.bin_dirs,
                               binaries=list(subject.required), root=subject.access.root, dhcp=bool(subject.dhcp))
    except NetattestError as exc:
        subject.error = exc


def collect(subjects: dict[str, NodeSubject], workers: int = 8) -> None:
    """Read every node's facts, nodes in parallel (each node's commands are separate processes). On Ctrl-C the
    nodes not started yet are dropped and this returns at once: the caller's cleanup (closing the accesses, which
    deletes debug pods) must not wait for nodes still being read."""
    if not subjects:
        return
    pool = ThreadPoolExecutor(max_workers=max(1, min(workers, len(subjects))))
    try:
        list(pool.map(_collect_one, subjects.values()))
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def close(subjects: dict[str, NodeSubject]) -> None:
    for subject in subjects.values():
        subject.access.close()
