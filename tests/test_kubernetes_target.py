"""The Kubernetes target with the real ``kubernetes`` client over HTTPS against the fake API server (session CA,
client-certificate and bearer-token users).

Probe agents really run (as local processes behind the fake's exec websocket), so the lifecycle below is the real
one: namespaces, NADs, pods, waiting, one agent per pod over exec, inventory, probing, teardown. Every error path
must end as one clear line and leave nothing behind.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from netattest.annotations import NETWORKS_ANNOTATION, parse_networks_annotation
from netattest.errors import ClusterAccessError, ClusterError, ClusterPermissionError
from netattest.k8s import names
from netattest.k8s.plan import ClusterOptions
from netattest.probe.engine import Endpoint, Probe
from netattest.targets.kubernetes import KubernetesTarget
from netattest.topology import load_topology
from tests.conftest import SEED
from tests.fakeapi import SEED_NODES, FakeApiServer, PodOutcome, leftovers, rbac_rules

RUN = "5eed0001"
NS = f"netattest-{RUN}-multus-test"


def fast(kubeconfig: Path, **overrides: object) -> ClusterOptions:
    values: dict[str, object] = {"kubeconfig": str(kubeconfig), "poll_interval": 0.02, "pod_timeout": 5.0,
                                     "stuck_grace": 0.3, "agent_timeout": 60.0, "request_timeout": 5.0,
                                     "operator_timeout": 3.0, "node_inventory": False}
    values.update(overrides)
    return ClusterOptions(**values)  # type: ignore[arg-type]


@pytest.fixture
def server() -> Iterator[FakeApiServer]:
    with FakeApiServer(nodes=SEED_NODES) as srv:
        yield srv


@pytest.fixture(params=["cert", "token"])
def auth(request: pytest.FixtureRequest) -> str:
    """How the harness's user proves who it is: a client certificate of the session CA, or a bearer token."""
    return str(request.param)


@pytest.fixture
def kubeconfig(server: FakeApiServer, tmp_path: Path) -> Path:
    """A client-certificate user, as kubeadm's admin.conf has (the lifecycle test runs as a token user too)."""
    return server.kubeconfig(tmp_path / "kubeconfig", user="alice", auth="cert")


def target(kubeconfig: Path, topology_path: Path = SEED, run_id: str = RUN, **overrides: object) \
        -> KubernetesTarget:
    messages: list[str] = []
    built = KubernetesTarget(load_topology(topology_path), run_id, options=fast(kubeconfig, **overrides),
                             timeout=0.2, retries=0, progress=messages.append)
    built.messages = messages  # type: ignore[attr-defined]
    return built


def one_line(exc: BaseException) -> str:
    text = str(exc)
    assert "\n" not in text and "Traceback" not in text, text
    return text


# -- the whole lifecycle ---------------------------------------------------------------------------------------------

