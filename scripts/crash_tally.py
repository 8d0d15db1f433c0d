#!/usr/bin/env python3
"""Kill ``netattest run`` at seeded random points of bring-up, probing and teardown; prove ``netattest gc`` cleans up.

    sudo python scripts/crash_tally.py                       # full profile: 30 kill points per signal
    sudo python scripts/crash_tally.py --points 4 --fresh end   # the reduced profile of tests/test_crash_safety.py

For every signal (SIGINT, SIGTERM, SIGKILL) it draws kill points with ``random.Random(seed)``, a third in each phase
of a real ``netattest run --kernel host --topology topologies/macvlan-only.yaml``:

* bring-up: half at exact steps (the n-th namespace creation or CNI ADD, through the ``NETATTEST_KILL_AT`` hook of
  ``scripts/killpoint.py``, loaded into the session with ``PYTEST_PLUGINS``), half after a random delay from the
  session's "deploying" line, drawn from the bring-up time measured in a calibration run;
* probing: after a random delay from the "probing" line, drawn from the measured probe window plus judging;
* teardown: at exact steps (the n-th CNI DEL or namespace removal).

Signals go where they go in real life: SIGINT to the whole process group (Ctrl-C at a terminal), SIGTERM to the
``netattest run`` front process (``kill <pid>``; it forwards it to the session), SIGKILL to the session process that
owns the lab (the OOM killer). After each kill, as soon as the front process has exited, it runs ``netattest gc``
and then checks that nothing of that run id is left: no namespace, no run directory, no process (daemon, plugin,
netns helper) naming the run, no kernel-probe namespace of the dead session, no change to the root namespace's
links, addresses and routes; a second look after the run's stragglers are gone catches objects created *after*
gc. Then a fresh run with the same run id must pass (``--fresh every``: after each kill; ``end``: once per signal).
Prints a tally table (and ``--json``); exit status 0 when no leftover was found and every fresh run passed. A run
that exits 0 although the signal reached it is counted as "lost" (reported, not a failure of the tally).

``--target kubernetes`` does the same to ``netattest run --target kubernetes`` against the fake API server of the
harness's tests, over a real lab (``scripts/crash_tally_cluster.py`` says how; zero objects of a run may be left).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from netattest.lab.state import STATE_ROOT
from netattest.runid import parse_netns_name
from netattest.sandbox.uml import live_group_members

NETNS_DIR = Path("/var/run/netns")
SIGNALS = ("INT", "TERM", "KILL")
#: where each signal is delivered (see the module docstring)
TARGET_OF = {"INT": "group", "TERM": "parent", "KILL": "self"}
PHASES = ("up", "probe", "down")
LINES = {  # progress lines of the session that mark phase boundaries
    "deploying": re.compile(r"deploying topology"),
    "up": re.compile(r"\] \w+ is up$"),
    "probing": re.compile(r"probing \d+ checks"),
    "probed": re.compile(r"\bprobed: "),
    "down": re.compile(r"\] \w+ torn down"),  # not the pre-flight's "nodes-only lab torn down"
}


@dataclass
class Point:
    signal: str
    phase: str
    how: str  # "hook:<up|down>:<n>" (exact step) or "timer:<ms>" after the phase's start line
    run_id: str
    # results
    fired: str = ""  # what the hook reported, or the line-based phase the timer landed in
    exit_status: int | None = None
    left_before_gc: list[str] = field(default_factory=list)
    gc_output: str = ""
    left_after_gc: list[str] = field(default_factory=list)
    late_leftovers: list[str] = field(default_factory=list)
    fresh_status: int | None = None
    seconds: float = 0.0

    @property
    def signal_lost(self) -> bool:
        """The run went on to the end and exited 0 although the signal was delivered during it."""
        reached = "not reached" not in self.fired and "never saw" not in self.fired
        return reached and self.exit_status == 0

    @property
    def clean(self) -> bool:
        return not self.left_after_gc and not self.late_leftovers


# ------------------------------------------------------------------------------------------------- observation


def run_netns(run_id: str) -> list[str]:
    try:
        names = os.listdir(NETNS_DIR)
    except FileNotFoundError:
        return []
    return sorted(n for n in names if (p := parse_netns_name(n)) and p[0] == run_id)


def root_snapshot() -> dict[str, list[str]]:
    def ip(*args: str) -> list[str]:
        out = subprocess.run(["ip", "-o", *args], capture_output=True, text=True, check=False).stdout
        return sorted(out.splitlines())

    links = sorted(re.sub(r"^\d+: ", "", line).split(" ")[0] + " " + (line.split("link/")[1].split(" ")[0]
                                                                        if "link/" in line else "")
                   for line in ip("link"))
    return {"links": links, "addresses": [re.sub(r"\s+valid_lft.*", "", a) for a in ip("addr")],
            "routes": ip("route")}


def processes_naming(needles: list[str], exclude: set[int]) -> list[str]:
    """Processes whose command line or environment mentions one of ``needles`` (run id, run dir)."""
    found = []
    me = os.getpid()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) in exclude or int(entry) == me:
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
            environ = Path(f"/proc/{entry}/environ").read_bytes()
        except OSError:
            continue
        blob = cmdline + b"\0" + environ
        if any(n.encode() in blob for n in needles):
            command = cmdline.replace(b"\0", b" ").decode(errors="replace")[:120]
            found.append(f"process {entry}: {command}")
    return found


def kprobe_namespaces(pids: set[int]) -> list[str]:
    try:
        names = os.listdir(NETNS_DIR)
    except FileNotFoundError:
        return []
    return [n for n in names for pid in pids if n.startswith(f"netattest-kprobe-{pid}-")]


def cni_state_naming(run_id: str) -> list[str]:
    """Files under the plugins' default state directory that mention the run (the lab must never write there)."""
    found = []
    for top in (Path("/var/lib/cni"),):
        if not top.is_dir():
            continue
        for path in top.rglob("*"):
            try:
                if run_id in path.name or (path.is_file() and path.stat().st_size < 65536
                                           and run_id.encode() in path.read_bytes()):
                    found.append(f"file {path}")
            except OSError:
                continue
    return found


