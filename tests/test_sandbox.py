"""Kernel feature detection, the host/sandbox choice, and the user-mode Linux kernel sandbox itself.

Tests marked ``sandbox`` boot linux.uml (a few seconds each); they are combined into three boots.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from netattest.errors import KernelError
from netattest.sandbox import kernel, uml
from netattest.sandbox.kernel import (
    FEATURES,
    KernelFeatures,
    choose_kernel,
    detect_kernel_features,
    features_needed,
)
from netattest.sandbox.uml import IN_SANDBOX_ENV, run_in_sandbox

REPO = Path(__file__).resolve().parents[1]
needs_root = pytest.mark.needs("root")
IN_SANDBOX = os.environ.get(IN_SANDBOX_ENV) == "1"
needs_uml = pytest.mark.needs("uml")


def can_boot(test: Callable[..., Any]) -> Callable[..., Any]:
    """Boots the sandbox: needs linux.uml, and not to be inside the sandbox already (it cannot boot another)."""
    inside = pytest.mark.skipif(IN_SANDBOX, reason="running inside the kernel sandbox, which cannot boot another")
    return needs_uml(inside(test))


@pytest.fixture(autouse=True)
def _fresh_detection(monkeypatch):
    monkeypatch.delenv(IN_SANDBOX_ENV, raising=False)
    detect_kernel_features.cache_clear()
    yield
    detect_kernel_features.cache_clear()


def features(*present: str) -> KernelFeatures:
    return KernelFeatures(present=frozenset(present), missing=frozenset(FEATURES) - frozenset(present), how="test")


ALL = features(*FEATURES)
NO_IPVLAN = features(*(f for f in FEATURES if f != "ipvlan"))


# ------------------------------------------------------------------------------------------- feature detection


def _ip(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], check=False, capture_output=True, text=True)


def _root_links() -> list[str]:
    return sorted(link["ifname"] for link in json.loads(_ip("-j", "link", "show").stdout))


def _probe_namespaces() -> set[str]:
    try:
        return {n for n in os.listdir("/run/netns") if n.startswith("netattest-kprobe-")}
    except FileNotFoundError:
        return set()


@needs_root
def test_detection_agrees_with_ip_link_in_a_fresh_namespace():
    """What detection finds is what ip(8) can create (its cost: benchmarks/bench_kernel_detection.py)."""
    links_before = _root_links()
    found = detect_kernel_features()
    assert found.present | found.missing == frozenset(FEATURES)
    assert not found.present & found.missing
    assert {"netns", "veth", "bridge"} <= found.present
    assert detect_kernel_features() is found  # cached per process

    # Ask the kernel the same questions with iproute2, in a namespace of our own.
    ns = f"natest-sbx-{uuid.uuid4().hex[:6]}"
    assert _ip("netns", "add", ns).returncode == 0
    try:
        def works(*args: str) -> bool:
            return _ip("-n", ns, "link", "add", *args).returncode == 0

        assert works("p0", "type", "veth", "peer", "name", "p1")
        truth = {
            "ipvlan": works("ipv0", "link", "p0", "type", "ipvlan", "mode", "l2"),
            "macvlan": works("mv0", "link", "p1", "type", "macvlan", "mode", "bridge"),
            "vlan_8021q": works("p0.112", "link", "p0", "type", "vlan", "id", "112"),
            "bridge_vlan_filtering": works("br1", "type", "bridge", "vlan_filtering", "1"),
        }
    finally:
        _ip("netns", "del", ns)
    for feature, ok in truth.items():
        assert (feature in found.present) == ok, f"{feature}: detection says {feature in found.present}, ip says {ok}"
        if not ok:
            assert feature in found.how
    if os.environ.get(IN_SANDBOX_ENV) != "1" and not Path("/sys/module/ipvlan").exists():
        # This machine's kernel: macvlan built in, ipvlan absent and not loadable.
        assert "macvlan" in found.present
    assert _root_links() == links_before, "detection touched the root namespace's links"
    assert not _probe_namespaces(), "detection left its namespace behind"


def test_detection_without_root_reports_everything_missing(monkeypatch):
    monkeypatch.setattr(kernel.os, "geteuid", lambda: 1000)
    found = detect_kernel_features()
    assert found.present == frozenset()
    assert found.missing == frozenset(FEATURES)
    assert "root" in found.how


# ---------------------------------------------------------------------------------------------- features_needed


@pytest.mark.parametrize(
    ("plugins", "trunk", "expected"),
    [
        (set(), False, {"veth", "bridge", "netns"}),
        ({"ipvlan"}, False, {"veth", "bridge", "netns", "ipvlan"}),
        ({"macvlan", "static"}, False, {"veth", "bridge", "netns", "macvlan"}),
        ({"ipvlan", "macvlan"}, True,
         {"veth", "bridge", "netns", "ipvlan", "macvlan", "vlan_8021q", "bridge_vlan_filtering"}),
        ({"vlan"}, False, {"veth", "bridge", "netns", "vlan_8021q", "bridge_vlan_filtering"}),
        ({"bridge", "host-local"}, True, {"veth", "bridge", "netns", "vlan_8021q", "bridge_vlan_filtering"}),
    ],
)
def test_features_needed(plugins, trunk, expected):
    assert features_needed(plugins, trunk) == expected
    assert expected <= set(FEATURES)


def test_a_tagging_bridge_nad_needs_vlan_filtering_but_no_8021q():
    assert features_needed({"bridge"}, False, bridge_vlans=True) == {"veth", "bridge", "netns", "bridge_vlan_filtering"}


# ------------------------------------------------------------------------------------------------ choose_kernel


def _no_uml(monkeypatch):
    monkeypatch.setattr(uml, "find_uml", lambda: None)


def test_choose_host_when_host_has_everything():
    where, why = choose_kernel("host", features_needed({"ipvlan"}, True), ALL)
    assert where == "host" and "host kernel has everything" in why
    assert choose_kernel("auto", features_needed({"ipvlan"}, True), ALL)[0] == "host"
    # what is not needed may be missing
    assert choose_kernel("host", features_needed({"macvlan"}, False), NO_IPVLAN)[0] == "host"
    assert choose_kernel("auto", features_needed({"macvlan"}, False), NO_IPVLAN)[0] == "host"


def test_choose_host_with_missing_feature_fails():
    with pytest.raises(KernelError) as err:
        choose_kernel("host", features_needed({"ipvlan"}, False), NO_IPVLAN)
    text = str(err.value)
    assert "lacks ipvlan" in text and "--kernel uml" in text and "--kernel auto" in text
    assert "\n" not in text


@needs_uml
def test_choose_auto_falls_back_to_sandbox():
    where, why = choose_kernel("auto", features_needed({"ipvlan"}, False), NO_IPVLAN)
    assert where == "uml"
    assert why.startswith("host kernel lacks ipvlan; running the session inside the user-mode Linux kernel sandbox")
    assert "linux.uml 6." in why and "\n" not in why


def test_choose_auto_without_uml_fails(monkeypatch):
    _no_uml(monkeypatch)
    with pytest.raises(KernelError) as err:
        choose_kernel("auto", features_needed({"ipvlan"}, True), NO_IPVLAN)
    text = str(err.value)
    assert "lacks ipvlan" in text and "user-mode-linux" in text and "apt-get install user-mode-linux" in text
    assert "vlan_8021q" not in text.split("lacks", 1)[1].split(" and ", 1)[0]  # only what is really missing


@needs_uml
def test_choose_uml_explicitly():
    where, why = choose_kernel("uml", features_needed(set(), False), ALL)
    assert where == "uml" and "user-mode Linux kernel sandbox" in why


def test_choose_uml_without_uml_fails(monkeypatch):
    _no_uml(monkeypatch)
    with pytest.raises(KernelError, match=r"apt-get install user-mode-linux"):
        choose_kernel("uml", features_needed({"ipvlan"}, False), ALL)


@needs_uml
def test_choose_auto_without_namespaces_uses_sandbox():
    nothing = features()
    where, why = choose_kernel("auto", features_needed({"macvlan"}, False), nothing)
    assert where == "uml" and "network namespaces" in why
    with pytest.raises(KernelError, match="network namespaces"):
        choose_kernel("host", features_needed({"macvlan"}, False), nothing)


def test_choose_inside_sandbox_is_always_host(monkeypatch):
    monkeypatch.setenv(IN_SANDBOX_ENV, "1")
    _no_uml(monkeypatch)
    for choice in ("host", "uml", "auto"):
        where, why = choose_kernel(choice, set(FEATURES), features())
        assert where == "host" and "inside" in why


def test_choose_rejects_unknown_choice():
    with pytest.raises(KernelError, match="host, uml, auto"):
        choose_kernel("kvm", {"veth"}, ALL)


@needs_root
def test_choose_detects_when_not_given_features():
    assert choose_kernel("auto", {"veth", "bridge", "netns"}) == choose_kernel(
        "auto", {"veth", "bridge", "netns"}, detect_kernel_features())


# --------------------------------------------------------------------------------- sandbox argument checking


@needs_uml  # run_in_sandbox looks for the kernel before it checks its arguments
def test_sandbox_rejects_bad_directories(tmp_path):
    with pytest.raises(KernelError, match="absolute"):
        run_in_sandbox(["true"], cwd=Path("relative"), writable=[])
    with pytest.raises(KernelError, match="does not exist"):
        run_in_sandbox(["true"], cwd=tmp_path, writable=[tmp_path / "nope"])
    comma = tmp_path / "a,b"
    comma.mkdir()
    with pytest.raises(KernelError, match="comma"):
        run_in_sandbox(["true"], cwd=tmp_path, writable=[comma])
    with pytest.raises(KernelError, match="read-only"):
        run_in_sandbox(["true"], cwd=tmp_path, writable=[Path("/")])
    with pytest.raises(KernelError, match="/proc"):
        run_in_sandbox(["true"], cwd=tmp_path, writable=[Path("/proc")])


def test_sandbox_without_uml_fails(monkeypatch, tmp_path):
    monkeypatch.setattr(uml, "find_uml", lambda: None)
    with pytest.raises(KernelError, match="apt-get install user-mode-linux"):
        run_in_sandbox(["true"], cwd=tmp_path, writable=[])


# --------------------------------------------------------------------------------------------- real boots


@pytest.fixture
def scratch_base(tmp_path, monkeypatch):
    """Point the sandbox's scratch directory at a directory of our own, to see what it leaves behind."""
    base = tmp_path / "scratch"
    base.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(base))
    uml_home = Path.home() / ".uml"
    before_home = sorted(os.listdir(uml_home)) if uml_home.exists() else None
    before_shm = {n for n in os.listdir("/dev/shm") if n.startswith("vm_file")}
    yield base
    assert list(base.iterdir()) == [], "scratch directory left behind"
    after_home = sorted(os.listdir(uml_home)) if uml_home.exists() else None
    assert after_home == before_home, "the sandbox wrote under ~/.uml"
    assert {n for n in os.listdir("/dev/shm") if n.startswith("vm_file")} <= before_shm
    assert not _processes_mentioning(str(base)), "UML processes left running"


