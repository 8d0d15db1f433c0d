"""Reaching the cluster before anything is created: the checks that decide whether a run can use it at all.

:func:`reach` loads the kubeconfig (or in-cluster config), asks the API server its version and API groups (so an
unreachable server, an untrusted certificate, rejected credentials or a forbidden discovery surface here) and
decides whether the cluster is OpenShift. :func:`preflight` then checks what a deploying run needs: the NAD CRD
(or the network operator, for ``--provision operator``), the probe SCC on OpenShift, and the user's rights
(SelfSubjectAccessReview). Each failure is one :class:`~netattest.errors.ClusterError` paragraph with the fix.

The target runs both before it creates anything, and the pytest session runs them once before its first check
(``fixtures/kubernetes.py``), so a cluster that cannot be used stops a run with one paragraph instead of breaking
every check with the same one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from netattest.errors import ClusterError, ClusterPermissionError
from netattest.k8s.plan import (
    NAD_GROUP,
    NAD_PLURAL,
    NAD_VERSION,
    SCC_GROUP,
    SCC_PLURAL,
    SCC_VERSION,
    ClusterOptions,
)

OPENSHIFT_GROUPS = ("security.openshift.io", "config.openshift.io")


@dataclass
class Reached:
    """A cluster that answered: the connection, the API wrapper and what discovery said."""

    connection: Any  # netattest.k8s.config.Connection
    cluster: Any  # netattest.k8s.api.Cluster
    version: dict[str, Any]
    groups: set[str]
    openshift: bool
    notes: list[str] = field(default_factory=list)

    @property
    def where(self) -> str:
        return str(self.cluster.where)

    def close(self) -> None:
        self.connection.close()


def reach(options: ClusterOptions) -> Reached:
    """Connect and ask the server who it is; raises one paragraph when the cluster cannot be talked to."""
    from netattest.k8s.api import Cluster
    from netattest.k8s.config import connect

    connection = connect(options.kubeconfig, options.context, request_timeout=options.request_timeout)
    try:
        cluster = Cluster(connection, request_timeout=options.request_timeout)
        version = cluster.version()
        groups = cluster.api_groups()
    except BaseException:
        connection.close()
        raise
    openshift = options.openshift if options.openshift is not None else any(g in groups for g in OPENSHIFT_GROUPS)
    notes = []
    if getattr(connection, "insecure", False):
        notes.append(f"the API server's TLS certificate was not verified ({connection.where} sets "
                     "insecure-skip-tls-verify): anyone on the path could have answered instead of the cluster")
    return Reached(connection, cluster, version, groups, openshift, notes)


def preflight(reached: Reached, options: ClusterOptions) -> list[str]:
    """What a deploying run needs from the cluster; returns notes, raises one paragraph for what is missing."""
    cluster, notes = reached.cluster, []
    if options.provision == "direct":
        if NAD_GROUP not in reached.groups or not cluster.has_resource(NAD_GROUP, NAD_VERSION, NAD_PLURAL):
            from netattest.k8s.provision import crd_missing
            raise crd_missing(cluster)
    elif options.provision == "operator":
        if not reached.openshift or "operator.openshift.io" not in reached.groups:
            raise ClusterError(f"--provision operator needs OpenShift's cluster network operator "
                               f"(networks.operator.openshift.io), which {cluster.where} does not serve. Fix: "
                               "use --provision direct")
    else:
        raise ClusterError(f"--provision {options.provision!r}: use direct or operator")
    if reached.openshift:
        notes += _check_scc(cluster, options.scc)
    return notes + _check_access(cluster, options.provision, reached.openshift)


def gate(options: ClusterOptions, *, deploys: bool) -> list[str]:
    """Everything a run needs from the cluster before its first check (``deploys``: the run will deploy the target,
    not only read the nodes); the connection is closed again. Returns notes, raises one paragraph."""
    reached = reach(options)
    try:
        return reached.notes + (preflight(reached, options) if deploys else [])
    finally:
        reached.close()


def _check_scc(cluster: Any, scc: str) -> list[str]:
    from netattest.k8s.api import NotFound

    try:
        cluster.get_cluster_custom(SCC_GROUP, SCC_VERSION, SCC_PLURAL, scc)
    except NotFound:
        raise ClusterError(
            f"OpenShift SCC {scc!r} does not exist on {cluster.where}; probe pods need an SCC that allows NET_RAW, "
            "uid 0 and host network. Fix: as cluster-admin run 'oc apply -f deploy/rbac-openshift.yaml' (SCC "
            "netattest-probe and the ClusterRole to use it), or pass --scc with an existing SCC that allows "
            "this") from None
    except ClusterPermissionError:
        return [f"SCC {scc} could not be read (no permission); assuming it exists"]
    return []


def _check_access(cluster: Any, provision: str, openshift: bool) -> list[str]:
    needed = [("create", "", "namespaces", ""), ("delete", "", "namespaces", ""), ("create", "", "pods", ""),
              ("list", "", "pods", ""), ("create", "", "pods", "exec"), ("list", "", "events", ""),
              ("get", "", "nodes", ""), ("list", "", "nodes", ""), ("create", "", "serviceaccounts", "")]
    named: list[tuple[str, str, str, str]] = []
    if provision == "direct":
        needed.append(("create", NAD_GROUP, NAD_PLURAL, ""))
    else:
        named += [("get", "operator.openshift.io", "networks", "cluster"),
                  ("patch", "operator.openshift.io", "networks", "cluster")]
    if openshift:
        needed.append(("create", "rbac.authorization.k8s.io", "rolebindings", ""))
    denied = []
    checks = [(v, g, r, s, "") for v, g, r, s in needed] + [(v, g, r, "", n) for v, g, r, n in named]
    for verb, group, resource, sub, name in checks:
        allowed = cluster.can_i(verb, group, resource, subresource=sub, name=name)
        if allowed is None:
            return ["permissions could not be checked in advance (SelfSubjectAccessReview refused)"]
        if not allowed:
            denied.append(f"{verb} {resource}{'/' + sub if sub else ''}{' ' + name if name else ''}"
                          f"{' (' + group + ')' if group else ''}")
    if denied:
        raise ClusterPermissionError(
            f"the user of {cluster.where} may not: {', '.join(denied)}. Fix: bind it to the ClusterRole "
            "netattest-runner from deploy/rbac.yaml (kubectl apply -f deploy/rbac.yaml, then 'kubectl create "
            "clusterrolebinding netattest-runner --clusterrole=netattest-runner --user=<you>'; on OpenShift "
            "also netattest-runner-openshift from deploy/rbac-openshift.yaml), or use an account that has "
            "these rights")
    return []
