"""The lab's NetworkAttachmentDefinitions as applied, and how each becomes a CNI config on a given node.

In a cluster the NADs are objects the API server holds; Multus looks them up by the namespace/name of a networks
annotation entry. The lab keeps the same lookup, so a pod naming a NAD that does not exist fails the way it would
in a cluster. IPAM state lives in the run directory, never in the plugins' default /var/lib/cni:

* host-local keeps one pool *per node*, as on real nodes (two nodes can hand out the same address);
* whereabouts keeps a cluster-wide pool in the Kubernetes API and cannot run here: the lab emulates it with
  host-local over one store shared by every node (and, as whereabouts' overlapping-range protection does by
  default, by every whereabouts NAD), its ``exclude`` list cut out of the range, and says so in the report;
* dhcp talks to the lab's CNI dhcp daemon through a socket in the run directory.
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import ip_network
from pathlib import Path
from typing import Any

from netattest.ipam_pool import free_spans, whereabouts_range
from netattest.manifests import config_plugins, nad_cni_config
from netattest.topology.model import Attachment, Topology

WHEREABOUTS_NOTE = ("whereabouts IPAM is emulated in the lab by host-local over one store shared by all nodes (a "
                    "cluster-wide pool, as whereabouts keeps in the Kubernetes API) and, with "
                    "enable_overlapping_ranges (the default), by every whereabouts NAD; exclude is cut out of the "
                    "range; unlike whereabouts, host-local never hands out the gateway (or the range's first "
                    "address when none is set); on a cluster the real plugin runs")


@dataclass(frozen=True)
class AppliedNad:
    """A NAD as the lab applied it: the topology's expectation plus lab drift (plugin/mode)."""

    attachment: Attachment
    plugin: str
    mode: str
    vlan: int | None  # the VLAN id, for the vlan plugin
    drop_chain: bool = False  # lab drift: the chained plugins (tuning, ...) are never run

    def cni_config(self, node: str, run_dir: Path) -> dict[str, Any]:
        """The NAD's config as the lab hands it to the plugins on ``node``: IPAM state in the run directory."""
        config = nad_cni_config(self.attachment, plugin=self.plugin, mode=self.mode)
        if self.drop_chain and "plugins" in config:
            config = {k: v for k, v in config.items() if k != "plugins"} | config["plugins"][0]
        main = config_plugins(config)[0]
        if self.plugin == "vlan":
            main["vlanId"] = self.vlan
            main.pop("mode", None)
        if self.attachment.ipam.type != "none":
            main["ipam"] = self._ipam(node, run_dir)
        return config

    def _ipam(self, node: str, run_dir: Path) -> dict[str, Any]:
        ipam = dict(self.attachment.ipam.config)
        kind = self.attachment.ipam.type
        if kind == "host-local":
            return {**ipam, "type": "host-local", "dataDir": str(run_dir / "ipam" / "host-local" / node)}
        if kind == "whereabouts":
            return whereabouts_as_host_local(ipam, self._whereabouts_dir(ipam, run_dir))
        if kind == "dhcp":
            return {**ipam, "type": "dhcp", "daemonSocketPath": str(run_dir / "dhcp" / "dhcp.sock")}
        return {**ipam, "type": kind}


    def _whereabouts_dir(self, ipam: dict[str, Any], run_dir: Path) -> str:
        """host-local keeps its store in ``<dataDir>/<network name>``; whereabouts keys its pool by range, and with
        enable_overlapping_ranges (the default) no address is handed out twice across ranges. So every NAD gets
        its own dataDir whose ``<name>`` entry is a symlink to the shared store: one pool for all whereabouts NADs,
        or one per range when overlapping ranges are allowed to collide."""
        root = run_dir / "ipam" / "whereabouts"
        shared = ipam.get("enable_overlapping_ranges", True) is not False
        pool = root / "pools" / ("all" if shared else whereabouts_range(ipam)[0].with_prefixlen.replace("/", "_"))
        data_dir = root / "nads" / f"{self.attachment.namespace}.{self.attachment.name}"
        pool.mkdir(parents=True, exist_ok=True)
        data_dir.mkdir(parents=True, exist_ok=True)
        link = data_dir / self.attachment.name
        if not link.is_symlink():
            link.symlink_to(pool, target_is_directory=True)
        return str(data_dir)


def whereabouts_as_host_local(ipam: dict[str, Any], data_dir: str) -> dict[str, Any]:
    """Translate whereabouts' keys (``range``, ``range_start``, ``range_end``, ``exclude``, ``gateway``,
    ``routes``) into one host-local range set over ``data_dir``: one range per span the exclusions leave."""
    network, first, last = whereabouts_range(ipam)
    excluded = [ip_network(str(e), strict=False) for e in ipam.get("exclude") or []]
    spans = free_spans(first, last, excluded)  # type: ignore[arg-type]
    entries: list[dict[str, Any]] = []
    for a, b in spans:
        entry: dict[str, Any] = {"subnet": str(network), "rangeStart": str(a), "rangeEnd": str(b)}
        if ipam.get("gateway"):
            entry["gateway"] = ipam["gateway"]
        entries.append(entry)
    if not entries:  # everything excluded: one address that is also the gateway, which host-local never gives out
        entries = [{"subnet": str(network), "rangeStart": str(first), "rangeEnd": str(first), "gateway": str(first)}]
    result: dict[str, Any] = {"type": "host-local", "ranges": [entries], "dataDir": data_dir}
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
            dropped = attachment.name in topology.lab.drift.drop_chain
            self._nads[(attachment.namespace, attachment.name)] = AppliedNad(attachment, plugin, mode, vlan, dropped)

    def get(self, namespace: str, name: str) -> AppliedNad | None:
        return self._nads.get((namespace, name))

    def uses_plugin(self, plugin: str) -> bool:
        return any(nad.plugin == plugin for nad in self._nads.values())

    def uses(self, ipam_type: str, plugin: str | None = None) -> bool:
        return any(nad.attachment.ipam.type == ipam_type and plugin in (None, nad.plugin)
                   for nad in self._nads.values())
