"""NetworkAttachmentDefinitions as Multus accepts them: ipvlan, macvlan and vlan children of a master NIC (the
node's default-route interface when no master is given), the bridge plugin on a node bridge, host-device moving a
node link into the pod, and meta plugins chained after the main one (tuning, ...) as a conflist. A NAD's IPAM is
checked against the plugin's own rules once its pods are known (:meth:`check_ipam`): a NAD that only pods
expecting their attachment to fail use may be deliberately wrong."""

from __future__ import annotations

from typing import Any

from .build_base import BuilderBase
from .ipam_rules import ipam_problems
from .model import CHAIN_PLUGINS, MASTER_PLUGINS, Attachment, BridgeOptions, Ipam, Tuning
from .wording import Path, _choose, _did_you_mean, _int, _listing, _q

BRIDGE_KEYS = ("bridge", "vlan", "isGateway", "ipMasq", "hairpinMode")


class NadSection(BuilderBase):
    def build_attachments(self) -> tuple[Attachment, ...]:
        for path, raw in self.items("attachments"):
            name = self.k8s_name(path + ("name",), raw["name"], "NAD name")
            namespace = self.k8s_name(path + ("namespace",), raw["namespace"], "namespace")
            if (namespace, name) in self.attachments:
                first = next(
                    p for p, r in self.items("attachments") if (r["namespace"], r["name"]) == (namespace, name)
                )
                self.fail(
                    path + ("name",),
                    f"duplicate NAD {namespace}/{name} (first at {self.at(first)})",
                    "rename one, or put it in another namespace",
                )
            network = self.network_ref(path + ("network",), raw["network"])
            plugin = raw["plugin"]
            mode = self.mode(path, plugin, raw.get("mode"))
            if plugin == "vlan" and network.vlan is None:
                self.fail(
                    path + ("network",),
                    f"the vlan plugin tags frames with the network's VLAN id, but network {network.name} has none",
                    f"give network {network.name} a vlan, or use ipvlan or macvlan",
                )
            key = f"{namespace}/{name}"
            self.plugin_keys(path, raw, plugin, key)
            master = self.master(path, raw, plugin, key)
            device = self.node_link(path + ("device",), raw["device"], "device", key) \
                if plugin == "host-device" else None
            bridge = self.bridge_options(path, raw) if plugin == "bridge" else None
            tuning = self.tuning(path + ("tuning",), raw["tuning"], key) if "tuning" in raw else None
            chain = tuple(self.chained(path + ("chain", k), entry, key) for k, entry in enumerate(raw.get("chain", [])))
            ipam_raw = raw.get("ipam", {"type": "none"})
            ipam = Ipam(ipam_raw["type"], {k: v for k, v in ipam_raw.items() if k != "type"})
            mtu = _int(raw.get("mtu"))
            attachment = Attachment(name, namespace, network.name, plugin, mode, master, ipam, mtu, bridge, device,
                                    tuning, chain)
            self.attachments[(namespace, name)] = attachment
        return tuple(self.attachments.values())

    def plugin_keys(self, path: Path, raw: dict[str, Any], plugin: str, key: str) -> None:
        """Keys of one plugin on a NAD of another are refused: the plugin would silently ignore them."""
        owners = {k: "bridge" for k in BRIDGE_KEYS} | {"device": "host-device"}
        for field, owner in owners.items():
            if field in raw and plugin != owner:
                self.fail(path + (field,), f"{field} is a {owner} plugin setting, but NAD {key} uses {plugin}",
                          f"remove {field}, or use plugin: {owner}")
        if plugin == "host-device" and "device" not in raw:
            self.fail(path, f"host-device NAD {key} names no device", "add device: <the node link to move into "
                                                                     "the pod>")

    def master(self, path: Path, raw: dict[str, Any], plugin: str, key: str) -> str | None:
        if "master" not in raw:
            if plugin == "vlan":
                self.fail(path, f"the vlan plugin needs a master (the trunk it tags on); NAD {key} has none",
                          "add master: <trunk NIC>")
            return None  # ipvlan/macvlan: the node's default-route interface, as the plugins do
        if plugin not in MASTER_PLUGINS:
            self.fail(path + ("master",), f"the {plugin} plugin has no master (it ignores the key)",
                      "remove master" + ("; the bridge plugin's bridge is 'bridge'" if plugin == "bridge" else ""))
        return self.node_link(path + ("master",), raw["master"], "master NIC", key)

    def node_link(self, path: Path, value: str, role: str, key: str) -> str:
        """A NIC name that some node has (master, host-device device)."""
        name = self.ifname(path, value, role)
        if not any(node.nic(name) for node in self.nodes.values()):
            nics = sorted({nic.name for node in self.nodes.values() for nic in node.nics})
            self.fail(path, f"{role} {_q(name)} of NAD {key} exists on no node",
                      f"set {role.split()[0]} to a NIC the nodes have: {_listing(nics)}{_did_you_mean(name, nics)}; "
                      f"or add {name} to the nodes")
        return name

    def bridge_options(self, path: Path, raw: dict[str, Any]) -> BridgeOptions:
        name = self.ifname(path + ("bridge",), raw["bridge"], "bridge name") if "bridge" in raw else "cni0"
        return BridgeOptions(name, _int(raw.get("vlan")), bool(raw.get("isGateway", False)),
                             bool(raw.get("ipMasq", False)), bool(raw.get("hairpinMode", False)))

    def tuning(self, path: Path, raw: dict[str, Any], key: str) -> Tuning:
        mac = self.mac(path + ("mac",), raw["mac"], f"tuning MAC of NAD {key}") if "mac" in raw else None
        sysctl = {}
        for name, value in raw.get("sysctl", {}).items():
            if not name.startswith("net.") or not name.replace(".", "").replace("_", "").replace("-", "").isalnum():
                self.fail(path + ("sysctl", name), f"{_q(name)} is not a network sysctl the tuning plugin sets",
                          "name one under net., e.g. net.ipv4.conf.net1.arp_ignore")
            sysctl[name] = str(value)
        return Tuning(mac, raw.get("promisc"), sysctl)

    def chained(self, path: Path, raw: dict[str, Any], key: str) -> dict[str, Any]:
        kind = raw["type"]
        if kind not in CHAIN_PLUGINS:
            self.fail(path + ("type",), f"NAD {key} chains {_q(kind)}, which is not a CNI meta plugin netattest "
                                        "runs", _choose(kind, list(CHAIN_PLUGINS)))
        return dict(raw)

    def check_ipam(self) -> None:
        """Each NAD's IPAM against its plugin's rules, once the pods are known: a NAD whose pods all expect their
        attachment to fail may be wrong on purpose (the plugin's own refusal is then what is tested)."""
        for path, raw in self.items("attachments"):
            attachment = self.attachments[(raw["namespace"], raw["name"])]
            users = [p for p in self.pods.values() for net in p.networks
                     if (net.namespace or p.namespace, net.attachment) == (attachment.namespace, attachment.name)]
            if users and all(p.attach_fails for p in users):
                continue
            subnet = self.networks[attachment.network].subnet
            problems = ipam_problems(attachment.ipam.type, dict(attachment.ipam.config), subnet)
            if problems:
                sub, problem, fix = problems[0]
                self.fail(path + ("ipam", *sub), f"NAD {attachment.key} IPAM ({attachment.ipam.type}): {problem}",
                          fix + "; or, to test that the plugin refuses it, give every pod of this NAD expect: "
                                "attachFails")
