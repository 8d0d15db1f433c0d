"""What a test needs from the machine, said one way, so a missing piece is never a silent green.

``@pytest.mark.needs("root", "uml")`` on a test or module (tests/conftest.py checks it before any fixture runs;
``@pytest.mark.lab`` implies ``needs("root", "iproute2")``), or :func:`require` inside a fixture or test. A missing
requirement SKIPS the test with the reason on a developer's machine, and FAILS it when ``CI=true``: a CI machine
that lacks something the tests need is a broken CI machine. The end of the session lists what was skipped.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

import pytest

CNI_DIR = Path("/usr/lib/cni")


def _allure_ready() -> bool:
    from netattest.report.allure_cli import AllureError, find_allure, java_version

    try:
        find_allure()
        java_version()
    except AllureError:
        return False
    return True


def _uml_installed() -> bool:
    from netattest.sandbox.uml import find_uml

    return find_uml() is not None


#: requirement -> (is it there, what is missing and how to get it)
REQUIREMENTS: dict[str, tuple[Callable[[], bool], str]] = {
    "root": (lambda: os.geteuid() == 0,
             "needs root to create network namespaces (run the tests as root: sudo make test)"),
    "iproute2": (lambda: shutil.which("ip") is not None, "needs ip(8) (apt-get install iproute2)"),
    "nft": (lambda: shutil.which("nft") is not None, "needs nft for lab routers' rules (apt-get install nftables)"),
    "uml": (_uml_installed, "needs the kernel sandbox linux.uml (apt-get install user-mode-linux)"),
    "cni-plugins": (lambda: all((CNI_DIR / p).is_file() for p in ("macvlan", "static")),
                    f"needs the CNI plugins in {CNI_DIR} (apt-get install containernetworking-plugins)"),
    "chromium": (lambda: shutil.which("chromium") is not None and shutil.which("chromedriver") is not None,
                 "needs chromium and chromedriver (apt-get install chromium chromium-driver)"),
    "selenium": (lambda: importlib.util.find_spec("selenium") is not None,
                 "needs selenium (pip install -e '.[dev]')"),
    "allure": (_allure_ready, "needs the Allure command line and Java (scripts/install.sh installs both)"),
    "kubectl": (lambda: (Path(__file__).resolve().parents[2] / ".tools" / "kubectl" / "bin" / "kubectl").is_file(),
                "needs the project-local kubectl in .tools/kubectl (scripts/install.sh installs it)"),
}


def in_ci() -> bool:
    """CI=true (GitHub, GitLab and .ci/run set it): a missing requirement is a failure there."""
    return os.environ.get("CI", "").strip().lower() == "true"


@functools.cache
def is_met(name: str) -> bool:
    if name not in REQUIREMENTS:
        raise ValueError(f"unknown requirement {name!r}; known: {', '.join(sorted(REQUIREMENTS))}")
    return REQUIREMENTS[name][0]()


def missing(*names: str) -> list[str]:
    """The reasons of the requirements among ``names`` that this machine does not meet."""
    return [REQUIREMENTS[name][1] for name in names if not is_met(name)]


def unavailable(reason: str) -> NoReturn:
    """Skip with ``reason``, or fail with it under CI=true."""
    if in_ci():
        pytest.fail(f"CI=true, but this machine lacks what the test needs: {reason}", pytrace=False)
    pytest.skip(reason)


def require(*names: str) -> None:
    """Inside a test or fixture: stop here unless every requirement in ``names`` is met."""
    reasons = missing(*names)
    if reasons:
        unavailable("; ".join(reasons))
