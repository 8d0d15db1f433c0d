"""What runs on the wires: NetworkAttachmentDefinitions, pods with their networks annotation and nodeSelector, and
the expectations between networks. Each NAD must be usable where its pods can land (master present and wired to the
NAD's network); each pod's addresses must fit its NAD's IPAM."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NoReturn

from .build_base import BuilderBase
from .model import HOSTNAME_LABEL, Attachment, Expectation, Ipam, Nic, Node, Pod, PodNetwork
from .wording import Path, _choose, _did_you_mean, _int, _listing, _q


def _master_fits(nic: Nic, attachment: Attachment) -> bool:
    """ipvlan/macvlan children join the master's own (untagged) network; the vlan plugin tags on a trunk."""
    if attachment.plugin == "vlan":
        return attachment.network in nic.trunk
    return nic.network == attachment.network



class WorkloadSection(BuilderBase):
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
            master = self.ifname(path + ("master",), raw["master"], "master NIC")
            if not any(node.nic(master) for node in self.nodes.values()):
                nics = sorted({nic.name for node in self.nodes.values() for nic in node.nics})
                self.fail(
                    path + ("master",),
                    f"master NIC {_q(master)} of NAD {namespace}/{name} exists on no node",
                    f"set master to a NIC the nodes have: {_listing(nics)}{_did_you_mean(master, nics)}; "
                    f"or add {master} to the nodes",
                )
            ipam_raw = raw["ipam"]
            ipam = Ipam(ipam_raw["type"], {k: v for k, v in ipam_raw.items() if k != "type"})
            mtu = _int(raw.get("mtu"))
            attachment = Attachment(name, namespace, network.name, plugin, mode, master, ipam, mtu)
            self.attachments[(namespace, name)] = attachment
        return tuple(self.attachments.values())

    # -- pods --------------------------------------------------------------------------------------------------

    def build_pods(self) -> tuple[Pod, ...]:
        for path, raw in self.items("pods"):
            name = self.k8s_name(path + ("name",), raw["name"], "pod name")
            namespace = self.k8s_name(path + ("namespace",), raw["namespace"], "namespace")
            key = f"{namespace}/{name}"
            if (namespace, name) in self.pods:
                first = next(p for p, r in self.items("pods") if (r["namespace"], r["name"]) == (namespace, name))
                self.fail(
                    path + ("name",), f"duplicate pod {key} (first at {self.at(first)})", "rename one of them"
                )
            selector = self.labels(
                path + ("nodeSelector",), raw.get("nodeSelector", {}), f"pod {key} nodeSelector"
            )
            candidates = self.nodes_matching(selector)
            if not candidates:
                self.no_node(path, key, selector)
            interfaces: dict[str, Path] = {}
            networks = tuple(
                self.pod_network(path + ("networks", j), j, key, namespace, net, candidates, interfaces)
                for j, net in enumerate(raw.get("networks", []))
            )
            self.pods[(namespace, name)] = Pod(name, namespace, selector, networks)
        return tuple(self.pods.values())

    def nodes_matching(self, selector: Mapping[str, str]) -> tuple[Node, ...]:
        """The model's nodeSelector semantics (implicit hostname label included), before the Topology exists."""
        return tuple(
            n for n in self.nodes.values() if all(n.all_labels().get(k) == v for k, v in selector.items())
        )

    def no_node(self, path: Path, key: str, selector: Mapping[str, str]) -> NoReturn:
        described = [
            f"{n.name}: " + (", ".join(f"{k}={v}" for k, v in n.labels.items()) or "(no labels)")
            for n in self.nodes.values()
        ]
        summary = _listing(described, sep="; ")
        summary += f"; every node also has {HOSTNAME_LABEL}=<its name>"
        for label, value in selector.items():
            if not any(n.all_labels().get(label) == value for n in self.nodes.values()):
                self.fail(
                    path + ("nodeSelector", label),
                    f"pod {key} selects nodes with {label}={value}, but no node carries that label "
                    f"(node labels: {summary})",
                    f"label a node (kubectl label node <node> {label}={value}), or fix the selector",
                )
        pairs = ", ".join(f"{k}={v}" for k, v in selector.items())
        self.fail(
            path + ("nodeSelector",),
            f"pod {key} selects nodes with {pairs}, but no single node carries all of them "
            f"(node labels: {summary})",
            "label one node with all of them, or drop a selector entry",
        )

    def pod_network(
        self,
        path: Path,
        index: int,
        pod: str,
        pod_namespace: str,
        raw: dict[str, Any],
        candidates: tuple[Node, ...],
        interfaces: dict[str, Path],
    ) -> PodNetwork:
        attachment, namespace = self.attachment_ref(path, raw, pod_namespace)
        iface = self.pod_interface(path, index, pod, raw, interfaces)
        network = self.networks[attachment.network]
        ips = tuple(self.interface(path + ("ips", k), v, network) for k, v in enumerate(raw.get("ips", [])))
        for k, ip in enumerate(ips):
            self.claim_ip(ip.ip, f"pod {pod} {iface}", path + ("ips", k))
        ipam = attachment.ipam.type
        if ipam == "static" and not ips:
            self.fail(
                path,
                f"NAD {attachment.key} uses static IPAM, so pod {pod} must list its address for {iface}",
                f"add ips: [<address in {network.subnet}>] to this network entry",
            )
        if ipam == "dhcp" and ips:
            self.fail(
                path + ("ips",), f"NAD {attachment.key} uses dhcp IPAM, which ignores requested ips", "remove ips"
            )
        mac = None
        if "mac" in raw:
            if attachment.plugin == "ipvlan":
                self.fail(
                    path + ("mac",),
                    f"NAD {attachment.key} is ipvlan, whose interfaces always carry the master's MAC",
                    "remove mac, or use a macvlan NAD",
                )
            mac = self.mac(path + ("mac",), raw["mac"], f"pod {pod} {iface}")
        self.check_landing(path, pod, attachment, candidates)
        return PodNetwork(attachment.name, iface, ips, mac, namespace)

    def attachment_ref(self, path: Path, raw: dict[str, Any], pod_namespace: str) -> tuple[Attachment, str | None]:
        """Resolve ``attachment`` (name or ns/name) plus optional ``namespace``; returns the NAD and the explicit
        namespace (None when the pod's own applies), normalised so the name never contains '/'."""
        ref, namespace = raw["attachment"], raw.get("namespace")
        name = ref
        if "/" in ref:
            ref_namespace, _, name = ref.partition("/")
            if namespace is not None and namespace != ref_namespace:
                self.fail(
                    path + ("namespace",),
                    f"attachment {ref} names namespace {ref_namespace} but namespace says {namespace}",
                    "give the namespace once",
                )
            namespace = ref_namespace
        if namespace is not None:
            self.k8s_name(path + ("attachment",), namespace, "attachment namespace")
        self.k8s_name(path + ("attachment",), name, "attachment name")
        target = namespace or pod_namespace
        if (target, name) not in self.attachments:
            known = [a.name for a in self.attachments.values() if a.namespace == target]
            elsewhere = [a.key for a in self.attachments.values() if a.name == name]
            if elsewhere:
                fix = f"write attachment: {elsewhere[0]} (NADs are per namespace), or define {name} in {target}"
            else:
                fix = f"define it under attachments, or {_choose(name, known)}" if known else "define it first"
            self.fail(path + ("attachment",), f"attachment {target}/{name} not found", fix)
        return self.attachments[(target, name)], namespace

    def pod_interface(
        self, path: Path, index: int, pod: str, raw: dict[str, Any], interfaces: dict[str, Path]
    ) -> str:
        """The interface name, defaulted as Multus does (net1, net2, ... by position)."""
        iface = self.ifname(path + ("interface",), raw.get("interface", f"net{index + 1}"))
        if iface in ("eth0", "lo"):
            self.fail(
                path + ("interface",),
                f"{iface} is the pod's own {'primary' if iface == 'eth0' else 'loopback'} interface",
                "use net1, net2, ...",
            )
        if iface in interfaces:
            self.fail(
                path + ("interface",),
                f"pod {pod} already has an interface {iface} (from {self.at(interfaces[iface])})",
                "give each network entry its own interface name",
            )
        interfaces[iface] = path
        return iface

    def check_landing(self, path: Path, pod: str, attachment: Attachment, candidates: tuple[Node, ...]) -> None:
        """A pod can only attach on a node that has the NAD's master, wired to the NAD's network."""
        master = attachment.master
        holders = [n for n in candidates if n.nic(master)]
        if not holders:
            having = [n.name for n in self.nodes.values() if n.nic(master)]
            matched = _listing(n.name for n in candidates)
            self.fail(
                path + ("attachment",),
                f"pod {pod} uses NAD {attachment.key} whose master {master} is absent on every node its "
                f"nodeSelector matches ({matched}); {master} exists on {_listing(having)}",
                f"change the pod's nodeSelector or label one of {_listing(having)} to match it, "
                f"or set the NAD's master to a NIC of {matched}",
            )
        for node in holders:
            self.check_master_nic(path, pod, attachment, node)

    def check_master_nic(self, path: Path, pod: str, attachment: Attachment, node: Node) -> None:
        nic = node.nic(attachment.master)
        if nic is None:
            return
        if attachment.plugin == "vlan":
            need = f"a trunk carrying network {attachment.network}"
        else:
            need = f"a NIC in network {attachment.network} (access port or VLAN sub-interface)"
        if not _master_fits(nic, attachment):
            wiring = f"a trunk carrying {', '.join(nic.trunk)}" if nic.trunk else f"in network {nic.network}"
            fitting = [n.name for n in node.nics if _master_fits(n, attachment)]
            use = (
                f"set the NAD's master to {' or '.join(fitting)}" if fitting else f"wire {nic.name} on {node.name}"
            )
            self.fail(
                path + ("attachment",),
                f"pod {pod} can land on node {node.name}, where master {nic.name} of NAD {attachment.key} is "
                f"{wiring}, but the {attachment.plugin} NAD needs {need}",
                f"{use}, or narrow the pod's nodeSelector",
            )
        if attachment.mtu is not None and attachment.mtu > nic.mtu:
            self.fail(
                path + ("attachment",),
                f"NAD {attachment.key} has mtu {attachment.mtu}, more than master {nic.name}'s "
                f"{nic.mtu} on node {node.name}",
                f"lower the NAD's mtu to at most {nic.mtu}, or raise the NIC's mtu",
            )

    # -- expectations ------------------------------------------------------------------------------------------

    def build_expectations(self) -> tuple[Expectation, ...]:
        seen: dict[tuple[str, str], Path] = {}
        out = []
        for path, raw in self.items("expectations"):
            source = self.network_ref(path + ("from",), raw["from"]).name
            target = self.network_ref(path + ("to",), raw["to"]).name
            if (source, target) in seen:
                self.fail(
                    path,
                    f"a second expectation for {source} -> {target} (first at {self.at(seen[(source, target)])})",
                    "keep one expectation per (from, to) pair",
                )
            seen[(source, target)] = path
            out.append(Expectation(source, target, raw["expect"], raw.get("why", "")))
        return tuple(out)
