"""Kubernetes manifests and CNI configurations rendered from a topology.

One renderer serves both targets: the lab feeds ``nad_cni_config`` to the real plugin binaries, and the cluster
target applies the same JSON inside a NetworkAttachmentDefinition, so what the lab proves is what a cluster gets.
"""

from __future__ import annotations

import json
from typing import Any

from netattest.annotations import NETWORKS_ANNOTATION, NetworkSelection, render_networks_annotation
from netattest.topology.model import Attachment, Pod

CNI_VERSION = "0.4.0"
NAD_API_VERSION = "k8s.cni.cncf.io/v1"


def nad_cni_config(attachment: Attachment, *, plugin: str | None = None, mode: str | None = None,
                   ipam_data_dir: str | None = None) -> dict[str, Any]:
    """The CNI config a NAD carries in ``spec.config``.

    ``plugin``/``mode`` override the topology (lab drift: the lab deliberately applies a different NAD).
    ``ipam_data_dir`` keeps host-local's state inside the run directory instead of /var/lib/cni.
    """
    kind = plugin or attachment.plugin
    config: dict[str, Any] = {"cniVersion": CNI_VERSION, "name": attachment.name, "type": kind,
                              "master": attachment.master}
    chosen_mode = mode if mode is not None else attachment.mode
    if kind in ("ipvlan", "macvlan") and chosen_mode:
        config["mode"] = chosen_mode
    if attachment.mtu:
        config["mtu"] = attachment.mtu
    ipam: dict[str, Any] = {"type": attachment.ipam.type, **dict(attachment.ipam.config)}
    if attachment.ipam.type == "host-local" and ipam_data_dir:
        ipam["dataDir"] = ipam_data_dir
    config["ipam"] = ipam
    # Multus hands per-pod ips/mac from the networks annotation to plugins that declare these capabilities.
    config["capabilities"] = {"ips": True, "mac": True}
    return config


def runtime_config(selection: NetworkSelection) -> dict[str, Any]:
    """``runtimeConfig`` as Multus builds it from a networks-annotation entry."""
    runtime: dict[str, Any] = {}
    if selection.ips:
        runtime["ips"] = list(selection.ips)
    if selection.mac:
        runtime["mac"] = selection.mac
    return runtime


def nad_manifest(attachment: Attachment, namespace: str | None = None) -> dict[str, Any]:
    return {
        "apiVersion": NAD_API_VERSION,
        "kind": "NetworkAttachmentDefinition",
        "metadata": {"name": attachment.name, "namespace": namespace or attachment.namespace},
        "spec": {"config": json.dumps(nad_cni_config(attachment), sort_keys=True)},
    }


def pod_selections(pod: Pod) -> list[NetworkSelection]:
    """The pod's networks annotation entries, as the topology asks for them."""
    return [
        NetworkSelection(name=net.attachment.split("/")[-1],
                         namespace=(net.attachment.split("/")[0] if "/" in net.attachment
                                    else net.namespace or pod.namespace),
                         interface=net.interface, ips=tuple(str(ip) for ip in net.ips), mac=net.mac)
        for net in pod.networks
    ]


def pod_annotations(pod: Pod) -> dict[str, str]:
    selections = pod_selections(pod)
    return {NETWORKS_ANNOTATION: render_networks_annotation(selections, pod.namespace)} if selections else {}
