"""Topology: the declarative description of a lab or cluster, loaded from YAML into frozen dataclasses."""

from .loader import MAX_TOPOLOGY_BYTES, load_topology, load_topology_text
from .model import (
    PLUGIN_MODES,
    Attachment,
    Drift,
    Expectation,
    ExternalHost,
    ImpostorSpec,
    Ipam,
    LabSpec,
    Network,
    Nic,
    Node,
    Pod,
    PodNetwork,
    RouterSpec,
    Topology,
)
from .shipped import resolve_topology, shipped_topologies

__all__ = [
    "MAX_TOPOLOGY_BYTES",
    "PLUGIN_MODES",
    "Attachment",
    "Drift",
    "Expectation",
    "ExternalHost",
    "ImpostorSpec",
    "Ipam",
    "LabSpec",
    "Network",
    "Nic",
    "Node",
    "Pod",
    "PodNetwork",
    "RouterSpec",
    "Topology",
    "load_topology",
    "load_topology_text",
    "resolve_topology",
    "shipped_topologies",
]
