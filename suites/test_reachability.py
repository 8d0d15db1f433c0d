"""L2 reachability inside each VLAN: ARP and ICMP, answered by the MAC that owns the address."""

from __future__ import annotations

import allure
import pytest

from netattest.evaluate import MatrixRun
from netattest.matrix import Check
from netattest.verdicts import settle

pytestmark = pytest.mark.reachability


@allure.epic("secondary networks")
@allure.feature("L2 reachability")
def test_l2_reachability(reach_check: Check, matrix: MatrixRun) -> None:
    outcome = matrix.outcomes[reach_check.id]
    allure.dynamic.story(f"VLAN {reach_check.source.network}")
    allure.attach(outcome.reason, name="verdict", attachment_type=allure.attachment_type.TEXT)
    settle(outcome.status, outcome.reason)
