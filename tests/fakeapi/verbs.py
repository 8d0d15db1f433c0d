"""The API verbs on the store: get, list, create (answering **201**), update, merge / JSON patch with
resourceVersion conflicts, delete, delete-collection and the namespace cascade (with an optional Terminating
grace). Admission and the controllers are called where a real API server calls them.

Called with the store's lock held; every refusal is an :class:`~tests.fakeapi.model.ApiError`.
"""

from __future__ import annotations

import copy
import uuid
from typing import TYPE_CHECKING, Any

from tests.fakeapi import controllers, policy
from tests.fakeapi.model import CORE, ApiError, Request, now_stamp
from tests.fakeapi.store import json_patch, merge_patch

if TYPE_CHECKING:
    from tests.fakeapi.server import FakeApiServer

OK_STATUS = {"kind": "Status", "apiVersion": "v1", "status": "Success", "metadata": {}}


def dispatch(server: FakeApiServer, req: Request) -> tuple[int, Any]:
    """(status code, body) of an object request."""
    res = req.resource
    assert res is not None
    if res.namespaced and req.namespace is None and req.verb not in ("list",):
        raise ApiError(404, "NotFound", "namespace required")
    if req.verb == "list":
        return 200, _list(server, req)
    if req.verb == "create":
        return _create(server, req)
    key = (res.group, res.plural, req.namespace if res.namespaced else None, req.name or "")
    if req.verb == "deletecollection":
        for obj in _select(server, req):
            delete_key(server, (res.group, res.plural, obj["metadata"].get("namespace"), obj["metadata"]["name"]))
        return 200, OK_STATUS
    obj = server.objects.get(key)
    if obj is None:
        raise ApiError(404, "NotFound", f'{res.plural}.{res.group or "core"} "{req.name}" not found'
                       .replace(".core", ""), {"name": req.name, "kind": res.plural})
    if req.verb == "get":
        return 200, obj
    if req.verb == "delete":
        return 200, delete_key(server, key)
    if req.verb in ("patch", "update"):
        return 200, _change(server, req, key, obj)
    raise ApiError(405, "MethodNotAllowed", f"verb {req.verb} not supported")


def _change(server: FakeApiServer, req: Request, key: tuple[str, str, str | None, str],
            obj: dict[str, Any]) -> dict[str, Any]:
    res = req.resource
    assert res is not None
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
                       "object has been modified; please apply your changes to the latest version and try again")
    new["metadata"] = {**new.get("metadata", {}), "uid": obj["metadata"]["uid"], "name": obj["metadata"]["name"]}
    stored = server.add_object(res.group, res.plural, key[2], new)
    if res.plural == "networks" and res.group == "operator.openshift.io":
        server.later(server.operator_delay, lambda: controllers.reconcile_operator(server))
    return stored


def _select(server: FakeApiServer, req: Request) -> list[dict[str, Any]]:
    res = req.resource
    assert res is not None
    return server.store.select(res.group, res.plural, req.namespace if res.namespaced else None,
                               req.query.get("labelSelector", [""])[0], req.query.get("fieldSelector", [""])[0])


def _list(server: FakeApiServer, req: Request) -> dict[str, Any]:
    res = req.resource
    assert res is not None
    return {"kind": f"{res.kind}List", "apiVersion": res.api_version,
            "metadata": {"resourceVersion": server.store.next_version()}, "items": _select(server, req)}


def _create(server: FakeApiServer, req: Request) -> tuple[int, Any]:
    res = req.resource
    assert res is not None
    body = copy.deepcopy(req.body)
    if not isinstance(body, dict):
        raise ApiError(400, "BadRequest", "body must be an object")
    meta = body.setdefault("metadata", {})
    if res.plural == "selfsubjectaccessreviews":
        return 201, policy.access_review(server, body)
    if not meta.get("name") and meta.get("generateName"):
        meta["name"] = meta["generateName"] + uuid.uuid4().hex[:5]
    name = meta.get("name")
    if not name:
        raise ApiError(422, "Invalid", f"{res.kind} is invalid: metadata.name: Required value")
    namespace = req.namespace if res.namespaced else None
    if res.namespaced:
        _check_namespace(server, namespace or "", name, res.plural, meta)
    key = (res.group, res.plural, namespace, name)
    if key in server.objects:
        group = f".{res.group}" if res.group else ""
        raise ApiError(409, "AlreadyExists", f'{res.plural}{group} "{name}" already exists',
                       {"name": name, "group": res.group, "kind": res.plural})
    body.setdefault("apiVersion", res.api_version)
    body.setdefault("kind", res.kind)
    if res.plural == "pods":
        policy.admit_pod(server, body, namespace or "")
        body.setdefault("status", {})["phase"] = "Pending"
        body["status"]["conditions"] = []
    if res.plural == "namespaces":
        body["status"] = {"phase": "Active"}
    stored = server.add_object(res.group, res.plural, namespace, body)
    if res.plural == "pods":
        server.later(server.kubelet_delay, lambda: controllers.kubelet(server, namespace or "", name))
    return 201, stored


def _check_namespace(server: FakeApiServer, namespace: str, name: str, plural: str, meta: dict[str, Any]) -> None:
    ns = server.objects.get((CORE, "namespaces", None, namespace))
    if ns is None:
        raise ApiError(404, "NotFound", f'namespaces "{namespace}" not found',
                       {"name": namespace, "kind": "namespaces"})
    if ns.get("status", {}).get("phase") == "Terminating":
        raise ApiError(403, "Forbidden", f'{plural} "{name}" is forbidden: unable to create new content in namespace '
                       f"{namespace} because it is being terminated")
    if meta.get("namespace") not in (None, namespace):
        raise ApiError(400, "BadRequest", "the namespace of the provided object does not match the namespace sent "
                       "on the request")


def delete_key(server: FakeApiServer, key: tuple[str, str, str | None, str]) -> dict[str, Any]:
    obj = server.objects[key]
    group, plural, _, name = key
    if group == CORE and plural == "namespaces":
        if server.namespace_grace > 0:
            obj.setdefault("status", {})["phase"] = "Terminating"
            obj["metadata"]["deletionTimestamp"] = now_stamp()
            server.later(server.namespace_grace, lambda: finish_namespace(server, name))
            return obj
        finish_namespace(server, name)
        return obj
    return server.objects.pop(key)


def finish_namespace(server: FakeApiServer, name: str) -> None:
    """The namespace and everything in it go."""
    with server.store.lock:
        for key in [k for k in server.objects if k[2] == name]:
            del server.objects[key]
        server.objects.pop((CORE, "namespaces", None, name), None)