def _processes_mentioning(text: str) -> list[int]:
    pids = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
            except OSError:
                continue
            if text in cmdline:
                pids.append(int(pid))
    return pids


def _marked(output: str, mark: str) -> list[str]:
    return [line[len(mark):] for line in output.splitlines() if line.startswith(mark)]


GUEST_SCRIPT = (r"""
echo "CWD:$(pwd)"
echo "MARKER:$(cat marker.txt)"
printf 'ENV:%s:END\n' "$NETATTEST_T"
echo "INSANDBOX:$NETATTEST_IN_SANDBOX HOME:$HOME TMPDIR:$TMPDIR"
echo "UNAME:$(uname -r)"
echo hello >"$RESULTS/from-guest.txt" && echo "WROTE:ok"
touch "$RO_DIR/must-not-exist" 2>/dev/null && echo "RO:writable" || echo "RO:refused"
touch ./must-not-exist 2>/dev/null && echo "CWDRO:writable" || echo "CWDRO:refused"
touch /tmp/scratch-ok && echo "TMP:ok"
ip link add nat0 type veth peer name nat1 && ip link set nat0 up
ip link add ipv0 link nat0 type ipvlan mode l2 && echo "IPVLAN:created"
ip link add mv0 link nat1 type macvlan mode bridge && echo "MACVLAN:created"
ip link add nat0.112 link nat0 type vlan id 112 && echo "VLAN:created"
ip link add d0 type dummy && echo "DUMMY:created"
echo "LINKS:$(ip -j link show | tr -d '\n')"
"$PY" -c 'import json, pyroute2
from netattest.sandbox import FEATURES, choose_kernel, detect_kernel_features
f = detect_kernel_features()
print("PY:" + json.dumps({"present": sorted(f.present), "how": f.how, """
    r""""choice": choose_kernel("host", set(FEATURES))[0]}))'
echo "to-stderr" >&2
exit 7
""")


