"""Detection power: with the lab deliberately mis-wired, the suites fail on the right check, saying why.

Each case runs the real CLI (``netattest run``) on a topology whose ``lab:`` section breaks one thing, then reads
the run summary. A harness that passed here would pass for the wrong reason everywhere.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import MACVLAN_ONLY, REPO, SEED
from tests.helpers.cli import problems, run_cli
from tests.helpers.plan import checks_with_status, planned_ids

pytestmark = pytest.mark.lab

ROUTER = """
routers:
  - name: rogue
    legs:
      - {network: openshift, address: 192.168.111.254/24}
      - {network: restricted, address: 192.168.112.254/24}
"""


def test_clean_lab_passes_and_prints_a_summary(tmp_path: Path) -> None:
    code, summary, out = run_cli(tmp_path, MACVLAN_ONLY, None)
    assert code == 0, out
    assert summary["counts"]["failed"] == summary["counts"]["broken"] == 0
    every_check = planned_ids(MACVLAN_ONLY)
    assert every_check == (checks_with_status(summary, "passed", "test_l2_reachability")
                           | checks_with_status(summary, "passed", "test_isolation"))
    assert summary["counts"]["passed"] > len(every_check)  # the other suites passed too
    assert "ALL EXPECTATIONS HELD" in out and "reports:" in out


def test_router_joining_the_vlans_fails_isolation(tmp_path: Path) -> None:
    code, summary, out = run_cli(tmp_path, MACVLAN_ONLY, ROUTER)
    assert code == 1, out
    reasons = problems(summary, "failed", "test_isolation")
    assert reasons and all("isolation broken" in r for r in reasons)
    assert any("192.168.111.21" in r and "router rogue" in r for r in reasons)
    assert not problems(summary, "failed", "test_l2_reachability")
    assert "FAILED test_isolation[restricted->openshift:" in out


def test_macvlan_nad_where_ipvlan_is_expected_fails_the_mac_check(tmp_path: Path) -> None:
    code, summary, _ = run_cli(tmp_path, SEED, "drift:\n  nadPlugin: {net1: {plugin: macvlan, mode: bridge}}")
    assert code == 1
    mac = problems(summary, "failed", "test_mac_behaviour")
    assert len(mac) == 3 and all("ipvlan child carries its master's MAC" in r and "macvlan" in r for r in mac)
    assert problems(summary, "failed", "test_ipvlan_pods_share_node_mac")
    kinds = problems(summary, "failed", "test_pod_interface")
    assert kinds and all("promises ipvlan" in r for r in kinds)


def test_two_pods_with_one_static_ip_fail_the_ownership_check(tmp_path: Path) -> None:
    code, summary, _ = run_cli(tmp_path, MACVLAN_ONLY, "drift:\n  podIps: {mac-c/net1: [192.168.112.31/24]}")
    assert code == 1
    dup = [r for r in problems(summary, "failed", "test_l2_reachability") if "duplicate address" in r]
    assert dup and all("192.168.112.31" in r and "mac-a@node1" in r and "mac-c@node2" in r for r in dup)


def test_impostor_answering_for_a_pod_fails_the_ownership_check(tmp_path: Path) -> None:
    code, summary, _ = run_cli(tmp_path, MACVLAN_ONLY,
                               "impostors:\n  - {name: liar, network: restricted, claims: 192.168.112.11}")
    assert code == 1
    dup = [r for r in problems(summary, "failed", "test_l2_reachability") if "192.168.112.11" in r]
    assert dup and all("impostor liar" in r for r in dup)


def test_pod_scheduled_to_the_unlabelled_node_fails_attachment(tmp_path: Path) -> None:
    code, summary, _ = run_cli(tmp_path, MACVLAN_ONLY, "drift:\n  podNode: {pod-a: node3}")
    assert code == 1
    placement = problems(summary, "failed", "test_pod_placement")
    assert placement == ["multus-test/pod-a landed on node node3, which does not carry "
                         "node-role.kubernetes.io/multus-node=yes, kubernetes.io/hostname=node1 from its nodeSelector"]
    interface = problems(summary, "failed", "test_pod_interface")
    assert interface and "Link not found" in interface[0] and "node3" in interface[0]


def test_removed_external_host_fails_reachability_and_the_sanity_twin_reports_it(tmp_path: Path) -> None:
    code, summary, _ = run_cli(tmp_path, MACVLAN_ONLY, "drift:\n  removeExternalHosts: [ext-host]")
    assert code == 1
    reach = [r for r in problems(summary, "failed", "test_l2_reachability") if "ext-host" in r]
    assert len(reach) == 6 and all("not present" in r for r in reach)
    broken = problems(summary, "broken", "test_isolation")
    assert all("sanity twin got no answer" in r and "192.168.112.1" in r for r in broken)
    # every silent pair (each pod against each openshift address): none passed
    assert checks_with_status(summary, "broken", "test_isolation") == planned_ids(MACVLAN_ONLY, "isolated")
    assert summary["counts"]["broken"] == len(broken)


def test_l2_leak_between_vlans_fails_isolation(tmp_path: Path) -> None:
    code, summary, _ = run_cli(tmp_path, MACVLAN_ONLY,
                               "leaks:\n  - {name: patch-cable, networks: [restricted, openshift]}")
    assert code == 1
    reasons = problems(summary, "failed", "test_isolation")
    assert all("isolation broken" in r and "answered ARP" in r for r in reasons)
    assert checks_with_status(summary, "failed", "test_isolation") == planned_ids(MACVLAN_ONLY, "isolated")


@pytest.mark.sandbox
def test_trunk_leaking_vlan_112_into_113_fails_isolation(tmp_path: Path) -> None:
    code, summary, out = run_cli(tmp_path, REPO / "topologies" / "vlan-trunk.yaml",
                                 "leaks:\n  - {name: bad-trunk, networks: [restricted, lab]}", "--kernel", "auto")
    assert code == 1, out
    failed = [p["test"] for p in summary["problems"] if p["status"] == "failed"]
    assert len(failed) == 2 * 3 * 2  # 2 pods per VLAN x (2 pods + 1 host) of the other VLAN, both directions
    assert all("test_isolation[restricted->lab:" in t or "test_isolation[lab->restricted:" in t for t in failed)


WHEREABOUTS = REPO / "topologies" / "whereabouts.yaml"


def test_one_host_local_pool_on_two_nodes_fails_uniqueness(tmp_path: Path) -> None:
    shared = tmp_path / "shared-host-local.yaml"
    shared.write_text(WHEREABOUTS.read_text().replace(
        "ipam: {type: whereabouts, range: 192.168.112.0/24, range_start: 192.168.112.50, range_end: 192.168.112.99}",
        "ipam: {type: host-local, ranges: [[{subnet: 192.168.112.0/24, rangeStart: 192.168.112.50, "
        "rangeEnd: 192.168.112.99}]]}"))
    code, summary, _ = run_cli(tmp_path, shared, None)
    assert code == 1
    dup = problems(summary, "failed", "test_address_unique")
    assert len(dup) == 4  # every pod: node1's and node2's pools both start at .50
    assert all("duplicate address" in r and "@node1" in r and "@node2" in r for r in dup)


def test_dhcp_server_handing_out_a_default_route_is_caught(tmp_path: Path) -> None:
    text = (REPO / "topologies" / "dhcp.yaml").read_text().replace(
        "plugin: ipvlan, mode: l2, master: ens224", "plugin: macvlan, mode: bridge, master: ens224")
    base = tmp_path / "dhcp-macvlan.yaml"
    base.write_text(text)
    code, summary, _ = run_cli(tmp_path, base, "drift:\n  dhcpDefaultRoute: [dhcp-server]")
    assert code == 1
    hijacked = problems(summary, "failed", "test_dhcp_lease")
    assert len(hijacked) == 4 and all("hijacked the pod's default route" in r for r in hijacked)
    assert all("default via 192.168.112.1 dev net1" in r for r in hijacked)
