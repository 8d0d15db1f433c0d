"""Observe what a cluster run built: interfaces, routes and sysctls inside the pods, NICs, routes and
bridge ports on the nodes (their host-network pods), external hosts on the wire, the NADs as applied."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from netattest.annotations import NETWORK_STATUS_ANNOTATION, parse_network_status
from netattest.errors import AnnotationError, ProbeAgentError
from netattest.inventory import BridgePort, HostView, InterfaceView, Inventory, NodeView, PodAttachment, PodView
from netattest.k8s import names
from netattest.k8s.plan import (
    NAD_GROUP,
    NAD_PLURAL,
    NAD_VERSION,
)
from netattest.manifests import config_plugins
from netattest.probe.engine import Answer, Endpoint, Probe
from netattest.routes import default_device
from netattest.targets.kubernetes.state import (
    NODE_ROUTE_PREFIX,
    ROUTE_PREFIX,
    TargetState,
    _interface,
    _route,
)


class Observation(TargetState):
    # -- 6. external hosts --------------------------------------------------------------------------------
    def _pod_interfaces(self) -> dict[str, dict[str, InterfaceView]]:
        """route -> interfaces read inside the pod (in parallel)."""
        routes = list(self.agents)
        if not routes:
            return {}
        with ThreadPoolExecutor(max_workers=min(16, len(routes))) as pool:
            lists = list(pool.map(lambda r: self.agents[r].interfaces(timeout=self.options.agent_timeout), routes))
        return {r: {i["name"]: _interface(i) for i in items} for r, items in zip(routes, lists, strict=True)}

    def _pod_routes(self) -> dict[str, list[str]]:
        """route -> the pod's IPv4 routing table, read inside the pod (in parallel); absent when unreadable."""
        routes = list(self.agents)
        if not routes:
            return {}

        def read(route: str) -> list[str]:
            try:
                return [str(r) for r in self.agents[route].request("routes", self.options.agent_timeout)["routes"]]
            except ProbeAgentError as exc:
                self.notes.append(f"routes of {route[len(ROUTE_PREFIX):]} could not be read: {exc}")
                return []

        with ThreadPoolExecutor(max_workers=min(16, len(routes))) as pool:
            return dict(zip(routes, pool.map(read, routes), strict=True))

    def _read_sysctls(self, pods: list[PodView]) -> None:
        """The tuning sysctls of each pod's NADs, read inside the pod by its agent."""
        for view in pods:
            names = [k for a in view.attachments if a.attachment.tuning for k in a.attachment.tuning.sysctl]
            agent = self.agents.get(str(view.netns))
            if not names or agent is None:
                continue
            try:
                view.sysctls = dict(agent.request("sysctls", self.options.agent_timeout, names=names)["sysctls"])
            except ProbeAgentError as exc:
                self.notes.append(f"sysctls of {view.key} could not be read: {exc}")

    def _node_reads(self, op: str) -> dict[str, list[Any]]:
        nodes = list(self.node_agents)
        if not nodes:
            return {}

        def read(node: str) -> list[dict[str, Any]]:
            try:
                return list(self.node_agents[node].request(op, self.options.agent_timeout)[op])
            except ProbeAgentError as exc:
                self.notes.append(f"node {node}: {op} could not be read: {exc}")
                return []

        with ThreadPoolExecutor(max_workers=min(16, len(nodes))) as pool:
            return dict(zip(nodes, pool.map(read, nodes), strict=True))

    def _discover_hosts(self) -> None:
        """External hosts as seen on the wire: ARP from a pod of the host's VLAN; else the nodes' ARP tables."""
        if not self.topology.external_hosts:
            return
        interfaces = self._pod_interfaces()
        senders: dict[str, tuple[str, InterfaceView]] = {}  # network -> (route, interface of a pod on it)
        for pod in self.topology.pods:
            state = self.probe_pods.get(pod.key)
            if state is None or not state.running:
                continue
            route = _route(state.namespace, state.name)
            for net in pod.networks:
                attachment = self.topology.nad_of(pod, net)
                if attachment is None:
                    continue
                network = attachment.network
                iface = interfaces.get(route, {}).get(net.interface)
                if network not in senders and iface is not None and iface.ips and iface.mac:
                    senders[network] = (route, iface)
        probes = []
        for host in self.topology.external_hosts:
            if host.network in senders:
                route, iface = senders[host.network]
                probes.append(Probe(f"host:{host.name}", "arp", Endpoint(route, iface.name, iface.ips[0], iface.mac,
                                                                            f"{route}:{iface.name}"),
                                    str(host.address.ip)))
        answers: dict[str, list[Answer]] = {}
        if probes:
            results, _ = self.probe(probes)
            answers = {r.probe.id.split(":", 1)[1]: r.answers for r in results}
        neighbours = self._node_reads("neighbours") if any(h.network not in senders
                                                           for h in self.topology.external_hosts) else {}
        for host in self.topology.external_hosts:
            ip = str(host.address.ip)
            if host.network in senders:
                heard = answers.get(host.name) or []
                if not heard:
                    self.notes.append(f"external host {host.name} ({ip}) did not answer ARP from "
                                      f"{senders[host.network][0][len(ROUTE_PREFIX):]}: not present on "
                                      f"{host.network}")
                    continue
                mac = heard[0].mac
                how = "ARP"
            else:
                seen = [e for entries in neighbours.values() for e in entries if e.get("ip") == ip]
                mac = seen[0]["mac"] if seen else ""
                how = "node ARP table" if seen else "topology"
                self.notes.append(f"external host {host.name} on {host.network}: no probe pod sits on that network, "
                                  f"so its address comes from the topology (MAC from the {how}); it serves as an "
                                  "isolation target only")
            view = InterfaceView("eth0", mac, (str(host.address),), "", 0, True)
            self.hosts.append(HostView(host.name, host.network, view, "external", None))

    # -- inventory ----------------------------------------------------------------------------------------
    def inventory(self) -> Inventory:
        assert self.plan is not None
        selector = names.run_selector(self.run_id)
        listed: dict[tuple[str, str], dict[str, Any]] = {}
        for ns in self.plan.namespaces.values():
            if ns in self.created_namespaces:
                for pod in self.cluster.list_pods(ns, selector):
                    listed[(ns, pod["metadata"]["name"])] = pod
        interfaces = self._pod_interfaces()
        node_nics = {node: {i["name"]: _interface(i) for i in items}
                     for node, items in self._node_reads("interfaces").items()}
        applied = self._applied_nads()
        routes = self._pod_routes()
        self._node_routes = self._node_reads("routes")
        self._default_devs = {node: dev for node, table in self._node_routes.items()
                              for dev in [default_device(table)] if dev}
        pods = [self._pod_view(pod, listed, interfaces, node_nics, applied) for pod in self.topology.pods]
        for view in pods:
            view.routes = routes.get(str(view.netns), [])
        self._read_sysctls(pods)
        nodes = self._node_views(pods, node_nics)
        if any(a.plugin == "bridge" for a in self.topology.attachments):  # read by the nodes' host-network pods
            ports = self._node_reads("bridge_ports")
            for node_view in nodes:
                node_view.bridge_ports = [BridgePort.from_wire(p) for p in ports.get(node_view.name, [])]
        notes = list(dict.fromkeys(self.notes))
        return Inventory(self.run_id, "kubernetes", pods, nodes, list(self.hosts), notes=notes)

    def _applied_nads(self) -> dict[tuple[str, str], dict[str, Any]]:
        """The NADs as they exist on the cluster: (topology namespace, name) -> CNI config (observed)."""
        from netattest.k8s.api import NotFound

        assert self.plan is not None
        found: dict[tuple[str, str], dict[str, Any]] = {}
        for att in self.topology.attachments:
            try:
                nad = self.cluster.get_custom(NAD_GROUP, NAD_VERSION, NAD_PLURAL,
                                              self.plan.real_namespace(att.namespace), att.name)
                found[(att.namespace, att.name)] = json.loads((nad.get("spec") or {}).get("config") or "{}")
            except NotFound:
                continue
            except ValueError:
                found[(att.namespace, att.name)] = {}
        return found

    def _pod_view(self, pod: Any, listed: dict[tuple[str, str], dict[str, Any]],
                  interfaces: dict[str, dict[str, InterfaceView]], node_nics: dict[str, dict[str, InterfaceView]],
                  applied: dict[tuple[str, str], dict[str, Any]]) -> PodView:
        assert self.plan is not None
        state = self.probe_pods.get(pod.key)
        ns = self.plan.real_namespace(pod.namespace)
        obj = listed.get((ns, pod.name)) or (state.pod if state else {})
        node = (obj.get("spec") or {}).get("nodeName")
        phase = (obj.get("status") or {}).get("phase") or "Pending"
        route = _route(ns, pod.name)
        reason = None
        if state is not None and not state.running:
            # a pod that must fail is judged on Multus's or the plugin's own words, not on the short diagnosis
            reason = (state.diagnosis.detail or state.diagnosis.reason) if pod.attach_fails else state.diagnosis.reason
        elif route not in self.agents:
            reason = "no probe agent runs in this pod"
        statuses = []
        raw_status = ((obj.get("metadata") or {}).get("annotations") or {}).get(NETWORK_STATUS_ANNOTATION)
        if raw_status:
            try:
                statuses = parse_network_status(raw_status)
            except AnnotationError as exc:
                self.notes.append(f"pod {pod.key}: network-status annotation unreadable: {exc}")
        attachments = []
        for sel, net in zip(self.plan.selections(pod), pod.networks, strict=True):
            att_ns = next((k for k, v in self.plan.namespaces.items() if v == sel.namespace), sel.namespace)
            att = self.topology.find_attachment(att_ns, sel.name)
            if att is None:  # a NAD the topology does not define: the pod expects its attachment to fail
                continue
            config = config_plugins(applied[(att_ns, sel.name)])[0] if (att_ns, sel.name) in applied else None
            master = att.master or self._default_devs.get(node or "")
            master_nic = node_nics.get(node or "", {}).get(master or "")
            error = None if config is not None else f"NAD {sel.namespace}/{sel.name} does not exist"
            if reason and phase != "Running":
                error = reason
            attachments.append(PodAttachment(
                att.network, att, str((config or {}).get("type") or ""), str((config or {}).get("mode") or ""),
                net.interface, tuple(str(ip) for ip in net.ips), master,
                master_nic.mac if master_nic else None, error))
        return PodView(pod.name, pod.namespace, node, phase, reason, interfaces.get(route, {}), statuses, attachments,
                       route, state.pod if state else {})

    def _node_views(self, pods: list[PodView], node_nics: dict[str, dict[str, InterfaceView]]) -> list[NodeView]:
        from netattest.k8s.api import NotFound

        wanted = [n.name for n in self.topology.nodes]
        wanted += [p.node for p in pods if p.node and p.node not in wanted]
        views = []
        for name in wanted:
            try:
                node = self.cluster.read_node(name)
            except NotFound:
                continue
            labels = dict((node.get("metadata") or {}).get("labels") or {})
            route = f"{NODE_ROUTE_PREFIX}{name}" if name in self.node_agents else None
            views.append(NodeView(name, labels, node_nics.get(name, {}), route))
        unknown = [v.name for v in views if not v.nics]
        if unknown:
            self.notes.append(f"node NICs unknown for {', '.join(unknown)}: the API does not show node NICs and no "
                              "inventory pod read them, so master MACs cannot be compared")
        return views

