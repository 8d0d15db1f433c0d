"""Shared helpers for the harness's own tests."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.register_assert_rewrite("tests.helpers")  # helpers' asserts explain themselves like the tests' own

from netattest.inventory import Inventory  # noqa: E402 - after the rewrite registration above
from netattest.lab.lab import Lab  # noqa: E402
from netattest.topology import load_topology  # noqa: E402
from tests.helpers.needs import REQUIREMENTS, missing, unavailable  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SEED = REPO / "topologies" / "restricted-vlan.yaml"
MACVLAN_ONLY = REPO / "topologies" / "macvlan-only.yaml"


#: what the ``lab`` marker implies: the lab's network namespaces
LAB_NEEDS = ("root", "iproute2")
_SKIPPED_FOR: pytest.StashKey[Counter[str]] = pytest.StashKey()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "needs(*requirements): what the test needs from the machine (see "
                                       f"tests/helpers/needs.py: {', '.join(sorted(REQUIREMENTS))}); skipped "
                                       "without it, failed without it under CI=true")
    config.stash[_SKIPPED_FOR] = Counter()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Check ``needs`` (and ``lab``) before any fixture runs, so no lab is half-built for nothing."""
    names = [*LAB_NEEDS] if item.get_closest_marker("lab") else []
    for marker in item.iter_markers("needs"):
        names += [name for name in marker.args if name not in names]
    reasons = missing(*names)
    if reasons:
        item.config.stash[_SKIPPED_FOR].update(reasons)
        unavailable("; ".join(reasons))


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    """Say loudly what this machine could not test: a skipped test is not a passed one."""
    skipped = config.stash.get(_SKIPPED_FOR, Counter())
    if not skipped:
        return
    terminalreporter.section("NOT TESTED on this machine", sep="!", yellow=True, bold=True)
    for reason, count in skipped.most_common():
        terminalreporter.write_line(f"{count:5} tests skipped: {reason}", yellow=True)
    terminalreporter.write_line("(with CI=true each of them fails instead)")


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
