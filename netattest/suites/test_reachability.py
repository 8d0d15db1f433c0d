"""L2 reachability inside each VLAN: ARP and ICMP, answered by the MAC that owns the address."""

from __future__ import annotations

import allure
import pytest

from netattest.matrix import Check
from netattest.outcomes import MatrixRun
from netattest.report.allure_attach import EvidenceKit
from netattest.verdicts import settle

pytestmark = pytest.mark.reachability


@allure.feature("L2 reachability")
def test_l2_reachability(reach_check: Check, matrix: MatrixRun, evidence: EvidenceKit) -> None:
    outcome = matrix.outcomes[reach_check.id]
    evidence.describe_check(reach_check, "reach_check")
    source = reach_check.source
    with allure.step(f"setup: {source.label} {source.iface} on {source.network}"):
        evidence.attach_pod(source.name)
    with allure.step(f"probe: ARP who-has and ICMP echo to {reach_check.target.label}"):
        evidence.attach_probe(outcome)
    with allure.step(f"verdict: {outcome.status}: {outcome.reason}"):  # the transcript ends with it too
        settle(outcome.status, outcome.reason)
