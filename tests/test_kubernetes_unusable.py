"""A cluster that cannot be used is one line: ``netattest run --target kubernetes`` stops before any check, says
why once (what, where, the fix), exits 2, and its counts agree with each other and with pytest's.

Each case is a real ``netattest run`` of the macvlan-only topology (node pre-flight included) against: a kubeconfig
that does not exist, an API server nobody listens for, a fake API server that rejects the credentials (401), one
whose user lacks the rights a run needs (403 on every SelfSubjectAccessReview), and one without the NAD CRD.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import MACVLAN_ONLY, REPO
from tests.fakeapi import SEED_NODES, FakeApiServer

RUN_ID = "dead0006"


def netattest_run(kubeconfig: Path, reports: Path, *extra: str) -> tuple[int, str, dict[str, Any]]:
    argv = [sys.executable, "-m", "netattest.cli", "run", "--target", "kubernetes", "--topology", str(MACVLAN_ONLY),
            "--kubeconfig", str(kubeconfig), "--run-id", RUN_ID, "--reports-dir", str(reports), *extra]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=False)
    summary = json.loads((reports / RUN_ID / "summary.json").read_text())
    return proc.returncode, proc.stdout + proc.stderr, summary


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed again when the block ends: nothing listens there


def missing(server: FakeApiServer, tmp_path: Path) -> Path:
    return tmp_path / "no-such-kubeconfig"


def unreachable(server: FakeApiServer, tmp_path: Path) -> Path:
    server.url = f"https://127.0.0.1:{closed_port()}"
    return server.kubeconfig(tmp_path / "kc")


def unauthorised(server: FakeApiServer, tmp_path: Path) -> Path:
    return server.kubeconfig(tmp_path / "kc", token="expired-token")


def forbidden(server: FakeApiServer, tmp_path: Path) -> Path:
    server.rbac_rules = []  # the user may do nothing: every access review says no
    return server.kubeconfig(tmp_path / "kc", user="intern", auth="cert")


def no_crd(server: FakeApiServer, tmp_path: Path) -> Path:
    server.resources = [r for r in server.resources if r.plural != "network-attachment-definitions"]
    return server.kubeconfig(tmp_path / "kc")


CASES: dict[str, tuple[Callable[[FakeApiServer, Path], Path], str]] = {
    "missing-kubeconfig": (missing, "(from --kubeconfig) does not exist or is not a file. Fix: pass --kubeconfig"),
    "unreachable": (unreachable, "connection refused. Fix: check that the cluster is up and reachable"),
    "401": (unauthorised, "rejected the credentials (401 Unauthorized) while reading the server version. Fix:"),
    "403": (forbidden, "may not: create namespaces, delete namespaces, create pods,"),
    "missing-crd": (no_crd, ("the NetworkAttachmentDefinition CRD (k8s.cni.cncf.io/v1, "
                             "network-attachment-definitions) is not installed on https://127.0.0.1:")),
}


@pytest.mark.parametrize("case", list(CASES))
def test_an_unusable_cluster_stops_the_run_before_any_check_in_one_paragraph(case: str, tmp_path: Path) -> None:
    make_kubeconfig, reason = CASES[case]
    with FakeApiServer(nodes=SEED_NODES) as server:
        kubeconfig = make_kubeconfig(server, tmp_path)
        status, out, summary = netattest_run(kubeconfig, tmp_path / "reports")
        created = [r for r in server.requests if r.verb not in ("get", "list", "discovery", "unknown", "")
                   and not (r.resource and r.resource.plural == "selfsubjectaccessreviews")]
    assert status == 2, out
    # said once, as one paragraph, naming what and where and the fix
    assert out.count(reason) == 1, out
    stop_line = next(line for line in out.splitlines() if "STOPPED before any check" in line)
    assert reason in stop_line and "Fix:" in stop_line
    assert str(kubeconfig) in stop_line or server.url in stop_line
    assert "BROKEN test_" not in out and "--skip-preflight" not in out
    # the counts agree: nothing ran, pytest says so, and every selected check is reported as not run
    assert "no tests ran" in out and " failed" not in out.replace("0 failed", "")
    not_run = summary["stopped"]["checks_not_run"]
    assert not_run > 50 and f"0 passed, 0 failed, 0 broken, 0 skipped · {not_run} checks not run" in out
    assert summary["exit_status"] == 2 and summary["problems"] == [] and set(summary["counts"].values()) == {0}
    assert summary["stopped"]["reason"].count(reason) == 1
    # nothing was created on the cluster: no namespace, no debug pod
    assert created == []


def test_plain_pytest_says_it_once_too(tmp_path: Path) -> None:
    argv = [sys.executable, "-m", "pytest", str(REPO / "suites"), "--rootdir", str(REPO), "-p", "no:cacheprovider",
            "-q", "--topology", str(MACVLAN_ONLY), "--target", "kubernetes", "--kubeconfig", str(tmp_path / "nope"),
            "--run-id", RUN_ID, "--reports-dir", str(tmp_path / "reports")]
    proc = subprocess.run(argv, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True, text=True,
                          timeout=120, check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 2, out
    assert out.count("does not exist or is not a file") == 1 and "netattest: STOPPED before any check" in out, out
    assert "no tests ran" in out


def test_a_usable_cluster_is_not_stopped(tmp_path: Path) -> None:
    """The gate lets a cluster through that it should: -m nodes only on the fake cluster gets to the node checks."""
    with FakeApiServer(nodes=SEED_NODES) as server:
        kubeconfig = server.kubeconfig(tmp_path / "kc", user="checker", auth="cert")
        server.exec_argv = lambda namespace, pod, command: ["false"]  # nothing of this machine is a node
        status, out, summary = netattest_run(kubeconfig, tmp_path / "reports", "-m", "nodes", "--pod-timeout", "2")
    assert "stopped" not in summary and "STOPPED" not in out
    assert status == summary["exit_status"] != 0  # the debug pods' commands fail on the fake's "nodes"
    assert sum(summary["counts"].values()) > 0, out  # the node checks ran
    assert server.sent("create", "namespaces"), "the pre-flight's debug pods were created"
