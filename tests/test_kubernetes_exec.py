"""The one ``kubernetes.stream`` adapter against the fake API server's exec websocket (v5 and v4 channels), over
``wss://`` with the session CA, as a client-certificate user and as a bearer-token user."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from netattest.errors import ProbeAgentError
from netattest.k8s.api import Cluster
from netattest.k8s.channel import AgentClient, ChannelClosed
from netattest.k8s.config import Connection, connect
from netattest.k8s.stream_exec import open_exec
from netattest.probe.agent import agent_command, bootstrap_payload
from netattest.probe.engine import Endpoint, Probe
from tests.fakeapi import V4, V5, FakeApiServer


@pytest.fixture(params=[(V5, "cert"), (V4, "token")], ids=["v5-cert", "v4-token"])
def pod(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[FakeApiServer, Connection]]:
    protocol, auth = request.param
    with FakeApiServer(nodes={"node1": {}}, exec_protocols=(protocol,)) as srv:
        connection = connect(str(srv.kubeconfig(tmp_path / "kc", user="exec-user", auth=auth)))
        assert connection.server.startswith("https://")
        cluster = Cluster(connection)
        cluster.create_namespace({"metadata": {"name": "ns"}})
        cluster.create_pod("ns", {"metadata": {"name": "p"},
                                  "spec": {"containers": [{"name": "probe", "image": "x"}]}})
        deadline = time.monotonic() + 5
        while cluster.read_pod("ns", "p")["status"]["phase"] != "Running" and time.monotonic() < deadline:
            time.sleep(0.02)
        yield srv, connection
        connection.close()


def test_agent_over_exec_speaks_the_line_protocol(pod: tuple[FakeApiServer, Connection]) -> None:
    srv, connection = pod
    channel = open_exec(connection, "ns", "p", "probe", agent_command())
    assert channel.subprotocol == srv.exec_protocols[0]
    agent = AgentClient(channel, "pod ns/p")
    ready = agent.start(bootstrap_payload(), timeout=30)
    assert ready["event"] == "ready" and ready["protocol"] == 1 and ready["scapy"]
    assert agent.request("hello", 10)["agent"] == "netattest-probe-agent"
    names = {i["name"] for i in agent.interfaces()}
    assert "lo" in names
    # many requests over one exec: no exec per probe
    probe = Probe("q", "arp", Endpoint(None, "lo", "127.0.0.2", "02:00:00:00:00:02"), "127.0.0.3",
                  expect_answer=False)
    started = time.monotonic()
    for _ in range(20):
        results, stats = agent.probe([probe], engine={"timeout": 0.01, "retries": 0}, timeout=10)
        assert results[0].probe is probe and stats.frames_sent == 1
    per_request = (time.monotonic() - started) / 20
    assert len(srv.execs) == 1
    # the websocket was wss:// and authenticated like every other request of this user
    assert (srv.execs[0]["secure"], srv.execs[0]["user"]) == (True, "exec-user")
    assert srv.execs[0]["auth"] == srv.requests[0].auth
    assert srv.execs[0]["stdin_bytes"] > 40_000  # the engine's and the agent's source went in on stdin
    agent.close()
    deadline = time.monotonic() + 5
    while srv.execs[0]["exit"] is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert srv.execs[0]["exit"] == 0, "closing the stream ends the agent"
    print(f"\n{srv.exec_protocols[0]}: one probe request round trip over exec {per_request * 1000:.1f} ms")


def test_a_dying_process_reports_exit_code_and_stderr(pod: tuple[FakeApiServer, Connection]) -> None:
    srv, connection = pod
    srv.exec_argv = lambda ns, name, cmd: [sys.executable, "-c",
                                           "import sys; sys.stderr.write('no scapy here\\n'); sys.exit(3)"]
    agent = AgentClient(open_exec(connection, "ns", "p", "probe", agent_command()), "pod ns/p")
    with pytest.raises(ProbeAgentError) as caught:
        agent.start(bootstrap_payload(), timeout=10)
    text = str(caught.value)
    assert "probe agent in pod ns/p ended while starting" in text
    assert "exit code 3" in text and "no scapy here" in text


def test_missing_python_in_the_image_is_named(pod: tuple[FakeApiServer, Connection]) -> None:
    srv, connection = pod
    srv.exec_argv = lambda ns, name, cmd: ["/nonexistent/python3", *cmd[1:]]
    agent = AgentClient(open_exec(connection, "ns", "p", "probe", agent_command()), "pod ns/p")
    with pytest.raises(ProbeAgentError) as caught:
        agent.start(bootstrap_payload(), timeout=10)
    assert 'executable file not found in $PATH' in str(caught.value)


def test_exec_into_a_missing_pod_fails_clearly(pod: tuple[FakeApiServer, Connection]) -> None:
    _, connection = pod
    with pytest.raises(ProbeAgentError, match="exec into pod ns/ghost failed"):
        open_exec(connection, "ns", "ghost", "probe", agent_command())


def test_channel_reports_end_of_stream(pod: tuple[FakeApiServer, Connection]) -> None:
    srv, connection = pod
    srv.exec_argv = lambda ns, name, cmd: [sys.executable, "-c", "print('bye')"]
    channel = open_exec(connection, "ns", "p", "probe", ["python3"])
    data = b""
    with pytest.raises(ChannelClosed):
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            data += channel.read(0.5)
    assert data == b"bye\n"
    assert channel.exit_status() == "exit code 0"


def test_an_agent_that_hangs_times_out_with_a_clear_message(pod: tuple[FakeApiServer, Connection]) -> None:
    srv, connection = pod
    srv.exec_argv = lambda ns, name, cmd: [sys.executable, "-c", "import time; time.sleep(30)"]
    agent = AgentClient(open_exec(connection, "ns", "p", "probe", agent_command()), "pod ns/p")
    started = time.monotonic()
    with pytest.raises(ProbeAgentError, match=r"probe agent in pod ns/p did not answer within 0.5 s while starting"):
        agent.start(bootstrap_payload(), timeout=0.5)
    assert time.monotonic() - started < 5
    agent.channel.close()


def test_a_failing_agent_breaks_only_its_own_probes() -> None:
    from netattest.targets.kubernetes import KubernetesTarget
    from netattest.topology import load_topology
    from tests.conftest import SEED

    class Hung:
        def probe(self, probes, *, engine, timeout):
            raise ProbeAgentError("probe agent in pod ns/a did not answer within 31 s while answering probe")

    class Fine:
        def probe(self, probes, *, engine, timeout):
            from netattest.probe.engine import ProbeResult, WindowStats
            return [ProbeResult(p, 1.0, 1, [], "", "") for p in probes], WindowStats(len(probes), 1, 0, 0, 0.1)

    target = KubernetesTarget(load_topology(SEED), "0123abcd")
    target.agents = {"k8s:ns/a": Hung(), "k8s:ns/b": Fine()}
    probes = [Probe("1", "arp", Endpoint("k8s:ns/a", "net1", "10.0.0.1", "02:00:00:00:00:01"), "10.0.0.2"),
              Probe("2", "arp", Endpoint("k8s:ns/b", "net1", "10.0.0.2", "02:00:00:00:00:02"), "10.0.0.1"),
              Probe("3", "arp", Endpoint(None, "eth0", "10.0.0.3", "02:00:00:00:00:03", "host ext"), "10.0.0.1")]
    results, stats = target.probe(probes)
    assert [r.probe for r in results] == probes
    assert "did not answer within 31 s" in results[0].error and results[1].error == ""
    assert "sends probes from its probe pods and node pods only; host ext is not one" in results[2].error
    assert not stats.trustworthy and stats.frames_sent == 1
