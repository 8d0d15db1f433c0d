"""Each new plugin's promise, broken on purpose in the lab the way real nodes break it: every fault must fail the
check that owns it, with its reason, and nothing else may fail. The shipped multus-* topologies are the bases; a
fault is lab drift, or one edit of the base's text (shown in each test).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.helpers.cli import problems, run_cli

pytestmark = pytest.mark.lab
TOPOLOGIES = REPO / "topologies"


def failed_tests(summary: dict) -> set[str]:
    return {p["test"].split("::")[-1] for p in summary["problems"] if p["status"] == "failed"}


def edited(tmp_path: Path, base: str, old: str, new: str) -> Path:
    """The base topology with one edit (the edit must apply)."""
    text = (TOPOLOGIES / base).read_text()
    assert text.count(old) == 1, old
    path = tmp_path / f"edited-{base}"
    path.write_text(text.replace(old, new))
    return path


def test_host_device_topology_holds(tmp_path: Path) -> None:
    code, summary, out = run_cli(tmp_path, TOPOLOGIES / "multus-host-device.yaml", None)
    assert code == 0 and "ALL EXPECTATIONS HELD" in out, out
    moved = [t for t in summary["tests"] if "test_host_device_returned[" in t["nodeid"]]
    assert len(moved) == 3 and all(t["status"] == "passed" for t in moved)
    # db-1 is dual-homed: its storage interface answers ARP for its backup address (ARP flux), which reaches the
    # pod, not the backup VLAN; it does not forward, so storage -> backup holds, saying why
    checks = {c["id"]: c for c in json.loads(next((tmp_path / "reports").glob("*/checks.json")).read_text())["checks"]}
    sibling = checks["storage->backup:db-2@node2->db-1@node1:net2"]
    assert sibling["status"] == "passed" and "ARP flux in a dual-homed pod" in sibling["reason"]
    assert any("pod db-1@node1 net1" in p["hop"]["who"] for p in checks["storage->backup:db-2@node2->vault"]["paths"])


def test_a_host_device_that_del_cannot_give_back_fails_its_return_check(tmp_path: Path) -> None:
    """The pod renames its device, so host-device's DEL finds nothing: the node is left without its NIC."""
    code, summary, _ = run_cli(tmp_path, TOPOLOGIES / "multus-host-device.yaml",
                               "drift:\n  hostDeviceKept: [db-1/net1]")
    assert code == 1
    assert failed_tests(summary) == {"test_host_device_returned[storage-dev:db-1@node1:net1]"}
    [reason] = problems(summary, "failed", "test_host_device_returned")
    assert "node node1 has no ens257; the pod still held net1x" in reason and "Link not found" in reason


def test_a_dual_homed_pod_that_forwards_is_a_router_between_its_vlans(tmp_path: Path) -> None:
    """db-1 sits on storage and backup; with ip_forward on (set through tuning) it routes storage to backup. Its own
    interface answering for its other address is not the leak; its forwarding to the vault is."""
    topology = edited(tmp_path, "multus-host-device.yaml", "device: ens258,\n",
                      "device: ens258, tuning: {sysctl: {net.ipv4.ip_forward: \"1\"}},\n")
    code, summary, _ = run_cli(tmp_path, topology, None)
    assert code == 1
    assert failed_tests(summary) == {"test_isolation[storage->backup:db-2@node2->vault]"}, failed_tests(summary)
    [reason] = problems(summary, "failed", "test_isolation")
    assert "isolation broken one way: frames from storage reach backup through next hop pod db-1@node1 net1" in reason
    assert "heard by host vault on backup" in reason


def test_a_tuning_chain_that_never_runs_fails_the_tuning_and_mac_checks(tmp_path: Path) -> None:
    code, summary, _ = run_cli(tmp_path, TOPOLOGIES / "multus-bridge.yaml", "drift:\n  dropChain: [tuned-a]")
    assert code == 1
    assert failed_tests(summary) == {"test_tuning[tuned-a:t-a@node1:net1]",
                                     "test_mac_behaviour[tuned-a:t-a@node1:net1]"}
    [tuning] = problems(summary, "failed", "test_tuning")
    assert "MAC is" in tuning and "tuning sets 02:15:00:00:00:0a" in tuning and "promiscuous mode is off" in tuning
    assert "net.ipv4.conf.net1.arp_ignore is 0, tuning sets 1" in tuning


