"""The harness's view of the API server: plain-dict calls, and the client's exceptions turned into its own.

Responses are read raw (``_preload_content=False``) and decoded as JSON, so objects stay the dicts the API
defines. Every failure becomes a :class:`~netattest.errors.ClusterError` that names what was being done, the
cluster, and the fix; callers catch :class:`NotFound` / :class:`Conflict` where those are expected.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from netattest.errors import ClusterAccessError, ClusterError, ClusterPermissionError
from netattest.k8s.config import Connection

RBAC_FIX = ("Fix: bind the harness's user to the ClusterRole in deploy/rbac.yaml (see README, 'Running against "
            "your cluster'), or run with an account that has these rights")


class ApiStatusError(ClusterError):
    """An API answer other than success, with the server's Status fields."""

    def __init__(self, message: str, status: int, reason: str = "", detail: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.detail = detail


class NotFound(ApiStatusError):
    pass


class Conflict(ApiStatusError):
    pass


def _status_fields(exc: Any) -> tuple[str, str]:
    """(reason, message) from an ApiException's Status body; the body may be text ("404 page not found")."""
    body = getattr(exc, "body", None)
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    if body:
        try:
            data = json.loads(body)
            if isinstance(data, dict):
                return str(data.get("reason") or exc.reason or ""), str(data.get("message") or "").strip()
        except ValueError:
            return str(exc.reason or ""), body.strip().splitlines()[0] if body.strip() else ""
    return str(getattr(exc, "reason", "") or ""), ""


def _unreachable(reason: str) -> str:
    text = reason.replace("\n", " ")
    for marker, short in (("Connection refused", "connection refused"), ("timed out", "connection timed out"),
                          ("Name or service not known", "host name does not resolve"),
                          ("nodename nor servname", "host name does not resolve"),
                          ("CERTIFICATE_VERIFY_FAILED", "TLS certificate not trusted"),
                          ("No route to host", "no route to host")):
        if marker in text:
            return short
    return text[:200]


class Cluster:
    """Thin, synchronous, thread-safe wrapper; one per target."""

    def __init__(self, connection: Connection, *, request_timeout: float = 30.0) -> None:
        from kubernetes import client

        self.connection = connection
        self.timeout = request_timeout
        api = connection.api_client
        self.core = client.CoreV1Api(api)
        self.custom = client.CustomObjectsApi(api)
        self.rbac = client.RbacAuthorizationV1Api(api)
        self.authz = client.AuthorizationV1Api(api)
        self.version_api = client.VersionApi(api)
        self.apis = client.ApisApi(api)

    @property
    def where(self) -> str:
        return self.connection.where

    # -- the one place client exceptions are translated ------------------------------------------------------
    def call(self, what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run one API call, return its decoded JSON body; ``what`` says what it was for ("creating pod x")."""
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError

        kwargs.setdefault("_request_timeout", self.timeout)
        kwargs["_preload_content"] = False
        try:
            response = fn(*args, **kwargs)
        except ApiException as exc:
            raise self._translate(exc, what) from None
        except HTTPError as exc:  # MaxRetryError, timeouts, protocol errors
            raise ClusterAccessError(
                f"cannot reach the API server at {self.where} while {what}: {_unreachable(str(exc))}. Fix: check "
                "that the cluster is up and reachable from here (VPN, proxy, firewall), and that the kubeconfig "
                "points at the right server") from None
        except OSError as exc:
            raise ClusterAccessError(f"cannot reach the API server at {self.where} while {what}: {exc}") from None
        data = response.data
        if not data:
            return {}
        try:
            return json.loads(data)
        except ValueError:
            return {"raw": data.decode("utf-8", "replace")}

    def _translate(self, exc: Any, what: str) -> ClusterError:
        status = int(getattr(exc, "status", 0) or 0)
        reason, message = _status_fields(exc)
        detail = message or reason or "no details"
        if status == 0:
            return ClusterAccessError(
                f"cannot reach the API server at {self.where} while {what}: {_unreachable(str(exc.reason))}. Fix: "
                "check that the cluster is up and reachable from here, and that the kubeconfig points at it")
        if status == 401:
            fix = ("give the pod's service account a valid token (a projected token that has not expired), or pass "
                   "--kubeconfig" if self.connection.source == "in-cluster config" else
                   "log in again ('oc login' / refresh the token or client certificate in the kubeconfig), or pick "
                   "another context with --context")
            return ClusterAccessError(
                f"the API server at {self.where} rejected the credentials (401 Unauthorized) while {what}. Fix: {fix}")
        if status == 403:
            return ClusterPermissionError(f"forbidden while {what} on {self.where}: {detail}. {_fix_403(detail)}")
        if status == 404:
            return NotFound(f"not found while {what} on {self.where}: {detail}", status, reason, detail)
        if status == 409:
            return Conflict(f"conflict while {what} on {self.where}: {detail}", status, reason, detail)
        return ApiStatusError(f"the API server at {self.where} answered {status} {reason} while {what}: {detail}",
                              status, reason, detail)

    # -- discovery -------------------------------------------------------------------------------------------
    def version(self) -> dict[str, Any]:
        return self.call("reading the server version", self.version_api.get_code)

    def api_groups(self) -> set[str]:
        data = self.call("listing API groups", self.apis.get_api_versions)
        return {g.get("name", "") for g in data.get("groups", [])}

    def has_resource(self, group: str, version: str, plural: str) -> bool:
        try:
            data = self.call(f"discovering {group}/{version}", self.custom.get_api_resources, group, version)
        except NotFound:
            return False
        return any(r.get("name") == plural for r in data.get("resources", []))

    def can_i(self, verb: str, group: str, resource: str, namespace: str = "", subresource: str = "",
              name: str = "") -> bool | None:
        """SelfSubjectAccessReview; None when the review itself cannot be made."""
        attrs = {"verb": verb, "group": group, "resource": resource}
        if name:
            attrs["name"] = name
        if namespace:
            attrs["namespace"] = namespace
        if subresource:
            attrs["subresource"] = subresource
        body = {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
                "spec": {"resourceAttributes": attrs}}
        try:
            data = self.call(f"checking whether it may {verb} {resource}",
                             self.authz.create_self_subject_access_review, body)
        except ClusterAccessError:
            raise
        except ClusterError:
            return None
        return bool((data.get("status") or {}).get("allowed"))

    # -- namespaced core objects -----------------------------------------------------------------------------
    def create_namespace(self, body: dict[str, Any]) -> dict[str, Any]:
        return self.call(f"creating namespace {body['metadata']['name']}", self.core.create_namespace, body)

    def read_namespace(self, name: str) -> dict[str, Any]:
        return self.call(f"reading namespace {name}", self.core.read_namespace, name)

    def patch_namespace(self, name: str, patch: dict[str, Any]) -> dict[str, Any]:
        return self.call(f"updating namespace {name}", self.core.patch_namespace, name, patch,
                         _content_type="application/merge-patch+json")

    def delete_namespace(self, name: str) -> dict[str, Any]:
        return self.call(f"deleting namespace {name}", self.core.delete_namespace, name,
                         body={"propagationPolicy": "Background", "gracePeriodSeconds": 0})

    def list_namespaces(self, label_selector: str) -> list[dict[str, Any]]:
        return self.call("listing netattest namespaces", self.core.list_namespace,
                         label_selector=label_selector).get("items", [])

    def create_pod(self, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
        return self.call(f"creating pod {namespace}/{body['metadata']['name']}", self.core.create_namespaced_pod,
                         namespace, body)

    def list_pods(self, namespace: str, label_selector: str = "") -> list[dict[str, Any]]:
        return self.call(f"listing pods in {namespace}", self.core.list_namespaced_pod, namespace,
                         label_selector=label_selector).get("items", [])

    def read_pod(self, namespace: str, name: str) -> dict[str, Any]:
        return self.call(f"reading pod {namespace}/{name}", self.core.read_namespaced_pod, name, namespace)

    def delete_pod(self, namespace: str, name: str) -> dict[str, Any]:
        return self.call(f"deleting pod {namespace}/{name}", self.core.delete_namespaced_pod, name, namespace,
                         body={"propagationPolicy": "Background", "gracePeriodSeconds": 0})

    def pod_events(self, namespace: str, name: str) -> list[dict[str, Any]]:
        return self.call(f"reading events of pod {namespace}/{name}", self.core.list_namespaced_event, namespace,
                         field_selector=f"involvedObject.kind=Pod,involvedObject.name={name}").get("items", [])

    def list_nodes(self) -> list[dict[str, Any]]:
        return self.call("listing nodes", self.core.list_node).get("items", [])

    def read_node(self, name: str) -> dict[str, Any]:
        return self.call(f"reading node {name}", self.core.read_node, name)

    # -- custom objects --------------------------------------------------------------------------------------
    def create_custom(self, group: str, version: str, plural: str, namespace: str, body: dict[str, Any]) \
            -> dict[str, Any]:
        return self.call(f"creating {plural}.{group} {namespace}/{body['metadata']['name']}",
                         self.custom.create_namespaced_custom_object, group, version, namespace, plural, body)

    def get_custom(self, group: str, version: str, plural: str, namespace: str, name: str) -> dict[str, Any]:
        return self.call(f"reading {plural}.{group} {namespace}/{name}", self.custom.get_namespaced_custom_object,
                         group, version, namespace, plural, name)

    def list_custom(self, group: str, version: str, plural: str, namespace: str) -> list[dict[str, Any]]:
        return self.call(f"listing {plural}.{group} in {namespace}", self.custom.list_namespaced_custom_object,
                         group, version, namespace, plural).get("items", [])

    def get_cluster_custom(self, group: str, version: str, plural: str, name: str) -> dict[str, Any]:
        return self.call(f"reading {plural}.{group} {name}", self.custom.get_cluster_custom_object, group,
                         version, plural, name)

    def patch_cluster_custom(self, group: str, version: str, plural: str, name: str, patch: dict[str, Any]) \
            -> dict[str, Any]:
        return self.call(f"patching {plural}.{group} {name}", self.custom.patch_cluster_custom_object, group,
                         version, plural, name, patch, _content_type="application/merge-patch+json")


def _fix_403(detail: str) -> str:
    lowered = detail.lower()
    if "podsecurity" in lowered:
        return ("Fix: the namespace's PodSecurity level must allow NET_RAW (netattest labels its own namespaces "
                "pod-security.kubernetes.io/enforce=privileged; a cluster-wide admission policy or an exemption "
                "list may override that: ask the cluster admin to allow it for namespaces labelled "
                "app.kubernetes.io/managed-by=netattest)")
    if "security context constraint" in lowered or "scc" in lowered:
        return ("Fix: as cluster-admin apply deploy/rbac-openshift.yaml (SCC netattest-probe and the "
                "ClusterRole that lets the probe service account use it), or pass --scc with an SCC that allows "
                "NET_RAW, uid 0 and host network")
    if "being terminated" in lowered:
        return "Fix: wait until the namespace is gone, then run again"
    return RBAC_FIX


def wait_until(predicate: Callable[[], Any], timeout: float, interval: float) -> Any:
    """Poll ``predicate`` until it returns something truthy or ``timeout`` passes; returns the last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(min(interval, max(0.0, deadline - time.monotonic())))


def create_support_object(cluster: Any, doc: dict[str, Any], purpose: str, scc: str) -> None:
    """Create a ServiceAccount or its SCC RoleBinding (see ``Plan._service_account_docs``); a refused binding names
    the permission the harness's user lacks."""
    ns, name = doc["metadata"]["namespace"], doc["metadata"]["name"]
    if doc["kind"] == "ServiceAccount":
        cluster.call(f"creating service account {ns}/{name}", cluster.core.create_namespaced_service_account, ns, doc)
        return
    role = doc["roleRef"]["name"]
    try:
        cluster.call(f"binding service account {ns}/{name} to ClusterRole {role}",
                     cluster.rbac.create_namespaced_role_binding, ns, doc)
    except ClusterPermissionError as exc:
        raise ClusterPermissionError(
            f"{exc} (to let the {purpose} use SCC {scc}, the harness's user needs 'bind' on ClusterRole {role}, "
            "as granted in deploy/rbac-openshift.yaml)") from None
