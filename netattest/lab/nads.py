"""The lab's NetworkAttachmentDefinitions as applied, and how each becomes a CNI config on a given node.

In a cluster the NADs are objects the API server holds; Multus looks them up by the namespace/name of a networks
annotation entry. The lab keeps the same lookup, so a pod naming a NAD that does not exist fails the way it would
in a cluster. IPAM state lives in the run directory, never in the plugins' default /var/lib/cni:

* host-local keeps one pool *per node*, as on real nodes (two nodes can hand out the same address);
* whereabouts keeps a cluster-wide pool in the Kubernetes API and cannot run here: the lab emulates it with
  host-local over one data directory shared by every node, and says so in the report;
* dhcp talks to the lab's CNI dhcp daemon through a socket in the run directory.
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Network, ip_network
from pathlib import Path
from typing import Any

from netattest.manifests import nad_cni_config
from netattest.topology.model import Attachment, Topology

WHEREABOUTS_NOTE = ("whereabouts IPAM is emulated in the lab by host-local over one data directory shared by all "
                    "nodes (a cluster-wide pool, as whereabouts keeps in the Kubernetes API); on a cluster the real "
                    "plugin runs")


@dataclass(frozen=True)
class AppliedNad:
    """A NAD as the lab applied it: the topology's expectation plus lab drift (plugin/mode)."""

    attachment: Attachment
    plugin: str
    mode: str
    vlan: int | None  # the VLAN id, for the vlan plugin

    def cni_config(self, node: str, run_dir: Path) -> dict[str, Any]:
        config = nad_cni_config(self.attachment, plugin=self.plugin, mode=self.mode)
        if self.plugin == "vlan":
            config["vlanId"] = self.vlan
            config.pop("mode", None)
        config["ipam"] = self._ipam(node, run_dir)
        return config

    def _ipam(self, node: str, run_dir: Path) -> dict[str, Any]:
        ipam = dict(self.attachment.ipam.config)
        kind = self.attachment.ipam.type
        if kind == "host-local":
            return {**ipam, "type": "host-local", "dataDir": str(run_dir / "ipam" / "host-local" / node)}
        if kind == "whereabouts":
            return whereabouts_as_host_local(ipam, str(run_dir / "ipam" / "whereabouts"))
        if kind == "dhcp":
            return {**ipam, "type": "dhcp", "daemonSocketPath": str(run_dir / "dhcp" / "dhcp.sock")}
        return {**ipam, "type": kind}


def whereabouts_as_host_local(ipam: dict[str, Any], data_dir: str) -> dict[str, Any]:
    """Translate whereabouts' range keys (``range`` as CIDR or ``a-b``, ``range_start``, ``range_end``, ``gateway``,
    ``routes``) into one host-local range over a shared data directory."""
    text = str(ipam.get("range", ""))
    start, end = ipam.get("range_start"), ipam.get("range_end")
    if "-" in text and "/" in text:  # "192.168.112.10-192.168.112.50/24"
        span, prefix = text.rsplit("/", 1)
        start, end = span.split("-", 1)
        text = f"{start}/{prefix}"
    network: IPv4Network = ip_network(text, strict=False)  # type: ignore[assignment]
    entry: dict[str, Any] = {"subnet": str(network)}
    if start:
        entry["rangeStart"] = str(start)
    if end:
        entry["rangeEnd"] = str(end)
    if ipam.get("gateway"):
        entry["gateway"] = ipam["gateway"]
    result: dict[str, Any] = {"type": "host-local", "ranges": [[entry]], "dataDir": data_dir}
    if ipam.get("routes"):
        result["routes"] = ipam["routes"]
    return result


class NadStore:
    """NADs by (namespace, name), as Multus finds them."""

    def __init__(self, topology: Topology) -> None:
        drift = topology.lab.drift.nad_plugin
        self._nads = {}
        for attachment in topology.attachments:
            plugin, mode = drift.get(attachment.name, (attachment.plugin, attachment.mode))
            vlan = topology.network(attachment.network).vlan
            self._nads[(attachment.namespace, attachment.name)] = AppliedNad(attachment, plugin, mode, vlan)

    def get(self, namespace: str, name: str) -> AppliedNad | None:
        return self._nads.get((namespace, name))

    def uses(self, ipam_type: str, plugin: str | None = None) -> bool:
        return any(nad.attachment.ipam.type == ipam_type and plugin in (None, nad.plugin)
                   for nad in self._nads.values())
