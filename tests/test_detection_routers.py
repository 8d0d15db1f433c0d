"""Routers that join VLANs which must be isolated, built in the lab the way real networks get them wrong: each one
must make the run fail on the isolation checks of the right pair and direction, with a reason that names the
next hop that forwarded — and nothing else may fail.

Base: topologies/isolation.yaml (restricted and dmz isolated both ways, host kernel). Every router below lives only
in the ``lab:`` section: its addresses are named nowhere else, so the harness has to *find* it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from netattest.matrix import plan_checks
from netattest.topology import load_topology
from tests.conftest import REPO
from tests.helpers.cli import problems, run_cli

pytestmark = pytest.mark.lab
ISOLATION = REPO / "topologies" / "isolation.yaml"
LEGS = """    legs:
      - {network: restricted, address: 192.168.112.254/24}
      - {network: dmz, address: 192.168.113.254/24}"""
ROUTER_MAC_WORDS = "through next hop router rogue (lab-only, not in the topology)"


def router(**options: str) -> str:
    lines = ["routers:", "  - name: rogue", *(f"    {k}: {v}" for k, v in options.items())]
    return "\n".join(lines) + "\n" + LEGS


def isolation_checks(source: str, target: str) -> set[str]:
    """Test ids of every isolation check of a pair, derived from the plan (never a hard-coded count)."""
    return {f"test_isolation[{c.id}]" for c in plan_checks(load_topology(ISOLATION))
            if c.verdict == "isolated" and c.source.network == source and c.target.network == target}


def failed_tests(summary: dict) -> set[str]:
    return {p["test"].split("::")[-1] for p in summary["problems"] if p["status"] == "failed"}


def assert_pairs_fail(summary: dict, *pairs: tuple[str, str]) -> None:
    """Exactly the isolation checks of ``pairs`` failed (every one of them), nothing was broken."""
    expected = set().union(*(isolation_checks(s, t) for s, t in pairs))
    assert expected and failed_tests(summary) == expected, sorted(failed_tests(summary) ^ expected)
    assert summary["counts"]["broken"] == 0, [p for p in summary["problems"] if p["status"] == "broken"]


def test_the_isolation_topology_holds_without_a_router(tmp_path: Path) -> None:
    code, summary, out = run_cli(tmp_path, ISOLATION, None)
    assert code == 0 and "ALL EXPECTATIONS HELD" in out, out
    assert summary["findings"] == []


def test_a_router_without_proxy_arp_is_found_and_fails_both_directions(tmp_path: Path) -> None:
    code, summary, out = run_cli(tmp_path, ISOLATION, router(proxyArp="false"))
    assert code == 1, out
    assert_pairs_fail(summary, ("restricted", "dmz"), ("dmz", "restricted"))
    reasons = problems(summary, "failed", "test_isolation")
    assert all(ROUTER_MAC_WORDS in r for r in reasons), reasons[:2]
    # the targets have no route back to the other VLAN (static IPAM, no routes): nothing answers, the far side
    # hears every probe arrive
    assert all(r.startswith("isolation broken one way:") for r in reasons), reasons[:2]
    assert {(f["network"], f["ip"]) for f in summary["findings"]} == {("restricted", "192.168.112.254"),
                                                                       ("dmz", "192.168.113.254")}
    assert "FINDINGS: 2 (neighbours the topology does not declare" in out


@pytest.mark.needs("nft")
@pytest.mark.parametrize("forward, broken_pair", [("restricted -> dmz", ("restricted", "dmz")),
                                                  ("dmz -> restricted", ("dmz", "restricted"))])
def test_a_one_way_router_fails_only_the_direction_it_forwards(tmp_path: Path, forward: str,
                                                               broken_pair: tuple[str, str]) -> None:
    code, summary, out = run_cli(tmp_path, ISOLATION, router(proxyArp="false", forward=f'["{forward}"]'))
    assert code == 1, out
    assert_pairs_fail(summary, broken_pair)
    source, target = broken_pair
    for reason in problems(summary, "failed", "test_isolation"):
        assert reason.startswith("isolation broken one way:"), reason
        assert f"frames from {source} reach {target} {ROUTER_MAC_WORDS}" in reason, reason


@pytest.mark.needs("nft")
def test_a_nat_router_is_caught_through_the_rewritten_frames(tmp_path: Path) -> None:
    code, summary, out = run_cli(tmp_path, ISOLATION, router(proxyArp="false", nat="true",
                                                            forward='["restricted -> dmz"]', stateful="true"))
    assert code == 1, out
    assert_pairs_fail(summary, ("restricted", "dmz"))
    reasons = problems(summary, "failed", "test_isolation")
    assert all(r.startswith("isolation broken at L3:") and ROUTER_MAC_WORDS in r for r in reasons), reasons[:2]
    assert all("their source rewritten to 192.168.113.254 on the way (NAT)" in r for r in reasons), reasons[:2]


@pytest.mark.needs("nft")
def test_a_one_way_nat_router_is_heard_by_the_listeners_with_its_own_address(tmp_path: Path) -> None:
    """Source NAT one way, the replies dropped: nothing answers, and the frames reach dmz with the router's own
    MAC and dmz address as sender, which the listeners' own-traffic filter must never count away (it drops only
    the segment's own pods' frames)."""
    code, summary, out = run_cli(tmp_path, ISOLATION, router(proxyArp="false", nat="true",
                                                            forward='["restricted -> dmz"]'))
    assert code == 1, out
    assert_pairs_fail(summary, ("restricted", "dmz"))
    reasons = problems(summary, "failed", "test_isolation")
    assert all(r.startswith("isolation broken one way:") and ROUTER_MAC_WORDS in r for r in reasons), reasons[:2]
    assert all("rewritten to 192.168.113.254 on the way (NAT)" in r for r in reasons), reasons[:2]


@pytest.mark.needs("nft")
def test_a_router_forwarding_only_tcp_is_caught_by_the_syn(tmp_path: Path) -> None:
    code, summary, out = run_cli(tmp_path, ISOLATION, router(proxyArp="false", protocols="[tcp]"))
    assert code == 1, out
    assert_pairs_fail(summary, ("restricted", "dmz"), ("dmz", "restricted"))
    for reason in problems(summary, "failed", "test_isolation"):  # the SYN arrives; echo and datagram never do
        assert "TCP SYN from" in reason and "ICMP echo" not in reason and "UDP datagram" not in reason, reason


@pytest.mark.needs("nft")
def test_a_router_into_the_empty_vlan_is_heard_asking_for_its_unused_address(tmp_path: Path) -> None:
    lab = """routers:
  - name: rogue
    proxyArp: false
    forward: ["restricted -> quarantine"]
    legs:
      - {network: restricted, address: 192.168.112.254/24}
      - {network: quarantine, address: 192.168.114.254/24}"""
    code, summary, out = run_cli(tmp_path, ISOLATION, lab)
    assert code == 1, out
    assert_pairs_fail(summary, ("restricted", "quarantine"))
    for reason in problems(summary, "failed", "test_isolation"):
        assert "asked who-has 192.168.114." in reason and ROUTER_MAC_WORDS in reason, reason


def test_an_empty_vlan_nobody_can_watch_is_broken_not_isolated(tmp_path: Path) -> None:
    text = ISOLATION.read_text().replace("      - {name: ens257, network: quarantine}\n", "")
    base = tmp_path / "unwatched.yaml"
    base.write_text(text)
    code, summary, out = run_cli(tmp_path, base, None)
    assert code == 2, out
    broken = {p["test"].split("::")[-1]: p["reason"] for p in summary["problems"] if p["status"] == "broken"}
    assert broken and all("restricted->quarantine:" in t for t in broken), broken
    assert all("nothing on quarantine can be probed or listened to" in r for r in broken.values())
    assert summary["counts"]["failed"] == 0
