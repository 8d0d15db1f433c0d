"""Crash safety and concurrency of the cluster target, against the fake API server (zero objects left).

* the reduced profile of ``scripts/crash_tally.py --target kubernetes`` (3 seeded kill points per signal over
  bring-up, probing and teardown of a real ``netattest run --target kubernetes``, without the node pre-flight; the
  full profile is 30 per signal, with it): after each kill ``netattest gc --target kubernetes`` leaves nothing of
  the run, and fresh runs pass;
* deterministic kills at the moments the tally only hits by chance: while the run's namespace create or its
  network-operator patch is in flight, and while the reply to one the server already did is on its way; and a
  SIGKILL while the node pre-flight's debug pods run;
* three runs at once against one fake cluster (two through the network operator, one with direct NADs) while
  ``netattest gc`` loops: all pass, and the server's request log proves that no run read, listed, patched or
  deleted another run's objects, and that gc changed nothing of a live run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from netattest.inventory import Inventory
from netattest.k8s import names
from netattest.lab.cni import find_plugin_dir
from netattest.lab.lab import Lab
from netattest.runid import new_run_id
from netattest.topology import load_topology
from scripts.crash_tally import Session
from scripts.crash_tally_cluster import RUN_USER, RequestKill, mutating
from tests.cluster_lab import cluster_over_lab, cluster_run_passed, unexpected_problems
from tests.conftest import MACVLAN_ONLY, REPO
from tests.fakeapi import FakeApiServer, Request, leftovers
from tests.harness_runs import gc_looping, reduced_tally, wait_all

pytestmark = pytest.mark.lab

POINTS_PER_SIGNAL = int(os.environ.get("NETATTEST_CLUSTER_CRASH_POINTS", "3"))
RUNS = int(os.environ.get("NETATTEST_CONCURRENT_CLUSTER_RUNS", "3"))
ENV = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"}
OPERATOR = ("operator.openshift.io", "networks", None, "cluster")


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "netattest.cli", *args]


def run_argv(run_id: str, kubeconfig: Path, reports: Path, *extra: str) -> list[str]:
    return _cli("run", "--target", "kubernetes", "--topology", str(MACVLAN_ONLY), "--run-id", run_id,
                "--reports-dir", str(reports), "--kubeconfig", str(kubeconfig), "--pod-timeout", "30",
                "--probe-timeout", "0.5", *extra)


def operator_entries(server: FakeApiServer) -> list[dict[str, Any]]:
    with server.lock:
        return json.loads(json.dumps(server.get(*OPERATOR)["spec"].get("additionalNetworks") or []))


# -- the reduced crash tally ---------------------------------------------------------------------------------------


def test_reduced_cluster_crash_tally_leaves_nothing_after_gc(tmp_path: Path) -> None:
    tally, report, proc = reduced_tally(tmp_path, POINTS_PER_SIGNAL, 11, "--target", "kubernetes",
                                        "--probe-timeout", "0.5", "--skip-preflight", timeout=900)
    points = tally["points"]
    for sig in ("INT", "TERM", "KILL"):
        assert all(p["exit_status"] not in (0, None) for p in points if p["signal"] == sig), \
            f"a SIG{sig} kill did not end its run\n{report}"
    # SIGKILLed runs left objects (so gc had work), and gc removed them by their run id
    killed = [p for p in points if p["signal"] == "KILL" and p["left_before_gc"]]
    assert killed, f"no SIGKILL left anything for gc: the tally proves nothing\n{report}"
    assert all(f"run {p['run_id']}: asked for by run id" in p["gc_output"] for p in killed), report
    assert proc.returncode == 0, report
    print(proc.stdout[proc.stdout.find("signal  phase"):])


# -- deterministic kills while a request that creates something is in flight ---------------------------------------

# A Ctrl-C or SIGTERM that lands while the namespace create is in flight (or its reply is on the way) made the
# client drop the answer: the server did create the namespace, but the target never recorded it, so its teardown
# left it, and `netattest gc` without --run-id keeps it until it expires (2 h). The same for the network
# operator's patch: teardown looked before the in-flight patch landed, found none of its entries, and the entries
# stayed for good (gc removes entries only with the namespaces it removes). Fix: netattest/targets/kubernetes.py
# and netattest/k8s/provision.py hold interrupts (deferred_interrupts) from such a request until its answer is
# recorded, as the lab does while it creates a namespace.
def _creates_namespace(req: Request) -> bool:
    return mutating(req) and req.verb == "create" and req.resource is not None and \
        req.resource.plural == "namespaces"


def _creates_pod(req: Request) -> bool:
    return mutating(req) and req.verb == "create" and req.resource is not None and req.resource.plural == "pods"


def _patches_operator(req: Request) -> bool:
    return mutating(req) and req.resource is not None and req.resource.plural == "networks"


@pytest.mark.parametrize(("sig", "form", "wanted"), [
    ("INT", "<", _creates_namespace), ("TERM", ">", _creates_namespace), ("INT", "<", _patches_operator),
    ("TERM", ">", _patches_operator)], ids=["INT-namespace-in-flight", "TERM-namespace-reply-held",
                                            "INT-operator-patch-in-flight", "TERM-operator-patch-reply-held"])
def test_interrupt_while_a_create_is_in_flight_leaves_nothing(tmp_path: Path, sig: str, form: str,
                                                              wanted: Callable[[Request], bool]) -> None:
    nodes = {n.name: dict(n.labels) for n in load_topology(MACVLAN_ONLY).nodes}
    with FakeApiServer(openshift=True, nodes=nodes) as server:
        before = operator_entries(server)
        kubeconfig = server.kubeconfig(tmp_path / "kc", user=RUN_USER, auth="cert")
        hook = RequestKill(f"1{form}", sig, wanted)
        hook.arm(server)
        hook.session = Session(run_argv(new_run_id(), kubeconfig, tmp_path / "reports", "--skip-preflight",
                                        "--provision", "operator"), ENV)
        status = hook.session.wait(120)
        hook.wait_done()
        text = hook.session.text()
        assert hook.fired, f"the run never sent the request\n{text[-3000:]}"
        assert status not in (0, None), f"the interrupt did not end the run\n{text[-3000:]}"
        # the server did the request (the run's namespace existed, or its entries were in the operator's spec) ...
        assert server.sent("create", "namespaces") and (wanted is _creates_namespace
                                                         or server.sent("patch", "networks"))
        # ... and the interrupted run removed all of it itself
        assert leftovers(server) == [], f"{hook.fired}\n{text[-3000:]}"
        assert operator_entries(server) == before, f"{hook.fired}\n{text[-3000:]}"
        assert [r.name for r in server.sent("delete", "namespaces")] == \
            [r.body["metadata"]["name"] for r in server.sent("create", "namespaces")]


# A SIGKILL cannot be held: what the run made stays until gc. By label alone gc keeps it (not expired, and the
# cluster cannot tell a dead owner from a live run on another machine); the front process names the command that
# removes it, by run id, with the run's kubeconfig.
def test_sigkill_while_the_debug_pods_run_leaves_nothing_after_gc_by_run_id(tmp_path: Path) -> None:
    nodes = {n.name: dict(n.labels) for n in load_topology(MACVLAN_ONLY).nodes}
    run_id = new_run_id()
    with FakeApiServer(openshift=True, nodes=nodes) as server:
        kubeconfig = server.kubeconfig(tmp_path / "kc", user=RUN_USER)
        gc_config = server.kubeconfig(tmp_path / "kc-gc", user="gc")
        hook = RequestKill("3>", "KILL", _creates_pod)  # the third node's debug pod was created
        hook.arm(server)
        hook.session = Session(run_argv(run_id, kubeconfig, tmp_path / "reports"), ENV)
        status = hook.session.wait(120)
        hook.wait_done()
        text = hook.session.text()
        assert "node-checks" in hook.fired and status not in (0, None), f"{hook.fired}\n{text[-3000:]}"
        left = leftovers(server)
        assert [k[3] for k in left if k[1] == "pods"] == [f"netattest-node-{run_id}-node{i}" for i in (1, 2, 3)]
        gc = _cli("gc", "--target", "kubernetes", "--kubeconfig", str(gc_config))
        plain = subprocess.run(gc, cwd=REPO, env=ENV, capture_output=True, text=True, timeout=60, check=False)
        assert plain.returncode == 0 and "kept" in plain.stdout and leftovers(server) == left, plain.stdout
        hint = f"netattest gc --target kubernetes --kubeconfig {kubeconfig} --run-id {run_id}"
        assert hint in text, text[-2000:]
        by_id = subprocess.run(gc + ["--run-id", run_id], cwd=REPO, env=ENV, capture_output=True, text=True,
                               timeout=60, check=False)
        assert by_id.returncode == 0 and f"run {run_id}: asked for by run id" in by_id.stdout, by_id.stdout
        assert leftovers(server) == []


def test_foreign_access_names_what_is_not_the_runs() -> None:
    def req(verb: str, plural: str, namespace: str | None = None, name: str | None = None, selector: str = "",
            labels: dict[str, str] | None = None) -> Request:
        server = FakeApiServer(openshift=True)
        query = {"labelSelector": [selector]} if selector else {}
        body = {"metadata": {"name": name, "labels": labels or {}}} if verb == "create" else None
        return Request("GET", "/", query, body, "", verb, server.resource("", plural) or server.resource(
            "operator.openshift.io", plural), namespace, None if verb == "create" else name)

    mine, theirs = "netattest-aaaaaaaa-multus-test", "netattest-bbbbbbbb-multus-test"
    own = {names.LABEL_RUN_ID: "aaaaaaaa"}
    assert foreign_access(req("list", "pods", mine), "aaaaaaaa") is None
    assert foreign_access(req("list", "pods", theirs), "aaaaaaaa") == f"namespace {theirs}"
    assert foreign_access(req("list", "pods", selector=names.run_selector("aaaaaaaa")), "aaaaaaaa") is None
    assert foreign_access(req("list", "pods"), "aaaaaaaa") == "listed every namespace"
    assert foreign_access(req("delete", "namespaces", name=mine), "aaaaaaaa") is None
    assert foreign_access(req("delete", "namespaces", name=theirs), "aaaaaaaa") == f"namespace {theirs}"
    assert foreign_access(req("list", "namespaces", selector=names.OWN_SELECTOR), "aaaaaaaa") is not None
    assert foreign_access(req("create", "namespaces", name=mine, labels=own), "aaaaaaaa") is None
    assert foreign_access(req("create", "namespaces", name=mine), "aaaaaaaa") == \
        "created an object without the run's label"
    assert foreign_access(req("get", "networks", name="cluster"), "aaaaaaaa") is None


# -- concurrent runs against one fake cluster -----------------------------------------------------------------------


class OperatorLog:
    """The network operator's additionalNetworks just before and just after each patch, per user (the fake server
    does a request between its admission hooks and ``reply_delay_for`` without giving the event loop away)."""

    def __init__(self, server: FakeApiServer) -> None:
        self.server = server
        self.before: dict[int, list[dict[str, Any]]] = {}
        self.changes: list[tuple[str, list[dict[str, Any]], list[dict[str, Any]]]] = []  # (user, removed, added)
        server.admission.append(self.admit)
        server.reply_delay_for = self.replied

    def admit(self, req: Request) -> None:
        if req.verb in ("patch", "update") and req.resource is not None and req.resource.plural == "networks":
            self.before[id(req)] = operator_entries(self.server)

    def replied(self, req: Request) -> float:
        old = self.before.pop(id(req), None)
        if old is not None:
            new = operator_entries(self.server)
            self.changes.append((req.user, [e for e in old if e not in new], [e for e in new if e not in old]))
        return 0.0


def foreign_access(req: Request, run_id: str) -> str | None:
    """Why ``req`` (a request of run ``run_id``) reached beyond the run's own objects; None when it did not."""
    prefix = f"{names.PREFIX}-{run_id}-"
    res = req.resource
    if res is None or req.verb == "discovery":
        return None  # the API's own description, the version
    body = req.body if isinstance(req.body, dict) else {}
    labels = (body.get("metadata") or {}).get("labels") or {}
    if req.verb == "create" and res.plural != "selfsubjectaccessreviews" and labels.get(names.LABEL_RUN_ID) != run_id:
        return "created an object without the run's label"
    if res.namespaced:
        selector = (req.query.get("labelSelector") or [""])[0]
        if req.namespace is None and f"{names.LABEL_RUN_ID}={run_id}" not in selector:
            return "listed every namespace"
        return None if req.namespace is None or req.namespace.startswith(prefix) else f"namespace {req.namespace}"
    if res.plural == "namespaces":
        name = req.name or (body.get("metadata") or {}).get("name")
        if name:
            return None if name.startswith(prefix) else f"namespace {name}"
        selector = (req.query.get("labelSelector") or [""])[0]
        return None if f"{names.LABEL_RUN_ID}={run_id}" in selector else f"namespaces by {selector!r}"
    if res.plural in ("nodes", "securitycontextconstraints", "selfsubjectaccessreviews", "networks"):
        return None  # the cluster's own (the operator's patches are checked entry by entry)
    return f"{res.plural} (cluster-wide)"


