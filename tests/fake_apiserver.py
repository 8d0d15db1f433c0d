"""A small Kubernetes API server for the cluster target's tests: aiohttp on its own thread's event loop.

The real ``kubernetes`` client is synchronous, so the server must never share the test's loop. One catch-all route
serves ``/api/v1`` and ``/apis/<group>/<version>``: objects keyed by (group, plural, namespace, name), label and
field selectors, merge / strategic / JSON patch, resourceVersion conflicts, delete-collection, namespace cascade,
creates answering **201**, Status bodies the client turns into ApiException, and pod exec over the
``v5.channel.k8s.io`` / ``v4.channel.k8s.io`` websocket subprotocols (channel byte: 0 stdin, 1 stdout, 2 stderr,
3 status, 255 close in v5) running the command as a local process.

Behaviour a cluster adds on its own is emulated just enough to be asserted against:

* a *kubelet*: pods are scheduled by nodeSelector (or spec.nodeName) against the Node objects, Multus looks up the
  NADs of the networks annotation and writes ``k8s.v1.cni.cncf.io/network-status``; a missing NAD leaves the pod
  Pending with a ``FailedCreatePodSandBox`` event, an unmatched selector with ``FailedScheduling``; tests replace
  any of it per pod with ``pod_behaviour``;
* PodSecurity admission from the namespace's ``pod-security.kubernetes.io/enforce`` label (``default_enforce``
  when absent), and on ``openshift=True`` an SCC check (the pod's service account needs a RoleBinding to one of
  ``scc_cluster_roles``, or of ``privileged_scc_cluster_roles`` for a privileged, host-PID or hostPath pod);
* the OpenShift cluster network operator: Raw ``spec.additionalNetworks`` entries of ``networks.operator`` become
  NADs, and removed entries lose theirs;
* ``admission``: callables that may refuse any request with a status code and message (403, 409, 500 ...);
* several users: each token of ``tokens`` is one user (``add_user``), and every logged request says whose it was,
  so tests of concurrent runs can prove from the log that no run touched another's objects;
* ``reply_delay_for``: the answer to a request that has taken effect is held back (an interrupt then lands while
  the client waits for the reply of a create or delete the server already did).
"""

from __future__ import annotations

import asyncio
import copy
import itertools
import json
import os
import signal
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from aiohttp import WSMsgType, web

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
BASELINE_CAPS = {"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD", "NET_BIND_SERVICE",
                 "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"}