def leftovers(run_id: str, session_pids: set[int], baseline: dict[str, list[str]]) -> list[str]:
    found = [f"netns {n}" for n in run_netns(run_id)]
    run_dir = STATE_ROOT / run_id
    if run_dir.exists():
        found.append(f"run dir {run_dir}")
    found += processes_naming([run_id, str(run_dir)], exclude=set())
    found += [f"kernel-probe netns {n}" for n in kprobe_namespaces(session_pids)]
    found += cni_state_naming(run_id)
    now = root_snapshot()
    for key, before in baseline.items():
        if now[key] != before:
            added = sorted(set(now[key]) - set(before))
            removed = sorted(set(before) - set(now[key]))
            found.append(f"root namespace {key} changed: +{added} -{removed}")
    return found


def children_of(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def group_members(pgid: int) -> list[int]:
    return live_group_members(pgid)  # the sandbox's own check that a killed process group is really gone


# ------------------------------------------------------------------------------------------------- running


class Session:
    """One ``netattest run`` in its own process group, its progress lines timestamped as they arrive."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        self.started = time.monotonic()
        self.proc = subprocess.Popen(argv, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        self.lines: list[tuple[float, str]] = []
        self.events: dict[str, threading.Event] = defaultdict(threading.Event)
        self.seen: dict[str, float] = {}
        self.wall: dict[str, float] = {}  # epoch time of each phase line
        self.session_pids: set[int] = set()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            line = raw.decode(errors="replace").rstrip("\n")
            now = time.monotonic() - self.started
            self.lines.append((now, line))
            for key, pattern in LINES.items():
                if key not in self.seen and pattern.search(line):
                    self.seen[key] = now
                    self.wall[key] = time.time()
                    self.events[key].set()
            self.session_pids.update(children_of(self.proc.pid))

    def session_pid(self) -> int | None:
        kids = children_of(self.proc.pid)
        self.session_pids.update(kids)
        return kids[0] if kids else None

    def deliver(self, sig: str) -> None:
        """Send ``sig`` the way a user or the system would (see TARGET_OF)."""
        target = TARGET_OF[sig]
        try:
            if target == "group":
                os.killpg(self.proc.pid, signal.SIGINT)
            elif target == "parent":
                os.kill(self.proc.pid, signal.SIGTERM)
            else:
                pid = self.session_pid()
                os.kill(pid if pid else self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def wait(self, timeout: float) -> int | None:
        try:
            status = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
            return None
        self._reader.join(timeout=5)
        return status

    def text(self) -> str:
        return "\n".join(line for _, line in self.lines)


class Tally:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.work = Path(tempfile.mkdtemp(prefix="netattest-crash-"))
        self.topology = str((REPO / args.topology).resolve()) if not os.path.isabs(args.topology) else args.topology
        self.baseline = root_snapshot()
        self.rng = random.Random(args.seed)

    def new_run_id(self) -> str:
        while True:
            run_id = f"{self.rng.getrandbits(32):08x}"
            if not (STATE_ROOT / run_id).exists() and not run_netns(run_id):
                return run_id

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("NETATTEST_KILL") and k != "PYTEST_PLUGINS"}
        env.update({"PYTHONUNBUFFERED": "1", "PYTHONPATH": str(REPO)})
        env.update(extra)
        return env

    def argv(self, run_id: str, reports: str) -> list[str]:
        return [sys.executable, "-m", "netattest.cli", "run", "--kernel", "host", "--topology", self.topology,
                "--run-id", run_id, "--reports-dir", str(self.work / reports),
                "--probe-timeout", str(self.args.probe_timeout)]

    # -- calibration -------------------------------------------------------------------------------------------
    def calibrate(self) -> dict[str, float]:
        trace = self.work / "trace.txt"
        run_id = self.new_run_id()
        session = Session(self.argv(run_id, "calibration"),
                          self.env(PYTEST_PLUGINS="scripts.killpoint", NETATTEST_KILL_TRACE=str(trace)))
        status = session.wait(300)
        if status != 0:
            raise SystemExit(f"calibration run failed (exit {status}); the tally would prove nothing:\n"
                             f"{session.text()[-3000:]}")
        seen, wall = session.seen, session.wall
        missing = [k for k in LINES if k not in seen]
        # steps in order, numbered per phase as the hook numbers them
        counts: Counter[str] = Counter()
        bring_up: list[str] = []  # every step before the probe window (pre-flight lab included)
        teardown: list[str] = []  # steps of the main lab's teardown
        for line in trace.read_text().splitlines():
            phase, when, _ = line.split(" ", 2)
            counts[phase] += 1
            if phase in ("up", "down"):
                (teardown if float(when) > wall.get("probed", 0.0) else bring_up).append(f"{phase}:{counts[phase]}")
        if missing or not bring_up or not teardown:
            raise SystemExit(f"calibration: no progress lines {missing} or no hooked steps {dict(counts)}; the hook "
                             "in scripts/killpoint.py no longer matches the lab's functions")
        return {"up_steps": len(bring_up), "down_steps": len(teardown), "bring_up": bring_up,  # type: ignore[dict-item]
                "teardown": teardown, "up_s": seen["up"] - seen["deploying"],  # type: ignore[dict-item]
                "probe_s": seen["probed"] - seen["probing"], "judge_s": seen["down"] - seen["probed"],
                "total_s": seen["down"]}

    # -- plan --------------------------------------------------------------------------------------------------
    def plan(self, cal: dict[str, float]) -> list[Point]:
        points: list[Point] = []
        per = self.args.points
        counts = {"up": math.ceil(per / 3), "probe": round(per / 3)}
        counts["down"] = per - counts["up"] - counts["probe"]
        for sig in self.args.signals:
            n_hook = math.ceil(counts["up"] / 2)
            for step in _spread(self.rng, cal["bring_up"], n_hook):  # type: ignore[arg-type]
                points.append(Point(sig, "up", f"hook:{step}", self.new_run_id()))
            for _ in range(counts["up"] - n_hook):
                points.append(Point(sig, "up", f"timer:{self.rng.uniform(0, cal['up_s']) * 1000:.0f}",
                                    self.new_run_id()))
            window = cal["probe_s"] + 0.3 * cal["judge_s"]
            for _ in range(counts["probe"]):
                points.append(Point(sig, "probe", f"timer:{self.rng.uniform(0, window) * 1000:.0f}",
                                    self.new_run_id()))
            for step in _spread(self.rng, cal["teardown"], counts["down"]):  # type: ignore[arg-type]
                points.append(Point(sig, "down", f"hook:{step}", self.new_run_id()))
        return points

    # -- one kill ------------------------------------------------------------------------------------------------
    def kill_at(self, point: Point) -> None:
        start = time.monotonic()
        kind, _, value = point.how.partition(":")
        session = self.launch(point)
        if kind == "timer":
            line = "deploying" if point.phase == "up" else "probing"
            if session.events[line].wait(120):
                time.sleep(int(value) / 1000)
                landed = [k for k in ("up", "probed", "down") if k in session.seen]
                point.fired = f"{point.phase} after '{line}' +{value} ms (lines seen: {', '.join(landed) or '-'})"
                session.session_pid()
                session.deliver(point.signal)
            else:
                point.fired = f"never saw the '{line}' line"
        point.exit_status = session.wait(180)
        if kind == "hook":
            point.fired = self.fired(point)
        self.check(point, session)
        if point.left_after_gc or point.late_leftovers:
            self.clean_up(point.run_id)
        if self.args.fresh == "every":
            point.fresh_status = self.fresh(point.run_id)
        point.seconds = time.monotonic() - start

    def launch(self, point: Point) -> Session:
        """The run of ``point``, its exact-step hook armed (the lab's: ``scripts/killpoint.py`` in the session)."""
        extra = {"PYTEST_PLUGINS": "scripts.killpoint", "NETATTEST_KILL_SIGNAL": point.signal,
                 "NETATTEST_KILL_TARGET": TARGET_OF[point.signal],
                 "NETATTEST_KILL_FIRED": str(self.work / f"fired-{point.run_id}")}
        kind, _, value = point.how.partition(":")
        if kind == "hook":
            extra["NETATTEST_KILL_AT"] = value  # <phase>:<n> as the hook counts
        return Session(self.argv(point.run_id, "killed"), self.env(**extra))

    def fired(self, point: Point) -> str:
        """What the hook reported about its point (after the run ended)."""
        fired = self.work / f"fired-{point.run_id}"
        return fired.read_text().strip() if fired.exists() else "point not reached (run completed)"

    def check(self, point: Point, session: Session) -> None:
        """Leftovers before gc, gc, leftovers after it, and what appears once the dead run's stragglers are done."""
        # right away, like a user who runs gc as soon as the prompt is back
        point.left_before_gc = self.leftovers(point.run_id, session)
        point.gc_output = self.gc(point)
        point.left_after_gc = self.leftovers(point.run_id, session)
        # stragglers of the dead session (a netns helper, a plugin) must not create anything after gc
        stragglers = self.settle(point, session)
        point.late_leftovers = [x for x in self.leftovers(point.run_id, session) if x not in point.left_after_gc]
        point.late_leftovers += stragglers

    def leftovers(self, run_id: str, session: Session) -> list[str]:
        return leftovers(run_id, session.session_pids, self.baseline)

    def gc(self, point: Point) -> str:
        """``netattest gc`` as a user runs it after this kill; its output."""
        gc = subprocess.run([sys.executable, "-m", "netattest.cli", "gc"], cwd=REPO, env=self.env(),
                            capture_output=True, text=True, timeout=300)
        return (gc.stdout + gc.stderr).strip()

    def settle(self, point: Point, session: Session) -> list[str]:
        """Wait (bounded) until the killed run's processes are gone; the ones that are not."""
        deadline = time.monotonic() + 15
        while group_members(session.proc.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        stragglers = group_members(session.proc.pid)
        time.sleep(0.2)
        return [f"straggler process {pid}" for pid in stragglers]

    def fresh(self, run_id: str) -> int | None:
        """A fresh run with the killed run's id must pass: nothing stale may get in its way."""
        shutil.rmtree(self.work / "fresh" / run_id, ignore_errors=True)
        session = Session(self.argv(run_id, "fresh"), self.env())
        status = session.wait(300)
        if status != 0:
            print(f"  fresh run {run_id} exit {status}:\n{session.text()[-2000:]}", flush=True)
        return status

    def close(self) -> None:
        """Release what the tally itself holds (nothing for the lab)."""

    def clean_up(self, run_id: str) -> None:
        """What gc missed must not spoil the next points: remove it by run id."""
        subprocess.run([sys.executable, "-m", "netattest.cli", "gc", "--run-id", run_id], cwd=REPO, env=self.env(),
                       capture_output=True, timeout=300)
        for name in run_netns(run_id):
            subprocess.run(["ip", "netns", "del", name], capture_output=True)


def _spread(rng: random.Random, steps: list[str], count: int) -> list[str]:
    """``count`` distinct steps when possible, drawn by ``rng``, in run order."""
    if count <= len(steps):
        chosen = rng.sample(range(len(steps)), count)
    else:
        chosen = [rng.randrange(len(steps)) for _ in range(count)]
    return [steps[i] for i in sorted(chosen)]


def print_table(points: list[Point], fresh_end: dict[str, int | None]) -> None:
    print()
    header = (f"{'signal':7} {'phase':6} {'points':>6} {'reached':>7} {'lost':>5} {'self-clean':>10} "
              f"{'gc removed':>10} {'left after gc':>13} {'late':>5} {'fresh runs ok':>13}")
    print(header)
    print("-" * len(header))
    for sig in dict.fromkeys(p.signal for p in points):
        for phase in PHASES:
            rows = [p for p in points if p.signal == sig and p.phase == phase]
            if not rows:
                continue
            reached = sum(1 for p in rows if "not reached" not in p.fired and "never saw" not in p.fired)
            self_clean = sum(1 for p in rows if not p.left_before_gc)
            removed = sum(1 for p in rows if p.left_before_gc and not p.left_after_gc)
            after = sum(len(p.left_after_gc) for p in rows)
            late = sum(len(p.late_leftovers) for p in rows)
            fresh = [p.fresh_status for p in rows if p.fresh_status is not None]
            fresh_txt = f"{sum(1 for s in fresh if s == 0)}/{len(fresh)}" if fresh else "-"
            lost = sum(1 for p in rows if p.signal_lost)
            print(f"{sig:7} {phase:6} {len(rows):6d} {reached:7d} {lost:5d} {self_clean:10d} {removed:10d} "
                  f"{after:13d} {late:5d} {fresh_txt:>13}")
    total_after = sum(len(p.left_after_gc) + len(p.late_leftovers) for p in points)
    print("-" * len(header))
    by_sig = Counter(p.signal for p in points)
    print(f"kill points: {', '.join(f'SIG{s} {n}' for s, n in by_sig.items())}; leftovers after gc: {total_after}")
    if fresh_end:
        print("fresh run after each signal's points: " + ", ".join(
            f"SIG{s} {'passed' if st == 0 else f'exit {st}'}" for s, st in fresh_end.items()))
    statuses = Counter(p.exit_status for p in points)
    print(f"exit status of the killed runs: {dict(statuses)}")
    lost = [p for p in points if p.signal_lost]
    if lost:
        print(f"signal lost (the run completed and exited 0 although signalled): {len(lost)} -- "
              + ", ".join(f"SIG{p.signal} {p.phase} {p.how}" for p in lost))
    for p in points:
        if not p.clean:
            print(f"  LEFTOVER SIG{p.signal} {p.phase} {p.how} run {p.run_id} ({p.fired}): "
                  f"{p.left_after_gc + p.late_leftovers}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("--target", choices=("lab", "kubernetes"), default="lab",
                    help="kill lab runs, or cluster runs against the fake API server (scripts/crash_tally_cluster.py)")
    ap.add_argument("--provision", choices=("operator", "direct"), default="operator",
                    help="kubernetes: NADs through the (fake) OpenShift network operator, or directly")
    ap.add_argument("--skip-preflight", action="store_true",
                    help="kubernetes: runs without the node pre-flight and its debug pods (3 s faster per run)")
    ap.add_argument("--points", type=int, default=30, help="kill points per signal (default 30)")
    ap.add_argument("--seed", type=int, default=20240508)
    ap.add_argument("--signals", type=lambda s: [x.strip().upper().removeprefix("SIG") for x in s.split(",")],
                    default=list(SIGNALS), help="comma separated, default INT,TERM,KILL")
    ap.add_argument("--topology", default="topologies/macvlan-only.yaml")
    ap.add_argument("--probe-timeout", type=float, default=1.0)
    ap.add_argument("--fresh", choices=("every", "end", "none"), default="every",
                    help="fresh run with the same run id after every kill point, once per signal, or never")
    ap.add_argument("--json", metavar="FILE", help="write every point and the tally as JSON")
    ap.add_argument("--keep-work", action="store_true", help="keep the reports of the killed runs")
    args = ap.parse_args(argv)
    if os.geteuid() != 0:
        print("needs root (network namespaces)", file=sys.stderr)
        return 2
    unknown = [s for s in args.signals if s not in SIGNALS]
    if unknown:
        ap.error(f"unknown signals {unknown}; use INT, TERM, KILL")

    if args.target == "kubernetes":
        from scripts.crash_tally_cluster import ClusterTally

        tally: Tally = ClusterTally(args)
    else:
        tally = Tally(args)
    started = time.monotonic()
    try:
        cal = tally.calibrate()
        print(f"calibration: {cal['up_steps']} bring-up steps, {cal['down_steps']} teardown steps; bring-up "
              f"{cal['up_s']:.2f} s, probe window {cal['probe_s']:.2f} s, judging+teardown {cal['judge_s']:.2f} s; "
              f"seed {args.seed}", flush=True)
        points = tally.plan(cal)
        fresh_end: dict[str, int | None] = {}
        for number, point in enumerate(points, 1):
            tally.kill_at(point)
            mark = "ok" if point.clean else "LEFTOVER"
            fresh = "" if point.fresh_status is None else f" fresh={point.fresh_status}"
            print(f"[{number:3d}/{len(points)}] SIG{point.signal:4} {point.phase:5} {point.how:14} run {point.run_id} "
                  f"exit={point.exit_status} before-gc={len(point.left_before_gc)} after-gc="
                  f"{len(point.left_after_gc)} late={len(point.late_leftovers)}{fresh} {mark} | {point.fired}",
                  flush=True)
            last_of_signal = number == len(points) or points[number].signal != point.signal
            if args.fresh == "end" and last_of_signal:
                fresh_end[point.signal] = tally.fresh(point.run_id)
        print_table(points, fresh_end)
        print(f"total {time.monotonic() - started:.0f} s")
        failed = any(not p.clean for p in points) or any(
            s != 0 for s in [p.fresh_status for p in points if p.fresh_status is not None] + list(fresh_end.values()))
        if args.json:
            Path(args.json).write_text(json.dumps({
                "seed": args.seed, "calibration": cal,
                "points": [{**asdict(p), "signal_lost": p.signal_lost} for p in points],
                "fresh_end": fresh_end, "ok": not failed}, indent=1))
        return 1 if failed else 0
    finally:
        tally.close()
        if not args.keep_work:
            shutil.rmtree(tally.work, ignore_errors=True)


if __name__ == "__main__":
    from scripts.crash_tally import main as module_main  # one copy of the classes, shared with crash_tally_cluster

    sys.exit(module_main())
