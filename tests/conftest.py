"""Shared helpers for the harness's own tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

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
