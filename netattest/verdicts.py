"""Turn a judged outcome into pytest's language: failed = AssertionError, broken = any other exception.

Allure reports the first as *failed* and the second as *broken*; the exit status follows the same split.
These helpers raise explicitly (no bare ``assert``: pytest does not rewrite asserts in library modules).
"""

from __future__ import annotations

from netattest.errors import NetattestError


class BrokenEvidence(NetattestError):
    """The probe could not have seen an answer (deaf socket, dropped frames): the check proves nothing."""


def expect(condition: bool, reason: str) -> None:
    """Fail the test with ``reason`` unless ``condition`` holds."""
    __tracebackhide__ = True
    if not condition:
        raise AssertionError(reason)


def settle(status: str, reason: str) -> None:
    """Raise for a failed or broken outcome, skip a not-applicable one (saying why); return when it passed."""
    __tracebackhide__ = True
    if status == "skipped":
        import pytest
        pytest.skip(reason)
    if status == "failed":
        raise AssertionError(reason)
    if status == "broken":
        raise BrokenEvidence(reason)
