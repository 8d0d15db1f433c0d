"""Shared helpers for the harness's own tests."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.register_assert_rewrite("tests.helpers")  # helpers' asserts explain themselves like the tests' own

from netattest.inventory import Inventory
from netattest.lab.lab import Lab
from netattest.topology import load_topology

REPO = Path(__file__).resolve().parents[1]
SEED = REPO / "topologies" / "restricted-vlan.yaml"
MACVLAN_ONLY = REPO / "topologies" / "macvlan-only.yaml"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.geteuid() == 0:
        return
    skip = pytest.mark.skip(reason="needs root to create network namespaces (run the tests as root)")
    for item in items:
        if "lab" in item.keywords:
            item.add_marker(skip)


def with_lab_section(text: str, lab_yaml: str) -> str:
    """The seed text with a ``lab:`` section appended (drift and mis-wiring for detection tests)."""
    return text.rstrip() + "\n\nlab:\n" + "\n".join("  " + line for line in lab_yaml.strip().splitlines()) + "\n"


@pytest.fixture(scope="module")
def macvlan_lab() -> Iterator[tuple[Lab, Inventory]]:
    """The macvlan-only lab and its inventory, shared by a module's tests (torn down when the module ends)."""
    from tests.cluster_lab import lab_up

    with lab_up(MACVLAN_ONLY) as built:
        yield built


@pytest.fixture
def nodes_only_lab() -> Iterator[Lab]:
    """The macvlan-only lab built up to its nodes (no pod), as the node pre-flight sees it; torn down after."""
    built = Lab(load_topology(MACVLAN_ONLY))
    built.up(stage="nodes")
    try:
        yield built
    finally:
        built.down()
