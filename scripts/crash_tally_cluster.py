"""The cluster half of ``scripts/crash_tally.py --target kubernetes``: kill ``netattest run --target kubernetes``
against the harness's fake API server, prove that ``netattest gc`` leaves zero objects of the run.

    sudo python3 scripts/crash_tally.py --target kubernetes                  # full profile: 30 points per signal
    sudo python3 scripts/crash_tally.py --target kubernetes --points 3 --fresh end --skip-preflight
                                                     # the reduced profile of tests/test_cluster_hardening.py

The cluster is the fake API server of ``tests/fakeapi/`` as OpenShift (SCCs, RoleBindings, the network operator),
over TLS (the run's user holds a client certificate, gc's a bearer token), over a real lab of the topology
(``tests/cluster_lab.py``: each probe agent runs in its lab pod's network namespace, so probing is real). Runs keep
the node pre-flight (its debug pods; ``--skip-preflight`` drops it) and use ``--provision operator`` by default, so
a run makes every kind of object the target knows: namespaces, service accounts, role bindings, network-operator
entries (and the NADs the operator derives), probe, node-inventory and debug pods, agents over exec.

Kill points, drawn with ``random.Random(seed)`` by the lab tally's planner:

* bring-up and teardown at exact steps: the n-th mutating request (create, patch, delete) of the run, through a
  server-side hook, in two forms. ``<``: the signal goes out when the request arrives and the server does the
  request HOLD s later (the interrupt lands while a request is in flight). ``>``: the server has done the request
  and holds its reply HOLD s (the interrupt lands while the client waits for the answer to a create or delete that
  already happened). Teardown steps are the requests after the probe window (operator restore, namespace delete);
* bring-up after a random delay from the "deploying" line; probing after a random delay from the "probing" line;
  half the teardown points after a random delay into judging and teardown.

After each kill, once the front process has exited and the server has done every request the run sent (a request
in flight when its sender dies still takes effect; no client can undo what it has not seen): ``netattest gc
--target kubernetes`` as a user runs it. After SIGINT/SIGTERM plainly, by label: the run must have removed itself,
and gc removes only expired namespaces. After SIGKILL with ``--run-id <id>``, the documented way (the README's "Node
pre-flight" and "Running against your cluster"; ``netattest run`` prints the command when its session was killed):
a killed run's namespaces are not expired yet, and from the cluster gc cannot tell a dead owner from a live run on
another machine. Leftovers: every object of the run on the server (in one of its namespaces, carrying its run-id
label, or naming it), network-operator entries that were not there before, and everything the lab tally looks for
on this machine; and, once the run is over, agent processes of its pods still running AGENT_GRACE s later (on a
cluster the pods' deletion ends them; here each must end by itself when its exec stream closes).
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import os
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

from netattest.k8s import names
from netattest.lab.cni import find_plugin_dir
from scripts.crash_tally import REPO, Point, Session, Tally
from tests.cluster_lab import cluster_over_lab, lab_up
from tests.fakeapi import FakeApiServer, Request

HOLD = 0.4  # seconds a hooked request (``<``) or its reply (``>``) is held while the signal lands
AGENT_GRACE = 10.0  # seconds an agent of a dead run may take to end (it finishes its probe window first)
RUN_USER, GC_USER = "netattest-run", "netattest-gc"
MUTATING = ("create", "patch", "update", "delete", "deletecollection")
OPERATOR = ("operator.openshift.io", "networks", None, "cluster")


def mutating(req: Request) -> bool:
    """A request that changes the cluster (access reviews are creates that change nothing)."""
    return (req.verb in MUTATING and req.resource is not None
            and req.resource.plural != "selfsubjectaccessreviews")


def describe(req: Request) -> str:
    """``create pods <ns>/<name>``: what the request did, for the tally's lines."""
    name = req.name
    if name is None and isinstance(req.body, dict):
        name = (req.body.get("metadata") or {}).get("name")
    where = f"{req.namespace}/" if req.namespace else ""
    return f"{req.verb} {req.resource.plural if req.resource else '?'} {where}{name}"


