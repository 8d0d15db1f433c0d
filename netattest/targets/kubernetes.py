"""A real Kubernetes / OpenShift cluster as a target: namespaces, NADs and probe pods on labelled nodes.

Lifecycle of :meth:`KubernetesTarget.deploy`:

1. connect and pre-flight: the API answers, the credentials work, OpenShift or not, the NAD CRD is installed (or
   the network operator, for ``provision=operator``), the probe SCC exists on OpenShift, and the user may do what
   a run does (SelfSubjectAccessReview) — each failure is one paragraph with the fix;
2. one namespace per topology namespace (``netattest-<run-id>-<ns>``: run-id label, expiry annotation, PodSecurity
   labels), a service account for the probe pods (bound to the probe SCC on OpenShift);
3. the NADs, through the custom objects API or through the network operator;
4. one probe pod per topology pod (nodeSelector from the topology, the networks annotation with static ips/mac,
   NET_RAW) and one host-network inventory pod per node;
5. wait, saying in one line why a pod is stuck; 6. one long-lived probe agent per running pod, over exec;
7. external hosts resolved on the wire (ARP from a pod of their VLAN) or from the nodes' ARP tables.

Everything the run created is removed by :meth:`teardown` — and by ``deploy`` itself when it fails or is
interrupted (Ctrl-C, SIGTERM) — unless ``keep`` is set. Only namespaces this run created (its create answered 201)
are ever deleted: a namespace that already existed (409) is left alone.
"""

from __future__ import annotations

import getpass
import json
import os
import socket
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from netattest.annotations import NETWORK_STATUS_ANNOTATION, parse_network_status
from netattest.errors import AnnotationError, ClusterError, ClusterPermissionError, NetattestError, ProbeAgentError
from netattest.inventory import HostView, InterfaceView, Inventory, NodeView, PodAttachment, PodView
from netattest.k8s import names
from netattest.k8s.api import create_support_object
from netattest.k8s.plan import (
    NAD_GROUP,
    NAD_PLURAL,
    NAD_VERSION,
    PROBE_CONTAINER,
    ClusterOptions,
    ClusterPlan,
)
from netattest.k8s.pods import PodState, admission_reason, wait_for_pods
from netattest.probe.engine import Answer, Endpoint, Probe, ProbeResult, WindowStats
from netattest.signals import deferred_interrupts
from netattest.topology.model import Topology

Progress = Callable[[str], None]
ROUTE_PREFIX = "k8s:"  # Endpoint.netns of a pod's probes: "k8s:<namespace>/<pod>", routes them to its agent
AGENT_START_WORKERS = 8


class EngineSettings:
    """The probe-engine settings every agent gets per window; attributes like a ProbeEngine's, so layers that tune
    the lab's engine (``keep_frames`` for pcaps) tune the agents' the same way."""

    def __init__(self, timeout: float, retries: int) -> None:
        self.timeout = float(timeout)
        self.retries = int(retries)
        self.keep_frames = False

    def as_dict(self) -> dict[str, Any]:
        return {"timeout": self.timeout, "retries": self.retries, "keep_frames": self.keep_frames}


def _route(namespace: str, pod: str) -> str:
    return f"{ROUTE_PREFIX}{namespace}/{pod}"


def _interface(data: dict[str, Any]) -> InterfaceView:
    return InterfaceView(name=data["name"], mac=str(data.get("mac") or "").lower(),
                         addresses=tuple(data.get("addresses") or ()), kind=str(data.get("kind") or ""),
                         mtu=int(data.get("mtu") or 0), up=bool(data.get("up")), mode=str(data.get("mode") or ""))