def test_an_attachment_that_should_fail_but_succeeds_fails(tmp_path: Path) -> None:
    """The static address gets its prefix: the pod expected to be refused attaches and runs."""
    topology = edited(tmp_path, "multus-must-fail.yaml", "{address: 10.12.0.99}", "{address: 10.12.0.99/24}")
    code, summary, _ = run_cli(tmp_path, topology, None)
    assert code == 1
    assert failed_tests(summary) == {"test_attach_fails[team-a/no-cidr]"}
    [reason] = problems(summary, "failed", "test_attach_fails")
    assert "attached every network and runs, but must fail to attach ('expected to be in CIDR notation')" in reason


def test_an_attachment_failing_for_another_reason_fails(tmp_path: Path) -> None:
    topology = edited(tmp_path, "multus-must-fail.yaml", 'reason: "namespace isolation enabled"',
                      'reason: "no IP addresses available"')
    code, summary, _ = run_cli(tmp_path, topology, None)
    assert code == 1 and failed_tests(summary) == {"test_attach_fails[team-b/other-ns]"}
    [reason] = problems(summary, "failed", "test_attach_fails")
    assert "failed to attach, but not for the expected reason" in reason and "namespace isolation" in reason


def test_overlapping_whereabouts_ranges_without_protection_hand_out_addresses_twice(tmp_path: Path) -> None:
    topology = edited(tmp_path, "multus-whereabouts.yaml", "range: 10.16.0.12-10.16.0.24/24}",
                      "range: 10.16.0.12-10.16.0.24/24, enable_overlapping_ranges: false}")
    code, summary, _ = run_cli(tmp_path, topology, None)
    assert code == 1
    dupes = problems(summary, "failed", "test_address_unique")
    assert dupes and all("duplicate address" in r for r in dupes)
    assert not problems(summary, "failed", "test_ipam_pool")  # every address is in its pool: only twice


@pytest.mark.sandbox
@pytest.mark.needs("uml")
@pytest.mark.parametrize(("lab", "edit", "words"), [
    ("drift:\n  bridgePortVlan: {b-1/net1: 100}", None,
     "b-1@node1's port {port} on node1 has PVID 100 (VLANs: [100]), but NAD multus-v/vlan200 tags it VLAN 200"),
    (None, ("nics: [{name: ens3, network: nodes, address: 10.1.1.21/24}]",
            "nics: [{name: ens3, network: nodes, address: 10.1.1.21/24}]\n    bridges: [{name: br-vlan}]"),
     "bridge br-vlan on node1 is not VLAN-aware (vlan_filtering 0)"),
], ids=["port-with-the-wrong-tag", "admin-bridge-without-vlan-filtering"])
def test_bridge_vlan_faults_fail_the_port_check_and_isolation(tmp_path: Path, lab: str | None,
                                                             edit: tuple[str, str] | None, words: str) -> None:
    """A port re-tagged by hand, or a node bridge made by the admin without vlan_filtering (the plugin only turns
    it on for a bridge it creates): the port check names it, and isolation between the tags breaks (in the kernel
    sandbox: the run asks for --kernel uml)."""
    base = edited(tmp_path, "multus-bridge-vlan.yaml", *edit) if edit else TOPOLOGIES / "multus-bridge-vlan.yaml"
    code, summary, _ = run_cli(tmp_path, base, lab, "--kernel", "uml")
    assert code == 1
    ports = problems(summary, "failed", "test_bridge_port")
    head = words.split("{port}")[0]
    assert ports and all(head in r or "vlan_filtering" in r for r in ports), ports
    assert any(words.split("{port}")[-1] in r for r in ports)
    assert problems(summary, "failed", "test_isolation")