def test_full_lifecycle_sends_what_the_topology_asks_and_leaves_nothing(server: FakeApiServer, auth: str,
                                                                      tmp_path: Path) -> None:
    kubeconfig = server.kubeconfig(tmp_path / "kc", user="alice", auth=auth)
    server.rbac_rules = rbac_rules()  # exactly the shipped ClusterRole: proves it is enough
    server.default_enforce = "restricted"  # the namespace's own PodSecurity label must be what admits the pods
    topology = load_topology(SEED)
    built = target(kubeconfig, node_inventory=True)
    started = time.monotonic()
    inventory = built.deploy()
    deployed = time.monotonic() - started

    # the namespace: run-specific name, run-id label, expiry annotation, PodSecurity labels
    ns = server.get("", "namespaces", None, NS)
    assert ns is not None
    labels, annotations = ns["metadata"]["labels"], ns["metadata"]["annotations"]
    assert labels[names.LABEL_RUN_ID] == RUN and labels[names.LABEL_MANAGED_BY] == "netattest"
    assert labels["pod-security.kubernetes.io/enforce"] == "privileged"
    expires = names.parse_expiry(annotations[names.ANNOTATION_EXPIRES])
    assert expires is not None
    assert timedelta(minutes=110) < expires - datetime.now(UTC) <= timedelta(hours=2)

    # the NADs went through the custom objects API into the run namespace
    nads = {r.body["metadata"]["name"]: r for r in server.sent("create", "network-attachment-definitions")}
    assert set(nads) == {"net1", "net1-macvlan"}
    assert nads["net1"].namespace == NS
    config = json.loads(nads["net1"].body["spec"]["config"])
    assert (config["type"], config["mode"], config["master"]) == ("ipvlan", "l2", "ens224")

    # every probe pod as sent: nodeSelector from the topology, networks annotation (mapped namespace, static ips)
    sent = {r.body["metadata"]["name"]: r.body for r in server.sent("create", "pods") if r.namespace == NS}
    for pod in topology.pods:
        body = sent[pod.name]
        assert body["spec"]["nodeSelector"] == dict(pod.node_selector)
        container = body["spec"]["containers"][0]
        assert container["securityContext"]["capabilities"] == {"drop": ["ALL"], "add": ["NET_RAW"]}
        assert body["metadata"]["labels"][names.LABEL_RUN_ID] == RUN
        raw = body["metadata"]["annotations"].get(NETWORKS_ANNOTATION)
        if not pod.networks:
            assert raw is None
            continue
        selections = parse_networks_annotation(raw, NS)
        assert [(s.namespace, s.name, s.interface, s.ips) for s in selections] == [
            (NS, n.attachment, n.interface, tuple(str(ip) for ip in n.ips)) for n in pod.networks]
    node_pods = [b for name, b in sent.items() if name.startswith("netattest-node-")]
    assert sorted(b["spec"]["nodeName"] for b in node_pods) == ["node1", "node2", "node3"]
    # host network, and NET_RAW only: they listen on the node NICs for isolation probes that must not arrive
    assert all(b["spec"]["hostNetwork"] and b["spec"]["containers"][0]["securityContext"]["capabilities"]
               == {"drop": ["ALL"], "add": ["NET_RAW"]} for b in node_pods)

    # the inventory is what the cluster reports: nodes from spec.nodeName, labels from Node objects,
    # network-status from the pod annotation, interfaces read by the agent inside the "pod"
    pod_a = inventory.pod("pod-a", "multus-test")
    assert pod_a.node == "node1" and pod_a.phase == "Running" and pod_a.reason is None
    assert [s.interface for s in pod_a.network_status if not s.default] == ["net1"]
    assert pod_a.network_status[-1].ips == ("192.168.112.11",)
    assert pod_a.interfaces and "lo" in pod_a.interfaces
    assert inventory.pod("plain", "multus-test").node == "node3"
    assert inventory.node("node1").labels["node-role.kubernetes.io/multus-node"] == "yes"
    assert inventory.node("node1").nics, "the node-inventory agent read the node's NICs"
    assert inventory.target == "kubernetes"

    # one long-lived agent per pod: probing twice adds no exec
    execs = len(server.execs)
    assert execs == len(topology.pods) + 3
    assert {e["protocol"] for e in server.execs} == {"v5.channel.k8s.io"}
    probe = Probe("p1", "arp", Endpoint(pod_a.netns, "lo", "127.0.0.9", "02:00:00:00:00:09"), "127.0.0.10",
                  expect_answer=False)
    for _ in range(2):
        results, stats = built.probe([probe])
        assert results[0].probe is probe and results[0].attempts == 1 and stats.probes == 1
    assert len(server.execs) == execs

    problems = built.teardown()
    assert problems == []
    assert leftovers(server) == []
    # every request and every exec websocket went over TLS as alice, authenticated the way the kubeconfig says
    assert {(r.user, r.auth, r.secure) for r in server.requests} == {("alice", auth, True)}
    assert {(e["user"], e["auth"], e["secure"]) for e in server.execs} == {("alice", auth, True)}
    print(f"\nlifecycle against the fake API server: deploy {deployed:.2f} s ({built.timings}), "
          f"teardown {built.timings['teardown']:.2f} s")