@dataclass
class Request:
    """One request as the server saw it (tests assert on what the harness sent)."""

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
    def __init__(self, code: int, reason: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code, self.reason, self.message, self.details = code, reason, message, details or {}


def status_body(code: int, reason: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message,
            "reason": reason, "details": details or {}, "code": code}


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def json_patch(target: Any, ops: list[dict[str, Any]]) -> Any:
    doc = copy.deepcopy(target)
    for op in ops:
        parts = [p.replace("~1", "/").replace("~0", "~") for p in op["path"].split("/")[1:]]
        parent = doc
        for part in parts[:-1]:
            parent = parent[int(part)] if isinstance(parent, list) else parent.setdefault(part, {})
        last = parts[-1]
        kind = op["op"]
        if kind in ("add", "replace"):
            if isinstance(parent, list):
                index = len(parent) if last == "-" else int(last)
                if kind == "add":
                    parent.insert(index, op["value"])
                else:
                    parent[index] = op["value"]
            else:
                parent[last] = op["value"]
        elif kind == "remove":
            if isinstance(parent, list):
                parent.pop(int(last))
            else:
                parent.pop(last, None)
        elif kind == "test":
            current = parent[int(last)] if isinstance(parent, list) else parent.get(last)
            if current != op["value"]:
                raise ApiError(422, "Invalid", f"test operation failed at {op['path']}")
    return doc


def _lookup(obj: dict[str, Any], path: str) -> Any:
    value: Any = obj
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def selector_matches(labels: dict[str, str], selector: str) -> bool:
    for term in filter(None, (t.strip() for t in _split_selector(selector))):
        if " notin " in term or " in " in term:
            key, _, values = term.partition(" notin " if " notin " in term else " in ")
            allowed = {v.strip() for v in values.strip().strip("()").split(",")}
            present = labels.get(key.strip()) in allowed
            if (" notin " in term) == present:
                return False
        elif "!=" in term:
            key, value = term.split("!=", 1)
            if labels.get(key.strip()) == value.strip():
                return False
        elif "=" in term:
            key, value = term.replace("==", "=").split("=", 1)
            if labels.get(key.strip()) != value.strip():
                return False
        elif term.startswith("!"):
            if term[1:].strip() in labels:
                return False
        elif term not in labels:
            return False
    return True


def _split_selector(selector: str) -> list[str]:
    terms, depth, current = [], 0, ""
    for ch in selector:
        depth += ch == "("
        depth -= ch == ")"
        if ch == "," and depth == 0:
            terms.append(current)
            current = ""
        else:
            current += ch
    terms.append(current)
    return terms


def field_matches(obj: dict[str, Any], selector: str) -> bool:
    for term in filter(None, (t.strip() for t in selector.split(","))):
        if "!=" in term:
            path, value = term.split("!=", 1)
            if str(_lookup(obj, path) or "") == value:
                return False
        else:
            path, value = term.replace("==", "=").split("=", 1)
            if str(_lookup(obj, path) or "") != value:
                return False
    return True


class FakeApiServer:
    def __init__(self, *, nodes: dict[str, dict[str, str]] | None = None, openshift: bool = False,
                 nad_crd: bool = True, default_enforce: str = "privileged", token: str = "test-token",
                 exec_protocols: tuple[str, ...] = (V5, V4), kubelet_delay: float = 0.02,
                 operator_creates_nads: bool = True, operator_delay: float = 0.05) -> None:
        self.resources = list(BUILTIN) + ([NAD] if nad_crd else []) + (OPENSHIFT if openshift else [])
        self.openshift = openshift
        self.default_enforce = default_enforce
        self.token = token
        self.exec_protocols = exec_protocols
        self.kubelet_delay = kubelet_delay
        self.operator_creates_nads = operator_creates_nads
        self.operator_delay = operator_delay
        self.scc_cluster_roles: set[str] = {"netattest:scc:netattest-probe"}
        #: ClusterRoles granting an SCC that also admits privileged, host-PID and hostPath pods (the node checks')
        self.privileged_scc_cluster_roles: set[str] = {"netattest:scc:netattest-node-check"}
        self.objects: dict[tuple[str, str, str | None, str], dict[str, Any]] = {}
        self.requests: list[Request] = []
        self.admission: list[Callable[[Request], tuple[int, str] | None]] = []
        self.pod_behaviour: Callable[[dict[str, Any]], PodOutcome | None] = lambda pod: None
        #: (namespace, pod, command) -> argv run for an exec; default: the command itself, python3 -> this Python
        self.exec_argv: Callable[[str, str, list[str]], list[str]] = self._default_exec_argv
        self.execs: list[dict[str, Any]] = []
        self.denied_access: set[tuple[str, str, str]] = set()  # (verb, group, resource) SSAR answers allowed=False
        self.namespace_grace: float = 0.0  # seconds a deleted namespace stays Terminating
        #: RBAC rules of the harness's user (ClusterRole rules, bound cluster-wide); None allows everything
        self.rbac_rules: list[dict[str, Any]] | None = None
        self.user = "netattest-tester"
        self.tokens: dict[str, str] = {token: self.user}  # bearer token -> user name
        self.latency: float = 0.0  # seconds added to every object request (timeouts)
        self.latency_for: Callable[[Request], float] = lambda req: self.latency
        #: seconds the answer is held after the request took effect
        self.reply_delay_for: Callable[[Request], float] = lambda req: 0.0
        #: pod -> network-status entries to write instead of the emulated ones (the lab-backed tests)
        self.network_status_hook: Callable[[dict[str, Any]], list[dict[str, Any]] | None] = lambda pod: None
        self._rv = itertools.count(1000)
        self._lock = threading.RLock()
        self._operator_nads: set[tuple[str, str]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._procs: set[asyncio.subprocess.Process] = set()
        self.url = ""
        for name, labels in (nodes or {}).items():
            self.add_object(CORE, "nodes", None, {
                "apiVersion": "v1", "kind": "Node",
                "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, **labels}},
                "status": {"addresses": [{"type": "InternalIP", "address": "10.0.0.1"}]}})
        if openshift:
            self.add_object("operator.openshift.io", "networks", None, {
                "apiVersion": "operator.openshift.io/v1", "kind": "Network", "metadata": {"name": "cluster"},
                "spec": {"clusterNetwork": [{"cidr": "10.128.0.0/14", "hostPrefix": 23}],
                         "additionalNetworks": [{"name": "theirs", "namespace": "team-a", "type": "Raw",
                                                 "rawCNIConfig": "{\"type\": \"bridge\"}"}]}})
            self.add_object("security.openshift.io", "securitycontextconstraints", None, {
                "apiVersion": "security.openshift.io/v1", "kind": "SecurityContextConstraints",
                "metadata": {"name": "netattest-probe"}, "allowedCapabilities": ["NET_RAW"]})

    # -- lifecycle ---------------------------------------------------------------------------------------
    def start(self) -> FakeApiServer:
        ready = threading.Event()
        self._loop = asyncio.new_event_loop()

        def run() -> None:
            asyncio.set_event_loop(self._loop)
            self._loop.run_until_complete(self._serve())  # type: ignore[union-attr]
            ready.set()
            self._loop.run_forever()  # type: ignore[union-attr]

        self._thread = threading.Thread(target=run, name="fake-apiserver", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("fake API server did not start")
        return self

    async def _serve(self) -> None:
        app = web.Application(client_max_size=64 << 20)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"

    def stop(self) -> None:
        if self._loop is None:
            return

        async def shutdown() -> None:
            for proc in list(self._procs):
                if proc.returncode is None:
                    try:  # the exec's whole process group: a shell's children hold its stdout open
                        os.killpg(proc.pid, signal.SIGKILL)
                    except OSError:
                        proc.kill()
                    await proc.wait()
            if self._runner is not None:
                await self._runner.cleanup()

        asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)
        self._loop.close()
        self._loop = None

    def __enter__(self) -> FakeApiServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def kubeconfig(self, path: Path, *, context: str = "fake", token: str | None = None) -> Path:
        path.write_text(yaml.safe_dump({
            "apiVersion": "v1", "kind": "Config", "current-context": context,
            "clusters": [{"name": "fake-cluster", "cluster": {"server": self.url}}],
            "users": [{"name": "fake-user", "user": {"token": token or self.token}}],
            "contexts": [{"name": context, "context": {"cluster": "fake-cluster", "user": "fake-user"}}],
        }))
        return path

    def add_user(self, name: str) -> str:
        """A further user of the same rights; returns its token (for ``kubeconfig(path, token=...)``)."""
        token = f"{name}-{uuid.uuid4().hex[:8]}"
        self.tokens[token] = name
        return token

    # -- store helpers (thread-safe; tests call them too) --------------------------------------------------
    def resource(self, group: str, plural: str) -> Resource | None:
        return next((r for r in self.resources if r.group == group and r.plural == plural), None)

    def add_object(self, group: str, plural: str, namespace: str | None, obj: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            meta = obj.setdefault("metadata", {})
            meta.setdefault("uid", str(uuid.uuid4()))
            meta.setdefault("creationTimestamp", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
            meta["resourceVersion"] = str(next(self._rv))
            if namespace:
                meta["namespace"] = namespace
            self.objects[(group, plural, namespace, meta["name"])] = obj
            return obj

    def get(self, group: str, plural: str, namespace: str | None, name: str) -> dict[str, Any] | None:
        with self._lock:
            return self.objects.get((group, plural, namespace, name))

    def list(self, group: str, plural: str, namespace: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            return [o for (g, p, ns, _), o in sorted(self.objects.items(), key=lambda kv: str(kv[0]))
                    if g == group and p == plural and (namespace is None or ns == namespace)]

    def sent(self, verb: str, plural: str) -> list[Request]:
        """Requests the harness made, e.g. ``sent("create", "pods")``."""
        return [r for r in self.requests if r.verb == verb and r.resource is not None and r.resource.plural == plural]

    def event(self, pod: dict[str, Any], type_: str, reason: str, message: str) -> None:
        ns, name = pod["metadata"]["namespace"], pod["metadata"]["name"]
        self.add_object(CORE, "events", ns, {
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": f"{name}.{uuid.uuid4().hex[:12]}", "namespace": ns},
            "involvedObject": {"kind": "Pod", "name": name, "namespace": ns, "uid": pod["metadata"]["uid"]},
            "type": type_, "reason": reason, "message": message, "count": 1,
            "firstTimestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "lastTimestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        })

    # -- HTTP ----------------------------------------------------------------------------------------------
    def _parse(self, request: web.Request) -> Request:
        parts = [p for p in request.path.split("/") if p]
        query: dict[str, list[str]] = {}
        for key, value in request.query.items():
            query.setdefault(key, []).append(value)
        req = Request(request.method, request.path, query, None, request.content_type)
        if parts[:2] == ["api", "v1"]:
            group, version, rest = CORE, "v1", parts[2:]
        elif parts[:1] == ["apis"] and len(parts) >= 3:
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            return req
        namespace = None
        if len(rest) >= 3 and rest[0] == "namespaces":
            namespace, rest = rest[1], rest[2:]
        if not rest:
            req.verb = "discovery"
            req.resource = Resource(group, version, "", "", False)
            return req
        res = self.resource(group, rest[0])
        if res is None or res.version != version:
            req.verb = "unknown"
            return req
        req.resource, req.namespace = res, namespace
        req.name = rest[1] if len(rest) > 1 else None
        req.subresource = rest[2] if len(rest) > 2 else None
        method = request.method
        if req.subresource == "exec":
            req.verb = "exec"
        elif method == "GET":
            req.verb = "get" if req.name else ("watch" if query.get("watch") == ["true"] else "list")
        elif method == "POST":
            req.verb = "create"
        elif method == "PUT":
            req.verb = "update"
        elif method == "PATCH":
            req.verb = "patch"
        elif method == "DELETE":
            req.verb = "delete" if req.name else "deletecollection"
        return req

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        auth = request.headers.get("Authorization", "")
        user = self.tokens.get(auth.removeprefix("Bearer ")) if auth.startswith("Bearer ") else None
        if user is None:
            return web.json_response(status_body(401, "Unauthorized", "Unauthorized"), status=401)
        req = self._parse(request)
        req.user = user
        if request.can_read_body:
            raw = await request.read()
            try:
                req.body = json.loads(raw) if raw else None
            except ValueError:
                req.body = raw.decode(errors="replace")
        self.requests.append(req)
        path = request.path.rstrip("/") or "/"
        try:
            if path == "/version":
                return web.json_response({"major": "1", "minor": "30", "gitVersion": "v1.30.0-fake"})
            if path == "/api":
                return web.json_response({"kind": "APIVersions", "versions": ["v1"]})
            if path == "/apis":
                return web.json_response(self._groups())
            if req.verb == "discovery":
                return self._discovery(req)
            if req.resource is None or req.verb == "unknown":
                return web.Response(status=404, text="404 page not found\n", content_type="text/plain")
            delay = self.latency_for(req)
            if delay:
                await asyncio.sleep(delay)
            denied = self._rbac_denies(req)
            if denied:
                raise ApiError(403, "Forbidden", denied)
            for hook in self.admission:
                refused = hook(req)
                if refused:
                    code, message = refused
                    reason = {403: "Forbidden", 404: "NotFound", 409: "AlreadyExists", 422: "Invalid"}.get(
                        code, "InternalError")
                    raise ApiError(code, reason, message)
            if req.verb == "exec":
                return await self._exec(request, req)
            with self._lock:
                status, body = self._dispatch(req)
                response = web.json_response(body, status=status)  # serialized now: the answer as it was
            held = self.reply_delay_for(req)
            if held:
                await asyncio.sleep(held)
            return response
        except ApiError as exc:
            return web.json_response(status_body(exc.code, exc.reason, exc.message, exc.details), status=exc.code)

    def _groups(self) -> dict[str, Any]:
        groups: dict[str, list[str]] = {}
        for res in self.resources:
            if res.group:
                groups.setdefault(res.group, [])
                if res.version not in groups[res.group]:
                    groups[res.group].append(res.version)
        return {"kind": "APIGroupList", "apiVersion": "v1", "groups": [
            {"name": g, "versions": [{"groupVersion": f"{g}/{v}", "version": v} for v in vs],
             "preferredVersion": {"groupVersion": f"{g}/{vs[0]}", "version": vs[0]}} for g, vs in groups.items()]}

    def _discovery(self, req: Request) -> web.Response:
        assert req.resource is not None
        found = [r for r in self.resources if r.group == req.resource.group and r.version == req.resource.version]
        if not found:
            return web.Response(status=404, text="404 page not found\n", content_type="text/plain")
        return web.json_response({"kind": "APIResourceList", "groupVersion": found[0].api_version, "resources": [
            {"name": r.plural, "namespaced": r.namespaced, "kind": r.kind,
             "verbs": ["create", "delete", "deletecollection", "get", "list", "patch", "update"]} for r in found]})

    # -- RBAC ----------------------------------------------------------------------------------------------
    def allows(self, verb: str, group: str, resource: str, name: str | None = None) -> bool:
        if self.rbac_rules is None:
            return True
        for rule in self.rbac_rules:
            if not {group, "*"} & set(rule.get("apiGroups") or []):
                continue
            if not {resource, "*"} & set(rule.get("resources") or []):
                continue
            if not {verb, "*"} & set(rule.get("verbs") or []):
                continue
            names = rule.get("resourceNames") or []
            if names and name not in names:
                continue
            return True
        return False

    def _rbac_denies(self, req: Request) -> str | None:
        res = req.resource
        if res is None or req.verb in ("discovery", "unknown") or res.plural == "selfsubjectaccessreviews":
            return None
        resource = res.plural + (f"/{req.subresource}" if req.subresource else "")
        verb = "create" if req.verb == "exec" else req.verb
        if self.allows(verb, res.group, resource, req.name):
            if res.plural == "rolebindings" and req.verb == "create" and self.rbac_rules is not None:
                role = ((req.body or {}).get("roleRef") or {}).get("name")
                if not self.allows("bind", "rbac.authorization.k8s.io", "clusterroles", role):
                    return (f'rolebindings.rbac.authorization.k8s.io is forbidden: user "{self.user}" (groups=[]) is '
                            f"attempting to grant RBAC permissions not currently held: clusterroles {role} (bind)")
            return None
        where = f' in the namespace "{req.namespace}"' if req.namespace else ""
        what = f'{res.plural}{"." + res.group if res.group else ""} "{req.name}"' if req.name else \
            f'{res.plural}{"." + res.group if res.group else ""}'
        return (f'{what} is forbidden: User "{self.user}" cannot {verb} resource "{resource}" in API group '
                f'"{res.group}"{where}')

    # -- object verbs (called with the lock held) ----------------------------------------------------------
    def _dispatch(self, req: Request) -> tuple[int, Any]:
        res = req.resource
        assert res is not None
        if res.namespaced and req.namespace is None and req.verb not in ("list",):
            raise ApiError(404, "NotFound", "namespace required")
        if req.verb == "list":
            return 200, self._list(req)
        if req.verb == "create":
            return self._create(req)
        key = (res.group, res.plural, req.namespace if res.namespaced else None, req.name or "")
        if req.verb == "deletecollection":
            items = self._select(req)
            for obj in items:
                self._delete_key((res.group, res.plural, obj["metadata"].get("namespace"), obj["metadata"]["name"]))
            return 200, {"kind": "Status", "apiVersion": "v1", "status": "Success", "metadata": {}}
        obj = self.objects.get(key)
        if obj is None:
            raise ApiError(404, "NotFound", f'{res.plural}.{res.group or "core"} "{req.name}" not found'
                           .replace(".core", ""), {"name": req.name, "kind": res.plural})
        if req.verb == "get":
            return 200, obj
        if req.verb == "delete":
            return 200, self._delete_key(key)
        if req.verb in ("patch", "update"):
            body = req.body
            if req.verb == "update":
                new = copy.deepcopy(body)
            elif "json-patch" in req.content_type:
                new = json_patch(obj, body)
            else:
                new = merge_patch(obj, body)
            wanted_rv = (body or {}).get("metadata", {}).get("resourceVersion") if isinstance(body, dict) else None
            if wanted_rv and wanted_rv != obj["metadata"]["resourceVersion"]:
                raise ApiError(409, "Conflict", f'Operation cannot be fulfilled on {res.plural} "{req.name}": the '
                               "object has been modified; please apply your changes to the latest version and try "
                               "again")
            new["metadata"] = {**new.get("metadata", {}), "uid": obj["metadata"]["uid"], "name": obj["metadata"]["name"]}
            stored = self.add_object(res.group, res.plural, key[2], new)
            if res.plural == "networks" and res.group == "operator.openshift.io":
                self._later(self.operator_delay, self._reconcile_operator)
            return 200, stored
        raise ApiError(405, "MethodNotAllowed", f"verb {req.verb} not supported")

    def _select(self, req: Request) -> list[dict[str, Any]]:
        res = req.resource
        assert res is not None
        labels = req.query.get("labelSelector", [""])[0]
        fields = req.query.get("fieldSelector", [""])[0]
        items = self.list(res.group, res.plural, req.namespace if res.namespaced else None)
        return [o for o in items if selector_matches(o["metadata"].get("labels") or {}, labels)
                and field_matches(o, fields)]

    def _list(self, req: Request) -> dict[str, Any]:
        res = req.resource
        assert res is not None
        return {"kind": f"{res.kind}List", "apiVersion": res.api_version,
                "metadata": {"resourceVersion": str(next(self._rv))}, "items": self._select(req)}

    def _create(self, req: Request) -> tuple[int, Any]:
        res = req.resource
        assert res is not None
        body = copy.deepcopy(req.body)
        if not isinstance(body, dict):
            raise ApiError(400, "BadRequest", "body must be an object")
        meta = body.setdefault("metadata", {})
        if res.plural == "selfsubjectaccessreviews":
            attrs = body.get("spec", {}).get("resourceAttributes", {})
            resource = attrs.get("resource", "") + (f"/{attrs['subresource']}" if attrs.get("subresource") else "")
            denied = ((attrs.get("verb"), attrs.get("group", ""), attrs.get("resource")) in self.denied_access
                      or not self.allows(attrs.get("verb", ""), attrs.get("group", ""), resource, attrs.get("name")))
            return 201, {**body, "status": {"allowed": not denied, **({"reason": "RBAC: denied"} if denied else {})}}
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = meta["generateName"] + uuid.uuid4().hex[:5]
        name = meta.get("name")
        if not name:
            raise ApiError(422, "Invalid", f"{res.kind} is invalid: metadata.name: Required value")
        namespace = req.namespace if res.namespaced else None
        if res.namespaced:
            ns = self.objects.get((CORE, "namespaces", None, namespace or ""))
            if ns is None:
                raise ApiError(404, "NotFound", f'namespaces "{namespace}" not found',
                               {"name": namespace, "kind": "namespaces"})
            if ns.get("status", {}).get("phase") == "Terminating":
                raise ApiError(403, "Forbidden", f"{res.plural} \"{name}\" is forbidden: unable to create new content"
                               f" in namespace {namespace} because it is being terminated")
            if meta.get("namespace") not in (None, namespace):
                raise ApiError(400, "BadRequest", "the namespace of the provided object does not match the "
                               "namespace sent on the request")
        key = (res.group, res.plural, namespace, name)
        if key in self.objects:
            group = f".{res.group}" if res.group else ""
            raise ApiError(409, "AlreadyExists", f'{res.plural}{group} "{name}" already exists',
                           {"name": name, "group": res.group, "kind": res.plural})
        body.setdefault("apiVersion", res.api_version)
        body.setdefault("kind", res.kind)
        if res.plural == "pods":
            self._admit_pod(body, namespace or "")
            body.setdefault("status", {})["phase"] = "Pending"
            body["status"]["conditions"] = []
        if res.plural == "namespaces":
            body["status"] = {"phase": "Active"}
        stored = self.add_object(res.group, res.plural, namespace, body)
        if res.plural == "pods":
            self._later(self.kubelet_delay, lambda: self._kubelet(namespace or "", name))
        return 201, stored

    def _delete_key(self, key: tuple[str, str, str | None, str]) -> dict[str, Any]:
        obj = self.objects[key]
        group, plural, _, name = key
        if group == CORE and plural == "namespaces":
            if self.namespace_grace > 0:
                obj.setdefault("status", {})["phase"] = "Terminating"
                obj["metadata"]["deletionTimestamp"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
                self._later(self.namespace_grace, lambda: self._finish_namespace(name))
                return obj
            self._finish_namespace(name)
            return obj
        return self.objects.pop(key)

    def _finish_namespace(self, name: str) -> None:
        with self._lock:
            for key in [k for k in self.objects if k[2] == name]:
                del self.objects[key]
            self.objects.pop((CORE, "namespaces", None, name), None)

    def _later(self, delay: float, fn: Callable[[], None]) -> None:
        def locked() -> None:
            with self._lock:
                fn()

        assert self._loop is not None
        self._loop.call_later(delay, locked)

    # -- admission -----------------------------------------------------------------------------------------
    def _admit_pod(self, pod: dict[str, Any], namespace: str) -> None:
        ns = self.objects[(CORE, "namespaces", None, namespace)]
        level = (ns["metadata"].get("labels") or {}).get("pod-security.kubernetes.io/enforce", self.default_enforce)
        name = pod["metadata"]["name"]
        spec = pod.get("spec", {})
        added = {c for ctr in spec.get("containers", []) for c in
                 ((ctr.get("securityContext") or {}).get("capabilities") or {}).get("add", [])}
        if level in ("baseline", "restricted"):
            problems = []
            if spec.get("hostNetwork"):
                problems.append("host namespaces (hostNetwork=true)")
            extra = sorted(added - BASELINE_CAPS) if level == "baseline" else sorted(added - {"NET_BIND_SERVICE"})
            if extra:
                problems.append(f'non-default capabilities (container "probe" must not include '
                                f'{", ".join(chr(34) + c + chr(34) for c in extra)} in securityContext.capabilities.add)')
            if problems:
                raise ApiError(403, "Forbidden", f'pods "{name}" is forbidden: violates PodSecurity '
                               f'"{level}:latest": {", ".join(problems)}')
        privileged = [f for f, used in (
            ("spec.securityContext.hostPID: Invalid value: true: Host PID is not allowed to be used",
             spec.get("hostPID")),
            ('spec.volumes: Invalid value: "hostPath": hostPath volumes are not allowed to be used',
             any("hostPath" in v for v in spec.get("volumes") or [])),
            ("spec.containers[0].securityContext.privileged: Invalid value: true: Privileged containers are not "
             "allowed", any((c.get("securityContext") or {}).get("privileged") for c in spec.get("containers", []))),
        ) if used]
        if self.openshift and (added or spec.get("hostNetwork") or privileged):
            sa = spec.get("serviceAccountName") or "default"
            roles = self.privileged_scc_cluster_roles | (set() if privileged else self.scc_cluster_roles)
            bound = any(rb["roleRef"].get("name") in roles
                        and any(s.get("kind") == "ServiceAccount" and s.get("name") == sa
                                for s in rb.get("subjects", []))
                        for rb in self.list("rbac.authorization.k8s.io", "rolebindings", namespace))
            if not bound and privileged:
                raise ApiError(403, "Forbidden", f'pods "{name}" is forbidden: unable to validate against any '
                               f'security context constraint: [provider "netattest-probe": Forbidden: not usable by '
                               f'user or serviceaccount, {", ".join(privileged)}]')
            if not bound:
                cap = sorted(added)[0] if added else "NET_RAW"
                raise ApiError(403, "Forbidden", f'pods "{name}" is forbidden: unable to validate against any '
                               f'security context constraint: [provider "anyuid": Forbidden: not usable by user or '
                               f'serviceaccount, provider restricted-v2: .containers[0].capabilities.add: Invalid '
                               f'value: "{cap}": capability may not be added]')

    # -- kubelet + Multus ----------------------------------------------------------------------------------
    def _kubelet(self, namespace: str, name: str) -> None:
        pod = self.objects.get((CORE, "pods", namespace, name))
        if pod is None:
            return
        outcome = self.pod_behaviour(pod)
        if outcome is not None and outcome.delay:
            self._later(outcome.delay, lambda: self._apply(pod, outcome))
            return
        self._apply(pod, outcome)

    def _schedule(self, pod: dict[str, Any]) -> str | None:
        spec = pod.get("spec", {})
        if spec.get("nodeName"):
            return spec["nodeName"]
        selector = spec.get("nodeSelector") or {}
        nodes = self.list(CORE, "nodes")
        matching = [n for n in nodes if all((n["metadata"].get("labels") or {}).get(k) == v
                                            for k, v in selector.items())]
        if not matching:
            return None
        load = {n["metadata"]["name"]: 0 for n in matching}
        for other in self.list(CORE, "pods"):
            node = other.get("spec", {}).get("nodeName")
            if node in load:
                load[node] += 1
        return min(load, key=lambda n: load[n])

    def _multus(self, pod: dict[str, Any], node: str) -> tuple[list[dict[str, Any]], str | None]:
        """network-status for the pod, or the sandbox error Multus would report."""
        ns, name = pod["metadata"]["namespace"], pod["metadata"]["name"]
        raw = (pod["metadata"].get("annotations") or {}).get("k8s.v1.cni.cncf.io/networks")
        statuses: list[dict[str, Any]] = [{"name": "ovn-kubernetes", "interface": "eth0", "ips": ["10.128.2.15"],
                                           "mac": "0a:58:0a:80:02:0f", "default": True, "dns": {}}]
        if not raw:
            return statuses, None
        for index, sel in enumerate(json.loads(raw), 1):
            nad_ns = sel.get("namespace", ns)
            nad = self.objects.get((NAD_GROUP, "network-attachment-definitions", nad_ns, sel["name"]))
            if nad is None:
                return statuses, (
                    f'Failed to create pod sandbox: rpc error: code = Unknown desc = failed to setup network for '
                    f'sandbox "{uuid.uuid4().hex}": plugin type="multus" name="multus-cni-network" failed (add): '
                    f'Multus: [{ns}/{name}/{pod["metadata"]["uid"]}]: error loading k8s delegates k8s args: '
                    f'TryLoadPodDelegates: error in getting k8s network for pod: GetNetworkDelegates: failed getting '
                    f'the delegate: getKubernetesDelegate: cannot find a network-attachment-definition '
                    f'({sel["name"]}) in namespace ({nad_ns}): network-attachment-definitions.k8s.cni.cncf.io '
                    f'"{sel["name"]}" not found')
            mac = sel.get("mac") or "02:%02x:%02x:%02x:%02x:%02x" % (
                index, *(uuid.uuid5(uuid.NAMESPACE_DNS, f"{ns}/{name}/{node}").bytes[:4]))
            statuses.append({"name": f"{nad_ns}/{sel['name']}", "interface": sel.get("interface", f"net{index}"),
                             "ips": [ip.split("/")[0] for ip in sel.get("ips", [])], "mac": mac, "dns": {}})
        return statuses, None

    def _apply(self, pod: dict[str, Any], outcome: PodOutcome | None) -> None:
        ns, name = pod["metadata"]["namespace"], pod["metadata"]["name"]
        if self.objects.get((CORE, "pods", ns, name)) is not pod:
            return  # deleted meanwhile
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        status = pod.setdefault("status", {})
        node = outcome.node if outcome and outcome.node else self._schedule(pod)
        if node is None:
            nodes = self.list(CORE, "nodes")
            message = (f"0/{len(nodes)} nodes are available: {len(nodes)} node(s) didn't match Pod's node "
                       f"affinity/selector. preemption: 0/{len(nodes)} nodes are available: {len(nodes)} "
                       "Preemption is not helpful for scheduling.")
            status["conditions"] = [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                                     "message": message, "lastTransitionTime": now}]
            self.event(pod, "Warning", "FailedScheduling", message)
            pod["metadata"]["resourceVersion"] = str(next(self._rv))
            return
        pod["spec"]["nodeName"] = node
        conditions = [{"type": "PodScheduled", "status": "True", "lastTransitionTime": now}]
        self.event(pod, "Normal", "Scheduled", f"Successfully assigned {ns}/{name} to {node}")
        statuses, sandbox_error = self._multus(pod, node)
        events = list(outcome.events) if outcome else []
        phase = outcome.phase if outcome else "Running"
        waiting = outcome.container_waiting if outcome else None
        if sandbox_error and not outcome:
            events.append(("Warning", "FailedCreatePodSandBox", sandbox_error))
            phase = "Pending"
        for type_, reason, message in events:
            self.event(pod, type_, reason, message)
        containers = pod["spec"].get("containers", [])
        if phase == "Running":
            statuses = self.network_status_hook(pod) or statuses
            pod["metadata"].setdefault("annotations", {})["k8s.v1.cni.cncf.io/network-status"] = json.dumps(
                statuses, indent=4)
            status.update({"phase": "Running", "podIP": "10.128.2.15", "hostIP": "10.0.0.1", "startTime": now})
            conditions += [{"type": t, "status": "True", "lastTransitionTime": now}
                           for t in ("Initialized", "ContainersReady", "Ready")]
            status["containerStatuses"] = [{"name": c["name"], "image": c.get("image"), "ready": True,
                                            "restartCount": 0, "started": True,
                                            "state": {"running": {"startedAt": now}}} for c in containers]
        else:
            status["phase"] = "Pending"
            conditions += [{"type": "Ready", "status": "False", "reason": "ContainersNotReady",
                            "lastTransitionTime": now}]
            reason, message = waiting or ("ContainerCreating", "")
            status["containerStatuses"] = [{"name": c["name"], "image": c.get("image"), "ready": False,
                                            "restartCount": 0, "started": False,
                                            "state": {"waiting": {"reason": reason, "message": message}}}
                                           for c in containers]
        status["conditions"] = (outcome.conditions if outcome and outcome.conditions else conditions)
        pod["metadata"]["resourceVersion"] = str(next(self._rv))

    # -- cluster network operator --------------------------------------------------------------------------
    def _reconcile_operator(self) -> None:
        if not self.operator_creates_nads:
            return
        network = self.objects.get(("operator.openshift.io", "networks", None, "cluster"))
        wanted = {(e.get("namespace", "default"), e["name"]): e
                  for e in ((network or {}).get("spec") or {}).get("additionalNetworks") or [] if e.get("type") == "Raw"}
        for (ns, name), entry in wanted.items():
            if (NAD_GROUP, "network-attachment-definitions", ns, name) in self.objects:
                continue
            if (CORE, "namespaces", None, ns) not in self.objects:
                continue  # the real operator logs and retries
            self.add_object(NAD_GROUP, "network-attachment-definitions", ns, {
                "apiVersion": "k8s.cni.cncf.io/v1", "kind": "NetworkAttachmentDefinition",
                "metadata": {"name": name, "namespace": ns, "ownerReferences": [
                    {"apiVersion": "operator.openshift.io/v1", "kind": "Network", "name": "cluster",
                     "uid": network["metadata"]["uid"]}]},  # type: ignore[index]
                "spec": {"config": entry.get("rawCNIConfig", "")}})
            self._operator_nads.add((ns, name))
        for ns, name in list(self._operator_nads):
            if (ns, name) not in wanted:
                self.objects.pop((NAD_GROUP, "network-attachment-definitions", ns, name), None)
                self._operator_nads.discard((ns, name))

    # -- exec ----------------------------------------------------------------------------------------------
    @staticmethod
    def _default_exec_argv(namespace: str, pod: str, command: list[str]) -> list[str]:
        return [sys.executable if command[0] in ("python3", "python") else command[0], *command[1:]]

    async def _exec(self, request: web.Request, req: Request) -> web.StreamResponse:
        with self._lock:
            pod = self.objects.get((CORE, "pods", req.namespace, req.name or ""))
        if pod is None:
            raise ApiError(404, "NotFound", f'pods "{req.name}" not found')
        if pod.get("status", {}).get("phase") != "Running":
            raise ApiError(400, "BadRequest", f"pod {req.name} does not have a host assigned"
                           if not pod["spec"].get("nodeName") else "container not found (\"probe\")")
        command = req.query.get("command", [])
        ws = web.WebSocketResponse(protocols=self.exec_protocols, max_msg_size=64 << 20)
        await ws.prepare(request)
        protocol = ws.ws_protocol
        record = {"namespace": req.namespace, "pod": req.name, "command": command, "protocol": protocol,
                  "stdin_bytes": 0, "exit": None, "pid": None, "user": req.user}
        self.execs.append(record)
        argv = self.exec_argv(req.namespace or "", req.name or "", command)
        # without stdin=true the process gets no stdin (as with the kubelet), so a command that reads it ends
        stdin = asyncio.subprocess.PIPE if req.query.get("stdin", ["false"])[0].lower() == "true" else \
            asyncio.subprocess.DEVNULL
        try:
            proc = await asyncio.create_subprocess_exec(*argv, stdin=stdin, start_new_session=True,
                                                        stdout=asyncio.subprocess.PIPE,
                                                        stderr=asyncio.subprocess.PIPE)
        except (FileNotFoundError, PermissionError):
            await ws.send_bytes(b"\x03" + json.dumps({
                "metadata": {}, "status": "Failure", "reason": "InternalError",
                "message": f'Internal error occurred: error executing command in container: failed to exec in '
                           f'container: OCI runtime exec failed: exec failed: unable to start container process: '
                           f'exec: "{command[0]}": executable file not found in $PATH: unknown'}).encode())
            await ws.close()
            return ws
        self._procs.add(proc)
        record["pid"] = proc.pid

        async def pump(stream: asyncio.StreamReader, channel: int) -> None:
            while True:
                chunk = await stream.read(65536)
                if not chunk:
                    return
                if not ws.closed:
                    await ws.send_bytes(bytes([channel]) + chunk)

        pumps = [asyncio.ensure_future(pump(proc.stdout, 1)), asyncio.ensure_future(pump(proc.stderr, 2))]  # type: ignore[arg-type]

        async def feed() -> None:
            async for msg in ws:
                if msg.type not in (WSMsgType.BINARY, WSMsgType.TEXT):
                    continue
                data = msg.data if isinstance(msg.data, bytes) else msg.data.encode("utf-8", "surrogateescape")
                if not data:
                    continue
                if data[0] == 255 and protocol == V5:
                    if data[1:2] == b"\x00" and proc.stdin is not None:
                        proc.stdin.close()
                    continue
                if data[0] == 0 and proc.stdin is not None and not proc.stdin.is_closing():
                    record["stdin_bytes"] += len(data) - 1
                    proc.stdin.write(data[1:])
                    try:
                        await proc.stdin.drain()
                    except (BrokenPipeError, ConnectionResetError):
                        pass
            # the client went away: end the process like the kubelet does when the stream closes
            if proc.returncode is None:
                if proc.stdin is not None and not proc.stdin.is_closing():
                    proc.stdin.close()

        feeder = asyncio.ensure_future(feed())
        code = await proc.wait()
        await asyncio.gather(*pumps, return_exceptions=True)
        record["exit"] = code
        self._procs.discard(proc)
        if not ws.closed:
            status = {"metadata": {}, "status": "Success"} if code == 0 else {
                "metadata": {}, "status": "Failure", "message": f"command terminated with non-zero exit code: {code}",
                "reason": "NonZeroExitCode", "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]}}
            await ws.send_bytes(b"\x03" + json.dumps(status).encode())
            await ws.close()
        feeder.cancel()
        return ws


# -- helpers for the cluster target's tests ------------------------------------------------------------------------
REPO = Path(__file__).resolve().parents[1]
#: the seed topology's nodes, labelled as in topologies/restricted-vlan.yaml
SEED_NODES = {"node1": {"node-role.kubernetes.io/multus-node": "yes"},
              "node2": {"node-role.kubernetes.io/multus-node": "yes"}, "node3": {}}


def rbac_rules(openshift: bool = False) -> list[dict[str, Any]]:
    """The rules of the ClusterRoles shipped in deploy/ for the harness's user."""
    files = ["rbac.yaml"] + (["rbac-openshift.yaml"] if openshift else [])
    rules: list[dict[str, Any]] = []
    for name in files:
        for doc in yaml.safe_load_all((REPO / "deploy" / name).read_text()):
            if doc and doc.get("kind") == "ClusterRole" and doc["metadata"]["name"].startswith("netattest-runner"):
                rules += doc["rules"]
    return rules


def leftovers(server: FakeApiServer) -> list[tuple[str, str, str | None, str]]:
    """Every object a run could have created that is still there (nodes, the operator and the SCC are the
    cluster's own)."""
    cluster_owned = {"nodes", "networks", "securitycontextconstraints"}
    with server._lock:
        return sorted(k for k in server.objects if k[1] not in cluster_owned)