@pytest.mark.sandbox
@can_boot
def test_sandbox_boot_runs_command_with_real_kernel_features(tmp_path, scratch_base):
    results = tmp_path / "results"
    results.mkdir()
    cwd = tmp_path / "cwd"  # under /tmp, which the guest covers with tmpfs: shown read-only
    cwd.mkdir()
    (cwd / "marker.txt").write_text("marker-42")
    ro_dir = Path(tempfile.mkdtemp(prefix="netattest-ro-test-", dir=Path.home()))
    tricky = "a b 'c' \"d\" $HOME \\ x\ny;`id`"
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "NETATTEST_T": tricky,
        "RESULTS": str(results),
        "RO_DIR": str(ro_dir),
        "PY": sys.executable,
        "PYTHONPATH": str(REPO),
        "HOME": "/nonexistent",  # forced to /root inside
    }
    out = io.StringIO()
    klog = tmp_path / "kernel.log"
    try:
        start = time.monotonic()
        rc = run_in_sandbox(["sh", "-c", GUEST_SCRIPT], cwd=cwd, writable=[results], env=env, stdout=out,
                            kernel_log=klog, mem_mb=768, timeout=300)
        elapsed = time.monotonic() - start
        leaked = list(ro_dir.iterdir())
    finally:
        shutil.rmtree(ro_dir, ignore_errors=True)
    text = out.getvalue()
    assert rc == 7, text
    assert "\r" not in text
    assert _marked(text, "CWD:") == [str(cwd)]
    assert _marked(text, "MARKER:") == ["marker-42"]
    assert f"ENV:{tricky}:END" in text
    assert _marked(text, "INSANDBOX:") == ["1 HOME:/root TMPDIR:/tmp"]
    assert _marked(text, "UNAME:")[0].startswith("6.1")
    assert (results / "from-guest.txt").read_text() == "hello\n"
    assert _marked(text, "WROTE:") == ["ok"]
    assert _marked(text, "RO:") == ["refused"] and leaked == []
    assert _marked(text, "CWDRO:") == ["refused"] and not (cwd / "must-not-exist").exists()
    assert _marked(text, "TMP:") == ["ok"] and not Path("/tmp/scratch-ok").exists()
    assert _marked(text, "IPVLAN:") == ["created"]
    assert _marked(text, "MACVLAN:") == ["created"]
    assert _marked(text, "VLAN:") == ["created"]
    assert _marked(text, "DUMMY:") == ["created"]  # loaded on demand through the modprobe wrapper
    links = {link["ifname"]: link for link in json.loads(_marked(text, "LINKS:")[0])}
    assert links["ipv0"]["address"] == links["nat0"]["address"], "ipvlan child must carry its parent's MAC"
    assert links["mv0"]["address"] != links["nat1"]["address"], "macvlan child has its own MAC"
    py = json.loads(_marked(text, "PY:")[0])
    assert set(py["present"]) == set(FEATURES), py["how"]
    assert py["choice"] == "host"
    assert "to-stderr" in text
    # kernel messages are in the log, not in the command's output
    log = klog.read_text()
    assert "Linux version 6.1" in log or "sysrq" in log
    assert "SELinux" not in text and "sysrq" not in text
    print(f"sandbox boot with python+pyroute2 inside: {elapsed:.1f} s")


