"""ipvlan coverage on a host kernel without ipvlan: run the ipvlan lab tests inside the kernel sandbox.

One boot for the whole module (boots cost seconds and Python is slower inside), with the host's files read-only
and only a scratch directory writable.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest

from netattest.sandbox.kernel import detect_kernel_features
from netattest.sandbox.uml import run_in_sandbox
from tests.conftest import REPO

pytestmark = [pytest.mark.lab, pytest.mark.sandbox, pytest.mark.needs("uml")]


@pytest.mark.skipif(detect_kernel_features().has("ipvlan"), reason="host kernel has ipvlan: "
                    "tests/test_lab_ipvlan.py runs natively")
def test_ipvlan_lab_tests_pass_inside_the_kernel_sandbox(tmp_path: Path) -> None:
    out = io.StringIO()
    status = run_in_sandbox([sys.executable, "-m", "pytest", "tests/test_lab_ipvlan.py", "-q", "-rs",
                             "-p", "no:cacheprovider", "--junitxml", str(tmp_path / "junit.xml")],
                            cwd=REPO, writable=[tmp_path], env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
                                                                "PYTHONPATH": str(REPO)},
                            stdout=out, timeout=600)
    text = out.getvalue()
    assert status == 0, text
    junit = (tmp_path / "junit.xml").read_text()
    assert 'tests="5"' in junit and 'failures="0"' in junit and 'skipped="0"' in junit, junit
