"""Deploy a topology on a cluster and remove it: connect and pre-flight (API, credentials, CRDs, SCC,
SelfSubjectAccessReview), namespaces, NADs (direct or through the network operator), pods, waiting, agents;
teardown removes only what this run created."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from netattest.errors import ClusterError, ClusterPermissionError, NetattestError, ProbeAgentError
from netattest.inventory import Inventory
from netattest.k8s import names
from netattest.k8s.api import create_support_object
from netattest.k8s.plan import PROBE_CONTAINER, ClusterPlan
from netattest.k8s.pods import PodState, admission_reason, wait_for_pods
from netattest.signals import deferred_interrupts
from netattest.targets.kubernetes.state import (
    AGENT_START_WORKERS,
    TargetState,
    _route,
)


class Deployment(TargetState):
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

    def record_frames(self) -> None:
        self.engine.keep_frames = True  # sent to every agent with each window

    def keep(self) -> str:
        """``--keep``: the agents end (their exec streams would hold the connection), the run's namespaces stay,
        labelled with the run id and an expiry that ``netattest gc --target kubernetes`` honours."""
        agents = list(self.agents.values()) + list(self.node_agents.values())
        self.agents, self.node_agents = {}, {}
        for agent in agents:
            agent.close(timeout=2.0)
        left = ", ".join(self.created_namespaces) or "nothing"
        return (f"left what run {self.run_id} created ({left}); remove it with: netattest gc --target kubernetes "
                f"--run-id {self.run_id}")

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
        return [] if left else [f"namespaces of run {self.run_id} still terminating after "
                                f"{self.options.delete_timeout:.0f} s"]

    # -- 1. connect and pre-flight (netattest.k8s.reach) -------------------------------------------------
    def _connect(self) -> None:
        from netattest.k8s.reach import reach

        reached = reach(self.options)
        self.connection, self.cluster, self.openshift = reached.connection, reached.cluster, reached.openshift
        self.notes += reached.notes
        self.plan = ClusterPlan(self.topology, self.run_id, self.options, openshift=self.openshift,
                                created_by=names.created_by())
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

