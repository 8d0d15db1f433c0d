"""``netattest render``: the manifests a run would apply, for change review before anything touches a cluster."""

from __future__ import annotations

import argparse
from typing import Any

import yaml

from netattest.manifests import nad_manifest, pod_annotations
from netattest.topology import load_topology
from netattest.topology.model import Pod, Topology

#: Default probe image: Alpine with python3 + scapy + iproute2 (override per run for air-gapped labs).
PROBE_IMAGE = "docker.io/nicolaka/netshoot:v0.13"


def pod_manifest(pod: Pod, image: str = PROBE_IMAGE) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": pod.name, "namespace": pod.namespace, "annotations": pod_annotations(pod),
                     "labels": {"app.kubernetes.io/managed-by": "netattest"}},
        "spec": {
            "nodeSelector": dict(pod.node_selector),
            "terminationGracePeriodSeconds": 0,
            "containers": [{
                "name": "probe",
                "image": image,
                "command": ["sleep", "infinity"],
                "securityContext": {"capabilities": {"add": ["NET_RAW", "NET_ADMIN"]}},
            }],
        },
    }


def manifests(topology: Topology) -> list[dict[str, Any]]:
    namespaces = sorted({a.namespace for a in topology.attachments} | {p.namespace for p in topology.pods})
    docs: list[dict[str, Any]] = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}
                                  for ns in namespaces]
    docs += [nad_manifest(a) for a in topology.attachments]
    docs += [pod_manifest(p) for p in topology.pods]
    return docs


def render_command(args: argparse.Namespace) -> int:
    print(yaml.safe_dump_all(manifests(load_topology(args.topology)), sort_keys=False), end="")
    return 0
