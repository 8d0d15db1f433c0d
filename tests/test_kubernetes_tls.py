"""The harness's way into a cluster over TLS, through its own configuration loading (``netattest/k8s/config.py``)
against the fake API server: a CA per test session, bearer-token and client-certificate users, kubeconfigs that
trust the CA or skip verification, in-cluster configuration, and every way it can go wrong as one paragraph."""

from __future__ import annotations

import json
import ssl
import time
import urllib.error
import urllib.request
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from netattest.errors import ClusterAccessError
from netattest.k8s.api import Cluster
from netattest.k8s.config import connect
from netattest.k8s.plan import ClusterOptions
from netattest.k8s.reach import reach
from netattest.k8s.stream_exec import open_exec
from tests.fakeapi import FakeApiServer, pki
from tests.fakeapi.kubeconfig import cert_user, cluster_entry, token_user, write_kubeconfig


@pytest.fixture
def server() -> Iterator[FakeApiServer]:
    with FakeApiServer(nodes={"node1": {}}) as srv:
        yield srv


def one_line(exc: BaseException) -> str:
    text = str(exc)
    assert "\n" not in text and "Traceback" not in text, text
    return text


def test_the_server_speaks_https_with_a_certificate_of_the_session_ca(server: FakeApiServer) -> None:
    assert server.url.startswith("https://127.0.0.1:")
    trusting = ssl.create_default_context(cafile=None, cadata=pki.ca_pem().decode())
    with pytest.raises(urllib.error.HTTPError) as caught:  # trusted, but no credentials: 401 as from kube-apiserver
        urllib.request.urlopen(f"{server.url}/api/v1/namespaces", context=trusting, timeout=5)
    assert caught.value.code == 401
    body = json.loads(caught.value.read())
    assert (body["kind"], body["code"], body["reason"]) == ("Status", 401, "Unauthorized")
    with pytest.raises(urllib.error.URLError) as refused:  # the system's trust store does not know the session CA
        urllib.request.urlopen(f"{server.url}/version", context=ssl.create_default_context(), timeout=5)
    assert "CERTIFICATE_VERIFY_FAILED" in str(refused.value.reason)
    assert server.requests == []  # neither got past authentication


def test_token_and_client_certificate_users_are_told_apart(server: FakeApiServer, tmp_path: Path) -> None:
    for user, auth in (("tina", "token"), ("carl", "cert")):
        cluster = Cluster(connect(str(server.kubeconfig(tmp_path / f"kc-{user}", user=user, auth=auth))))
        cluster.create_namespace({"metadata": {"name": f"ns-{user}"}})
        cluster.connection.close()
    created = [(r.body["metadata"]["name"], r.user, r.auth, r.secure) for r in server.sent("create", "namespaces")]
    assert created == [("ns-tina", "tina", "token", True), ("ns-carl", "carl", "cert", True)]
    kubeconfig = (tmp_path / "kc-carl").read_text()
    assert "client-key-data" in kubeconfig and "certificate-authority-data" in kubeconfig and "token" not in kubeconfig


def test_a_kubeconfig_without_credentials_is_one_paragraph_401(server: FakeApiServer, tmp_path: Path) -> None:
    kubeconfig = write_kubeconfig(tmp_path / "kc", cluster_entry(server.url, ca_pem=pki.ca_pem(), insecure=False),
                                  {})
    with pytest.raises(ClusterAccessError) as caught:
        Cluster(connect(str(kubeconfig))).version()
    text = one_line(caught.value)
    assert "rejected the credentials (401 Unauthorized)" in text and "Fix:" in text


def test_a_server_certificate_the_kubeconfig_does_not_trust_is_one_paragraph(server: FakeApiServer,
                                                                            tmp_path: Path) -> None:
    stranger = trustme.CA()
    kubeconfig = write_kubeconfig(tmp_path / "kc", cluster_entry(server.url, ca_pem=stranger.cert_pem.bytes(),
                                                                 insecure=False), token_user(server.token))
    with pytest.raises(ClusterAccessError) as caught:
        reach(ClusterOptions(kubeconfig=str(kubeconfig), request_timeout=5))
    text = one_line(caught.value)
    assert f"cannot reach the API server at {server.url}" in text and "TLS certificate not trusted" in text
    assert server.requests == []


