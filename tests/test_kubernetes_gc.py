"""``netattest gc --target kubernetes``: by label and TTL only, never by name prefix, never someone else's."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from netattest.k8s import names
from netattest.k8s.api import Cluster
from netattest.k8s.config import connect
from netattest.k8s.gc import collect
from tests.conftest import REPO
from tests.fakeapi import FakeApiServer

NOW = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)


def ns(server: FakeApiServer, name: str, run: str | None, expires: datetime | None, managed: bool = True) -> None:
    labels = {"team": "x"}
    if run:
        labels[names.LABEL_RUN_ID] = run
    if managed:
        labels[names.LABEL_MANAGED_BY] = "netattest"
    annotations = {names.ANNOTATION_EXPIRES: names.expires_at(timedelta(0), expires)} if expires else {}
    server.add_object("", "namespaces", None, {"metadata": {"name": name, "labels": labels,
                                                            "annotations": annotations}})


@pytest.fixture
def server(tmp_path: Path) -> Iterator[FakeApiServer]:
    with FakeApiServer(openshift=True) as srv:
        ns(srv, "netattest-aaaaaaaa-multus-test", "aaaaaaaa", NOW - timedelta(minutes=1))  # expired
        ns(srv, "netattest-aaaaaaaa-other", "aaaaaaaa", NOW - timedelta(minutes=1))  # expired, same run
        ns(srv, "netattest-bbbbbbbb-multus-test", "bbbbbbbb", NOW + timedelta(hours=1))  # a run still going
        ns(srv, "netattest-cccccccc-multus-test", "cccccccc", None)  # no expiry: only by run id
        ns(srv, "netattest-dddddddd-multus-test", None, None, managed=False)  # same prefix, not ours
        ns(srv, "netattest-eeeeeeee-fake", "eeeeeeee", NOW - timedelta(days=1), managed=False)  # a run-id label
        ns(srv, "team-a", None, None, managed=False)
        with srv.lock:
            network = srv.get("operator.openshift.io", "networks", None, "cluster")
            network["spec"]["additionalNetworks"].append({"name": "net1", "namespace": "netattest-aaaaaaaa-multus-test",
                                                          "type": "Raw", "rawCNIConfig": "{}"})
        yield srv


def remaining(server: FakeApiServer) -> list[str]:
    return sorted(o["metadata"]["name"] for o in server.list("", "namespaces"))


def test_gc_removes_only_expired_namespaces_of_netattest(server: FakeApiServer, tmp_path: Path) -> None:
    cluster = Cluster(connect(str(server.kubeconfig(tmp_path / "kc"))))
    seen, problems = collect(cluster, now=NOW)
    assert problems == []
    removed = sorted(lo.namespace for lo in seen if lo.remove)
    assert removed == ["netattest-aaaaaaaa-multus-test", "netattest-aaaaaaaa-other"]
    assert remaining(server) == ["netattest-bbbbbbbb-multus-test", "netattest-cccccccc-multus-test",
                                 "netattest-dddddddd-multus-test", "netattest-eeeeeeee-fake", "team-a"]
    why = {lo.namespace: lo.why for lo in seen}
    assert why["netattest-bbbbbbbb-multus-test"].startswith("run may still be going")
    assert "--run-id cccccccc" in why["netattest-cccccccc-multus-test"]
    # the operator entry that pointed into a removed namespace went with it; other teams' entries stayed
    entries = server.get("operator.openshift.io", "networks", None, "cluster")["spec"]["additionalNetworks"]
    assert [e["name"] for e in entries] == ["theirs"]
    # selection was by label on the server side, never by listing every namespace
    lists = [r for r in server.requests if r.verb == "list" and r.resource and r.resource.plural == "namespaces"]
    assert lists and all(r.query["labelSelector"] == [names.OWN_SELECTOR] for r in lists)


def test_gc_by_run_id_ignores_expiry_and_dry_run_changes_nothing(server: FakeApiServer, tmp_path: Path) -> None:
    cluster = Cluster(connect(str(server.kubeconfig(tmp_path / "kc"))))
    seen, _ = collect(cluster, "cccccccc", dry_run=True, now=NOW)
    assert [lo.namespace for lo in seen if lo.remove] == ["netattest-cccccccc-multus-test"]
    assert "netattest-cccccccc-multus-test" in remaining(server)
    collect(cluster, "cccccccc", now=NOW)
    assert "netattest-cccccccc-multus-test" not in remaining(server)
    collect(cluster, "dddddddd", now=NOW)  # not netattest's: no label, so no run id to match
    assert "netattest-dddddddd-multus-test" in remaining(server)


def test_gc_command_line(server: FakeApiServer, tmp_path: Path) -> None:
    kubeconfig = server.kubeconfig(tmp_path / "kc")
    out = subprocess.run([sys.executable, "-m", "netattest.cli", "gc", "--target", "kubernetes", "--kubeconfig",
                          str(kubeconfig), "--run-id", "bbbbbbbb"], capture_output=True, text=True, cwd=REPO,
                         timeout=60, check=False)
    assert out.returncode == 0, out.stderr
    assert "removed      netattest-bbbbbbbb-multus-test" in out.stdout
    assert "removed 1 namespace(s) of 1 run(s)" in out.stdout
    assert "netattest-bbbbbbbb-multus-test" not in remaining(server)