class KubernetesTarget:
    name = "kubernetes"

    def __init__(self, topology: Topology, run_id: str, *, options: ClusterOptions | None = None,
                 timeout: float = 1.0, retries: int = 2, progress: Progress | None = None) -> None:
        self.topology = topology
        self.run_id = run_id
        self.options = options or ClusterOptions()
        self.engine = EngineSettings(timeout, retries)
        self.progress = progress or (lambda message: None)
        self.plan: ClusterPlan | None = None
        self.cluster: Any = None  # netattest.k8s.api.Cluster
        self.connection: Any = None
        self.openshift = False
        self.created_namespaces: list[str] = []
        self.operator: Any = None  # netattest.k8s.provision.OperatorProvision
        self.probe_pods: dict[str, PodState] = {}  # topology pod key -> state
        self.node_pods: dict[str, PodState] = {}  # node name -> state
        self.agents: dict[str, Any] = {}  # route ("k8s:ns/pod") -> AgentClient
        self.node_agents: dict[str, Any] = {}  # node -> AgentClient
        self.hosts: list[HostView] = []
        self.notes: list[str] = []
        self.timings: dict[str, float] = {}
        self._refreshed = 0.0
        self._reached: Any = None  # netattest.k8s.reach.Reached, from _connect

    # -- lifecycle -------------------------------------------------------------------------------------
    def deploy(self) -> Inventory:
        started = time.monotonic()
        try:
            self._step("connect", self._connect)
            self._step("preflight", self._preflight)
            self._step("namespaces", self._create_namespaces)
            self._step("nads", self._provision)
            self._step("pods", self._create_pods)
            self._step("wait", self._wait)
            self._step("agents", self._start_agents)
            self._step("hosts", self._discover_hosts)
            started_inventory = time.monotonic()
            inventory = self.inventory()
            self.timings["inventory"] = time.monotonic() - started_inventory
        except BaseException as exc:  # Ctrl-C and SIGTERM (raised as KeyboardInterrupt) included
            if self.options.keep:
                left = ", ".join(self.created_namespaces) or "nothing"
                self.progress(f"--keep: left what run {self.run_id} created ({left}); remove it with: netattest gc "
                              f"--target kubernetes --run-id {self.run_id}")
            else:
                problems = self.teardown()
                if problems:
                    self.progress(f"cleanup after {type(exc).__name__} met problems: " + "; ".join(problems))
            raise
        self.timings["deploy"] = time.monotonic() - started
        return inventory

    def _step(self, name: str, fn: Callable[[], None]) -> None:
        started = time.monotonic()
        fn()
        self.timings[name] = time.monotonic() - started

    def teardown(self) -> list[str]:
        """Remove everything this run created; returns the problems met (never raises half-way)."""
        problems: list[str] = []
        with deferred_interrupts():
            started = time.monotonic()
            agents = list(self.agents.values()) + list(self.node_agents.values())
            self.agents, self.node_agents = {}, {}
            if agents:
                with ThreadPoolExecutor(max_workers=min(16, len(agents))) as pool:
                    list(pool.map(lambda a: a.close(timeout=2.0), agents))
            if self.operator is not None:
                problems += self.operator.restore()
                if self.operator.note:
                    self.notes.append(self.operator.note)
            for namespace in list(reversed(self.created_namespaces)):
                try:
                    self.cluster.delete_namespace(namespace)
                    self.created_namespaces.remove(namespace)
                except ClusterError as exc:
                    if getattr(exc, "status", None) == 404:
                        self.created_namespaces.remove(namespace)
                    else:
                        problems.append(f"namespace {namespace}: {exc}")
            if self.options.delete_timeout > 0 and self.cluster is not None:
                problems += self._wait_deleted()
            if self.connection is not None:
                self.connection.close()
            self.timings["teardown"] = time.monotonic() - started
            if problems:
                problems.append(f"remove what is left with: netattest gc --target kubernetes --run-id {self.run_id}")
        return problems

    def _wait_deleted(self) -> list[str]:
        from netattest.k8s.api import wait_until

        selector = names.run_selector(self.run_id)
        left = wait_until(lambda: not self.cluster.list_namespaces(selector), self.options.delete_timeout,
                          self.options.poll_interval)
        return [] if left else [(f"namespaces of run {self.run_id} still terminating after "
                                 f"{self.options.delete_timeout:.0f} s")]

    # -- 1. connect and pre-flight (netattest.k8s.reach) -------------------------------------------------
    def _connect(self) -> None:
        from netattest.k8s.reach import reach

        reached = reach(self.options)
        self.connection, self.cluster, self.openshift = reached.connection, reached.cluster, reached.openshift
        self.notes += reached.notes
        self.plan = ClusterPlan(self.topology, self.run_id, self.options, openshift=self.openshift,
                                created_by=_created_by())
        self.progress(f"cluster {self.connection.where}: Kubernetes {reached.version.get('gitVersion', '?')}"
                      f"{', OpenShift' if self.openshift else ''}")
        self._reached = reached

    def _preflight(self) -> None:
        from netattest.k8s.reach import preflight

        self.notes += preflight(self._reached, self.options)

    # -- 2. namespaces ---------------------------------------------------------------------------------
    def _create_namespaces(self) -> None:
        assert self.plan is not None
        for topology_ns, real in self.plan.namespaces.items():
            self.progress(f"namespace {real} (topology namespace {topology_ns})")
            self._create_namespace(topology_ns, real)
            for doc in self.plan.service_account_manifests(topology_ns):
                self._create_support_object(doc)
        self._refreshed = time.monotonic()

    def _create_namespace(self, topology_ns: str, real: str) -> None:
        """Create and record one run namespace. An interrupt waits for the answer: raised while it is on the way,
        the namespace would exist unrecorded, and teardown, which deletes only what it recorded, would leave it."""
        from netattest.k8s.api import Conflict

        assert self.plan is not None
        with deferred_interrupts():
            try:
                self.cluster.create_namespace(self.plan.namespace_manifest(topology_ns))
            except Conflict:
                raise ClusterError(
                    f"namespace {real} already exists on {self.cluster.where} and this run did not create it; "
                    "netattest never touches a namespace it did not create. Fix: if an earlier run with this run "
                    f"id left it, remove it with 'netattest gc --target kubernetes --run-id {self.run_id}', or "
                    "run with another --run-id") from None
            self.created_namespaces.append(real)

    def _create_support_object(self, doc: dict[str, Any]) -> None:
        create_support_object(self.cluster, doc, "probe pods", self.options.scc)

    # -- 3. NADs -----------------------------------------------------------------------------------------
    def _provision(self) -> None:
        assert self.plan is not None
        if self.options.provision == "operator":
            from netattest.k8s.provision import OperatorProvision

            self.operator = OperatorProvision(self.cluster, self.plan, self.progress,
                                              timeout=self.options.operator_timeout,
                                              interval=self.options.poll_interval)
            self.operator.apply()
            self.notes.append("NADs provisioned through the OpenShift network operator (spec.additionalNetworks, "
                              "type Raw); the operator's spec is restored after the run")
        else:
            from netattest.k8s.provision import create_nads

            create_nads(self.cluster, self.plan, self.progress)

    # -- 4. pods -----------------------------------------------------------------------------------------
    def _create_pods(self) -> None:
        assert self.plan is not None
        for pod in self.topology.pods:
            body = self.plan.pod_manifest(pod)
            ns = body["metadata"]["namespace"]
            try:
                self.cluster.create_pod(ns, body)
            except ClusterPermissionError as exc:
                raise admission_reason(exc, f"probe pod {pod.key} (as {ns}/{pod.name})") from None
            self.probe_pods[pod.key] = PodState(ns, pod.name, pod.key, body)
        self.progress(f"{len(self.probe_pods)} probe pods created")
        if not self.options.node_inventory:
            self.notes.append("node NICs not read (node inventory disabled): master MACs and node addresses are "
                              "unknown, so MAC checks against the master and checks towards node NICs cannot run")
            return
        nodes = self._existing_nodes()
        for node in nodes:
            body = self.plan.node_pod_manifest(node)
            ns = body["metadata"]["namespace"]
            try:
                self.cluster.create_pod(ns, body)
            except ClusterError as exc:
                self.notes.append(f"node NICs of {node} unknown: its host-network inventory pod was refused "
                                  f"({str(exc).splitlines()[0][:200]})")
                continue
            self.node_pods[node] = PodState(ns, body["metadata"]["name"], f"node {node}", body)

    def _existing_nodes(self) -> list[str]:
        present = {n["metadata"]["name"] for n in self.cluster.list_nodes()}
        missing = [n.name for n in self.topology.nodes if n.name not in present]
        if missing:
            self.notes.append(f"topology nodes not in the cluster: {', '.join(missing)}")
        return [n.name for n in self.topology.nodes if n.name in present]

    def _wait(self) -> None:
        states = list(self.probe_pods.values()) + list(self.node_pods.values())
        self.progress(f"waiting for {len(states)} pods (timeout {self.options.pod_timeout:.0f} s)")
        wait_for_pods(self.cluster, states, selector=names.run_selector(self.run_id),
                      timeout=self.options.pod_timeout, grace=self.options.stuck_grace,
                      interval=self.options.poll_interval, progress=self.progress)
        broken = [s for s in self.probe_pods.values() if s.diagnosis.harness_fault]
        if broken:
            first = broken[0]
            more = f" (and {len(broken) - 1} more pods)" if len(broken) > 1 else ""
            raise ClusterError(f"probe pod {first.label} cannot run: {first.diagnosis.reason}{more}")
        for node, state in self.node_pods.items():
            if not state.running:
                self.notes.append(f"node NICs of {node} unknown: inventory pod not running ({state.diagnosis.reason})")
        running = sum(s.running for s in self.probe_pods.values())
        self.progress(f"{running}/{len(self.probe_pods)} probe pods running")

    # -- 5. agents ----------------------------------------------------------------------------------------
    def _start_agent(self, state: PodState, lazy: bool = False) -> Any:
        from netattest.k8s.channel import AgentClient
        from netattest.k8s.stream_exec import open_exec
        from netattest.probe.agent import agent_command, bootstrap_payload

        channel = open_exec(self.connection, state.namespace, state.name, PROBE_CONTAINER, agent_command())
        agent = AgentClient(channel, f"pod {state.namespace}/{state.name}")
        try:
            ready = agent.start(bootstrap_payload(["--lazy"] if lazy else []), self.options.agent_timeout)
        except ProbeAgentError as exc:
            channel.close()
            text = str(exc)
            hint = ""
            if "not found" in text or "No such file" in text:
                hint = (f". Fix: the probe image {self.options.probe_image} needs python3 on its PATH; pass "
                        "--probe-image with one that has python3 and scapy")
            raise ProbeAgentError(text + hint) from None
        return agent, ready

    def _start_agents(self) -> None:
        probe_states = [s for s in self.probe_pods.values() if s.running]
        node_states = [(n, s) for n, s in self.node_pods.items() if s.running]
        jobs: list[tuple[str, PodState]] = [("probe", s) for s in probe_states] + [("node", s) for _, s in node_states]
        if not jobs:
            return
        self.progress(f"starting {len(jobs)} probe agents (one long-lived process per pod, over exec)")
        results: dict[int, Any] = {}
        with ThreadPoolExecutor(max_workers=min(AGENT_START_WORKERS, len(jobs))) as pool:
            futures = {i: pool.submit(self._start_agent, state, kind == "node") for i, (kind, state) in enumerate(jobs)}
            for i, future in futures.items():
                try:
                    results[i] = future.result()
                except NetattestError as exc:
                    results[i] = exc
        failure: NetattestError | None = None
        node_of = {id(s): n for n, s in node_states}
        for i, (kind, state) in enumerate(jobs):
            outcome = results[i]
            if isinstance(outcome, NetattestError):
                if kind == "node":
                    self.notes.append(f"node NICs of {node_of[id(state)]} unknown: {outcome}")
                else:
                    failure = failure or outcome
                continue
            agent, ready = outcome
            if kind == "node":
                self.node_agents[node_of[id(state)]] = agent
                continue
            self.agents[_route(state.namespace, state.name)] = agent
            if not ready.get("scapy"):
                failure = failure or ProbeAgentError(
                    f"probe image {self.options.probe_image} in pod {state.label} cannot probe: "
                    f"{ready.get('error') or 'scapy missing'}. Fix: pass --probe-image with an image that has "
                    "python3 and scapy (the default does)")
        if failure is not None:
            raise failure

    # -- 6. external hosts --------------------------------------------------------------------------------
    def _pod_interfaces(self) -> dict[str, dict[str, InterfaceView]]:
        """route -> interfaces read inside the pod (in parallel)."""
        routes = list(self.agents)
        if not routes:
            return {}
        with ThreadPoolExecutor(max_workers=min(16, len(routes))) as pool:
            lists = list(pool.map(lambda r: self.agents[r].interfaces(timeout=self.options.agent_timeout), routes))
        return {r: {i["name"]: _interface(i) for i in items} for r, items in zip(routes, lists)}

    def _node_reads(self, op: str) -> dict[str, list[dict[str, Any]]]:
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
            return dict(zip(nodes, pool.map(read, nodes)))

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
                att_ns, att_name = (net.attachment.split("/", 1) if "/" in net.attachment
                                    else (net.namespace or pod.namespace, net.attachment))
                network = self.topology.attachment(att_ns, att_name).network
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
        pods = [self._pod_view(pod, listed, interfaces, node_nics, applied) for pod in self.topology.pods]
        nodes = self._node_views(pods, node_nics)
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
            reason = state.diagnosis.reason
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
        for sel, net in zip(self.plan.selections(pod), pod.networks):
            att_ns = next(k for k, v in self.plan.namespaces.items() if v == sel.namespace)
            att = self.topology.attachment(att_ns, sel.name)
            config = applied.get((att_ns, sel.name))
            master_nic = node_nics.get(node or "", {}).get(att.master)
            error = None if config is not None else f"NAD {sel.namespace}/{sel.name} does not exist"
            if reason and phase != "Running":
                error = reason
            attachments.append(PodAttachment(
                att.network, att, str((config or {}).get("type") or ""), str((config or {}).get("mode") or ""),
                net.interface, tuple(str(ip) for ip in net.ips), att.master,
                master_nic.mac if master_nic else None, error))
        return PodView(pod.name, pod.namespace, node, phase, reason, interfaces.get(route, {}), statuses, attachments, route,
                       state.pod if state else {})

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
            views.append(NodeView(name, labels, node_nics.get(name, {}), None))
        unknown = [v.name for v in views if not v.nics]
        if unknown:
            self.notes.append(f"node NICs unknown for {', '.join(unknown)}: the API does not show node NICs and no "
                              "inventory pod read them, so master MACs cannot be compared")
        return views

    # -- probing --------------------------------------------------------------------------------------------
    def probe(self, probes: Sequence[Probe]) -> tuple[list[ProbeResult], WindowStats]:
        """Every pod's probes go to that pod's agent; all agents probe at the same time, in one window."""
        started = time.monotonic()
        self._refresh_expiry()
        groups: dict[str, list[int]] = {}
        for index, probe in enumerate(probes):
            groups.setdefault(str(probe.source.netns), []).append(index)
        results: list[ProbeResult | None] = [None] * len(probes)
        errors: list[str] = []
        jobs = []
        for route, indices in groups.items():
            agent = self.agents.get(route)
            if agent is None:
                if route.startswith(ROUTE_PREFIX):
                    why = f"no probe agent runs in pod {route[len(ROUTE_PREFIX):]}"
                else:
                    source = probes[indices[0]].source.describe()
                    why = (f"the cluster target sends probes from its probe pods only; {source} is not one "
                           "(external hosts and nodes cannot send here)")
                errors.append(why)
                for i in indices:
                    results[i] = ProbeResult(probes[i], 0.0, 0, [], "", "", why)
                continue
            jobs.append((route, agent, indices))
        limit = self.engine.timeout * (1 + self.engine.retries) + 30.0 + len(probes) * 0.001

        def run(job: tuple[str, Any, list[int]]) -> tuple[list[ProbeResult], WindowStats]:
            route, agent, indices = job
            local = [replace(probes[i], source=replace(probes[i].source, netns=None)) for i in indices]
            return agent.probe(local, engine=self.engine.as_dict(), timeout=limit)

        stats = WindowStats(len(probes), 0, 0, 0, 0.0, errors, 0)
        if jobs:
            with ThreadPoolExecutor(max_workers=min(32, len(jobs))) as pool:
                outcomes = list(pool.map(lambda job: _catch(run, job), jobs))
            for (route, _agent, indices), outcome in zip(jobs, outcomes):
                pod = route[len(ROUTE_PREFIX):]
                if isinstance(outcome, NetattestError):
                    message = f"{pod}: {outcome}"
                    stats.socket_errors.append(message)
                    for i in indices:
                        results[i] = ProbeResult(probes[i], 0.0, 0, [], "", "", message)
                    continue
                local_results, window = outcome
                for i, res in zip(indices, local_results):
                    results[i] = replace(res, probe=probes[i])
                stats.frames_sent += window.frames_sent
                stats.frames_received += window.frames_received
                stats.kernel_drops += window.kernel_drops
                stats.rounds = max(stats.rounds, window.rounds)
                stats.socket_errors += [f"{pod}: {e}" for e in window.socket_errors]
        stats.duration_s = time.monotonic() - started
        return [r for r in results if r is not None], stats

    def _refresh_expiry(self) -> None:
        """A run longer than half its TTL pushes its expiry forward, so gc elsewhere never removes it mid-run."""
        if not self.created_namespaces or time.monotonic() - self._refreshed < self.options.ttl.total_seconds() / 2:
            return
        stamp = names.expires_at(self.options.ttl, datetime.now(UTC))
        for ns in self.created_namespaces:
            try:
                self.cluster.patch_namespace(ns, {"metadata": {"annotations": {names.ANNOTATION_EXPIRES: stamp}}})
            except ClusterError as exc:
                self.notes.append(f"could not extend the expiry of {ns}: {exc}")
        self._refreshed = time.monotonic()


