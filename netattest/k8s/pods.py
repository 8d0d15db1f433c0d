"""Creating probe pods, waiting for them, and saying in one line why a pod is stuck.

While waiting, every pod that is not running is diagnosed from its conditions, container states and events:
no node carries the nodeSelector's labels, the NAD is missing, IPAM failed, the CNI plugin failed (master NIC
missing), the image cannot be pulled, the pod ended. A diagnosis is *blocking* once it is one of those; a pod that
stays blocked for ``grace`` seconds is given up without waiting for the whole timeout.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from netattest.errors import ClusterPermissionError
from netattest.k8s.api import Cluster

IMAGE_WAITING = {"ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull", "RegistryUnavailable"}
CONFIG_WAITING = {"CreateContainerConfigError", "CreateContainerError", "RunContainerError", "CrashLoopBackOff"}
_SANDBOX_PREFIX = re.compile(r"^Failed to create pod sandbox: rpc error: code = \w+ desc = ")
_NAD_MISSING = re.compile(r"cannot find a network-attachment-definition \((?P<name>[^)]+)\) in namespace "
                          r"\((?P<ns>[^)]+)\)")
_IPAM_HINTS = ("ipam", "failed to allocate", "no ip addresses available", "no ip address", "address already in use",
               "range is full", "whereabouts", "host-local", "dhcp")


@dataclass
class Diagnosis:
    reason: str  # one line
    category: str  # running | pending | unschedulable | nad-missing | ipam | cni | image | container | ended
    blocking: bool
    detail: str = ""  # the event's own words (a sandbox failure's full message), for a pod that must fail

    @property
    def harness_fault(self) -> bool:
        """The probe image or container failed: the target is broken, not the network under test."""
        return self.category in ("image", "container")


@dataclass
class PodState:
    namespace: str
    name: str
    label: str  # how messages name the pod, e.g. "multus-test/pod-a"
    pod: dict[str, Any] = field(default_factory=dict)
    diagnosis: Diagnosis = field(default_factory=lambda: Diagnosis("not created yet", "pending", False))
    blocked_since: float | None = None

    @property
    def running(self) -> bool:
        return self.diagnosis.category == "running"

    @property
    def node(self) -> str | None:
        return (self.pod.get("spec") or {}).get("nodeName")


def one_line(text: str, limit: int = 300) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _short_cni(message: str) -> str:
    """The part of a sandbox error a network engineer acts on, without runtime and Multus boilerplate."""
    text = _SANDBOX_PREFIX.sub("", " ".join(message.split()))
    for marker in ("error adding container to network", "failed (add):", "plugin type="):
        index = text.rfind(marker)
        if index > 0:
            text = text[index:]
            break
    return one_line(text, 240)


def classify_sandbox(message: str) -> tuple[str, str]:
    """(category, one-line reason) of a FailedCreatePodSandBox message."""
    missing = _NAD_MISSING.search(message)
    lowered = message.lower()
    if missing or ("network-attachment-definition" in lowered and "not found" in lowered):
        nad = f"{missing['ns']}/{missing['name']}" if missing else "of the networks annotation"
        return "nad-missing", f"NAD {nad} is missing: Multus cannot find the NetworkAttachmentDefinition"
    if any(hint in lowered for hint in _IPAM_HINTS):
        return "ipam", f"IPAM error: {_short_cni(message)}"
    if "link not found" in lowered:
        return "cni", f"CNI error, the NAD's master interface does not exist on the node: {_short_cni(message)}"
    return "cni", f"pod sandbox (CNI) failed: {_short_cni(message)}"


def _selector_text(pod: dict[str, Any]) -> str:
    selector = (pod.get("spec") or {}).get("nodeSelector") or {}
    return ", ".join(f"{k}={v}" for k, v in selector.items()) or "none"


def diagnose(pod: dict[str, Any], events: list[dict[str, Any]]) -> Diagnosis:
    """Why ``pod`` is (not) running, from its status and events, in one line."""
    status = pod.get("status") or {}
    phase = status.get("phase") or "Pending"
    statuses = status.get("containerStatuses") or []
    if phase == "Running" and statuses and all(s.get("ready") or (s.get("state") or {}).get("running")
                                               for s in statuses):
        return Diagnosis("running", "running", False)
    if phase in ("Failed", "Succeeded"):
        why = status.get("reason") or ""
        text = status.get("message") or ""
        for s in statuses:
            term = (s.get("state") or {}).get("terminated") or {}
            if term:
                why = why or term.get("reason", "")
                text = text or f"exit code {term.get('exitCode')}"
        return Diagnosis(one_line(f"pod ended ({phase}{': ' + why if why else ''}{', ' + text if text else ''})"),
                         "ended", True)
    for s in statuses:
        state = s.get("state") or {}
        waiting = state.get("waiting") or {}
        reason = waiting.get("reason", "")
        if reason in IMAGE_WAITING:
            detail = waiting.get("message") or _latest(events, ("Failed",)) or reason
            return Diagnosis(one_line(f"image pull failed ({reason}) for {s.get('image')}: {detail}. Fix: mirror "
                                      "the image (netattest images) and pass --probe-image"), "image", True)
        if reason in CONFIG_WAITING:
            return Diagnosis(one_line(f"container cannot start ({reason}): {waiting.get('message') or ''}"),
                             "container", True)
        terminated = state.get("terminated")
        if terminated:
            return Diagnosis(one_line(f"container exited ({terminated.get('reason')}, exit code "
                                      f"{terminated.get('exitCode')}): {terminated.get('message') or ''}"),
                             "container", True)
    for cond in status.get("conditions") or []:
        if cond.get("type") == "PodScheduled" and cond.get("status") == "False":
            message = cond.get("message") or cond.get("reason") or "unschedulable"
            if "affinity/selector" in message or "node selector" in message.lower():
                return Diagnosis(one_line(f"no node carries the labels of the pod's nodeSelector "
                                          f"({_selector_text(pod)}): {message}"), "unschedulable", True)
            return Diagnosis(one_line(f"unschedulable: {message}"), "unschedulable", True)
    sandbox = _latest(events, ("FailedCreatePodSandBox",))
    if sandbox:
        category, reason = classify_sandbox(sandbox)
        return Diagnosis(one_line(reason), category, True, " ".join(sandbox.split()))
    failed = _latest(events, ("Failed", "FailedMount", "FailedAttachVolume", "BackOff"))
    if failed:
        category = "image" if "pull" in failed.lower() or "image" in failed.lower() else "container"
        return Diagnosis(one_line(f"{failed}"), category, "pull" in failed.lower())
    waiting_reasons = [(s.get("state") or {}).get("waiting", {}).get("reason") for s in statuses]
    if not (pod.get("spec") or {}).get("nodeName"):
        shown = "waiting for the scheduler"
    else:
        shown = ", ".join(r for r in waiting_reasons if r) or "waiting for the kubelet"
    pulling = _latest(events, ("Pulling",))
    if pulling:
        shown += f" ({pulling})"
    return Diagnosis(one_line(f"{phase}: {shown}"), "pending", False)


def _latest(events: list[dict[str, Any]], reasons: tuple[str, ...]) -> str:
    found = [e for e in events if e.get("reason") in reasons]
    if not found:
        return ""
    found.sort(key=lambda e: (e.get("lastTimestamp") or e.get("eventTime") or "",
                              int((e.get("metadata") or {}).get("resourceVersion") or 0)))
    return str(found[-1].get("message") or found[-1].get("reason") or "")


def admission_reason(exc: ClusterPermissionError, what: str) -> ClusterPermissionError:
    """A 403 on pod creation, named for what refused it: PodSecurity, an OpenShift SCC, or RBAC."""
    text = str(exc)
    if "PodSecurity" in text:
        head = "PodSecurity admission rejected"
    elif "security context constraint" in text:
        head = "OpenShift SCC admission rejected"
    else:
        head = "RBAC refused"
    return ClusterPermissionError(f"{head} {what}: {text}")


def wait_for_pods(cluster: Cluster, states: list[PodState], *, selector: str, timeout: float, grace: float,
                  interval: float, progress: Callable[[str], None],
                  cancelled: Callable[[], bool] | None = None) -> list[PodState]:
    """Poll until every pod runs, or every pod left is blocked for ``grace`` s, or ``timeout`` passes, or
    ``cancelled()`` says the caller gave up (the pods left are then diagnosed "no longer waited for")."""
    start = time.monotonic()
    shown: dict[str, str] = {}
    namespaces = sorted({s.namespace for s in states})
    while True:
        if cancelled is not None and cancelled():
            for s in states:
                if not s.running:
                    s.diagnosis = Diagnosis("no longer waited for (the run is ending)", "ended", True)
            return states
        now = time.monotonic()
        listed: dict[tuple[str, str], dict[str, Any]] = {}
        for ns in namespaces:
            for pod in cluster.list_pods(ns, selector):
                listed[(ns, pod["metadata"]["name"])] = pod
        for state in states:
            found = listed.get((state.namespace, state.name))
            if found is None:
                state.diagnosis = Diagnosis("the pod disappeared (deleted by someone else or evicted)", "ended", True)
            else:
                state.pod = pod = found
                events = [] if _looks_running(pod) else cluster.pod_events(state.namespace, state.name)
                state.diagnosis = diagnose(pod, events)
            if state.diagnosis.blocking:
                state.blocked_since = state.blocked_since or now
            else:
                state.blocked_since = None
            if not state.running and shown.get(state.label) != state.diagnosis.reason:
                shown[state.label] = state.diagnosis.reason
                progress(f"pod {state.label}: {state.diagnosis.reason}")
        waiting = [s for s in states if not s.running]
        if not waiting:
            return states
        if all(s.blocked_since is not None and now - s.blocked_since >= grace for s in waiting):
            return states
        if now - start >= timeout:
            for s in waiting:
                if not s.diagnosis.blocking:
                    s.diagnosis = Diagnosis(one_line(f"not running after {timeout:g} s: {s.diagnosis.reason}"),
                                            s.diagnosis.category, True)
            return states
        time.sleep(min(interval, max(0.01, timeout - (now - start))))


def _looks_running(pod: dict[str, Any]) -> bool:
    return diagnose(pod, []).category == "running"