def test_pods_landing_on_unlabelled_nodes_are_reported_in_one_line(server: FakeApiServer,
                                                                   kubeconfig: Path) -> None:
    server.list("", "nodes")  # node2 loses its label: pod-c / mac-c cannot be scheduled
    with server.lock:
        server.get("", "nodes", None, "node2")["metadata"]["labels"].pop("node-role.kubernetes.io/multus-node")
    built = target(kubeconfig)
    try:
        inventory = built.deploy()
        view = inventory.pod("pod-c", "multus-test")
        assert view.node is None and view.phase == "Pending"
        reason = view.reason or ""
        assert reason.startswith("no node carries the labels of the pod's nodeSelector "
                                 "(node-role.kubernetes.io/multus-node=yes, kubernetes.io/hostname=node2)")
        assert "\n" not in reason
        assert inventory.pod("pod-a", "multus-test").phase == "Running"
    finally:
        assert built.teardown() == []
    assert leftovers(server) == []


SANDBOX_ERRORS = {
    "nad": (("Failed to create pod sandbox: rpc error: code = Unknown desc = failed to setup network for sandbox "
            "\"abc\": plugin type=\"multus\" name=\"multus-cni-network\" failed (add): Multus: [x/pod-a/1]: error "
            "loading k8s delegates k8s args: TryLoadPodDelegates: error in getting k8s network for pod: "
            "GetNetworkDelegates: failed getting the delegate: getKubernetesDelegate: cannot find a "
            f"network-attachment-definition (net1) in namespace ({NS}): network-attachment-definitions.k8s.cni."
            "cncf.io \"net1\" not found"), f"NAD {NS}/net1 is missing"),
    "ipam": (("Failed to create pod sandbox: rpc error: code = Unknown desc = failed to setup network for sandbox "
             "\"abc\": plugin type=\"multus\" name=\"multus-cni-network\" failed (add): [x/pod-a/1:net1]: error "
             "adding container to network \"net1\": failed to allocate for range 0: no IP addresses available in "
             "range set: 192.168.112.10-192.168.112.10"), "IPAM error: error adding container to network"),
    "master": (("Failed to create pod sandbox: rpc error: code = Unknown desc = failed to setup network for sandbox "
               "\"abc\": plugin type=\"multus\" failed (add): [x/pod-a/1:net1]: error adding container to network "
               "\"net1\": failed to lookup master \"ens224\": Link not found"),
               "CNI error, the NAD's master interface does not exist on the node"),
}


@pytest.mark.parametrize("kind", sorted(SANDBOX_ERRORS))
def test_pod_stuck_pending_with_failed_create_pod_sandbox(server: FakeApiServer, kubeconfig: Path,
                                                          kind: str) -> None:
    message, expected = SANDBOX_ERRORS[kind]

    def behaviour(pod: dict) -> PodOutcome | None:
        if pod["metadata"]["name"] != "pod-a":
            return None
        return PodOutcome(phase="Pending", events=[("Warning", "FailedCreatePodSandBox", message)])

    server.pod_behaviour = behaviour
    built = target(kubeconfig)
    try:
        inventory = built.deploy()
        view = inventory.pod("pod-a", "multus-test")
        assert view.phase == "Pending" and view.node == "node1"
        assert (view.reason or "").startswith(expected), view.reason
        assert "\n" not in (view.reason or "") and len(view.reason or "") <= 300
        assert all(a.error == view.reason for a in view.attachments)
        assert any(m.startswith("pod multus-test/pod-a: " + expected) for m in built.messages)  # type: ignore
    finally:
        assert built.teardown() == []
    assert leftovers(server) == []


