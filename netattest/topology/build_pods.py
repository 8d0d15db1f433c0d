"""Pods with their nodeSelector and networks annotation, and the expectations between networks.

A pod's networks are checked the way Multus and the plugins will treat them: the NAD exists (or the pod expects its
attachment to fail), Multus's namespace isolation, addresses inside the VLAN and fitting the NAD's IPAM, at most one
``default-route``, and a node to land on where the NAD's master (or device, or bridge uplink) is wired to the NAD's
network. A pod with ``expect: attachFails`` skips what would make its failure impossible to express.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NoReturn

from .build_base import BuilderBase
from .model import HOSTNAME_LABEL, MASTER_PLUGINS, Attachment, Expectation, Nic, Node, Pod, PodNetwork
from .wording import Path, _choose, _listing


def _master_fits(nic: Nic, attachment: Attachment) -> bool:
    """ipvlan/macvlan children join the master's own (untagged) network; the vlan plugin tags on a trunk."""
    if attachment.plugin == "vlan":
        return attachment.network in nic.trunk
    return nic.network == attachment.network


class PodSection(BuilderBase):
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
            fails = self.attach_fails(path, raw, key)
            candidates = self.nodes_matching(selector)
            if not candidates:
                self.no_node(path, key, selector)
            interfaces: dict[str, Path] = {}
            networks = tuple(
                self.pod_network(path + ("networks", j), j, key, namespace, net, candidates, interfaces, fails)
                for j, net in enumerate(raw.get("networks", []))
            )
            if not fails:
                routes = [(j, n) for j, n in enumerate(networks) if n.default_route]
                if len(routes) > 1 or any(len(n.default_route) > 1 for _, n in routes):
                    self.fail(path + ("networks", routes[-1][0], "defaultRoute"),
                              f"pod {key} asks for more than one default-route gateway: Multus refuses it "
                              "('multus does not support ECMP for default-route')",
                              "keep one, or expect: attachFails to test the refusal")
            self.pods[(namespace, name)] = Pod(name, namespace, selector, networks, fails)
        return tuple(self.pods.values())

    def attach_fails(self, path: Path, raw: dict[str, Any], key: str) -> str | None:
        if "expect" not in raw:
            if "reason" in raw:
                self.fail(path + ("reason",), f"pod {key} has a reason but no expectation",
                          "add expect: attachFails, or remove reason")
            return None
        if "reason" not in raw:
            self.fail(path + ("reason",), f"pod {key} expects its attachment to fail, but says not why",
                      "add reason: <text of the plugin's or Multus's message>, e.g. 'CIDR notation'")
        if not raw.get("networks"):
            self.fail(path + ("networks",), f"pod {key} expects its attachment to fail but requests no network",
                      "give it the network entry that must fail")
        return str(raw["reason"])

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
        fails: str | None,
    ) -> PodNetwork:
        iface = self.pod_interface(path, index, pod, raw, interfaces)
        attachment, namespace, name = self.attachment_ref(path, raw, pod_namespace, fails)
        if attachment is None:  # a missing NAD, on purpose: the pod expects its attachment to fail
            return PodNetwork(name, iface, (), None, namespace)
        self.namespace_isolation(path, pod, pod_namespace, attachment, fails)
        network = self.networks[attachment.network]
        ips = tuple(self.interface(path + ("ips", k), v, network) for k, v in enumerate(raw.get("ips", [])))
        for k, ip in enumerate(ips):
            self.claim_ip(ip.ip, f"pod {pod} {iface}", path + ("ips", k))
        ipam = attachment.ipam.type
        if ipam == "static" and not ips and not attachment.ipam.config.get("addresses") and not fails:
            self.fail(
                path,
                f"NAD {attachment.key} uses static IPAM without addresses, so pod {pod} must list its address "
                f"for {iface}",
                f"add ips: [<address in {network.subnet}>] to this network entry, or addresses to the NAD's ipam",
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
        gateways = tuple(self.address(path + ("defaultRoute", k), v, network)
                         for k, v in enumerate(raw.get("defaultRoute", [])))
        if not fails:
            self.check_landing(path, pod, attachment, candidates)
        return PodNetwork(attachment.name, iface, ips, mac, namespace, gateways)

    def attachment_ref(self, path: Path, raw: dict[str, Any], pod_namespace: str,
                       fails: str | None) -> tuple[Attachment | None, str | None, str]:
        """Resolve ``attachment`` (name or ns/name) plus optional ``namespace``; returns the NAD (None when it does
        not exist and the pod expects that), the explicit namespace (None when the pod's own applies) and the
        name, normalised so it never contains '/'."""
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
            if fails:
                return None, namespace, name
            known = [a.name for a in self.attachments.values() if a.namespace == target]
            elsewhere = [a.key for a in self.attachments.values() if a.name == name]
            if elsewhere:
                fix = f"write attachment: {elsewhere[0]} (NADs are per namespace), or define {name} in {target}"
            else:
                fix = f"define it under attachments, or {_choose(name, known)}" if known else "define it first"
            self.fail(path + ("attachment",), f"attachment {target}/{name} not found", fix + "; or expect: "
                                                                                         "attachFails")
        return self.attachments[(target, name)], namespace, name

    def namespace_isolation(self, path: Path, pod: str, pod_namespace: str, attachment: Attachment,
                            fails: str | None) -> None:
        multus = self.multus
        if (fails or not multus.namespace_isolation or attachment.namespace == pod_namespace
                or attachment.namespace in multus.non_isolated_namespaces):
            return
        self.fail(path + ("attachment",),
                  f"pod {pod} uses NAD {attachment.key} from another namespace, which Multus's namespaceIsolation "
                  "refuses ('namespace isolation enabled, annotation violates permission')",
                  f"define the NAD in {pod_namespace}, list {attachment.namespace} in multus.nonIsolatedNamespaces, "
                  "or expect: attachFails to test the refusal")

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
        """A pod can only attach on a node where the NAD's master (or device, or bridge uplink) is wired to the
        NAD's network; a master-less NAD uses each node's default-route interface."""
        if attachment.plugin == "bridge":
            self.check_bridge(path, pod, attachment, candidates)
            return
        link = attachment.device if attachment.plugin == "host-device" else attachment.master
        what = "device" if attachment.plugin == "host-device" else "master"
        if link is None:  # the node's default-route interface
            resolved = [(n, attachment.master_on(n, self.networks)) for n in candidates]
            found = [(n, m) for n, m in resolved if m is not None]
            if not found:
                self.fail(path + ("attachment",),
                          f"pod {pod} uses NAD {attachment.key}, which has no master, so the plugin takes the node's "
                          f"default-route interface, but no node its nodeSelector matches "
                          f"({_listing(n.name for n in candidates)}) has one (a NIC with an address in a network "
                          "with a gateway)",
                          "set the NAD's master, or give the nodes an address in a network with a gateway")
            for node, master in found:
                self.check_master_nic(path, pod, attachment, node, master)  # type: ignore[arg-type]
            return
        holders = [n for n in candidates if n.nic(link)]
        if not holders:
            having = [n.name for n in self.nodes.values() if n.nic(link)]
            matched = _listing(n.name for n in candidates)
            self.fail(
                path + ("attachment",),
                f"pod {pod} uses NAD {attachment.key} whose {what} {link} is absent on every node its "
                f"nodeSelector matches ({matched}); {link} exists on {_listing(having)}",
                f"change the pod's nodeSelector or label one of {_listing(having)} to match it, "
                f"or set the NAD's {what} to a NIC of {matched}",
            )
        for node in holders:
            self.check_master_nic(path, pod, attachment, node, link)

    def check_bridge(self, path: Path, pod: str, attachment: Attachment, candidates: tuple[Node, ...]) -> None:
        """A declared node bridge with an uplink must have it wired to the NAD's network (a bridge the node does
        not declare is created by the plugin: node-local)."""
        assert attachment.bridge is not None
        for node in candidates:
            bridge = node.bridge(attachment.bridge.name)
            nic = node.nic(bridge.uplink) if bridge and bridge.uplink else None
            if nic is not None and nic.network != attachment.network:
                self.fail(path + ("attachment",),
                          f"pod {pod} can land on node {node.name}, whose bridge {bridge.name} has uplink "  # type: ignore[union-attr]
                          f"{nic.name} in network {nic.network}, but NAD {attachment.key} is on {attachment.network}",
                          "wire the uplink to the NAD's network, or narrow the pod's nodeSelector")

    def check_master_nic(self, path: Path, pod: str, attachment: Attachment, node: Node, link: str) -> None:
        nic = node.nic(link)
        if nic is None:
            return
        if attachment.plugin == "vlan":
            need = f"a trunk carrying network {attachment.network}"
        else:
            need = f"a NIC in network {attachment.network} (access port or VLAN sub-interface)"
        if not _master_fits(nic, attachment):
            wiring = f"a trunk carrying {', '.join(nic.trunk)}" if nic.trunk else f"in network {nic.network}"
            fitting = [n.name for n in node.nics if _master_fits(n, attachment)]
            role = "master" if attachment.plugin in MASTER_PLUGINS else "device"
            use = (
                f"set the NAD's {role} to {' or '.join(fitting)}" if fitting else f"wire {nic.name} on {node.name}"
            )
            self.fail(
                path + ("attachment",),
                f"pod {pod} can land on node {node.name}, where {role} {nic.name} of NAD {attachment.key} is "
                f"{wiring}, but the {attachment.plugin} NAD needs {need}",
                f"{use}, or narrow the pod's nodeSelector",
            )
        if attachment.mtu is not None and attachment.mtu > nic.mtu:
            role = "master" if attachment.plugin in MASTER_PLUGINS else "device"
            self.fail(
                path + ("attachment",),
                f"NAD {attachment.key} has mtu {attachment.mtu}, more than {role} {nic.name}'s "
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