def _created_by() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # a container without a passwd entry
        user = str(os.getuid())
    return f"{user}@{socket.gethostname()} pid {os.getpid()}"


def _catch(fn: Callable[[Any], Any], arg: Any) -> Any:
    try:
        return fn(arg)
    except NetattestError as exc:
        return exc


def options_from_pytest(config: Any) -> ClusterOptions:
    """The cluster options of a pytest session (declared in fixtures/kubernetes.py)."""
    def opt(name: str, default: Any = None) -> Any:
        try:
            value = config.getoption(name)
        except (ValueError, AttributeError):
            return default
        return default if value is None else value

    openshift = {"auto": None, "yes": True, "no": False}[opt("openshift", "auto")]
    kwargs: dict[str, Any] = {
        "kubeconfig": opt("kubeconfig"), "context": opt("context"), "provision": opt("provision", "direct"),
        "openshift": openshift, "scc": opt("scc", "netattest-probe"),
        "node_scc": opt("node_scc", "netattest-node-check"), "node_inventory": opt("node_inventory", True),
        "keep": bool(opt("keep", False)), "pod_timeout": float(opt("pod_timeout", 300.0)),
    }
    image = opt("probe_image")
    if image:
        kwargs["probe_image"] = image
    ttl = opt("ttl")
    if ttl:
        kwargs["ttl"] = names.parse_ttl(str(ttl))
    return ClusterOptions(**kwargs)