class RequestKill:
    """Signals the run at its n-th mutating request (or n-th one ``wanted``), the request held (``<``) or its reply
    held (``>``). Install with :meth:`arm`; the run's requests must come with ``user``'s token."""

    def __init__(self, step: str, signal: str, wanted: Callable[[Request], bool] = mutating,
                 user: str = RUN_USER) -> None:
        self.n, self.form = int(step[:-1]), step[-1]
        self.signal = signal
        self.wanted = wanted
        self.user = user
        self.session: Session | None = None
        self.count = 0
        self.matched: Request | None = None
        self.fired = ""
        self.fired_at = 0.0

    def arm(self, server: FakeApiServer) -> None:
        server.latency_for = self.before
        server.reply_delay_for = self.after

    def before(self, req: Request) -> float:
        """The server's ``latency_for``: count the run's wanted requests; hold the n-th (``<``)."""
        if req.user != self.user or not self.wanted(req):
            return 0.0
        self.count += 1
        if self.count != self.n:
            return 0.0
        self.matched = req
        if self.form == "<":
            self.fire(req)
            return HOLD
        return 0.0

    def after(self, req: Request) -> float:
        """The server's ``reply_delay_for``: the n-th request took effect; hold its reply (``>``)."""
        if req is not self.matched or self.form != ">":
            return 0.0
        self.fire(req)
        return HOLD

    def fire(self, req: Request) -> None:
        while self.session is None:  # the run cannot send requests before it is started; a few ms at most
            time.sleep(0.005)
        held = "request held" if self.form == "<" else "done, reply held"
        self.fired = f"{self.n}{self.form} {describe(req)} ({held}) SIG{self.signal}"
        self.fired_at = time.monotonic()
        self.session.deliver(self.signal)

    def wait_done(self) -> None:
        """Until the server has done the hooked request and answered it."""
        if self.fired_at:
            time.sleep(max(0.0, self.fired_at + HOLD + 0.2 - time.monotonic()))


