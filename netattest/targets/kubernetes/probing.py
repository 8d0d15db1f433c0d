"""Probe from a cluster run's pods: each pod's probes go to its agent, all agents in one window, with the
target-side listeners opened before and read after."""

from __future__ import annotations

import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from netattest.errors import ClusterError, NetattestError
from netattest.k8s import names
from netattest.probe.agent import heard_from_wire, listener_to_wire
from netattest.probe.engine import Heard, Listener, Probe, ProbeResult, WindowStats
from netattest.targets.kubernetes.state import (
    NODE_ROUTE_PREFIX,
    ROUTE_PREFIX,
    TargetState,
    _catch,
)


class Probing(TargetState):
    # -- probing --------------------------------------------------------------------------------------------
    def _agent_at(self, route: str) -> Any:
        """The agent behind a route: a probe pod's, or a node's host-network inventory pod's."""
        if route.startswith(NODE_ROUTE_PREFIX):
            return self.node_agents.get(route[len(NODE_ROUTE_PREFIX):])
        return self.agents.get(route)

    @staticmethod
    def _where(route: str) -> str:
        if route.startswith(NODE_ROUTE_PREFIX):
            return f"node {route[len(NODE_ROUTE_PREFIX):]}"
        return route[len(ROUTE_PREFIX):] if route.startswith(ROUTE_PREFIX) else route

    def probe(self, probes: Sequence[Probe], listeners: Sequence[Listener] = (), timeout: float | None = None) \
            -> tuple[list[ProbeResult], WindowStats]:
        """Every pod's probes go to that pod's agent; all agents probe at the same time, in one window. Listeners
        are opened in their agents first (probe pods, and the nodes' host-network pods for node NICs) and read
        after every agent's window has ended, so a frame one agent sends is heard by another."""
        started = time.monotonic()
        self._refresh_expiry()
        listening: dict[str, str] = {}
        listen_jobs = self._open_listeners(listeners, listening)
        groups: dict[str, list[int]] = {}
        for index, probe in enumerate(probes):
            groups.setdefault(str(probe.source.netns), []).append(index)
        results: list[ProbeResult | None] = [None] * len(probes)
        errors: list[str] = []
        jobs = []
        for route, indices in groups.items():
            agent = self._agent_at(route)
            if agent is None:
                if route.startswith(ROUTE_PREFIX):
                    why = f"no probe agent runs in pod {route[len(ROUTE_PREFIX):]}"
                elif route.startswith(NODE_ROUTE_PREFIX):
                    why = f"no agent runs on {self._where(route)} (its host-network pod is not running)"
                else:
                    source = probes[indices[0]].source.describe()
                    why = (f"the cluster target sends probes from its probe pods and node pods only; {source} is "
                           "not one (external hosts cannot send here)")
                errors.append(why)
                for i in indices:
                    results[i] = ProbeResult(probes[i], 0.0, 0, [], "", "", why)
                continue
            jobs.append((route, agent, indices))
        limit = self.engine.timeout * (1 + self.engine.retries) + 30.0 + len(probes) * 0.001

        def run(job: tuple[str, Any, list[int]]) -> tuple[list[ProbeResult], WindowStats]:
            route, agent, indices = job
            local = [replace(probes[i], source=replace(probes[i].source, netns=None)) for i in indices]
            settings = self.engine.as_dict()
            if timeout:
                settings.update(timeout=timeout, retry_timeout=timeout / 2)
            return agent.probe(local, engine=settings, timeout=limit)

        stats = WindowStats(len(probes), 0, 0, 0, 0.0, errors, 0)
        if jobs:
            with ThreadPoolExecutor(max_workers=min(32, len(jobs))) as pool:
                outcomes = list(pool.map(lambda job: _catch(run, job), jobs))
            for (route, _agent, indices), outcome in zip(jobs, outcomes, strict=True):
                where = self._where(route)
                if isinstance(outcome, NetattestError):
                    message = f"{where}: {outcome}"
                    stats.socket_errors.append(message)
                    for i in indices:
                        results[i] = ProbeResult(probes[i], 0.0, 0, [], "", "", message)
                    continue
                local_results, window = outcome
                for i, res in zip(indices, local_results, strict=True):
                    results[i] = replace(res, probe=probes[i])
                stats.frames_sent += window.frames_sent
                stats.frames_received += window.frames_received
                stats.kernel_drops += window.kernel_drops
                stats.rounds = max(stats.rounds, window.rounds)
                stats.socket_errors += [f"{where}: {e}" for e in window.socket_errors]
        stats.heard = self._collect_listeners(listen_jobs, listening)
        stats.listening = listening
        stats.duration_s = time.monotonic() - started
        return [r for r in results if r is not None], stats

    def _open_listeners(self, listeners: Sequence[Listener], listening: dict[str, str]) -> list[tuple[Any, str]]:
        """``listen`` in every agent that hosts a listener (in parallel); returns the agents to collect from."""
        by_route: dict[str, list[Listener]] = {}
        for listener in listeners:
            by_route.setdefault(str(listener.netns), []).append(listener)
        jobs = []
        for route, group in by_route.items():
            agent = self._agent_at(route)
            if agent is None:
                for listener in group:
                    listening[listener.id] = f"no agent runs in {self._where(route)}"
                continue
            jobs.append((route, agent, [replace(x, netns=None) for x in group]))

        def open_one(job: tuple[str, Any, list[Listener]]) -> Any:
            _route_, agent, group = job
            return agent.request("listen", self.options.agent_timeout, listeners=[listener_to_wire(x) for x in group])

        opened: list[tuple[Any, str]] = []
        if jobs:
            with ThreadPoolExecutor(max_workers=min(32, len(jobs))) as pool:
                outcomes = list(pool.map(lambda job: _catch(open_one, job), jobs))
            for (route, agent, group), outcome in zip(jobs, outcomes, strict=True):
                if isinstance(outcome, NetattestError):
                    for listener in group:
                        listening[listener.id] = f"{self._where(route)}: {outcome}"
                    continue
                opened.append((agent, route))
        return opened

    def _collect_listeners(self, opened: list[tuple[Any, str]], listening: dict[str, str]) -> list[Heard]:
        def collect(job: tuple[Any, str]) -> Any:
            agent, _ = job
            return agent.request("collect", self.options.agent_timeout)

        heard: list[Heard] = []
        if not opened:
            return heard
        with ThreadPoolExecutor(max_workers=min(32, len(opened))) as pool:
            outcomes = list(pool.map(lambda job: _catch(collect, job), opened))
        for (_agent, route), outcome in zip(opened, outcomes, strict=True):
            if isinstance(outcome, NetattestError):
                listening[f"?{route}"] = f"{self._where(route)}: could not collect: {outcome}"
                continue
            heard += [heard_from_wire(h) for h in outcome.get("heard", [])]
            listening.update({str(k): str(v) for k, v in (outcome.get("listening") or {}).items()})
        return heard

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