def test_a_client_certificate_of_another_ca_is_refused(server: FakeApiServer, tmp_path: Path) -> None:
    leaf = trustme.CA().issue_cert(common_name="mallory")
    kubeconfig = write_kubeconfig(tmp_path / "kc", cluster_entry(server.url, ca_pem=pki.ca_pem(), insecure=False),
                                  cert_user(leaf.cert_chain_pems[0].bytes(), leaf.private_key_pem.bytes()))
    with pytest.raises(ClusterAccessError) as caught:
        reach(ClusterOptions(kubeconfig=str(kubeconfig), request_timeout=5))
    assert f"cannot reach the API server at {server.url}" in one_line(caught.value)
    assert server.requests == []  # the TLS handshake itself refused mallory


def test_an_insecure_kubeconfig_works_and_is_said_once(server: FakeApiServer, tmp_path: Path) -> None:
    kubeconfig = server.kubeconfig(tmp_path / "kc", user="ivy", auth="cert", verify="insecure")
    assert "insecure-skip-tls-verify: true" in kubeconfig.read_text()
    assert "certificate-authority-data" not in kubeconfig.read_text()
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        reached = reach(ClusterOptions(kubeconfig=str(kubeconfig), request_timeout=5))
        for _ in range(3):
            reached.cluster.list_nodes()
        reached.close()
    assert reached.connection.insecure
    assert [n for n in reached.notes if "insecure-skip-tls-verify" in n] == reached.notes and len(reached.notes) == 1
    assert [str(w.message)[:60] for w in seen if "Unverified HTTPS" in str(w.message)] == []
    assert {(r.user, r.auth, r.secure) for r in server.requests} == {("ivy", "cert", True)}
    verified = reach(ClusterOptions(kubeconfig=str(server.kubeconfig(tmp_path / "kc2")), request_timeout=5))
    verified.close()
    assert not verified.connection.insecure and verified.notes == []


@pytest.fixture
def in_cluster(server: FakeApiServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """This process as a pod: no kubeconfig anywhere, the service account's files, the service's environment."""
    from kubernetes.config import incluster_config

    pod = server.in_cluster(tmp_path / "serviceaccount", "system:serviceaccount:netattest:runner")
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.kube/config
    for name, value in pod.env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(incluster_config, "SERVICE_TOKEN_FILENAME", str(pod.token_file))
    monkeypatch.setattr(incluster_config, "SERVICE_CERT_FILENAME", str(pod.ca_file))
    return pod.token_file


def test_in_cluster_config_reaches_the_api_and_execs_over_wss(server: FakeApiServer, in_cluster: Path) -> None:
    connection = connect()
    assert connection.source == "in-cluster config" and connection.server == server.url
    cluster = Cluster(connection)
    assert cluster.version()["gitVersion"] == "v1.30.0-fake"
    cluster.create_namespace({"metadata": {"name": "ns"}})
    cluster.create_pod("ns", {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "probe", "image": "x"}]}})
    deadline = time.monotonic() + 5
    while cluster.read_pod("ns", "p")["status"].get("phase") != "Running" and time.monotonic() < deadline:
        time.sleep(0.02)
    channel = open_exec(connection, "ns", "p", "probe", ["python3", "-c", "print('in the pod')"])
    output = b""
    deadline = time.monotonic() + 10
    while b"\n" not in output and time.monotonic() < deadline:
        output += channel.read(0.2)
    channel.close()
    connection.close()
    assert output == b"in the pod\n"
    assert {(r.user, r.auth, r.secure) for r in server.requests} == \
        {("system:serviceaccount:netattest:runner", "token", True)}
    assert server.execs[0]["secure"] and server.execs[0]["user"] == "system:serviceaccount:netattest:runner"


def test_in_cluster_with_a_stale_token_is_one_paragraph_about_the_service_account(server: FakeApiServer,
                                                                                 in_cluster: Path) -> None:
    in_cluster.write_text("an-expired-projected-token")
    with pytest.raises(ClusterAccessError) as caught:
        Cluster(connect()).version()
    text = one_line(caught.value)
    assert "(in-cluster config) rejected the credentials (401 Unauthorized)" in text
    assert "Fix: give the pod's service account a valid token" in text and "--context" not in text


def test_in_cluster_without_its_token_is_one_paragraph(server: FakeApiServer, in_cluster: Path) -> None:
    in_cluster.unlink()
    with pytest.raises(ClusterAccessError) as caught:
        connect()
    text = one_line(caught.value)
    assert text.startswith("in-cluster config could not be loaded") and "service account token" in text
    assert server.requests == []