def test_pod_that_never_runs_times_out_with_its_last_state(server: FakeApiServer, kubeconfig: Path) -> None:
    server.pod_behaviour = lambda pod: PodOutcome(phase="Pending") if pod["metadata"]["name"] == "mac-a" else None
    built = target(kubeconfig, pod_timeout=0.5)
    try:
        view = built.deploy().pod("mac-a", "multus-test")
        assert (view.reason or "").startswith("not running after 0.5 s: Pending: ContainerCreating")
    finally:
        built.teardown()
    assert leftovers(server) == []


def test_image_pull_failure_breaks_the_run_in_one_line(server: FakeApiServer, kubeconfig: Path) -> None:
    server.pod_behaviour = lambda pod: PodOutcome(
        phase="Pending", container_waiting=("ErrImagePull", ("rpc error: code = NotFound desc = failed to pull and "
                                            "unpack image \"docker.io/nicolaka/netshoot:v0.13\": not found")))
    built = target(kubeconfig, probe_image="docker.io/nicolaka/netshoot:v0.13")
    with pytest.raises(ClusterError) as caught:
        built.deploy()
    text = one_line(caught.value)
    assert "image pull failed (ErrImagePull) for docker.io/nicolaka/netshoot:v0.13" in text
    assert "netattest images" in text and "--probe-image" in text
    assert leftovers(server) == []


# -- admission, RBAC, CRD, conflicts -----------------------------------------------------------------------------

def test_podsecurity_rejection_is_one_line_and_leaves_nothing(server: FakeApiServer, kubeconfig: Path) -> None:
    def policy(req):  # a cluster-wide policy that overrides the namespace's own PodSecurity label
        if req.verb == "create" and req.resource and req.resource.plural == "pods":
            return 403, (f'pods "{req.body["metadata"]["name"]}" is forbidden: violates PodSecurity '
                         '"baseline:latest": non-default capabilities (container "probe" must not include "NET_RAW" '
                         'in securityContext.capabilities.add)')
        return None

    server.admission.append(policy)
    with pytest.raises(ClusterPermissionError) as caught:
        target(kubeconfig).deploy()
    text = one_line(caught.value)
    assert text.startswith(f"PodSecurity admission rejected probe pod multus-test/pod-a (as {NS}/pod-a): forbidden "
                           "while creating pod")
    assert 'violates PodSecurity "baseline:latest"' in text and "Fix:" in text
    assert leftovers(server) == []


def test_podsecurity_label_of_the_run_namespace_is_what_admits_net_raw(server: FakeApiServer,
                                                                      kubeconfig: Path) -> None:
    server.default_enforce = "baseline"
    server.add_object("", "namespaces", None, {"metadata": {"name": "plain-baseline"}})
    body = {"metadata": {"name": "x"}, "spec": {"containers": [{"name": "probe", "image": "i",
            "securityContext": {"capabilities": {"add": ["NET_RAW"]}}}]}}
    from netattest.k8s.api import Cluster
    from netattest.k8s.config import connect

    cluster = Cluster(connect(str(kubeconfig)))
    with pytest.raises(ClusterPermissionError, match="violates PodSecurity"):
        cluster.create_pod("plain-baseline", body)  # baseline really refuses NET_RAW ...
    built = target(kubeconfig)
    try:
        assert built.deploy().pod("pod-a", "multus-test").phase == "Running"  # ... the run's namespaces allow it
    finally:
        built.teardown()


@pytest.fixture
def openshift() -> Iterator[FakeApiServer]:
    with FakeApiServer(nodes=SEED_NODES, openshift=True) as srv:
        yield srv


def test_openshift_service_account_bound_to_the_scc(openshift: FakeApiServer, tmp_path: Path) -> None:
    openshift.rbac_rules = rbac_rules(openshift=True)
    built = target(openshift.kubeconfig(tmp_path / "kc"))
    try:
        inventory = built.deploy()
        assert inventory.pod("pod-a", "multus-test").phase == "Running"
        binding = openshift.sent("create", "rolebindings")[0].body
        assert binding["roleRef"]["name"] == "netattest:scc:netattest-probe"
        assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "netattest-probe", "namespace": NS}]
        pod = next(r.body for r in openshift.sent("create", "pods"))
        assert pod["spec"]["serviceAccountName"] == "netattest-probe"
        assert pod["metadata"]["annotations"]["openshift.io/required-scc"] == "netattest-probe"
        ns = openshift.get("", "namespaces", None, NS)
        assert ns["metadata"]["labels"]["security.openshift.io/scc.podSecurityLabelSync"] == "false"
    finally:
        assert built.teardown() == []
    assert leftovers(openshift) == []