@pytest.mark.sandbox
@can_boot
def test_sandbox_timeout_kills_the_kernel_and_cleans_up(tmp_path, scratch_base):
    out = io.BytesIO()
    start = time.monotonic()
    with pytest.raises(KernelError) as err:
        run_in_sandbox(["sh", "-c", "echo started; sleep 600"], cwd=tmp_path, writable=[], stdout=out,
                       timeout=4, mem_mb=256)
    assert time.monotonic() - start < 20
    assert "did not finish within 4 s" in str(err.value)
    assert b"started" in out.getvalue()


@pytest.mark.sandbox
@can_boot
def test_sandbox_guest_dying_early_is_a_kernel_error(tmp_path, scratch_base):
    klog = tmp_path / "kernel.log"
    with pytest.raises(KernelError) as err:  # power off under the command's feet: no exit status comes back
        run_in_sandbox(["sh", "-c", "echo o >/proc/sysrq-trigger; sleep 30"], cwd=tmp_path, writable=[],
                       stdout=io.StringIO(), kernel_log=klog, mem_mb=256, timeout=60)
    text = str(err.value)
    assert "stopped before the command finished" in text and "Power Off" in text and str(klog) in text
    assert "Power Off" in klog.read_text()


CHILD = """
import sys, tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any
tempfile.tempdir = sys.argv[1]
from netattest.sandbox.uml import run_in_sandbox
run_in_sandbox(["sh", "-c", "echo booted; sleep 600"], cwd=Path(sys.argv[1]), writable=[], mem_mb=256,
               stdout=sys.stdout)
"""


@pytest.mark.sandbox
@can_boot
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "KeyboardInterrupt"])
def test_sandbox_signal_kills_the_kernel_and_cleans_up(tmp_path, scratch_base, signum):
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(scratch_base)], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        line = child.stdout.readline()
        assert line.strip() == b"booted"
        assert _processes_mentioning(str(scratch_base)), "UML should be running now"
        child.send_signal(signum)
        assert child.wait(timeout=30) == -signum  # dies of the signal, as it would without the sandbox
        if signum == signal.SIGINT:
            assert b"KeyboardInterrupt" in child.stderr.read()
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        child.stdout.close()
        child.stderr.close()
    deadline = time.monotonic() + 5
    while _processes_mentioning(str(scratch_base)) and time.monotonic() < deadline:
        time.sleep(0.1)
