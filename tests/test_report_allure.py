"""`netattest report`: the Allure HTML report made by the real Allure command line (npm allure-commandline, Java),
with history and trends across runs, generated from two real runs; the runs' evidence stays untouched."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from netattest.matrix import plan_checks
from netattest.topology import load_topology
from tests.conftest import REPO


def _report(reports: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "netattest.cli", "report", "--reports-dir", str(reports), *args],
                          cwd=REPO, capture_output=True, text=True, timeout=600, check=False)


@pytest.mark.lab
@pytest.mark.needs("allure")
def test_allure_report_with_history_and_trends(tmp_path: Path,
                                               tmp_path_factory: pytest.TempPathFactory) -> None:
    from tests.helpers.lab_runs import lab_run
    clean, miswired = lab_run(tmp_path_factory, "clean"), lab_run(tmp_path_factory, "miswired")
    CLEAN_ID, MISWIRED_ID = clean.id, miswired.id
    reports = tmp_path / "reports"
    for run in (clean, miswired):
        shutil.copytree(run.dir, reports / run.dir.name)

    first = _report(reports, CLEAN_ID, "--no-single-file")
    assert first.returncode == 0, first.stdout + first.stderr
    assert f"Allure report of run {CLEAN_ID} (history point #1, allure 2." in first.stdout
    second = _report(reports)  # the latest run by default, with the one-file version
    assert second.returncode == 0, second.stdout + second.stderr
    assert f"Allure report of run {MISWIRED_ID} (history point #2" in second.stdout

    root = reports / "allure"
    out = root / MISWIRED_ID
    assert (out / "index.html").is_file() and (root / "latest").resolve() == out.resolve()
    single = (out / "single-file.html").read_text()
    assert len(single) > 500_000 and "<script" in single  # the whole report in one file: opens from disk
    trend = json.loads((out / "widgets" / "history-trend.json").read_text())
    summaries = {run.dir.name: run.json("summary.json") for run in (clean, miswired)}
    assert [(p["buildOrder"], p["reportUrl"]) for p in trend] == [(2, f"../{MISWIRED_ID}/index.html"),
                                                                    (1, f"../{CLEAN_ID}/index.html")]
    for point in trend:
        counts = summaries[point["reportUrl"].split("/")[1]]["counts"]
        assert {k: point["data"][k] for k in counts} == counts
    environment = {e["name"]: e["values"] for e in json.loads((out / "widgets" / "environment.json").read_text())}
    assert environment["Run.id"] == [MISWIRED_ID] and environment["Target"] == ["lab"]
    assert environment["Topology.SHA-256"] == [summaries[MISWIRED_ID]["topology"]["sha256"]]
    categories = {c["name"]: c for c in json.loads((out / "widgets" / "categories.json").read_text())["items"]}
    # the rogue router leaks every isolated pair, except those of the pod the drift moved away (judged broken)
    miswired_topology = load_topology(summaries[MISWIRED_ID]["topology"]["file"])
    leaking = [c for c in plan_checks(miswired_topology) if c.verdict == "isolated"
               and c.source.name.split("/")[-1] not in miswired_topology.lab.drift.pod_node]
    isolation_broken = categories["Isolation broken: a VLAN answers that must stay silent"]
    assert isolation_broken["statistic"]["failed"] == len(leaking)
    behaviors = json.loads((out / "data" / "behaviors.json").read_text())
    epics = {child["name"] for child in behaviors["children"]}
    assert "network VLAN 112 restricted" in epics

    # a test's page: steps and attachments, with the pcap of a failed check typed as PCAP
    cases = [json.loads(p.read_text()) for p in (out / "data" / "test-cases").glob("*.json")]
    leak = next(c for c in cases if c["name"] == "test_isolation[restricted->openshift:pod-a@node1->node1/ens192]")
    assert leak["status"] == "failed"
    steps = leak["testStage"]["steps"]
    names = [s["name"].split(":")[0] for s in steps]
    assert names[0] == "setup" and names[1] == "L2" and names[-1] == "verdict"
    assert any(n.startswith("L3 through next hop router rogue") for n in names)
    assert any(n.startswith("target side (openshift)") for n in names)
    types = {a["type"] for s in steps for a in s["attachments"]}
    assert "application/vnd.tcpdump.pcap" in types and "application/yaml" in types

    # regenerating a run already in the history does not count it twice
    again = _report(reports, CLEAN_ID, "--no-single-file")
    assert again.returncode == 0 and "history point #1" in again.stdout
    assert json.loads((root / "history.json").read_text())["runs"] == [CLEAN_ID, MISWIRED_ID]
    assert len(json.loads((root / CLEAN_ID / "widgets" / "history-trend.json").read_text())) == 1

    # the runs' own evidence was only read
    for run_id in (CLEAN_ID, MISWIRED_ID):
        verified = _report(reports, "--verify", run_id)
        assert verified.returncode == 0 and "all intact" in verified.stdout, verified.stdout


def test_report_without_runs_says_what_to_do(tmp_path: Path) -> None:
    proc = _report(tmp_path)
    assert proc.returncode == 2 and "no runs in" in proc.stderr and "netattest run" in proc.stderr


def test_childless_containers_are_not_written_and_the_logger_is_put_back(tmp_path: Path) -> None:
    from allure_commons import plugin_manager
    from allure_commons.logger import AllureFileLogger
    from allure_commons.model2 import TestResultContainer

    from netattest.report.allure_files import FileLoggerWithoutEmptyContainers, drop_empty_containers

    original = AllureFileLogger(tmp_path)
    plugin_manager.register(original)
    cleanups: list = []
    try:
        assert drop_empty_containers(tmp_path, cleanups.append)
        assert not plugin_manager.is_registered(original)
        plugin_manager.hook.report_container(container=TestResultContainer(uuid="empty", children=[]))
        plugin_manager.hook.report_container(container=TestResultContainer(uuid="full", children=["a-test-uuid"]))
        written = [json.loads(p.read_text()) for p in tmp_path.glob("*-container.json")]
        assert [c["uuid"] for c in written] == ["full"]
        for cleanup in reversed(cleanups):
            cleanup()
        assert plugin_manager.is_registered(original)
        assert not any(isinstance(p, FileLoggerWithoutEmptyContainers) for p in plugin_manager.get_plugins())
    finally:
        if plugin_manager.is_registered(original):
            plugin_manager.unregister(original)
