"""The acceptance suites' plugins: every module of ``fixtures/`` is registered here, so they apply to the suites
and never to the harness's own tests. Layers: options -> sandbox -> topology -> target -> probes -> evidence.
"""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import fixtures


def pytest_addoption(parser: pytest.Parser, pluginmanager: pytest.PytestPluginManager) -> None:
    # Registered while options are being collected: pytest replays pytest_addoption (a historic hook) for each,
    # and pytest_cmdline_main / pytest_configure come later, so every layer gets all its hooks.
    for info in sorted(pkgutil.iter_modules(fixtures.__path__), key=lambda i: i.name):
        name = f"netattest.fixtures.{info.name}"
        if pluginmanager.get_plugin(name) is None:
            pluginmanager.register(importlib.import_module(f"fixtures.{info.name}"), name)
