"""The evidence of real runs: `netattest run` on the embedded lab (macvlan-only, host kernel), once clean and once
mis-wired, and every file it writes parsed back and checked value by value.

The runs are made once per test session and shared with test_diff.py, test_report_allure.py and
test_report_browser.py: ``lab_run(tmp_path_factory, name)`` of tests/helpers/lab_runs.py.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from scapy.layers.l2 import ARP
from scapy.utils import rdpcap

from tests.conftest import REPO
from tests.helpers.html import parse
from tests.helpers.lab_runs import LabRun, fake_secrets, lab_run
from tests.helpers.plan import checks_with_status, planned, planned_ids
from tests.helpers.records import validate

pytestmark = pytest.mark.lab

@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> LabRun:
    return lab_run(tmp_path_factory, "clean")


@pytest.fixture(scope="module")
def miswired(tmp_path_factory: pytest.TempPathFactory) -> LabRun:
    return lab_run(tmp_path_factory, "miswired")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- summary.json -------------------------------------------------------------------------------------------------
def test_clean_run_summary_is_complete_and_true(clean: LabRun) -> None:
    assert clean.returncode == 0, clean.stdout
    summary = clean.json("summary.json")
    validate("run-summary", summary)
    assert summary["run_id"] == clean.id and summary["exit_status"] == 0 and summary["target"] == "lab"
    assert summary["capture"] == "all" and summary["problems"] == []
    topology_file = Path(summary["topology"]["file"])
    assert summary["topology"]["sha256"] == _sha256(topology_file)
    assert [n["vlan"] for n in summary["topology"]["networks"]] == [111, 112]
    counts = summary["counts"]
    assert counts == {s: sum(1 for t in summary["tests"] if t["status"] == s)
                      for s in ("passed", "failed", "broken", "skipped")}
    assert counts["failed"] == counts["broken"] == 0
    every_check = planned_ids(summary["topology"]["file"])
    assert every_check == (checks_with_status(summary, "passed", "test_l2_reachability")
                           | checks_with_status(summary, "passed", "test_isolation"))
    assert counts["passed"] > len(every_check)  # the other suites passed too
    macvlan = summary["environment"]["cni_plugins"]["macvlan"]
    assert macvlan["sha256"] == _sha256(Path(macvlan["path"])) and "macvlan" in macvlan["version"]
    assert "containernetworking-plugins" in macvlan["package"]
    assert summary["finished"] >= summary["started"]
    assert f"HTML report: {clean.dir}/report.html" in clean.stdout
    digest = re.search(r"manifest.json sha256 ([0-9a-f]{64})", clean.stdout)
    assert digest and digest.group(1) == _sha256(clean.dir / "manifest.json")


def test_mis_wired_run_summary_splits_failed_from_broken(miswired: LabRun, clean: LabRun) -> None:
    assert miswired.returncode == 1, miswired.stdout
    summary = miswired.json("summary.json")
    validate("run-summary", summary)
    reasons = {p["test"].split("::")[1]: p for p in summary["problems"]}
    leak = reasons["test_isolation[restricted->openshift:pod-a@node1->node1/ens192]"]
    assert leak["status"] == "failed" and "isolation broken" in leak["reason"] and "router rogue" in leak["reason"]
    deaf = reasons["test_isolation[restricted->openshift:pod-b@node1->gateway]"]
    assert deaf["status"] == "broken" and "pod-b@node3 cannot take part" in deaf["reason"]
    assert reasons["test_pod_placement[multus-test/pod-b]"]["status"] == "failed"
    assert summary["counts"]["broken"] == sum(1 for p in summary["problems"] if p["status"] == "broken") > 0
    assert summary["baseline"] and Path(summary["baseline"]).name == clean.id


# --- checks.json, probes.jsonl, pcaps -------------------------------------------------------------------------------
def test_checks_and_probes_agree_with_the_tests_and_the_wire(clean: LabRun) -> None:
    summary, doc = clean.json("summary.json"), clean.json("checks.json")
    validate("checks", doc)
    inventory = clean.json("inventory.json")
    validate("inventory", inventory)
    tests = {t["nodeid"]: t for t in summary["tests"]}
    from netattest.matrix import plan_checks
    from netattest.topology import load_topology
    planned = plan_checks(load_topology(summary["topology"]["file"]))
    assert {c.id for c in planned} <= {c["id"] for c in doc["checks"]}  # plus other suites' matrix checks
    assert doc["window"]["trustworthy"] and doc["window"]["kernel_drops"] == 0
    pods = {f"{p['namespace']}/{p['name']}": p for p in inventory["inventory"]["pods"]}
    for check in doc["checks"]:
        assert tests[check["test"]]["status"] == check["status"] == "passed"
        if check["expected"] == "reachable":
            assert check["answering_macs"] == [check["target_mac"]] and check["observed"] == "answered"
            assert check["twin"] is None
        else:
            assert check["answering_macs"] == [] and check["observed"] == "silent"
            assert check["twin"]["answers"] and check["twin"]["target_ip"].startswith("192.168.112.")
        if check["source"]["kind"] == "pod":
            source = pods[check["source"]["name"]]
            assert check["source"]["mac"] == source["interfaces"]["net1"]["mac"]
        packets = rdpcap(str(clean.dir / check["pcap"]))
        requests = [p for p in packets if p.haslayer(ARP) and p[ARP].op == 1]
        assert requests and all(p[ARP].hwsrc == check["source"]["mac"] for p in requests)
        if check["expected"] == "reachable":
            replies = [p for p in packets if p.haslayer(ARP) and p[ARP].op == 2 and p[ARP].psrc == check["target_ip"]]
            assert replies and {r[ARP].hwsrc for r in replies} == {check["target_mac"]}
    probes = [json.loads(line) for line in (clean.dir / "probes.jsonl").read_text().splitlines()]
    assert len(probes) == doc["window"]["probes"] + doc["sweep_window"]["probes"]
    by_check = {c["id"]: c for c in doc["checks"]}
    for probe in probes:
        validate("probe", probe)
        if not probe["check"]:  # the discovery sweep, canaries and the sweep's silent addresses asked again
            assert probe["id"].startswith("sweep:") or ":canary:" in probe["id"] or ":late-sweep:" in probe["id"]
            continue
        assert probe["check"] in by_check and probe["pcap"] == by_check[probe["check"]]["pcap"]
        assert bytes.fromhex(probe["sent_hex"])[6:12].hex(":") == probe["source"]["mac"]
    evidence = inventory["pod_evidence"]["multus-test/pod-a"]
    assert "macvlan mode bridge" in evidence["ip_addr"] and "192.168.112.11/24" in evidence["ip_addr"]
    nad = evidence["nad_as_applied"]
    assert "kind: NetworkAttachmentDefinition" in nad and "  config: |" in nad
    assert '"type": "macvlan"' in nad and '"master": "ens224"' in nad and '"mode": "bridge"' in nad


def test_capture_failed_keeps_pcaps_of_failures_only(miswired: LabRun) -> None:
    doc = miswired.json("checks.json")
    for check in doc["checks"]:
        probed = check["observed"] not in ("not probed",)
        assert bool(check["pcap"]) == (check["status"] != "passed" and probed), check["id"]
    assert {p.name for p in (miswired.dir / "pcaps").iterdir()} == {Path(c["pcap"]).name for c in doc["checks"]
                                                                     if c["pcap"]}


def test_capture_none_writes_no_pcap(tmp_path_factory: pytest.TempPathFactory) -> None:
    silent = lab_run(tmp_path_factory, "silent")
    assert silent.returncode == 0, silent.stdout
    doc = silent.json("checks.json")
    assert doc["capture"] == "none" and doc["checks"] and all(c["pcap"] is None for c in doc["checks"])
    assert not (silent.dir / "pcaps").exists()
    results = [json.loads(p.read_text()) for p in (silent.dir / "allure-results").glob("*-result.json")]
    assert not [a for r in results for s in r.get("steps", []) for a in s.get("attachments", [])
                if a["type"] == "application/vnd.tcpdump.pcap"]


# --- JUnit ------------------------------------------------------------------------------------------------------------
def test_junit_counts_properties_and_broken_as_error(clean: LabRun, miswired: LabRun) -> None:
    for run in (clean, miswired):
        summary = run.json("summary.json")
        suite = ET.parse(run.dir / "junit.xml").getroot().find("testsuite")
        assert suite is not None
        counts = summary["counts"]
        assert int(suite.get("tests", 0)) == sum(counts.values())
        assert int(suite.get("failures", 0)) == counts["failed"] and int(suite.get("errors", 0)) == counts["broken"]
        assert int(suite.get("skipped", 0)) == counts["skipped"]
        props = {p.get("name"): p.get("value") for p in suite.find("properties")}  # type: ignore[union-attr]
        assert props["netattest.run_id"] == summary["run_id"]
        assert props["netattest.topology_sha256"] == summary["topology"]["sha256"]
        problems = {p["test"].split("::")[1]: p for p in summary["problems"]}
        for case in suite.iter("testcase"):
            case_props = {p.get("name"): p.get("value") for p in case.iter("property")}
            problem = problems.get(case.get("name", ""))
            if problem is None:
                assert case.find("failure") is None and case.find("error") is None
                continue
            assert case_props["netattest.status"] == problem["status"]
            assert case_props["netattest.reason"] == problem["reason"]
            assert case.find("failure" if problem["status"] == "failed" else "error") is not None


# --- integrity and secrets --------------------------------------------------------------------------------------------
def test_manifest_covers_every_file_and_catches_tampering(clean: LabRun, tmp_path: Path) -> None:
    manifest = clean.json("manifest.json")
    validate("manifest", manifest)
    listed = {f["path"] for f in manifest["files"]}
    present = {p.relative_to(clean.dir).as_posix() for p in clean.dir.rglob("*") if p.is_file()}
    assert present - listed == {"manifest.json", "SHA256SUMS"}
    assert {"summary.json", "checks.json", "inventory.json", "probes.jsonl", "junit.xml", "report.html"} <= listed
    assert any(p.startswith("pcaps/") for p in listed) and any(p.startswith("allure-results/") for p in listed)
    for entry in manifest["files"][:50]:
        assert _sha256(clean.dir / entry["path"]) == entry["sha256"]
    assert subprocess.run(["sha256sum", "--quiet", "-c", "SHA256SUMS"], cwd=clean.dir, check=False).returncode == 0
    cli = [sys.executable, "-m", "netattest.cli", "report", "--verify"]
    ok = subprocess.run([*cli, str(clean.dir)], cwd=REPO, capture_output=True, text=True, check=False)
    assert ok.returncode == 0 and "all intact" in ok.stdout
    copy = tmp_path / clean.id
    shutil.copytree(clean.dir, copy)
    checks = copy / "checks.json"
    checks.write_text(checks.read_text().replace('"status": "passed"', '"status": "failed"', 1))
    bad = subprocess.run([*cli, str(copy)], cwd=REPO, capture_output=True, text=True, check=False)
    assert bad.returncode == 1 and "MODIFIED  checks.json" in bad.stdout and "EVIDENCE CHANGED" in bad.stdout


def test_no_secret_reaches_any_report_file(clean: LabRun, tmp_path_factory: pytest.TempPathFactory) -> None:
    planted, kubeconfig = fake_secrets(tmp_path_factory.getbasetemp() / "netattest-report-runs")
    kubeconfig_text = kubeconfig.read_text()
    files = [p for p in clean.dir.rglob("*") if p.is_file()]
    assert len(files) > 100
    for path in files:
        data = path.read_bytes()
        for secret in planted.all():
            assert secret.encode() not in data, f"{secret[:10]}... leaked into {path}"
        assert kubeconfig_text.encode() not in data and b"NETATTEST_FAKE_API_TOKEN" not in data, path
        assert b"KUBECONFIG" not in data, path
    summary = clean.json("summary.json")
    assert "[REDACTED]" in summary["topology"]["description"]  # the planted description was scrubbed
    assert "ops token [REDACTED]" in summary["topology"]["description"]


# --- Allure results ---------------------------------------------------------------------------------------------------
MY_SUITES = ("suites.test_reachability", "suites.test_isolation", "suites.test_mac", "suites.test_attachment")


def _allure(run: LabRun) -> list[dict]:
    return [json.loads(p.read_text()) for p in (run.dir / "allure-results").glob("*-result.json")]


def _labels(result: dict, name: str) -> list[str]:
    return [label["value"] for label in result["labels"] if label["name"] == name]


def test_allure_results_carry_labels_parameters_steps_and_attachments(clean: LabRun) -> None:
    results = [r for r in _allure(clean) if r["fullName"].startswith(MY_SUITES) and r["status"] != "skipped"]
    summary = clean.json("summary.json")
    matrix = {f"test_l2_reachability[{c.id}]" if c.verdict == "reachable" else f"test_isolation[{c.id}]"
              for c in planned(summary["topology"]["file"])}
    assert matrix <= {r["name"] for r in results}, "every planned check has its Allure result"
    assert len(_allure(clean)) == sum(summary["counts"].values())
    for result in results:
        assert _labels(result, "epic") and _labels(result, "feature") and _labels(result, "story"), result["name"]
        params = {p["name"]: p for p in result["parameters"]}
        steps = [s["name"].split(":")[0] for s in result["steps"]]
        assert steps[0] == "setup" and steps[-1] == "verdict", (result["name"], steps)
        assert all(p.get("excluded") for name, p in params.items() if name in ("source", "node", "plugin", "VLAN"))
        names = {a["name"].split(" (")[0] for s in result["steps"] for a in s.get("attachments", [])}
        assert {"pod manifest", "network-status annotation"} <= names, result["name"]
        assert any(n.startswith("ip -d addr inside") for n in names)
    # the node and IPAM suites tell the same story: what was read, then the verdict
    others = [r for r in _allure(clean) if r["fullName"].startswith(("suites.test_nodes", "suites.test_ipam"))
              and r["status"] != "skipped"]
    assert {r["fullName"].split(".")[1].split("#")[0] for r in others} == {"test_nodes", "test_ipam"}
    for result in others:
        steps = [s["name"].split(":")[0] for s in result["steps"]]
        assert steps[0] == "setup" and steps[-1] == "verdict", (result["name"], steps)
        assert result["steps"][0].get("attachments"), result["name"]
    reach = next(r for r in results if r["name"] == "test_l2_reachability[restricted:pod-a@node1->ext-host]")
    assert (_labels(reach, "epic") == ["network VLAN 112 restricted"]
            and _labels(reach, "story") == ["VLAN 112 restricted"])
    assert _labels(reach, "feature") == ["L2 reachability"]
    params = {p["name"]: p["value"] for p in reach["parameters"]}
    assert params["reach_check"] == "'restricted:pod-a@node1->ext-host'" and params["source"] == "'pod-a@node1 net1'"
    assert params["target"] == "'ext-host'" and params["plugin"] == "'macvlan bridge'" and params["node"] == "'node1'"
    attachments = {a["name"]: a for s in reach["steps"] for a in s.get("attachments", [])}
    nad = (clean.dir / "allure-results" / attachments["NAD as applied (pod-a)"]["source"]).read_text()
    assert "NetworkAttachmentDefinition" in nad and '"master": "ens224"' in nad
    ip_addr = (clean.dir / "allure-results" / attachments["ip -d addr inside pod-a"]["source"]).read_text()
    assert "net1@" in ip_addr and "macvlan mode bridge" in ip_addr
    transcript = (clean.dir / "allure-results" / attachments["probe transcript"]["source"]).read_text()
    assert "ARP who-has 192.168.112.1" in transcript and "(host ext-host)" in transcript
    pcap = attachments["probe traffic (pcap)"]
    assert pcap["type"] == "application/vnd.tcpdump.pcap"
    frames = rdpcap(str(clean.dir / "allure-results" / pcap["source"]))
    kinds = {(p[ARP].op if p.haslayer(ARP) else "icmp") for p in frames}
    assert kinds == {1, 2, "icmp"} and len(frames) >= 4  # who-has, is-at, echo request and reply
    iso = next(r for r in results if r["name"].startswith("test_isolation[restricted->openshift:pod-a@node1->"))
    assert _labels(iso, "story") == ["VLAN 112 restricted -> VLAN 111 openshift"]
    allure_dir = clean.dir / "allure-results"
    env = (allure_dir / "environment.properties").read_text()
    assert f"Run.id={clean.id}" in env and f"Topology.SHA-256={summary['topology']['sha256']}" in env
    assert "CNI.macvlan=CNI macvlan plugin version unknown" in env and "Target=lab" in env
    executor = json.loads((allure_dir / "executor.json").read_text())
    assert executor["buildName"] == f"netattest run {clean.id}"
    assert json.loads((allure_dir / "categories.json").read_text())[0]["name"].startswith("Isolation broken")


def test_allure_statuses_follow_failed_versus_broken(miswired: LabRun) -> None:
    summary = miswired.json("summary.json")
    status_of = {p["test"].split("::")[1]: p["status"] for p in summary["problems"]}
    results = {r["name"]: r for r in _allure(miswired)}
    for name, status in status_of.items():
        assert results[name]["status"] == status, name
    leak = results["test_isolation[restricted->openshift:pod-a@node1->node1/ens192]"]
    verdict = leak["steps"][-1]
    assert verdict["status"] == "failed" and verdict["name"].startswith("verdict: failed: isolation broken")
    assert any(a["type"] == "application/vnd.tcpdump.pcap" for s in leak["steps"] for a in s.get("attachments", []))
    passed = results["test_l2_reachability[restricted:pod-a@node1->ext-host]"]
    assert passed["status"] == "passed"
    assert not any(a["type"] == "application/vnd.tcpdump.pcap"
                   for s in passed["steps"] for a in s.get("attachments", []))
    placement = results["test_pod_placement[multus-test/pod-b]"]
    assert placement["steps"][-1]["name"].startswith("verdict:") and placement["steps"][-1]["status"] == "failed"
    mac = results["test_mac_behaviour[net1-macvlan:mac-c@node2:net1]"]
    assert mac["status"] == "passed"


# --- the HTML report of a real run ------------------------------------------------------------------------------------
def test_html_report_of_a_real_run_matches_its_records(miswired: LabRun, clean: LabRun) -> None:
    dom = parse((miswired.dir / "report.html").read_text())
    doc, summary = miswired.json("checks.json"), miswired.json("summary.json")
    assert dom.ids["verdict"].text == "EXPECTATIONS FAILED"
    cells = [td for td in dom.ids["matrix"].find_all("td") if td.attrs.get("data-status") not in (None, "none")]
    assert len(cells) == len(doc["checks"])
    status_by_anchor = {a.attrs["href"].lstrip("#"): td.attrs["data-status"] for td in cells for a in td.find_all("a")}
    from netattest.report.records import slug
    assert status_by_anchor == {"check-" + slug(c["id"]): c["status"] for c in doc["checks"]}
    mac_rows = dom.ids["mac-table"].find("tbody").find_all("tr")
    inventory = miswired.json("inventory.json")["inventory"]
    assert len(mac_rows) == sum(len(p["attachments"]) for p in inventory["pods"]) == 6
    assert len(dom.ids["failures"].find("ul", class_="failures").find_all("li")) == len(summary["problems"])
    diff = dom.ids["diff"].text
    assert f"Changes since baseline run {clean.id}" in diff and "pod multus-test/pod-b moved: node1 → node3" in diff
    assert "new host rogue on openshift (router)" in diff
    for link in dom.root.find_all("a", class_="pcap"):
        assert (miswired.dir / link.attrs["href"]).is_file()
