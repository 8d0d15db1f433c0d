"""VLANs that must not be routed to each other stay silent; every silence is backed by a sanity twin."""

from __future__ import annotations

import allure
import pytest

from netattest.evaluate import MatrixRun
from netattest.matrix import Check
from netattest.verdicts import settle

pytestmark = pytest.mark.isolation


@allure.epic("secondary networks")
@allure.feature("isolation")
def test_isolation(isolation_check: Check, matrix: MatrixRun) -> None:
    outcome = matrix.outcomes[isolation_check.id]
    allure.dynamic.story(f"{isolation_check.source.network} -> {isolation_check.target.network}")
    allure.attach(outcome.reason, name="verdict", attachment_type=allure.attachment_type.TEXT)
    settle(outcome.status, outcome.reason)
