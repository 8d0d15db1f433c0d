"""The acceptance suites' plugins: every module of ``netattest/plugin/`` is registered here, so they apply to the
suites and never to the harness's own tests. Layers: options -> sandbox -> topology -> target -> probes -> evidence.
"""

from __future__ import annotations

import pytest

from netattest.plugin import register_layers


def pytest_addoption(parser: pytest.Parser, pluginmanager: pytest.PytestPluginManager) -> None:
    # Registered while options are being collected: pytest replays pytest_addoption (a historic hook) for each,
    # and pytest_cmdline_main / pytest_configure come later, so every layer gets all its hooks.
    register_layers(pluginmanager)
