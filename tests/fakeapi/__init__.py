"""A small Kubernetes API server for the cluster target's tests, served over HTTPS with a per-session CA.

Modules, one job each: :mod:`model` (resources, requests, errors), :mod:`store` (objects, selectors, patches),
:mod:`verbs` (what each API verb does to the store), :mod:`policy` (RBAC, PodSecurity, SCC admission),
:mod:`controllers` (kubelet + Multus, the OpenShift network operator), :mod:`execs` (exec over websockets),
:mod:`pki` (the session CA, serving and client certificates), :mod:`kubeconfig` (kubeconfigs and in-cluster files),
:mod:`server` (TLS, authentication, routing) and :mod:`helpers` (what the tests share).
"""

from tests.fakeapi.helpers import SEED_NODES, leftovers, rbac_rules
from tests.fakeapi.model import V4, V5, ApiError, PodOutcome, Request, Resource
from tests.fakeapi.server import FakeApiServer

__all__ = ["SEED_NODES", "V4", "V5", "ApiError", "FakeApiServer", "PodOutcome", "Request", "Resource", "leftovers",
           "rbac_rules"]
