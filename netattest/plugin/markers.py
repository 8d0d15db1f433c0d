"""The suites' markers, registered by the plugin itself so that every way of running the suites knows them
(``netattest run``, ``pytest suites/`` in a checkout, ``pytest --pyargs netattest.suites``), with no ini file."""

from __future__ import annotations

import pytest

MARKERS = {
    "attachment": "pods got their secondary interfaces, on the right nodes",
    "reachability": "L2 reachability inside each VLAN (ARP and ICMP)",
    "mac": "MAC behaviour promised by the plugin (ipvlan shares, macvlan unique)",
    "isolation": "VLANs that must not be routed stay silent, with sanity twins",
    "nodes": "node pre-flight: labelled nodes are fit to carry the secondary networks (runs first)",
    "ipam": "every address has one owner; DHCP leases and routes",
}


def pytest_configure(config: pytest.Config) -> None:
    for name, text in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {text}")
