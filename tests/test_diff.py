"""`netattest diff OLD NEW` and `netattest run --baseline`: what changed between two runs.

Unit cases work on records of scripted runs edited by hand; the lab cases diff two real runs, the second on a
mis-wired lab (a router joining the VLANs, a pod pinned to the wrong node, an address moved).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from netattest.errors import NetattestError
from netattest.report.diff import diff_runs, format_diff, resolve_run
from tests.conftest import REPO
from tests.helpers.records import healthy, leaky, synthetic_run, validate


def _edit_inventory(run_dir: Path, edit) -> None:
    path = run_dir / "inventory.json"
    doc = json.loads(path.read_text())
    edit(doc["inventory"])
    path.write_text(json.dumps(doc))


def test_identical_runs_have_no_difference(tmp_path: Path) -> None:
    old = synthetic_run(tmp_path / "0000000a", respond=healthy)
    diff = diff_runs(old, old)
    validate("run-diff", diff)
    assert not diff["changed"] and diff["checks"] == {"flipped": [], "added": [], "removed": []}
    assert "no change in verdicts" in format_diff(diff)


def test_flips_moves_and_vanishings_are_all_reported(tmp_path: Path) -> None:
    old = synthetic_run(tmp_path / "0000000a", respond=healthy)
    new = synthetic_run(tmp_path / "0000000b", respond=leaky)

    def rewire(inventory: dict) -> None:
        pod_a = next(p for p in inventory["pods"] if p["name"] == "pod-a")
        pod_a["node"] = "node2"
        pod_a["interfaces"]["net1"]["addresses"] = ["192.168.112.99/24"]
        inventory["pods"] = [p for p in inventory["pods"] if p["name"] != "pod-c"]
        inventory["pods"].append({**pod_a, "name": "pod-z"})
        inventory["nodes"].append({"name": "node9", "labels": {}, "nics": {}})
        node1 = inventory["nodes"][0]
        node1["labels"] = {}
        node1["nics"]["ens224"]["mac"] = "02:00:00:00:99:99"
        inventory["hosts"] = [h for h in inventory["hosts"] if h["name"] != "gateway"]
    _edit_inventory(new, rewire)
    diff = diff_runs(old, new)
    validate("run-diff", diff)
    assert diff["changed"]
    flipped = {e["id"]: (e["old"], e["new"]) for e in diff["checks"]["flipped"]}
    assert flipped == {"restricted->openshift:pod-a@node1->node1/ens192": ("passed", "failed"),
                       "restricted->openshift:pod-c@node1->node1/ens192": ("passed", "failed")}
    assert diff["pods"]["added"] == ["t/pod-z"] and diff["pods"]["removed"] == ["t/pod-c"]
    assert diff["pods"]["moved"] == [{"pod": "t/pod-a", "old": "node1", "new": "node2"}]
    assert diff["nodes"]["added"] == ["node9"] and diff["nodes"]["labels"][0]["node"] == "node1"
    assert diff["hosts"]["removed"] == [{"host": "gateway on openshift", "role": "external"}]
    assert diff["addresses"] == [{"where": "pod t/pod-a net1", "old": ["192.168.112.11/24"],
                                  "new": ["192.168.112.99/24"]}]
    assert {"where": "node node1 ens224", "old": "02:00:00:00:01:24", "new": "02:00:00:00:99:99"} in diff["macs"]
    text = format_diff(diff)
    for line in ("checks flipped (2):", " passed -> failed  restricted->openshift:pod-a@node1->node1/ens192",
                 "vanished pods (1):\n  t/pod-c", "pods moved to another node (1):\n  t/pod-a: node1 -> node2",
                 "new nodes (1):\n  node9", "addresses moved (1):", "vanished hosts (1):\n  gateway on openshift"):
        assert line in text, line


def test_mac_relation_change_is_reported_even_on_a_lab(tmp_path: Path) -> None:
    old = synthetic_run(tmp_path / "0000000a", respond=healthy)
    new = synthetic_run(tmp_path / "0000000b", respond=healthy)

    def share_master_mac(inventory: dict) -> None:
        pod_a = next(p for p in inventory["pods"] if p["name"] == "pod-a")
        pod_a["interfaces"]["net1"]["mac"] = inventory["nodes"][0]["nics"]["ens224"]["mac"]
    _edit_inventory(new, share_master_mac)
    diff = diff_runs(old, new)
    assert diff["lab_macs_regenerated"] and diff["changed"]
    assert diff["mac_relations"] == [{"where": "pod t/pod-a net1", "old": "macvlan link, has its own MAC",
                                      "new": "macvlan link, shares its master's MAC"}]


def test_an_unreadable_run_is_refused_with_the_fix(tmp_path: Path) -> None:
    with pytest.raises(NetattestError, match="not a netattest run directory"):
        diff_runs(tmp_path, tmp_path)
    with pytest.raises(NetattestError, match="Fix: give a run directory or the run id"):
        resolve_run("deadbeef", tmp_path)
    proc = subprocess.run([sys.executable, "-m", "netattest.cli", "diff", "deadbeef", "cafecafe", "--reports-dir",
                           str(tmp_path)], cwd=REPO, capture_output=True, text=True, check=False)
    assert proc.returncode == 2 and "deadbeef: no run there" in proc.stderr


# --- two real runs ----------------------------------------------------------------------------------------------------
@pytest.mark.lab
def test_diff_of_a_clean_and_a_mis_wired_lab(tmp_path_factory: pytest.TempPathFactory) -> None:
    from tests.helpers.lab_runs import lab_run
    clean, miswired = lab_run(tmp_path_factory, "clean"), lab_run(tmp_path_factory, "miswired")
    CLEAN_ID, MISWIRED_ID = clean.id, miswired.id
    reports = clean.dir.parent
    cli = [sys.executable, "-m", "netattest.cli", "diff", "--reports-dir", str(reports)]
    proc = subprocess.run([*cli, CLEAN_ID, MISWIRED_ID, "--json"], cwd=REPO, capture_output=True, text=True,
                          check=False)
    assert proc.returncode == 1, proc.stderr
    diff = json.loads(proc.stdout)
    validate("run-diff", diff)
    assert (diff["old"]["run_id"], diff["new"]["run_id"]) == (CLEAN_ID, MISWIRED_ID) and diff["topology_changed"]
    flipped = {e["id"]: e for e in diff["checks"]["flipped"]}
    leak = flipped["restricted->openshift:pod-a@node1->node1/ens192"]
    assert (leak["old"], leak["new"]) == ("passed", "failed") and "router rogue" in leak["reason"]
    assert flipped["restricted->openshift:pod-b@node1->gateway"]["new"] == "broken"
    assert flipped["restricted:pod-a@node1->pod-b@node1"]["new"] == "failed"
    assert all(e["old"] == "passed" for e in flipped.values())
    tests = {e["id"].split("::")[1]: e for e in diff["tests"]["flipped"]}
    assert tests["test_pod_placement[multus-test/pod-b]"]["new"] == "failed"
    assert tests["test_pod_interface[net1-macvlan:mac-c@node2:net1]"]["new"] == "failed"
    assert diff["pods"]["moved"] == [{"pod": "multus-test/pod-b", "old": "node1", "new": "node3"}]
    assert diff["pods"]["phase"][0]["pod"] == "multus-test/pod-b" and diff["pods"]["phase"][0]["new"] == "Pending"
    assert {e["where"] for e in diff["interfaces"]["removed"]} == {"pod multus-test/pod-b net1"}
    assert diff["addresses"] == [{"where": "pod multus-test/mac-c net1", "old": ["192.168.112.41/24"],
                                  "new": ["192.168.112.42/24"]}]
    assert {h["host"] for h in diff["hosts"]["added"]} == {"rogue on openshift", "rogue on restricted"}
    assert diff["nodes"] == {"added": [], "removed": [], "labels": []} and diff["lab_macs_regenerated"]
    # the run with --baseline wrote the same diff into its run directory and its report
    recorded = json.loads((miswired.dir / "diff.json").read_text())
    assert recorded["checks"] == diff["checks"] and recorded["pods"] == diff["pods"]
    assert f"netattest diff {CLEAN_ID} -> {MISWIRED_ID}" in miswired.stdout
    assert "pods moved to another node (1):\n    multus-test/pod-b: node1 -> node3" in miswired.stdout
    text = subprocess.run([*cli, CLEAN_ID, MISWIRED_ID], cwd=REPO, capture_output=True, text=True, check=False).stdout
    assert "new hosts on the networks (2):\n  rogue on openshift (router)" in text
    assert "MACs changed" in text and "expected on the embedded lab" in text
    same = subprocess.run([*cli, CLEAN_ID, str(clean.dir)], cwd=REPO, capture_output=True, text=True, check=False)
    assert same.returncode == 0 and "no change in verdicts" in same.stdout
