"""The acceptance suites' plugins, layered; imported here so they never apply to the harness's own tests."""

from fixtures.options import pytest_addoption  # noqa: F401
from fixtures.sandbox import pytest_cmdline_main  # noqa: F401
from fixtures.topology import pytest_configure as _configure_topology, pytest_generate_tests, topology  # noqa: F401
from fixtures.target import inventory, target  # noqa: F401
from fixtures.target import pytest_configure as _configure_signals
from fixtures.probes import matrix  # noqa: F401
from fixtures.evidence import pytest_runtest_makereport, pytest_sessionfinish  # noqa: F401
from fixtures.evidence import pytest_configure as _configure_evidence

import pytest


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    _configure_topology(config)
    _configure_evidence(config)
    _configure_signals(config)
