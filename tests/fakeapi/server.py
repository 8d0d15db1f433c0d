"""The fake API server: aiohttp on its own thread's event loop, HTTPS by default, one catch-all route for ``/api/v1``
and ``/apis/<group>/<version>``.

The real ``kubernetes`` client is synchronous, so the server never shares the test's loop. Requests are
authenticated as kube-apiserver does it: a client certificate signed by the session CA (user = its Common Name),
else a bearer token of ``tokens``; anything else is **401** with a Status body. Then RBAC (``rbac_rules``), the
``admission`` hooks and the verb on the store; exec upgrades to a websocket (``wss://`` over TLS).

Knobs the tests turn, besides the cluster behaviour of :mod:`~tests.fakeapi.controllers` and
:mod:`~tests.fakeapi.policy`:

* ``admission``: callables that may refuse any request with a status code and message (403, 409, 500 ...);
* several users (``add_user``, or ``kubeconfig(user=..., auth="token"|"cert")``), and every logged request says
  whose it was and how it authenticated, so tests of concurrent runs can prove from the log that no run touched
  another's objects;
* ``latency_for``: seconds before a request is handled (timeouts); ``reply_delay_for``: the answer to a request that
  has taken effect is held back (an interrupt then lands while the client waits for the reply of a create or delete
  the server already did).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, Self

from aiohttp import web

from tests.fakeapi import execs, pki, policy, verbs
from tests.fakeapi.kubeconfig import (
    InCluster,
    cert_user,
    cluster_entry,
    token_user,
    write_in_cluster,
    write_kubeconfig,
)
from tests.fakeapi.model import (
    BUILTIN,
    CORE,
    NAD,
    OPENSHIFT,
    V4,
    V5,
    ApiError,
    PodOutcome,
    Request,
    Resource,
    status_body,
)
from tests.fakeapi.store import Store

REASONS = {403: "Forbidden", 404: "NotFound", 409: "AlreadyExists", 422: "Invalid"}


class FakeApiServer:
    def __init__(self, *, nodes: dict[str, dict[str, str]] | None = None, openshift: bool = False,
                 nad_crd: bool = True, default_enforce: str = "privileged", token: str = "test-token",
                 exec_protocols: tuple[str, ...] = (V5, V4), kubelet_delay: float = 0.02,
                 operator_creates_nads: bool = True, operator_delay: float = 0.05, tls: bool = True) -> None:
        self.resources = list(BUILTIN) + ([NAD] if nad_crd else []) + (OPENSHIFT if openshift else [])
        self.openshift = openshift
        self.tls = tls
        self.default_enforce = default_enforce
        self.token = token
        self.exec_protocols = exec_protocols
        self.kubelet_delay = kubelet_delay
        self.operator_creates_nads = operator_creates_nads
        self.operator_delay = operator_delay
        self.scc_cluster_roles: set[str] = {"netattest:scc:netattest-probe"}
        #: ClusterRoles granting an SCC that also admits privileged, host-PID and hostPath pods (the node checks')
        self.privileged_scc_cluster_roles: set[str] = {"netattest:scc:netattest-node-check"}
        self.store = Store()
        self.requests: list[Request] = []
        self.admission: list[Callable[[Request], tuple[int, str] | None]] = []
        self.pod_behaviour: Callable[[dict[str, Any]], PodOutcome | None] = lambda pod: None
        #: (namespace, pod, command) -> argv run for an exec; default: the command itself, python3 -> this Python
        self.exec_argv: Callable[[str, str, list[str]], list[str]] = execs.default_argv
        self.execs: list[dict[str, Any]] = []
        self.denied_access: set[tuple[str, str, str]] = set()  # (verb, group, resource) SSAR answers allowed=False
        self.namespace_grace: float = 0.0  # seconds a deleted namespace stays Terminating
        #: RBAC rules of every user (ClusterRole rules, bound cluster-wide); None allows everything
        self.rbac_rules: list[dict[str, Any]] | None = None
        self.user = "netattest-tester"
        self.tokens: dict[str, str] = {token: self.user}  # bearer token -> user name
        self.latency: float = 0.0  # seconds added to every object request (timeouts)
        self.latency_for: Callable[[Request], float] = lambda req: self.latency
        #: seconds the answer is held after the request took effect
        self.reply_delay_for: Callable[[Request], float] = lambda req: 0.0
        #: pod -> network-status entries to write instead of the emulated ones (the lab-backed tests)
        self.network_status_hook: Callable[[dict[str, Any]], list[dict[str, Any]] | None] = lambda pod: None
        self.operator_nads: set[tuple[str, str]] = set()
        self.procs: set[asyncio.subprocess.Process] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self.url = ""
        self._seed(nodes or {})

    def _seed(self, nodes: dict[str, dict[str, str]]) -> None:
        for name, labels in nodes.items():
            self.add_object(CORE, "nodes", None, {
                "apiVersion": "v1", "kind": "Node",
                "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, **labels}},
                "status": {"addresses": [{"type": "InternalIP", "address": "10.0.0.1"}]}})
        if self.openshift:
            self.add_object("operator.openshift.io", "networks", None, {
                "apiVersion": "operator.openshift.io/v1", "kind": "Network", "metadata": {"name": "cluster"},
                "spec": {"clusterNetwork": [{"cidr": "10.128.0.0/14", "hostPrefix": 23}],
                         "additionalNetworks": [{"name": "theirs", "namespace": "team-a", "type": "Raw",
                                                 "rawCNIConfig": "{\"type\": \"bridge\"}"}]}})
            self.add_object("security.openshift.io", "securitycontextconstraints", None, {
                "apiVersion": "security.openshift.io/v1", "kind": "SecurityContextConstraints",
                "metadata": {"name": "netattest-probe"}, "allowedCapabilities": ["NET_RAW"]})

    # -- lifecycle ---------------------------------------------------------------------------------------
    def start(self) -> Self:
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
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=pki.server_context() if self.tls else None)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"{'https' if self.tls else 'http'}://127.0.0.1:{port}"

    def stop(self) -> None:
        if self._loop is None:
            return

        async def shutdown() -> None:
            for proc in list(self.procs):
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

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def later(self, delay: float, fn: Callable[[], None]) -> None:
        """Run ``fn`` on the server's loop after ``delay`` seconds, with the store's lock held."""
        def locked() -> None:
            with self.store.lock:
                fn()

        assert self._loop is not None
        self._loop.call_later(delay, locked)

    # -- users and their credentials -----------------------------------------------------------------------
    def add_user(self, name: str) -> str:
        """A further user of the same rights; returns its bearer token."""
        token = f"{name}-{uuid.uuid4().hex[:8]}"
        self.tokens[token] = name
        return token

    def token_of(self, name: str) -> str:
        """The token of user ``name``, made on first use."""
        found = next((t for t, user in self.tokens.items() if user == name), None)
        return found or self.add_user(name)

    def kubeconfig(self, path: Path, *, context: str = "fake", user: str | None = None, auth: str = "token",
                   token: str | None = None, verify: str = "ca") -> Path:
        """A kubeconfig for ``user`` (default: the built-in user). ``auth``: "token" (bearer token; ``token`` gives
        one explicitly, valid or not) or "cert" (a client certificate of the session CA). ``verify``: "ca" trusts
        the session CA by ``certificate-authority-data``, "insecure" sets ``insecure-skip-tls-verify``."""
        if auth not in ("token", "cert") or verify not in ("ca", "insecure"):
            raise ValueError(f"auth {auth!r} / verify {verify!r}: use auth token|cert and verify ca|insecure")
        name = user or self.user
        if auth == "cert":
            leaf = pki.client_cert(name)
            credentials = cert_user(leaf.cert_chain_pems[0].bytes(), leaf.private_key_pem.bytes())
        else:
            credentials = token_user(token or (self.token if user is None else self.token_of(name)))
        cluster = cluster_entry(self.url, ca_pem=pki.ca_pem(), insecure=verify == "insecure")
        return write_kubeconfig(path, cluster, credentials, context=context, user_name=f"{name}-{auth}")

    def in_cluster(self, directory: Path, service_account: str = "system:serviceaccount:netattest:runner") \
            -> InCluster:
        """The files and environment a pod of ``service_account`` gets (token and ca.crt under ``directory``)."""
        return write_in_cluster(directory, self.url, self.token_of(service_account), pki.ca_pem())

    # -- store access (thread-safe; tests call these too) ----------------------------------------------------
    @property
    def objects(self) -> dict[tuple[str, str, str | None, str], dict[str, Any]]:
        return self.store.objects

    @property
    def lock(self) -> threading.RLock:
        return self.store.lock

    def resource(self, group: str, plural: str) -> Resource | None:
        return next((r for r in self.resources if r.group == group and r.plural == plural), None)

    def add_object(self, group: str, plural: str, namespace: str | None, obj: dict[str, Any]) -> dict[str, Any]:
        return self.store.add(group, plural, namespace, obj)

    def get(self, group: str, plural: str, namespace: str | None, name: str) -> dict[str, Any] | None:
        return self.store.get(group, plural, namespace, name)

    def list(self, group: str, plural: str, namespace: str | None = None) -> list[dict[str, Any]]:
        return self.store.list(group, plural, namespace)

    def sent(self, verb: str, plural: str) -> list[Request]:
        """Requests the harness made, e.g. ``sent("create", "pods")``."""
        return [r for r in self.requests if r.verb == verb and r.resource is not None and r.resource.plural == plural]

    def allows(self, verb: str, group: str, resource: str, name: str | None = None) -> bool:
        return policy.allows(self.rbac_rules, verb, group, resource, name)

    # -- HTTP ----------------------------------------------------------------------------------------------
    def _authenticate(self, request: web.Request) -> tuple[str, str] | None:
        """(user, how) as kube-apiserver's authenticators decide it: client certificate first, then token."""
        transport = request.transport
        ssl_object = transport.get_extra_info("ssl_object") if transport is not None else None
        user = pki.user_of(ssl_object.getpeercert()) if ssl_object is not None else None
        if user:
            return user, "cert"
        scheme, _, token = request.headers.get("Authorization", "").strip().partition(" ")
        user = self.tokens.get(token.strip()) if scheme.lower() == "bearer" else None  # the scheme's case is free
        return (user, "token") if user else None

    def _parse(self, request: web.Request) -> Request:
        parts = [p for p in request.path.split("/") if p]
        query: dict[str, list[str]] = {}
        for key, value in request.query.items():
            query.setdefault(key, []).append(value)
        req = Request(request.method, request.path, query, None, request.content_type, secure=request.secure)
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
        req.verb = _verb(request.method, req, query)
        return req

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        who = self._authenticate(request)
        if who is None:
            return web.json_response(status_body(401, "Unauthorized", "Unauthorized"), status=401)
        req = self._parse(request)
        req.user, req.auth = who
        if request.can_read_body and not _decodable(request.content_type):
            self.requests.append(req)
            return web.json_response(status_body(415, "UnsupportedMediaType", f'the body of the request was in an '
                                                 f'unknown format - accepted media types include: application/json, '
                                                 f'application/yaml (got "{request.content_type}")'), status=415)
        if request.can_read_body:
            raw = await request.read()
            try:
                req.body = json.loads(raw) if raw else None
            except ValueError:
                req.body = raw.decode(errors="replace")
        self.requests.append(req)
        try:
            return await self._answer(request, req)
        except ApiError as exc:
            return web.json_response(status_body(exc.code, exc.reason, exc.message, exc.details), status=exc.code)

    async def _answer(self, request: web.Request, req: Request) -> web.StreamResponse:
        path = request.path.rstrip("/") or "/"
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
        denied = policy.rbac_denies(self, req)
        if denied:
            raise ApiError(403, "Forbidden", denied)
        for hook in self.admission:
            refused = hook(req)
            if refused:
                code, message = refused
                raise ApiError(code, REASONS.get(code, "InternalError"), message)
        if req.verb == "exec":
            return await execs.serve_exec(self, request, req)
        with self.store.lock:
            status, body = verbs.dispatch(self, req)
            response = web.json_response(body, status=status)  # serialized now: the answer as it was
        held = self.reply_delay_for(req)
        if held:
            await asyncio.sleep(held)
        return response

    def _groups(self) -> dict[str, Any]:
        groups: dict[str, list[str]] = {}
        for res in self.resources:
            if res.group and res.version not in groups.setdefault(res.group, []):
                groups[res.group].append(res.version)
        return {"kind": "APIGroupList", "apiVersion": "v1", "groups": [
            {"name": g, "versions": [{"groupVersion": f"{g}/{v}", "version": v} for v in vs],
             "preferredVersion": {"groupVersion": f"{g}/{vs[0]}", "version": vs[0]}} for g, vs in groups.items()]}

    def _discovery(self, req: Request) -> web.Response:
        assert req.resource is not None
        found = [r for r in self.resources if r.group == req.resource.group and r.version == req.resource.version]
        if not found:
            return web.Response(status=404, text="404 page not found\n", content_type="text/plain")
        listed = [{"name": r.plural, "singularName": r.singular, "namespaced": r.namespaced, "kind": r.kind,
                   "verbs": ["create", "delete", "deletecollection", "get", "list", "patch", "update"]}
                  for r in found]
        listed += [{"name": "pods/exec", "singularName": "", "namespaced": True, "kind": "PodExecOptions",
                    "verbs": ["create", "get"]} for r in found if r.plural == "pods"]
        return web.json_response({"kind": "APIResourceList", "groupVersion": found[0].api_version,
                                  "resources": listed})


def _decodable(content_type: str) -> bool:
    """JSON bodies only (and the patch flavours of JSON); protobuf and CBOR get 415 as from a server without them."""
    return content_type in ("", "application/octet-stream") or content_type.endswith("json")


def _verb(method: str, req: Request, query: dict[str, list[str]]) -> str:
    if req.subresource == "exec":
        return "exec"
    if method == "GET":
        return "get" if req.name else ("watch" if query.get("watch") == ["true"] else "list")
    return {"POST": "create", "PUT": "update", "PATCH": "patch"}.get(method, "") or (
        ("delete" if req.name else "deletecollection") if method == "DELETE" else "")