def test_scc_rejection_is_one_line_and_leaves_nothing(openshift: FakeApiServer, tmp_path: Path) -> None:
    openshift.scc_cluster_roles = set()  # the ClusterRole the run binds does not grant the SCC
    with pytest.raises(ClusterPermissionError) as caught:
        target(openshift.kubeconfig(tmp_path / "kc")).deploy()
    text = one_line(caught.value)
    assert text.startswith("OpenShift SCC admission rejected probe pod multus-test/pod-a")
    assert 'capabilities.add: Invalid value: "NET_RAW"' in text and "deploy/rbac-openshift.yaml" in text
    assert leftovers(openshift) == []


def test_missing_scc_is_found_before_anything_is_created(openshift: FakeApiServer, tmp_path: Path) -> None:
    with openshift.lock:
        del openshift.objects[("security.openshift.io", "securitycontextconstraints", None, "netattest-probe")]
    with pytest.raises(ClusterError) as caught:
        target(openshift.kubeconfig(tmp_path / "kc")).deploy()
    assert "SCC 'netattest-probe' does not exist" in one_line(caught.value)
    assert openshift.sent("create", "namespaces") == []


def test_rbac_gaps_are_listed_before_anything_is_created(server: FakeApiServer, kubeconfig: Path) -> None:
    server.rbac_rules = [r for r in rbac_rules() if r["resources"] != ["pods/exec"]]
    with pytest.raises(ClusterPermissionError) as caught:
        target(kubeconfig).deploy()
    text = one_line(caught.value)
    assert "may not: create pods/exec" in text and "deploy/rbac.yaml" in text
    assert server.sent("create", "namespaces") == []


def test_403_from_rbac_while_creating_is_one_line(server: FakeApiServer, kubeconfig: Path) -> None:
    server.admission.append(lambda req: (403, ('network-attachment-definitions.k8s.cni.cncf.io is forbidden: User '
                                              '"dev" cannot create resource "network-attachment-definitions"'))
                            if req.verb == "create" and req.resource.plural == "network-attachment-definitions"
                            else None)
    with pytest.raises(ClusterPermissionError) as caught:
        target(kubeconfig).deploy()
    assert "cannot create resource" in one_line(caught.value) and "deploy/rbac.yaml" in str(caught.value)
    assert leftovers(server) == []


def test_missing_nad_crd_is_named_before_anything_is_created(tmp_path: Path) -> None:
    with FakeApiServer(nodes=SEED_NODES, nad_crd=False) as srv:
        with pytest.raises(ClusterError) as caught:
            target(srv.kubeconfig(tmp_path / "kc")).deploy()
        text = one_line(caught.value)
        assert "NetworkAttachmentDefinition CRD" in text and "Multus is missing" in text
        assert srv.sent("create", "namespaces") == []


def test_404_when_creating_a_nad_names_the_crd_and_cleans_up(server: FakeApiServer, kubeconfig: Path) -> None:
    server.admission.append(lambda req: (404, "the server could not find the requested resource")
                            if req.verb == "create" and req.resource.plural == "network-attachment-definitions"
                            else None)
    with pytest.raises(ClusterError) as caught:
        target(kubeconfig).deploy()
    assert "NetworkAttachmentDefinition CRD" in one_line(caught.value)
    assert server.sent("create", "namespaces") and leftovers(server) == []