class ClusterTally(Tally):
    """The lab tally's planner, loop and table; runs, hooks, gc and leftovers of the cluster target."""

    def __init__(self, args: argparse.Namespace) -> None:
        self._stack = contextlib.ExitStack()
        topology = args.topology if os.path.isabs(args.topology) else str((REPO / args.topology).resolve())
        try:
            lab, inventory = self._stack.enter_context(lab_up(topology))
            self.server: FakeApiServer = self._stack.enter_context(cluster_over_lab(lab, inventory, openshift=True))
        except BaseException:
            self._stack.close()
            raise
        super().__init__(args)  # the root namespace's baseline is taken with the lab up
        self.run_kubeconfig = self.server.kubeconfig(self.work / "kubeconfig-run", user=RUN_USER, auth="cert")
        self.gc_kubeconfig = self.server.kubeconfig(self.work / "kubeconfig-gc", user=GC_USER)
        self.operator_baseline = copy.deepcopy(self._operator_entries())
        self.cni_bin_dir = find_plugin_dir("macvlan")
        self.hook: RequestKill | None = None
        self.descriptions: dict[str, str] = {}

    def close(self) -> None:
        self._disarm()
        self._stack.close()

    def argv(self, run_id: str, reports: str) -> list[str]:
        return [sys.executable, "-m", "netattest.cli", "run", "--target", "kubernetes", "--topology", self.topology,
                "--run-id", run_id, "--reports-dir", str(self.work / reports),
                "--probe-timeout", str(self.args.probe_timeout), "--kubeconfig", str(self.run_kubeconfig),
                "--provision", self.args.provision, "--pod-timeout", "30", "--cni-bin-dir", self.cni_bin_dir,
                *(["--skip-preflight"] if self.args.skip_preflight else [])]

    # -- calibration and plan ------------------------------------------------------------------------------------
    def calibrate(self) -> dict[str, Any]:
        first = len(self.server.requests)
        run_id = self.new_run_id()
        session = Session(self.argv(run_id, "calibration"), self.env())
        status = session.wait(300)
        missing = [k for k in ("deploying", "up", "probing", "probed", "down") if k not in session.seen]
        if status != 0 or missing:
            raise SystemExit(f"calibration run failed (exit {status}, lines missing: {missing}); the tally would "
                             f"prove nothing:\n{session.text()[-3000:]}")
        steps = [r for r in self.server.requests[first:] if r.user == RUN_USER and mutating(r)]
        probed = session.wall["probed"]
        bring_up, teardown = [], []
        for number, req in enumerate(steps, 1):
            self.descriptions[str(number)] = describe(req)
            (bring_up if req.at < probed else teardown).extend([f"{number}<", f"{number}>"])
        if not bring_up or not teardown:
            raise SystemExit(f"calibration: no mutating requests before or after the probe window: {steps}")
        seen = session.seen
        return {"up_steps": len(bring_up), "down_steps": len(teardown), "bring_up": bring_up, "teardown": teardown,
                "requests": self.descriptions, "up_s": seen["up"] - seen["deploying"],
                "probe_s": seen["probed"] - seen["probing"], "judge_s": seen["down"] - seen["probed"],
                "total_s": seen["down"]}

    def plan(self, cal: dict[str, Any]) -> list[Point]:
        """The lab's plan; then every other teardown point at a random moment of judging and teardown (a cluster
        run's teardown is mostly closing agents, which sends no request a hook could count)."""
        points = super().plan(cal)
        for point in [p for p in points if p.phase == "down"][::2]:
            point.how = f"timer:{(cal['probe_s'] + self.rng.uniform(0, cal['judge_s'])) * 1000:.0f}"
        return points

    # -- one kill ------------------------------------------------------------------------------------------------
    def launch(self, point: Point) -> Session:
        kind, _, value = point.how.partition(":")
        self.hook = RequestKill(value, point.signal) if kind == "hook" else None
        if self.hook is not None:
            self.hook.arm(self.server)
        session = Session(self.argv(point.run_id, "killed"), self.env())
        if self.hook is not None:
            self.hook.session = session
        return session

    def fired(self, point: Point) -> str:
        return (self.hook.fired if self.hook and self.hook.fired else "point not reached (run completed)")

    def check(self, point: Point, session: Session) -> None:
        if self.hook is not None:
            self.hook.wait_done()
        self._disarm()
        super().check(point, session)

    def _disarm(self) -> None:
        self.server.latency_for = lambda req: self.server.latency
        self.server.reply_delay_for = lambda req: 0.0

    def gc(self, point: Point) -> str:
        argv = [sys.executable, "-m", "netattest.cli", "gc", "--target", "kubernetes", "--kubeconfig",
                str(self.gc_kubeconfig)]
        if point.signal == "KILL":
            argv += ["--run-id", point.run_id]
        gc = subprocess.run(argv, cwd=REPO, env=self.env(), capture_output=True, text=True, timeout=120, check=False)
        return (gc.stdout + gc.stderr).strip()

    def settle(self, point: Point, session: Session) -> list[str]:
        """The lab's stragglers, then the run's agents: each must end on its own once its exec stream is gone (one
        busy in a probe window ends when the window does), within AGENT_GRACE s."""
        stragglers = super().settle(point, session)
        deadline = time.monotonic() + AGENT_GRACE
        while self._running_agents(point.run_id) and time.monotonic() < deadline:
            time.sleep(0.1)
        return stragglers + [f"agent process {pid} of pod {where} still running {AGENT_GRACE:g} s after its run "
                             "ended" for pid, where in self._running_agents(point.run_id)]

    # -- leftovers -----------------------------------------------------------------------------------------------
    def leftovers(self, run_id: str, session: Session) -> list[str]:
        return super().leftovers(run_id, session) + self.cluster_leftovers(run_id)

    def cluster_leftovers(self, run_id: str) -> list[str]:
        """Objects of the run on the server, and operator entries added since the start (its agents: settle)."""
        with self.server.lock:
            objects = list(self.server.objects.items())
        found = []
        for (_, plural, namespace, name), obj in objects:
            labels = (obj.get("metadata") or {}).get("labels") or {}
            if labels.get(names.LABEL_RUN_ID) == run_id or run_id in (namespace or "") or run_id in name:
                found.append(f"{plural} {namespace + '/' if namespace else ''}{name}")
        added = [e for e in self._operator_entries() or [] if e not in (self.operator_baseline or [])]
        found += [f"network operator entry {e.get('namespace')}/{e.get('name')}" for e in added]
        if self._operator_entries() != self.operator_baseline and not added:
            found.append("network operator additionalNetworks not restored")
        return found

    def _operator_entries(self) -> list[dict[str, Any]] | None:
        with self.server.lock:
            network = self.server.get(*OPERATOR)
            spec = (network or {}).get("spec") or {}
            return copy.deepcopy(spec.get("additionalNetworks"))

    def _running_agents(self, run_id: str) -> list[tuple[int, str]]:
        running = []
        for record in list(self.server.execs):
            if run_id in (record["namespace"] or "") and record["pid"] and record["exit"] is None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(record["pid"], 0)
                    running.append((record["pid"], f"{record['namespace']}/{record['pod']}"))
        return running

    def clean_up(self, run_id: str) -> None:
        """What gc missed must not spoil the next points: remove it from the server directly."""
        super().clean_up(run_id)
        with self.server.lock:
            for key, obj in list(self.server.objects.items()):
                labels = (obj.get("metadata") or {}).get("labels") or {}
                if labels.get(names.LABEL_RUN_ID) == run_id or run_id in (key[2] or "") or run_id in key[3]:
                    del self.server.objects[key]
            network = self.server.get(*OPERATOR)
            if network is not None:
                network["spec"]["additionalNetworks"] = copy.deepcopy(self.operator_baseline)

    def fresh(self, run_id: str) -> int | None:
        """A fresh run with the killed run's id passes, and leaves nothing either."""
        status = super().fresh(run_id)
        left = self.cluster_leftovers(run_id)
        if left:
            print(f"  fresh run {run_id} left {left}", flush=True)
            self.clean_up(run_id)
            return status or 99
        return status
