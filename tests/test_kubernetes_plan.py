"""Pure parts of the cluster target: names, manifests and their schema validation, diagnosis, images, RBAC."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from netattest.errors import NetattestError
from netattest.k8s import names
from netattest.k8s.plan import ClusterOptions, ClusterPlan
from netattest.k8s.pods import classify_sandbox, diagnose
from netattest.k8s.validation import validate_manifest
from netattest.manifests import PROBE_IMAGE
from netattest.topology import load_topology
from tests.conftest import REPO, SEED


def test_run_namespace_names_are_dns_labels_of_at_most_63() -> None:
    assert names.run_namespace("0123abcd", "multus-test") == "netattest-0123abcd-multus-test"
    long = names.run_namespace("0123abcd", "a" * 63)
    other = names.run_namespace("0123abcd", "a" * 62 + "b")
    assert len(long) == 63 and long != other and long.startswith("netattest-0123abcd-aaaa")
    assert names.parse_ttl("90m") == timedelta(minutes=90) and names.parse_ttl("2h") == timedelta(hours=2)
    with pytest.raises(ValueError):
        names.parse_ttl("soon")


@pytest.mark.parametrize("openshift", [False, True])
@pytest.mark.parametrize("provision", ["direct", "operator"])
def test_every_manifest_validates_against_the_kubernetes_schemas(openshift: bool, provision: str) -> None:
    plan = ClusterPlan(load_topology(SEED), "0123abcd", ClusterOptions(provision=provision), openshift=openshift)
    docs = plan.manifests()
    kinds = {d["kind"] for d in docs}
    assert {"Namespace", "ServiceAccount", "Pod"} <= kinds
    assert ("NetworkAttachmentDefinition" in kinds) == (provision == "direct")
    assert ("RoleBinding" in kinds) == openshift
    for doc in docs:
        validate_manifest(doc)


def test_invalid_manifests_are_refused_with_the_field() -> None:
    plan = ClusterPlan(load_topology(SEED), "0123abcd")
    pod = plan.pod_manifest(load_topology(SEED).pods[0])
    pod["spec"]["containers"][0]["securityContext"]["capabilties"] = {}
    with pytest.raises(NetattestError, match=r"Pod netattest-0123abcd-multus-test/pod-a does not validate .* at "
                                             r"spec.containers.0.securityContext: Additional properties"):
        validate_manifest(pod)
    nad = plan.nad_manifest(load_topology(SEED).attachments[0])
    nad["spec"]["config"] = "{\"name\": \"x\"}"
    with pytest.raises(NetattestError, match="CNI config lacks cniVersion"):
        validate_manifest(nad)
    nad["spec"] = {"config": "{}", "extra": 1}
    with pytest.raises(NetattestError, match="invalid at spec"):
        validate_manifest(nad)


def test_render_command_prints_validated_cluster_manifests() -> None:
    out = subprocess.run([sys.executable, "-m", "netattest.cli", "render", "--run-id", "0123abcd",
                          "--probe-image", "registry.lab/netshoot:v1"], capture_output=True, text=True, cwd=REPO,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert "validated against the Kubernetes 1.30 schemas" in out.stdout
    docs = list(yaml.safe_load_all(out.stdout))
    assert {d["metadata"]["namespace"] for d in docs if d["kind"] == "Pod"} == {"netattest-0123abcd-multus-test"}
    assert {d["spec"]["containers"][0]["image"] for d in docs if d["kind"] == "Pod"} == {"registry.lab/netshoot:v1"}


def test_images_lists_the_probe_image_and_mirror_pairs(monkeypatch: pytest.MonkeyPatch) -> None:
    run = [sys.executable, "-m", "netattest.cli", "images"]
    out = subprocess.run(run, capture_output=True, text=True, cwd=REPO, timeout=60)
    assert out.stdout.split() == [PROBE_IMAGE]
    out = subprocess.run(run + ["--mirror", "registry.lab:5000"], capture_output=True, text=True, cwd=REPO,
                         timeout=60)
    assert out.stdout.split() == [PROBE_IMAGE, "registry.lab:5000/nicolaka/netshoot:v0.13"]
    assert "--probe-image registry.lab:5000/nicolaka/netshoot:v0.13" in out.stderr


def test_diagnosis_of_a_stuck_pod_is_one_line() -> None:
    pending = {"spec": {"nodeSelector": {"role": "multus"}},
               "status": {"phase": "Pending", "conditions": [
                   {"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                    "message": "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector."}]}}
    d = diagnose(pending, [])
    assert d.category == "unschedulable" and d.blocking
    assert d.reason.startswith("no node carries the labels of the pod's nodeSelector (role=multus): 0/3 nodes")
    pulling = {"spec": {"nodeName": "n1"}, "status": {"phase": "Pending", "containerStatuses": [
        {"image": "img", "state": {"waiting": {"reason": "ImagePullBackOff", "message": "Back-off pulling image"}}}]}}
    assert diagnose(pulling, []).category == "image" and diagnose(pulling, []).harness_fault
    creating = {"spec": {"nodeName": "n1"}, "status": {"phase": "Pending", "containerStatuses": [
        {"state": {"waiting": {"reason": "ContainerCreating"}}}]}}
    assert diagnose(creating, []).reason == "Pending: ContainerCreating" and not diagnose(creating, []).blocking
    event = {"reason": "FailedCreatePodSandBox", "message": "failed to allocate for range 0: no IP addresses "
             "available in range set", "lastTimestamp": "2030-01-01T00:00:00Z", "metadata": {}}
    d = diagnose(creating, [event])
    assert d.category == "ipam" and d.reason.startswith("IPAM error:") and "\n" not in d.reason
    assert classify_sandbox("whatever broke")[0] == "cni"


def test_shipped_rbac_is_minimal_and_covers_the_run() -> None:
    docs = [d for f in ("rbac.yaml", "rbac-openshift.yaml")
            for d in yaml.safe_load_all((REPO / "deploy" / f).read_text()) if d]
    runner = next(d for d in docs if d["metadata"]["name"] == "netattest-runner")
    verbs = {(g, r): set(rule["verbs"]) for rule in runner["rules"] for g in rule["apiGroups"]
             for r in rule["resources"]}
    assert all("*" not in v for v in verbs.values()) and all(("*", r) not in verbs for _, r in verbs)
    assert verbs[("", "pods/exec")] >= {"create"} and verbs[("", "namespaces")] >= {"create", "delete", "list"}
    scc = next(d for d in docs if d["kind"] == "SecurityContextConstraints")
    assert scc["allowedCapabilities"] == ["NET_RAW"] and not scc["allowPrivilegedContainer"]
    use = next(d for d in docs if d["metadata"]["name"] == "netattest:scc:netattest-probe")
    assert use["rules"] == [{"apiGroups": ["security.openshift.io"], "resources": ["securitycontextconstraints"],
                             "resourceNames": ["netattest-probe"], "verbs": ["use"]}]
    assert Path(REPO / "README.md").read_text().count("deploy/rbac.yaml") >= 1


def test_the_lab_path_never_imports_the_kubernetes_client() -> None:
    code = ("import sys; import netattest.targets.factory, netattest.targets.kubernetes, netattest.k8s.pods, "
            "netattest.k8s.gc, netattest.k8s.validation, netattest.commands.render, netattest.discover, "
            "netattest.plugin.kubernetes; "
            "print(sorted(m for m in sys.modules if m == 'kubernetes' or m.startswith('kubernetes.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_only_one_module_imports_kubernetes_stream() -> None:
    pattern = re.compile(r"^\s*(from kubernetes(\.stream)? import .*stream|import kubernetes\.stream)", re.MULTILINE)
    users = [p.relative_to(REPO).as_posix() for p in (REPO / "netattest").rglob("*.py")
             if pattern.search(p.read_text())]
    assert users == ["netattest/k8s/stream_exec.py"]