def test_concurrent_cluster_runs_all_pass_and_never_touch_each_other(macvlan_lab: tuple[Lab, Inventory],
                                                                     tmp_path: Path) -> None:
    built, inventory = macvlan_lab
    run_ids = [new_run_id() for _ in range(RUNS)]
    provision = {run_id: "direct" if i % 3 == 2 else "operator" for i, run_id in enumerate(run_ids)}
    reports = tmp_path / "reports"
    with cluster_over_lab(built, inventory, openshift=True) as server:
        baseline = operator_entries(server)
        log = OperatorLog(server)
        users = {run_id: f"run-{run_id}" for run_id in run_ids}
        # half the runs prove who they are by client certificate, the others by bearer token
        auths = {run_id: ("cert", "token")[i % 2] for i, run_id in enumerate(run_ids)}
        configs = {run_id: server.kubeconfig(tmp_path / f"kc-{run_id}", user=users[run_id], auth=auths[run_id])
                   for run_id in run_ids}
        gc_config = server.kubeconfig(tmp_path / "kc-gc", user="gc")
        procs = {run_id: subprocess.Popen(run_argv(run_id, configs[run_id], reports, "--provision",
                                                   provision[run_id], "--cni-bin-dir", find_plugin_dir("macvlan")),
                                          cwd=REPO, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                          text=True)
                 for run_id in run_ids}
        with gc_looping(_cli("gc", "--target", "kubernetes", "--kubeconfig", str(gc_config)), ENV) as gc_outputs:
            outputs = wait_all(procs, timeout=240)
        for run_id, proc in procs.items():
            summary = json.loads((reports / run_id / "summary.json").read_text())
            assert cluster_run_passed(summary, proc.returncode), \
                f"run {run_id} exit {proc.returncode}: {unexpected_problems(summary)}\n{outputs[run_id][-3000:]}"
        by_user: dict[str, list[Request]] = {}
        for req in server.requests:
            by_user.setdefault(req.user, []).append(req)
        spans = []
        for run_id in run_ids:
            mine = by_user[users[run_id]]
            beyond = [(r.verb, r.path, why) for r in mine if (why := foreign_access(r, run_id))]
            assert beyond == [], f"run {run_id} reached beyond its own objects: {beyond[:5]}"
            assert sum(mutating(r) for r in mine) >= 15 and any(r.verb == "exec" for r in mine)
            assert {(r.auth, r.secure) for r in mine} == {(auths[run_id], True)}
            spans.append((mine[0].at, mine[-1].at))
        assert max(s for s, _ in spans) < min(e for _, e in spans), "the runs did not overlap: proves nothing"
        # the operator's entries: each patch of a run added or removed only entries of that run's namespaces
        owner = {users[run_id]: f"{names.PREFIX}-{run_id}-" for run_id in run_ids}
        foreign = [(user, e["namespace"]) for user, removed, added in log.changes for e in removed + added
                   if not str(e.get("namespace")).startswith(owner[user])]
        assert foreign == [], f"operator entries of others changed: {foreign}"
        operator_runs = [users[r] for r in run_ids if provision[r] == "operator"]
        assert sorted({user for user, _, added in log.changes if added}) == sorted(operator_runs)
        # gc looked while the runs were live, kept them, and changed nothing
        gc_requests = by_user.get("gc", [])
        assert gc_requests and not [r for r in gc_requests if mutating(r)], [r.path for r in gc_requests if mutating(r)]
        assert any("run may still be going" in out for out in gc_outputs), gc_outputs[-3:]
        # nothing of any run is left; the operator's spec is back as it was
        assert leftovers(server) == [] and operator_entries(server) == baseline
