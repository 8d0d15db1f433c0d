"""Provisioning the NADs: directly through the custom objects API, or through the OpenShift network operator.

Operator path (``--provision operator``, as in the source article): add one ``type: Raw`` entry per NAD to
``networks.operator.openshift.io/cluster`` ``spec.additionalNetworks`` (optimistic concurrency on the
resourceVersion, retried on conflict), wait until the operator has created each NAD, and on teardown — success,
failure or interrupt — take exactly this run's entries out again. When nobody else touched the list meanwhile, the
spec is restored to what it was, byte for byte (including an absent list); otherwise other people's changes are
kept and only this run's entries are removed.
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Callable
from typing import Any

from netattest.errors import ClusterError
from netattest.k8s.api import Cluster, Conflict, NotFound
from netattest.k8s.plan import (
    NAD_GROUP,
    NAD_PLURAL,
    NAD_VERSION,
    OPERATOR_GROUP,
    OPERATOR_NAME,
    OPERATOR_PLURAL,
    OPERATOR_VERSION,
    ClusterPlan,
)
from netattest.signals import deferred_interrupts

CRD_FIX = ("Fix: install Multus (it brings the NetworkAttachmentDefinition CRD k8s.cni.cncf.io/v1 "
           "network-attachment-definitions); on OpenShift it is part of the cluster network operator")


def crd_missing(cluster: Cluster) -> ClusterError:
    return ClusterError(f"the NetworkAttachmentDefinition CRD (k8s.cni.cncf.io/v1, network-attachment-definitions) "
                        f"is not installed on {cluster.where}: Multus is missing, no secondary network can be "
                        f"attached. {CRD_FIX}")


def create_nads(cluster: Cluster, plan: ClusterPlan, progress: Callable[[str], None]) -> list[str]:
    """Create every NAD of the topology in its run namespace; returns their keys."""
    created = []
    for attachment in plan.topology.attachments:
        body = plan.nad_manifest(attachment)
        key = f"{body['metadata']['namespace']}/{attachment.name}"
        progress(f"NAD {key} ({attachment.plugin} {attachment.mode} on {attachment.master})")
        try:
            cluster.create_custom(NAD_GROUP, NAD_VERSION, NAD_PLURAL, body["metadata"]["namespace"], body)
        except NotFound as exc:
            if "namespaces" in exc.detail and "not found" in exc.detail:
                raise ClusterError(f"namespace {body['metadata']['namespace']} vanished while the run created NAD "
                                   f"{attachment.name} on {cluster.where}: someone deleted it (netattest gc from "
                                   "another shell?)") from None
            raise crd_missing(cluster) from None
        created.append(key)
    return created


def _operator_entries(network: dict[str, Any]) -> list[dict[str, Any]] | None:
    spec = network.get("spec") or {}
    return copy.deepcopy(spec["additionalNetworks"]) if "additionalNetworks" in spec else None


def _entry_key(entry: dict[str, Any]) -> tuple[str, str]:
    return str(entry.get("name")), str(entry.get("namespace") or "default")


class OperatorProvision:
    """Patch the network operator's spec for this run and put it back afterwards."""

    def __init__(self, cluster: Cluster, plan: ClusterPlan, progress: Callable[[str], None], *, timeout: float,
                 interval: float) -> None:
        self.cluster = cluster
        self.plan = plan
        self.progress = progress
        self.timeout = timeout
        self.interval = interval
        self.original: list[dict[str, Any]] | None = None
        self.applied = False
        self.mine = [plan.operator_entry(a) for a in plan.topology.attachments]
        self.note = ""

    def read(self) -> dict[str, Any]:
        try:
            return self.cluster.get_cluster_custom(OPERATOR_GROUP, OPERATOR_VERSION, OPERATOR_PLURAL, OPERATOR_NAME)
        except NotFound:
            raise ClusterError(
                f"--provision operator needs the OpenShift cluster network operator, but "
                f"networks.operator.openshift.io/cluster does not exist on {self.cluster.where}. Fix: use "
                "--provision direct (NADs through the API) on clusters without the operator") from None

    def apply(self) -> None:
        mine_keys = {_entry_key(e) for e in self.mine}
        for attempt in range(5):
            network = self.read()
            current = _operator_entries(network)
            clash = [e for e in current or [] if _entry_key(e) in mine_keys]
            if clash:
                raise ClusterError(f"the network operator already has additionalNetworks entries "
                                   f"{sorted(_entry_key(e) for e in clash)} on {self.cluster.where}; netattest "
                                   "never changes entries it did not add. Fix: run with another --run-id")
            patch = self.plan.operator_patch(current)
            patch["metadata"] = {"resourceVersion": network["metadata"].get("resourceVersion")}
            self.original = current
            try:
                self.applied = True  # from here on, teardown must look (the patch may land despite an error)
                # and an interrupt waits for the answer: teardown looking before an in-flight patch lands would
                # find none of this run's entries, and they would stay for good
                with deferred_interrupts():
                    self.cluster.patch_cluster_custom(OPERATOR_GROUP, OPERATOR_VERSION, OPERATOR_PLURAL,
                                                      OPERATOR_NAME, patch)
                break
            except Conflict:
                if attempt == 4:
                    raise
                time.sleep(0.2 * (attempt + 1))
        self.progress(f"network operator: added {len(self.mine)} Raw additionalNetworks entr"
                      f"{'y' if len(self.mine) == 1 else 'ies'}; waiting for it to create the NADs")
        self._wait_for_nads()

    def _wait_for_nads(self) -> None:
        deadline = time.monotonic() + self.timeout
        pending = {_entry_key(e) for e in self.mine}
        while pending:
            for name, ns in sorted(pending):
                try:
                    self.cluster.get_custom(NAD_GROUP, NAD_VERSION, NAD_PLURAL, ns, name)
                    pending.discard((name, ns))
                except NotFound:
                    pass
            if not pending:
                return
            if time.monotonic() >= deadline:
                shown = ", ".join(f"{ns}/{name}" for name, ns in sorted(pending))
                raise ClusterError(
                    f"the network operator did not create NAD(s) {shown} within {self.timeout:g} s on "
                    f"{self.cluster.where}{self._operator_state()}. Fix: look at 'oc get network.operator cluster "
                    "-o yaml' (status.conditions) and the cluster-network-operator logs; --provision direct avoids "
                    "the operator")
            time.sleep(self.interval)

    def _operator_state(self) -> str:
        try:
            conditions = (self.read().get("status") or {}).get("conditions") or []
        except ClusterError:
            return ""
        bad = [c for c in conditions if (c.get("type") == "Degraded" and c.get("status") == "True")]
        return f" (operator Degraded: {bad[0].get('message')})" if bad else ""

    def restore(self) -> list[str]:
        """Take this run's entries out again; returns problems (never raises)."""
        if not self.applied:
            return []
        mine_keys = {_entry_key(e) for e in self.mine}
        last_error = ""
        for attempt in range(5):
            try:
                network = self.read()
                current = _operator_entries(network) or []
                kept = [e for e in current if _entry_key(e) not in mine_keys]
                if len(kept) == len(current):
                    self.applied = False
                    return []  # nothing of ours is there (the patch never landed, or someone removed it)
                untouched = kept == (self.original or [])
                value = copy.deepcopy(self.original) if untouched else kept
                patch = {"metadata": {"resourceVersion": network["metadata"].get("resourceVersion")},
                         "spec": {"additionalNetworks": value}}
                self.cluster.patch_cluster_custom(OPERATOR_GROUP, OPERATOR_VERSION, OPERATOR_PLURAL, OPERATOR_NAME,
                                                  patch)
                self.applied = False
                if not untouched:
                    self.note = ("the network operator's additionalNetworks changed during the run; only this "
                                 "run's entries were removed, the other changes were kept")
                self.progress("network operator: this run's additionalNetworks entries removed, spec restored")
                return []
            except Conflict as exc:
                last_error = str(exc)
                time.sleep(0.2 * (attempt + 1))
            except ClusterError as exc:
                last_error = str(exc)
                break
        keys = ", ".join(json.dumps(e["name"]) + " in " + e["namespace"] for e in self.mine)
        return [f"could not restore the network operator's spec.additionalNetworks (remove entries {keys} by "
                f"hand, or run netattest gc --target kubernetes): {last_error}"]


def remove_operator_entries(cluster: Cluster, namespaces: set[str]) -> tuple[int, str]:
    """gc: remove additionalNetworks entries that point into ``namespaces``; (entries removed, problem)."""
    try:
        network = cluster.get_cluster_custom(OPERATOR_GROUP, OPERATOR_VERSION, OPERATOR_PLURAL, OPERATOR_NAME)
    except NotFound:
        return 0, ""
    except ClusterError as exc:
        return 0, f"network operator not readable: {exc}"
    current = _operator_entries(network) or []
    kept = [e for e in current if str(e.get("namespace") or "default") not in namespaces]
    if len(kept) == len(current):
        return 0, ""
    patch = {"metadata": {"resourceVersion": network["metadata"].get("resourceVersion")},
             "spec": {"additionalNetworks": kept or None}}
    try:
        cluster.patch_cluster_custom(OPERATOR_GROUP, OPERATOR_VERSION, OPERATOR_PLURAL, OPERATOR_NAME, patch)
    except ClusterError as exc:
        return 0, f"could not remove {len(current) - len(kept)} additionalNetworks entries: {exc}"
    return len(current) - len(kept), ""
