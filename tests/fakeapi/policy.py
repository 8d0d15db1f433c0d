"""What a cluster refuses: RBAC for the harness's user, PodSecurity admission, and OpenShift's SCC admission.

* RBAC: ``server.rbac_rules`` are the ClusterRole rules of every user (None allows everything); a RoleBinding to a
  ClusterRole needs ``bind`` on it, as on a real cluster;
* PodSecurity from the namespace's ``pod-security.kubernetes.io/enforce`` label (``server.default_enforce`` when
  absent);
* on OpenShift an SCC check: the pod's service account needs a RoleBinding to one of ``scc_cluster_roles``, or of
  ``privileged_scc_cluster_roles`` for a privileged, host-PID or hostPath pod.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tests.fakeapi.model import CORE, ApiError, Request

if TYPE_CHECKING:
    from tests.fakeapi.server import FakeApiServer

BASELINE_CAPS = {"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD", "NET_BIND_SERVICE",
                 "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"}


def allows(rules: list[dict[str, Any]] | None, verb: str, group: str, resource: str, name: str | None = None) -> bool:
    if rules is None:
        return True
    for rule in rules:
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


def rbac_denies(server: FakeApiServer, req: Request) -> str | None:
    """The Forbidden message a real API server gives for this request, or None when RBAC allows it."""
    res = req.resource
    if res is None or req.verb in ("discovery", "unknown") or res.plural == "selfsubjectaccessreviews":
        return None
    resource = res.plural + (f"/{req.subresource}" if req.subresource else "")
    verb = "create" if req.verb == "exec" else req.verb
    rules = server.rbac_rules
    user = req.user or server.user
    if allows(rules, verb, res.group, resource, req.name):
        if res.plural == "rolebindings" and req.verb == "create" and rules is not None:
            role = ((req.body or {}).get("roleRef") or {}).get("name")
            if not allows(rules, "bind", "rbac.authorization.k8s.io", "clusterroles", role):
                return (f'rolebindings.rbac.authorization.k8s.io is forbidden: user "{user}" (groups=[]) is '
                        f"attempting to grant RBAC permissions not currently held: clusterroles {role} (bind)")
        return None
    where = f' in the namespace "{req.namespace}"' if req.namespace else ""
    group = f'.{res.group}' if res.group else ""
    what = f'{res.plural}{group} "{req.name}"' if req.name else f"{res.plural}{group}"
    return f'{what} is forbidden: User "{user}" cannot {verb} resource "{resource}" in API group "{res.group}"{where}'


def access_review(server: FakeApiServer, body: dict[str, Any]) -> dict[str, Any]:
    """The answer to a SelfSubjectAccessReview: RBAC rules, and ``server.denied_access`` on top."""
    attrs = body.get("spec", {}).get("resourceAttributes", {})
    resource = attrs.get("resource", "") + (f"/{attrs['subresource']}" if attrs.get("subresource") else "")
    denied = ((attrs.get("verb"), attrs.get("group", ""), attrs.get("resource")) in server.denied_access
              or not allows(server.rbac_rules, attrs.get("verb", ""), attrs.get("group", ""), resource,
                            attrs.get("name")))
    return {**body, "status": {"allowed": not denied, **({"reason": "RBAC: denied"} if denied else {})}}


def admit_pod(server: FakeApiServer, pod: dict[str, Any], namespace: str) -> None:
    """Raise the 403 PodSecurity or an SCC would give this pod; called with the store's lock held."""
    ns = server.objects[(CORE, "namespaces", None, namespace)]
    level = (ns["metadata"].get("labels") or {}).get("pod-security.kubernetes.io/enforce", server.default_enforce)
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
    if server.openshift:
        _admit_scc(server, pod, namespace, added)


def _admit_scc(server: FakeApiServer, pod: dict[str, Any], namespace: str, added: set[str]) -> None:
    name = pod["metadata"]["name"]
    spec = pod.get("spec", {})
    privileged = [f for f, used in (
        ("spec.securityContext.hostPID: Invalid value: true: Host PID is not allowed to be used",
         spec.get("hostPID")),
        ('spec.volumes: Invalid value: "hostPath": hostPath volumes are not allowed to be used',
         any("hostPath" in v for v in spec.get("volumes") or [])),
        (("spec.containers[0].securityContext.privileged: Invalid value: true: Privileged containers are not "
         "allowed"), any((c.get("securityContext") or {}).get("privileged") for c in spec.get("containers", []))),
    ) if used]
    if not (added or spec.get("hostNetwork") or privileged):
        return
    sa = spec.get("serviceAccountName") or "default"
    roles = server.privileged_scc_cluster_roles | (set() if privileged else server.scc_cluster_roles)
    bound = any(rb["roleRef"].get("name") in roles
                and any(s.get("kind") == "ServiceAccount" and s.get("name") == sa for s in rb.get("subjects", []))
                for rb in server.list("rbac.authorization.k8s.io", "rolebindings", namespace))
    if bound:
        return
    if privileged:
        raise ApiError(403, "Forbidden", f'pods "{name}" is forbidden: unable to validate against any '
                       f'security context constraint: [provider "netattest-probe": Forbidden: not usable by '
                       f'user or serviceaccount, {", ".join(privileged)}]')
    cap = min(added) if added else "NET_RAW"
    raise ApiError(403, "Forbidden", f'pods "{name}" is forbidden: unable to validate against any '
                   f'security context constraint: [provider "anyuid": Forbidden: not usable by user or '
                   f'serviceaccount, provider restricted-v2: .containers[0].capabilities.add: Invalid '
                   f'value: "{cap}": capability may not be added]')