def test_409_on_an_existing_namespace_never_touches_it(server: FakeApiServer, kubeconfig: Path,
                                                       tmp_path: Path) -> None:
    text = SEED.read_text().replace("namespace: multus-test", "namespace: zz-test")
    text = text.replace("    namespace: zz-test\n    network: restricted\n    plugin: macvlan",
                        "    namespace: aa-test\n    network: restricted\n    plugin: macvlan", 1)
    text = text.replace("{attachment: net1-macvlan,", "{attachment: aa-test/net1-macvlan,")
    topo = tmp_path / "two-namespaces.yaml"
    topo.write_text(text)
    theirs = f"netattest-{RUN}-zz-test"
    server.add_object("", "namespaces", None, {"metadata": {"name": theirs, "labels": {"team": "someone"}}})
    server.add_object("", "configmaps", theirs, {"metadata": {"name": "precious"}})
    with pytest.raises(ClusterError) as caught:
        target(kubeconfig, topo).deploy()
    text = one_line(caught.value)
    assert f"namespace {theirs} already exists" in text and "never touches a namespace it did not create" in text
    assert [r.name for r in server.sent("delete", "namespaces")] == [f"netattest-{RUN}-aa-test"]
    assert leftovers(server) == [("", "configmaps", theirs, "precious"), ("", "namespaces", None, theirs)]


def test_ctrl_c_during_deploy_removes_everything(server: FakeApiServer, kubeconfig: Path) -> None:
    built = target(kubeconfig)

    def interrupt(message: str) -> None:
        if message.startswith("waiting for"):
            raise KeyboardInterrupt

    built.progress = interrupt
    with pytest.raises(KeyboardInterrupt):
        built.deploy()
    assert server.sent("create", "pods") and leftovers(server) == []


def test_keep_leaves_the_run_for_gc(server: FakeApiServer, kubeconfig: Path) -> None:
    server.pod_behaviour = lambda pod: PodOutcome(phase="Pending", container_waiting=("ImagePullBackOff", "x"))
    built = target(kubeconfig, keep=True)
    with pytest.raises(ClusterError):
        built.deploy()
    assert server.get("", "namespaces", None, NS) is not None
    assert any("netattest gc --target kubernetes --run-id 5eed0001" in m for m in built.messages)  # type: ignore


# -- reaching the API ------------------------------------------------------------------------------------------------

