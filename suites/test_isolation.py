"""VLANs that must not be routed to each other stay silent; every silence is backed by a sanity twin."""

from __future__ import annotations

import allure
import pytest

from netattest.outcomes import MatrixRun
from netattest.matrix import Check
from netattest.report.allure_attach import EvidenceKit
from netattest.verdicts import settle

pytestmark = pytest.mark.isolation


@allure.feature("isolation")
def test_isolation(isolation_check: Check, matrix: MatrixRun, evidence: EvidenceKit) -> None:
    outcome = matrix.outcomes[isolation_check.id]
    evidence.describe_check(isolation_check, "isolation_check")
    source = isolation_check.source
    with allure.step(f"setup: {source.label} {source.iface} on {source.network}"):
        evidence.attach_pod(source.name)
    with allure.step(f"probe: ARP (and ICMP through each host of {source.network}) to "
                     f"{isolation_check.target.label}, with a sanity twin from the same socket"):
        evidence.attach_probe(outcome)
    with allure.step(f"verdict: {outcome.status}: {outcome.reason}"):  # the transcript ends with it too
        settle(outcome.status, outcome.reason)
