"""One reading of a test report for every layer that judges one: *failed* when the test's own check said no
(AssertionError or pytest.fail in the call), *broken* for anything else (a fixture, a deploy, an agent that died,
evidence that proves nothing), with the first line of the reason. Allure and the exit status follow the same
split (exit 1 for failed, 2 for broken)."""

from __future__ import annotations

import pytest


def outcome_of(report: pytest.TestReport, call: pytest.CallInfo[None]) -> tuple[str, str]:
    """(status, reason) of a report that did not pass."""
    checked = call.excinfo is not None and (
        call.excinfo.errisinstance(AssertionError) or call.excinfo.errisinstance(pytest.fail.Exception))
    status = "failed" if checked and report.when == "call" else "broken"
    reason = call.excinfo.exconly().split("\n")[0] if call.excinfo else str(report.longrepr)[:300]
    for prefix in ("AssertionError: ", "Failed: "):
        reason = reason.removeprefix(prefix)
    return status, reason