def test_unreachable_api_server_is_one_paragraph(tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    srv = FakeApiServer()
    srv.url = f"https://127.0.0.1:{port}"
    kubeconfig = srv.kubeconfig(tmp_path / "kc", context="lab-a")
    with pytest.raises(ClusterAccessError) as caught:
        target(kubeconfig).deploy()
    text = one_line(caught.value)
    assert f"cannot reach the API server at https://127.0.0.1:{port} (context 'lab-a' of kubeconfig {kubeconfig})" \
           in text
    assert "connection refused" in text and "Fix:" in text


def test_bad_credentials_are_one_paragraph(server: FakeApiServer, tmp_path: Path) -> None:
    kubeconfig = server.kubeconfig(tmp_path / "kc", token="expired")
    with pytest.raises(ClusterAccessError) as caught:
        target(kubeconfig).deploy()
    assert "rejected the credentials (401 Unauthorized)" in one_line(caught.value)


def test_api_timeouts_are_one_paragraph_and_leave_nothing(server: FakeApiServer, kubeconfig: Path) -> None:
    server.latency_for = lambda req: 1.0 if req.verb == "create" and req.resource.plural == "pods" else 0.0
    with pytest.raises(ClusterAccessError) as caught:
        target(kubeconfig, request_timeout=0.3).deploy()
    text = one_line(caught.value)
    assert "cannot reach the API server" in text and "while creating pod" in text and "timed out" in text
    time.sleep(1.2)  # the slow create lands after the client gave up, into a namespace that is gone
    assert leftovers(server) == []


def test_missing_kubeconfig_and_context(tmp_path: Path, server: FakeApiServer, kubeconfig: Path) -> None:
    with pytest.raises(ClusterAccessError) as caught:
        target(tmp_path / "nope").deploy()
    assert f"kubeconfig {tmp_path / 'nope'} (from --kubeconfig) does not exist" in one_line(caught.value)
    with pytest.raises(ClusterAccessError) as caught:
        target(kubeconfig, context="prod").deploy()
    assert "context 'prod' is not in kubeconfig" in one_line(caught.value)
    assert "(contexts there: fake)" in str(caught.value)


CLI_FAILURES: dict[str, tuple[tuple[int, str] | None, str, str]] = {
    # how the cluster fails: (the API server's answer to listing namespaces, the credentials, what stderr says)
    "no kubeconfig": (None, "missing", "(from --kubeconfig) does not exist"),
    "bad credentials": (None, "expired", "rejected the credentials (401 Unauthorized)"),
    "forbidden": ((403, 'namespaces is forbidden: User "dev" cannot list resource "namespaces"'), "valid",
                  'forbidden while listing netattest namespaces'),
    "server error": ((500, "etcdserver: request timed out"), "valid", "answered 500"),
}


@pytest.mark.parametrize("case", sorted(CLI_FAILURES))
def test_cluster_errors_end_the_command_in_one_line_with_exit_status_2(server: FakeApiServer, tmp_path: Path,
                                                                       case: str) -> None:
    """What the user sees of a cluster error (access, 403, any other answer): one line on stderr, status 2."""
    import subprocess
    import sys

    from tests.conftest import REPO

    answer, credentials, expected = CLI_FAILURES[case]
    if answer is not None:
        server.admission.append(lambda req: answer if req.verb == "list" and req.resource is not None
                                and req.resource.plural == "namespaces" else None)
    kubeconfig = (tmp_path / "nope" if credentials == "missing" else
                  server.kubeconfig(tmp_path / "kc", token="expired" if credentials == "expired" else None))
    proc = subprocess.run([sys.executable, "-m", "netattest.cli", "gc", "--target", "kubernetes", "--kubeconfig",
                           str(kubeconfig)], capture_output=True, text=True, cwd=REPO, timeout=60, check=False)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr.startswith("netattest: ") and proc.stderr.count("\n") == 1, proc.stderr
    assert expected in proc.stderr, proc.stderr


def test_sigterm_during_deploy_removes_everything(server: FakeApiServer, kubeconfig: Path, tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys

    from tests.conftest import REPO

    server.pod_behaviour = lambda pod: PodOutcome(phase="Pending")  # pods never start: the run sits waiting
    script = tmp_path / "run.py"
    script.write_text(f"""
import sys
sys.path.insert(0, {str(REPO)!r})
from netattest.signals import terminate_as_interrupt
from netattest.k8s.plan import ClusterOptions
from netattest.targets.kubernetes import KubernetesTarget
from netattest.topology import load_topology
terminate_as_interrupt()
options = ClusterOptions(kubeconfig={str(kubeconfig)!r}, poll_interval=0.05, pod_timeout=120, node_inventory=False)
target = KubernetesTarget(load_topology({str(SEED)!r}), "5eed0002", options=options,
                          progress=lambda m: print(m, flush=True))
try:
    target.deploy()
except KeyboardInterrupt as exc:
    print("interrupted:", exc, flush=True)
    sys.exit(130)
""")
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("waiting for"):
            break
    assert server.list("", "pods"), "the run had created its pods"
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted: signal SIGTERM" in out
    assert leftovers(server) == []


# -- provisioning through the OpenShift network operator ---------------------------------------------------------

def operator_spec(server: FakeApiServer) -> dict:
    import copy

    return copy.deepcopy(server.get("operator.openshift.io", "networks", None, "cluster")["spec"])


def test_operator_provisioning_patches_waits_and_restores(openshift: FakeApiServer, tmp_path: Path) -> None:
    openshift.rbac_rules = rbac_rules(openshift=True)
    before = operator_spec(openshift)
    built = target(openshift.kubeconfig(tmp_path / "kc"), provision="operator")
    try:
        inventory = built.deploy()
        patch = openshift.sent("patch", "networks")[0]
        assert patch.content_type == "application/merge-patch+json"
        assert patch.body["metadata"]["resourceVersion"], "optimistic concurrency on the operator's spec"
        entries = patch.body["spec"]["additionalNetworks"]
        assert entries[0]["name"] == "theirs", "existing entries are kept"
        mine = {e["name"]: e for e in entries[1:]}
        assert set(mine) == {"net1", "net1-macvlan"}
        assert mine["net1"]["namespace"] == NS and mine["net1"]["type"] == "Raw"
        assert json.loads(mine["net1"]["rawCNIConfig"])["type"] == "ipvlan"
        assert openshift.sent("create", "network-attachment-definitions") == [], "the operator made the NADs"
        nad = openshift.get("k8s.cni.cncf.io", "network-attachment-definitions", NS, "net1")
        assert nad["metadata"]["ownerReferences"][0]["kind"] == "Network"
        assert inventory.pod("pod-a", "multus-test").phase == "Running"
        assert inventory.pod("pod-a", "multus-test").attachments[0].applied_plugin == "ipvlan"
    finally:
        assert built.teardown() == []
    assert operator_spec(openshift) == before
    time.sleep(0.2)
    assert leftovers(openshift) == []


def test_operator_spec_without_the_list_is_restored_without_it(openshift: FakeApiServer, tmp_path: Path) -> None:
    with openshift.lock:
        del openshift.get("operator.openshift.io", "networks", None, "cluster")["spec"]["additionalNetworks"]
    before = operator_spec(openshift)
    built = target(openshift.kubeconfig(tmp_path / "kc"), provision="operator")
    try:
        built.deploy()
    finally:
        built.teardown()
    assert operator_spec(openshift) == before and "additionalNetworks" not in before


def test_operator_spec_is_restored_when_the_run_fails(openshift: FakeApiServer, tmp_path: Path) -> None:
    before = operator_spec(openshift)
    openshift.admission.append(lambda req: (403, 'pods "pod-a" is forbidden: violates PodSecurity "restricted:latest"')
                               if req.verb == "create" and req.resource.plural == "pods" else None)
    with pytest.raises(ClusterPermissionError):
        target(openshift.kubeconfig(tmp_path / "kc"), provision="operator").deploy()
    assert operator_spec(openshift) == before
    assert leftovers(openshift) == []


def test_operator_that_never_creates_the_nads_times_out_and_restores(tmp_path: Path) -> None:
    with FakeApiServer(nodes=SEED_NODES, openshift=True, operator_creates_nads=False) as srv:
        before = operator_spec(srv)
        with pytest.raises(ClusterError) as caught:
            target(srv.kubeconfig(tmp_path / "kc"), provision="operator", operator_timeout=0.5).deploy()
        text = one_line(caught.value)
        assert f"the network operator did not create NAD(s) {NS}/net1, {NS}/net1-macvlan within 0.5 s" in text
        assert "oc get network.operator cluster" in text
        assert operator_spec(srv) == before and leftovers(srv) == []


def test_operator_changes_by_others_during_the_run_are_kept(openshift: FakeApiServer, tmp_path: Path) -> None:
    built = target(openshift.kubeconfig(tmp_path / "kc"), provision="operator")
    try:
        built.deploy()
        with openshift.lock:
            network = openshift.get("operator.openshift.io", "networks", None, "cluster")
            network["spec"]["additionalNetworks"].append({"name": "late", "namespace": "team-b", "type": "Raw",
                                                          "rawCNIConfig": "{}"})
    finally:
        assert built.teardown() == []
    assert [e["name"] for e in operator_spec(openshift)["additionalNetworks"]] == ["theirs", "late"]
    assert any("only this run's entries were removed" in n for n in built.notes)


def test_operator_provisioning_needs_openshift(server: FakeApiServer, kubeconfig: Path) -> None:
    with pytest.raises(ClusterError, match="--provision operator needs OpenShift's cluster network operator"):
        target(kubeconfig, provision="operator").deploy()
    assert server.sent("create", "namespaces") == []
