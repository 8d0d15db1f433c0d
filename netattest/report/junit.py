"""Make pytest's JUnit XML say what CI systems need: a *broken* test (the harness or target failed, not the
network) becomes ``<error>`` instead of ``<failure>``, counts follow, and the run's identity (run id, topology
and its SHA-256, target, kernel, harness version) and each test's netattest verdict and reason are properties."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from pathlib import Path
from typing import Any


def junit_address(nodeid: str) -> tuple[str, str]:
    """(classname, name) pytest's junitxml gives a node id (``mangle_test_address``)."""
    names = nodeid.split("::")
    names[0] = re.sub(r"\.py$", "", names[0].replace("/", "."))
    return ".".join(names[:-1]), names[-1]


def _properties(parent: ET.Element, index: int = 0) -> ET.Element:
    props = parent.find("properties")
    if props is None:
        props = ET.Element("properties")
        parent.insert(index, props)
    return props


def rewrite_junit(path: Path, outcomes: Mapping[str, Mapping[str, str]], run: Mapping[str, Any]) -> int:
    """Rewrite ``path`` in place; returns how many failures became errors. ``outcomes``: nodeid -> outcome."""
    if not path.exists():
        return 0
    tree = ET.parse(path)
    root = tree.getroot()
    suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
    by_address = {junit_address(nodeid): outcome for nodeid, outcome in outcomes.items()}
    converted = 0
    for suite in suites:
        props = _properties(suite)
        for name, value in run.items():
            ET.SubElement(props, "property", name=f"netattest.{name}", value=str(value))
        moved = 0
        for case in suite.iter("testcase"):
            outcome = by_address.get((case.get("classname", ""), case.get("name", "")))
            if outcome is None:
                continue
            case_props = _properties(case)
            ET.SubElement(case_props, "property", name="netattest.status", value=outcome["status"])
            if outcome.get("reason"):
                ET.SubElement(case_props, "property", name="netattest.reason", value=outcome["reason"])
            if outcome.get("check"):
                ET.SubElement(case_props, "property", name="netattest.check", value=outcome["check"])
            failure = case.find("failure")
            if outcome["status"] == "broken" and failure is not None:
                failure.tag = "error"
                failure.set("type", "broken")
                failure.set("message", f"broken: {outcome.get('reason', '')}")
                moved += 1
        if moved:
            suite.set("failures", str(int(suite.get("failures", "0")) - moved))
            suite.set("errors", str(int(suite.get("errors", "0")) + moved))
        converted += moved
    if root.tag == "testsuites" and converted:
        for attr in ("failures", "errors"):
            if root.get(attr) is not None:
                root.set(attr, str(sum(int(s.get(attr, "0")) for s in suites)))
    tree.write(path, encoding="utf-8", xml_declaration=True)
    return converted
