"""JSON Schema (draft 2020-12) for topology files: the structural layer of the loader.

It checks shapes only: required keys, types, enums and ranges, and refuses unknown keys so a typo never passes
silently. Everything that needs context (CIDR syntax, references, duplicates, addresses inside subnets, node
selection) is checked afterwards in Python, where a message can name both sides of a conflict.

Besides standard keywords, subschemas carry ``x-what`` (how to name the value in a message, e.g. "VLAN id") and
``x-example`` (a value to suggest when the key is missing); validators ignore them, the loader reads them.
"""

from __future__ import annotations

from typing import Any

from .model import PLUGIN_MODES

API_VERSION = "netattest/v1"
KIND = "Topology"
IPAM_TYPES = ("static", "host-local", "dhcp", "whereabouts", "none")
VERDICTS = ("reachable", "isolated")


def _str(description: str, example: str | None = None, **extra: Any) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string", "minLength": 1, "description": description, **extra}
    if example is not None:
        schema["x-example"] = example
    return schema


def _obj(properties: dict[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": list(required), "additionalProperties": False}


def _list(items: dict[str, Any], description: str, min_items: int = 0) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "array", "items": items, "description": description}
    if min_items:
        schema["minItems"] = min_items
    return schema


_STRING_MAP = {"type": "object", "additionalProperties": {"type": "string"}}

_BOOL = {"type": "boolean"}
_VLAN = {"type": "integer", "minimum": 1, "maximum": 4094, "x-what": "VLAN id", "description": "802.1Q VLAN id"}
_MTU = {"type": "integer", "minimum": 68, "maximum": 9216, "x-what": "MTU", "description": "MTU in bytes"}
_PLUGIN = {"type": "string", "enum": list(PLUGIN_MODES), "x-what": "CNI plugin", "description": "CNI plugin type"}
_MODE = {"type": "string", "minLength": 1, "x-what": "mode", "description": "plugin mode"}

NETWORK = _obj(
    {
        "name": _str("network name", "restricted"),
        "subnet": _str("IPv4 CIDR", "192.168.112.0/24"),
        "vlan": _VLAN,
        "gateway": _str("gateway IPv4 address inside the subnet", "192.168.112.1"),
        "routed": {"type": "boolean", "description": "whether the network is routed to others"},
        "mtu": _MTU,
        "unknownNeighbours": {"type": "string", "enum": ["report", "fail"], "x-what": "unknown-neighbour policy",
                              "description": "a host on this VLAN the topology does not declare: a finding the "
                                             "report lists (report, the default) or a failed census (fail)"},
    },
    ("name", "subnet"),
)

NIC = _obj(
    {
        "name": _str("Linux interface name", "ens224"),
        "network": _str("network of an access port", "restricted"),
        "address": _str("IPv4 interface address", "192.168.111.21/24"),
        "mtu": _MTU,
        "trunk": _list(_str("network name carried tagged"), "networks carried tagged", 1),
        "parent": _str("trunk NIC this VLAN sub-interface sits on", "ens224"),
        "vlan": _VLAN,
    },
    ("name",),
)

NODE_BRIDGE = _obj(
    {
        "name": _str("Linux bridge name", "br-multus"),
        "uplink": _str("node NIC enslaved to the bridge (joins its network); omit for a node-local bridge", "ens257"),
        "vlanFiltering": {**_BOOL, "description": "VLAN-aware bridge (the bridge plugin only turns it on for a "
                                                  "bridge it creates itself)"},
    },
    ("name",),
)

NODE = _obj(
    {
        "name": _str("node name", "node1"),
        "labels": _STRING_MAP,
        "nics": _list(NIC, "node NICs", 1),
        "bridges": _list(NODE_BRIDGE, "Linux bridges on the node that bridge NADs use"),
    },
    ("name", "nics"),
)

EXTERNAL_HOST = _obj(
    {
        "name": _str("host name", "gateway"),
        "network": _str("network name", "openshift"),
        "address": _str("IPv4 interface address", "192.168.111.1/24"),
        "mac": _str("MAC address", "02:00:00:00:00:01"),
        "dhcpServer": {"type": "boolean", "description": "runs a DHCP server for its network"},
        "dhcpDefaultRoute": {"type": "boolean",
                             "description": "the DHCP server may hand out itself as default router"},
    },
    ("name", "network", "address"),
)

IPAM = {
    "type": "object",
    "properties": {
        "type": {
            "type": "string",
            "enum": list(IPAM_TYPES),
            "x-what": "IPAM type",
            "x-example": "static",
            "description": "IPAM plugin",
        }
    },
    "required": ["type"],
    "additionalProperties": True,  # passed through to the IPAM plugin
}


TUNING = _obj(
    {
        "mac": _str("MAC address the tuning plugin sets", "02:00:00:00:00:01"),
        "promisc": {"type": "boolean", "description": "promiscuous mode on the pod's interface"},
        "sysctl": {"type": "object", "additionalProperties": {"type": ["string", "integer"]},
                   "description": "sysctls set in the pod, e.g. net.ipv4.conf.net1.arp_ignore: '1'"},
    }
)

ATTACHMENT = _obj(
    {
        "name": _str("NAD name", "net1"),
        "namespace": _str("namespace", "multus-test"),
        "network": _str("network name", "restricted"),
        "plugin": _PLUGIN,
        "mode": _MODE,
        "master": _str("master NIC name (omit: the node's default-route interface)", "ens224"),
        "mtu": _MTU,
        "ipam": IPAM,
        "bridge": _str("bridge plugin: the node's bridge", "br-multus"),
        "vlan": {**_VLAN, "description": "bridge plugin: the VLAN tag of the pod's bridge port"},
        "isGateway": {**_BOOL, "description": "bridge plugin: the bridge holds the gateway address"},
        "ipMasq": {**_BOOL, "description": "bridge plugin: masquerade traffic leaving the subnet"},
        "hairpinMode": {**_BOOL, "description": "bridge plugin: hairpin on the pod's bridge port"},
        "device": _str("host-device plugin: the node link moved into the pod", "ens257"),
        "tuning": TUNING,
        "chain": _list({"type": "object", "required": ["type"], "additionalProperties": True,
                        "properties": {"type": {"type": "string", "minLength": 1}}},
                       "meta plugins chained after the main one (a conflist), as CNI configs"),
    },
    ("name", "namespace", "network", "plugin"),
)

POD_NETWORK = _obj(
    {
        "attachment": _str("NAD name or namespace/name", "net1"),
        "interface": _str("interface name in the pod", "net1"),
        "ips": _list(_str("IPv4 interface address"), "static addresses"),
        "mac": _str("MAC address", "02:00:00:00:00:01"),
        "namespace": _str("namespace of the NAD", "multus-test"),
        "defaultRoute": _list(_str("IPv4 gateway", "192.168.112.254"),
                              "Multus default-route: the pod's default route goes via this gateway on this interface"),
    },
    ("attachment",),
)

POD = _obj(
    {
        "name": _str("pod name", "pod-a"),
        "namespace": _str("namespace", "multus-test"),
        "nodeSelector": _STRING_MAP,
        "networks": _list(POD_NETWORK, "secondary networks"),
        "expect": {"type": "string", "enum": ["attachFails"], "x-what": "pod expectation",
                   "description": "attachFails: the pod's networks must fail to attach (with reason)"},
        "reason": _str("text the attach failure must contain (the plugin's or Multus's message)",
                       "expected to be in CIDR notation"),
    },
    ("name", "namespace"),
)

MULTUS = _obj(
    {
        "namespaceIsolation": {**_BOOL, "description": "pods may only use NADs of their own namespace"},
        "nonIsolatedNamespaces": _list(_str("namespace", "default"), "namespaces any pod may use NADs from"),
    }
)

EXPECTATION = _obj(
    {
        "from": _str("source network", "restricted"),
        "to": _str("target network", "openshift"),
        "expect": {"type": "string", "enum": list(VERDICTS), "x-what": "verdict", "description": "verdict"},
        "why": {"type": "string", "description": "explanation shown in reports"},
    },
    ("from", "to", "expect"),
)

ROUTER = _obj(
    {
        "name": _str("router name", "leak"),
        "legs": _list(
            _obj(
                {"network": _str("network name"), "address": _str("IPv4 interface address", "192.168.112.254/24")},
                ("network", "address"),
            ),
            "router legs",
            1,
        ),
        "proxyArp": {"type": "boolean", "description": "answer ARP for other legs' subnets"},
        "forward": _list(_str("direction 'from-network -> to-network'", "restricted -> dmz"),
                         "directions it forwards (default: every direction)"),
        "stateful": {"type": "boolean", "description": "answers to a forwarded direction come back (a stateful "
                                                       "firewall)"},
        "protocols": _list({"type": "string", "enum": ["icmp", "udp", "tcp"], "x-what": "IP protocol",
                            "description": "IP protocol"}, "IP protocols it forwards (default: all)"),
        "nat": {"type": "boolean", "description": "masquerade what it forwards (source NAT)"},
    },
    ("name", "legs"),
)

IMPOSTOR = _obj(
    {
        "name": _str("impostor name", "impostor"),
        "network": _str("network name", "restricted"),
        "claims": _str("IPv4 address it answers ARP for", "192.168.112.11"),
    },
    ("name", "network", "claims"),
)

LEAK = _obj(
    {
        "name": _str("leak name", "leak"),
        "networks": _list(_str("network name"), "networks bridged together", 2),
    },
    ("name", "networks"),
)

DRIFT = _obj(
    {
        "nadPlugin": {
            "type": "object",
            "additionalProperties": _obj({"plugin": _PLUGIN, "mode": _MODE}, ("plugin",)),
        },
        "podNode": _STRING_MAP,
        "podIps": {"type": "object", "additionalProperties": _list(_str("IPv4 interface address"), "addresses")},
        "removeExternalHosts": _list(_str("external host name"), "hosts to leave out"),
        "dhcpDefaultRoute": _list(_str("external host name"), "DHCP servers that hand out a default route anyway"),
        "bridgePortVlan": {"type": "object", "additionalProperties": _VLAN,
                           "description": "'pod/iface': the VLAN its bridge port is re-tagged to after CNI ADD"},
        "hostDeviceKept": _list(_str("pod/iface", "pod-a/net1"),
                                "host-device interfaces renamed in the pod, so CNI DEL cannot return them"),
        "dropChain": _list(_str("NAD name", "net1"), "NADs applied without their chained plugins"),
        "nicDown": _list(_str("node/nic", "node1/ens224"), "node NICs taken down after the node is built"),
    }
)

LAB = _obj(
    {
        "routers": _list(ROUTER, "lab routers"),
        "impostors": _list(IMPOSTOR, "lab ARP impostors"),
        "leaks": _list(LEAK, "lab L2 leaks between VLANs"),
        "drift": DRIFT,
    }
)

TOPOLOGY_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://netattest.invalid/schema/topology-v1.json",
    "title": "netattest topology",
    **_obj(
        {
            "apiVersion": {
                "type": "string",
                "const": API_VERSION,
                "x-what": "apiVersion",
                "x-example": API_VERSION,
            },
            "kind": {"type": "string", "const": KIND, "x-what": "kind", "x-example": KIND},
            "name": _str("topology name", "restricted-vlan"),
            "description": {"type": "string", "description": "free text"},
            "networks": _list(NETWORK, "VLANs / L2 segments", 1),
            "nodes": _list(NODE, "cluster nodes", 1),
            "externalHosts": _list(EXTERNAL_HOST, "hosts that are not pods"),
            "attachments": _list(ATTACHMENT, "NetworkAttachmentDefinitions"),
            "pods": _list(POD, "pods"),
            "expectations": _list(EXPECTATION, "reachability expectations"),
            "multus": MULTUS,
            "lab": LAB,
        },
        ("apiVersion", "kind", "name", "networks", "nodes"),
    ),
}
