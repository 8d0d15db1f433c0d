"""Kubernetes manifests and CNI configurations rendered from a topology.

One renderer serves both targets: the lab feeds ``nad_cni_config`` to the real plugin binaries, and the cluster
target applies the same JSON inside a NetworkAttachmentDefinition, so what the lab proves is what a cluster gets.
"""

from __future__ import annotations

import json
from typing import Any

from netattest.annotations import NETWORKS_ANNOTATION, NetworkSelection, render_networks_annotation
from netattest.topology.model import MASTER_PLUGINS, Attachment, Pod, Topology

CNI_VERSION = "0.4.0"
NAD_API_VERSION = "k8s.cni.cncf.io/v1"


def nad_cni_config(attachment: Attachment, *, plugin: str | None = None, mode: str | None = None,
                   ipam_data_dir: str | None = None) -> dict[str, Any]:
    """The CNI config a NAD carries in ``spec.config``: one plugin, or a conflist when plugins are chained after
    the main one (tuning, ...), as Multus accepts both.

    ``plugin``/``mode`` override the topology (lab drift: the lab deliberately applies a different NAD).
    ``ipam_data_dir`` keeps host-local's state inside the run directory instead of /var/lib/cni.
    """
    main = main_plugin_config(attachment, plugin=plugin, mode=mode, ipam_data_dir=ipam_data_dir)
    chained = ([attachment.tuning.config()] if attachment.tuning else []) + [dict(c) for c in attachment.chain]
    if not chained:
        return {"cniVersion": CNI_VERSION, "name": attachment.name, **main}
    return {"cniVersion": CNI_VERSION, "name": attachment.name, "plugins": [main, *chained]}


def main_plugin_config(attachment: Attachment, *, plugin: str | None = None, mode: str | None = None,
                       ipam_data_dir: str | None = None) -> dict[str, Any]:
    """The main plugin's entry (without cniVersion/name): type, its own settings, IPAM, capabilities."""
    kind = plugin or attachment.plugin
    config: dict[str, Any] = {"type": kind}
    if kind in MASTER_PLUGINS and attachment.master:
        config["master"] = attachment.master  # absent: the plugin takes the node's default-route interface
    chosen_mode = mode if mode is not None else attachment.mode
    if kind in ("ipvlan", "macvlan") and chosen_mode:
        config["mode"] = chosen_mode
    if kind == "bridge" and attachment.bridge is not None:
        bridge = attachment.bridge
        config["bridge"] = bridge.name
        if bridge.vlan is not None:
            config["vlan"] = bridge.vlan
        for key, value in (("isGateway", bridge.is_gateway), ("ipMasq", bridge.ip_masq),
                           ("hairpinMode", bridge.hairpin)):
            if value:
                config[key] = True
    if kind == "host-device" and attachment.device:
        config["device"] = attachment.device
    if attachment.mtu:
        config["mtu"] = attachment.mtu
    if attachment.ipam.type != "none":
        ipam: dict[str, Any] = {"type": attachment.ipam.type, **dict(attachment.ipam.config)}
        if attachment.ipam.type == "host-local" and ipam_data_dir:
            ipam["dataDir"] = ipam_data_dir
        config["ipam"] = ipam
    # Multus hands per-pod ips/mac from the networks annotation to plugins that declare these capabilities.
    config["capabilities"] = {"ips": True, "mac": True}
    return config


def config_plugins(config: dict[str, Any]) -> list[dict[str, Any]]:
    """The plugin entries of a CNI config: its ``plugins`` (a conflist) or the config itself."""
    plugins = config.get("plugins")
    return list(plugins) if isinstance(plugins, list) else [config]


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
        NetworkSelection(name=net.nad(pod.namespace)[1], namespace=net.nad(pod.namespace)[0],
                         interface=net.interface, ips=tuple(str(ip) for ip in net.ips), mac=net.mac,
                         default_route=tuple(str(gw) for gw in net.default_route))
        for net in pod.networks
    ]


def pod_annotations(pod: Pod) -> dict[str, str]:
    selections = pod_selections(pod)
    return {NETWORKS_ANNOTATION: render_networks_annotation(selections, pod.namespace)} if selections else {}


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
