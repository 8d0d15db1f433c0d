"""The acceptance suites' plugins: every module of ``netattest/plugin/`` is registered here, so they apply to the
suites and never to the harness's own tests. Layers: options -> sandbox -> topology -> target -> probes -> evidence.

This conftest ships in the package, so ``netattest run`` and plain ``pytest --pyargs netattest.suites`` (or
``pytest suites/`` in a checkout) get the same options and layers.
"""

from __future__ import annotations

import importlib
import pkgutil

import pytest

from netattest import plugin

#: the suites' markers, registered here so every way of running them knows them (no ini file needed)
MARKERS = {
    "attachment": "pods got their secondary interfaces, on the right nodes",
    "reachability": "L2 reachability inside each VLAN (ARP and ICMP)",
    "mac": "MAC behaviour promised by the plugin (ipvlan shares, macvlan unique)",
    "isolation": "VLANs that must not be routed stay silent, with sanity twins",
    "nodes": "node pre-flight: labelled nodes are fit to carry the secondary networks (runs first)",
    "ipam": "every address has one owner; DHCP leases and routes",
}


def pytest_addoption(parser: pytest.Parser, pluginmanager: pytest.PytestPluginManager) -> None:
    # Registered while options are being collected: pytest replays pytest_addoption (a historic hook) for each,
    # and pytest_cmdline_main / pytest_configure come later, so every layer gets all its hooks.
    for info in sorted(pkgutil.iter_modules(plugin.__path__), key=lambda i: i.name):
        name = f"{plugin.__name__}.{info.name}"
        if pluginmanager.get_plugin(name) is None:
            pluginmanager.register(importlib.import_module(name), name)


def pytest_configure(config: pytest.Config) -> None:
    for name, text in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {text}")
