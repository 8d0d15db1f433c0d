"""The fake API server's vocabulary: the resources it serves, one request as it saw it, and API errors.

Kept apart from the server so that the store, the cluster behaviour and the tests share one set of names without
importing each other.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

CORE = ""
NAD_GROUP = "k8s.cni.cncf.io"
V5, V4 = "v5.channel.k8s.io", "v4.channel.k8s.io"


@dataclass(frozen=True)
class Resource:
    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def singular(self) -> str:
        return self.kind.lower()


BUILTIN = [
    Resource(CORE, "v1", "namespaces", "Namespace", False),
    Resource(CORE, "v1", "nodes", "Node", False),
    Resource(CORE, "v1", "pods", "Pod", True),
    Resource(CORE, "v1", "events", "Event", True),
    Resource(CORE, "v1", "serviceaccounts", "ServiceAccount", True),
    Resource(CORE, "v1", "configmaps", "ConfigMap", True),
    Resource("rbac.authorization.k8s.io", "v1", "roles", "Role", True),
    Resource("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", True),
    Resource("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", False),
    Resource("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", False),
    Resource("authorization.k8s.io", "v1", "selfsubjectaccessreviews", "SelfSubjectAccessReview", False),
]
NAD = Resource(NAD_GROUP, "v1", "network-attachment-definitions", "NetworkAttachmentDefinition", True)
OPENSHIFT = [
    Resource("security.openshift.io", "v1", "securitycontextconstraints", "SecurityContextConstraints", False),
    Resource("operator.openshift.io", "v1", "networks", "Network", False),
]


@dataclass
class Request:
    """One request as the server saw it (tests assert on what the harness sent, and how it authenticated)."""

    method: str
    path: str
    query: dict[str, list[str]]
    body: Any
    content_type: str
    verb: str = ""
    resource: Resource | None = None
    namespace: str | None = None
    name: str | None = None
    subresource: str | None = None
    user: str = ""
    auth: str = ""  # how the user proved who it is: "token" or "cert" (client certificate)
    secure: bool = False  # arrived over TLS
    at: float = field(default_factory=time.time)  # when it arrived (epoch seconds)


@dataclass
class PodOutcome:
    """What the emulated kubelet makes of a pod (``pod_behaviour`` returns one, or None for the default)."""

    phase: str = "Running"  # Running | Pending
    node: str | None = None  # None: schedule by nodeSelector
    events: list[tuple[str, str, str]] = field(default_factory=list)  # (type, reason, message)
    container_waiting: tuple[str, str] | None = None  # (reason, message), e.g. ("ErrImagePull", "...")
    conditions: list[dict[str, Any]] = field(default_factory=list)
    delay: float = 0.0


class ApiError(Exception):
    """An answer other than success; the server turns it into a Status body with this code."""

    def __init__(self, code: int, reason: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code, self.reason, self.message, self.details = code, reason, message, details or {}


def status_body(code: int, reason: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    """The Status object a real API server answers errors with (the client turns it into ApiException)."""
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message,
            "reason": reason, "details": details or {}, "code": code}


def now_stamp() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
