"""Machine records, pcaps, transcripts, the scrubber, the manifest, JUnit and Allure metadata — without a lab.

A scripted network answers the probes of a small topology and hands back real frames, so every writer runs on the
same objects a lab run produces; the lab runs themselves are in test_report_runs.py.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from scapy.layers.inet import ICMP
from scapy.layers.l2 import ARP, Ether
from scapy.utils import rdpcap

from netattest.probe.engine import Probe
from netattest.report import records
from netattest.report.allure_env import CATEGORIES, environment_entries, environment_properties
from netattest.report.junit import rewrite_junit
from netattest.report.manifest import verify, write_manifest
from netattest.report.pcap import pcap_bytes, read_pcap
from netattest.report.scrub import REDACTED, Scrubber, known_secrets
from netattest.report.transcript import transcript
from tests.helpers.records import MACS, T0, judged, leaky, validate


# --- pcaps and transcripts ---------------------------------------------------------------------------------------
def test_pcap_is_a_classic_pcap_that_scapy_reads(tmp_path: Path) -> None:
    run, _ = judged()
    outcome = run.outcomes["restricted:pod-a@node1->pod-c@node1"]
    data = records.check_pcap(outcome, "all")
    assert data is not None and data[:4] == bytes.fromhex("d4c3b2a1")  # little-endian magic
    path = tmp_path / "x.pcap"
    path.write_bytes(data)
    packets = rdpcap(str(path))
    assert len(packets) == 4  # ARP request + reply, ICMP request + reply
    arp_reply = next(p for p in packets if p.haslayer(ARP) and p[ARP].op == 2)
    assert arp_reply[ARP].hwsrc == MACS["pod-c"] and arp_reply[ARP].psrc == "192.168.112.21"
    assert float(packets[0].time) == pytest.approx(T0, abs=1e-6)
    assert [round(t, 6) for t, _ in read_pcap(data)] == sorted(round(t, 6) for t, _ in read_pcap(data))


def test_pcap_timestamps_carry_over_a_full_second() -> None:
    frames = read_pcap(pcap_bytes([(10.9999996, b"\x00" * 60)]))
    assert frames == [(11.0, b"\x00" * 60)]


def test_capture_mode_decides_which_checks_get_a_pcap() -> None:
    run, _ = judged(leaky)
    passed = run.outcomes["restricted:pod-a@node1->pod-c@node1"]
    failed = run.outcomes["restricted->openshift:pod-a@node1->node1/ens192"]
    assert failed.status == "failed" and passed.status == "passed"
    assert records.check_pcap(failed, "failed") and records.check_pcap(failed, "all")
    assert records.check_pcap(passed, "failed") is None and records.check_pcap(passed, "all")
    assert records.check_pcap(failed, "none") is None


def test_check_record_and_transcript_say_who_answered() -> None:
    run, inventory = judged(leaky)
    outcome = run.outcomes["restricted->openshift:pod-a@node1->node1/ens192"]
    record = records.check_record(outcome, records.mac_owners(inventory), test="suites/x.py::t[...]")
    assert record["expected"] == "isolated" and record["observed"] == "answered" and record["status"] == "failed"
    assert record["target_ip"] == "192.168.111.21" and record["target_mac"] == MACS["ens192"]
    assert record["answering_macs"] == ["02:66:00:00:00:01"]
    assert record["source"]["ip"] == "192.168.112.11" and record["source"]["mac"] == MACS["pod-a"]
    assert record["twin"]["answers"][0]["owner"] == "host ext-host"
    text = transcript(record)
    assert "check   restricted->openshift:pod-a@node1->node1/ens192" in text
    assert "<- 192.168.111.21 is-at 02:66:00:00:00:01 (unknown host (not in the topology))" in text
    assert "sanity twin" in text and "verdict failed: isolation broken" in text


# --- the records written into a run directory ----------------------------------------------------------------------
@pytest.mark.parametrize("capture", ["all", "failed", "none"])
def test_records_follow_their_schemas_and_reference_real_pcaps(tmp_path: Path, capture: str) -> None:
    run, inventory = judged(leaky)
    count = records.write_checks(tmp_path, run, inventory, {}, capture, "0000abcd")
    records.write_inventory(tmp_path, inventory, {"t/pod-a": {"node": "node1", "ip_addr": "1: lo"}}, "0000abcd")
    text = (tmp_path / "checks.json").read_text()
    doc = json.loads(text)
    assert text == json.dumps(doc, indent=1), "the streamed checks.json is not what one json.dumps would write"
    validate("checks", doc)
    validate("inventory", json.loads((tmp_path / "inventory.json").read_text()))
    assert doc["capture"] == capture and doc["window"]["trustworthy"] is True
    assert len(doc["checks"]) == len(run.outcomes) == count
    lines = [json.loads(line) for line in (tmp_path / "probes.jsonl").read_text().splitlines()]
    assert len(lines) == len(run.results) + len(run.sweep_results)  # the matrix window and the discovery sweep
    for line in lines:
        validate("probe", line)
    with_pcap = {c["id"] for c in doc["checks"] if c["pcap"]}
    expected = {"all": {c["id"] for c in doc["checks"]},
                "failed": {c["id"] for c in doc["checks"] if c["status"] != "passed"}, "none": set()}[capture]
    assert with_pcap == expected
    for check in doc["checks"]:
        if check["pcap"]:
            assert len(rdpcap(str(tmp_path / check["pcap"]))) >= 2
    assert {line["pcap"] for line in lines if line["pcap"]} == {c["pcap"] for c in doc["checks"] if c["pcap"]}
    wire = {(w["pod"], w["iface"]): w["macs"] for w in doc["wire_macs"]}
    assert wire[("t/pod-c", "net1")] == [MACS["pod-c"]]


# --- secrets ---------------------------------------------------------------------------------------------------------
FAKE_JWT = "eyJhbGciOiJSUzI1NiIsImtpZCI6IiJ9.eyJpc3MiOiJrdWJlcm5ldGVzL3NlcnZpY2VhY2NvdW50In0.c2lnbmF0dXJlLXg"


def test_scrubber_removes_credential_shapes() -> None:
    scrub = Scrubber()
    for text, secret in [
        ("Authorization: Bearer abcdefghijklmnop123", "abcdefghijklmnop123"),
        (f"token was {FAKE_JWT} here", FAKE_JWT),
        ("users:\n- name: x\n  user:\n    token: sha256~ZmFrZS10b2tlbi12YWx1ZQ\n", "sha256~ZmFrZS10b2tlbi12YWx1ZQ"),
        ('{"client-key-data": "LS0tLS1CRUdJTiBSU0EgUFJJVkFURSBLRVktLS0tLQo="}',
         "LS0tLS1CRUdJTiBSU0EgUFJJVkFURSBLRVktLS0tLQo="),
        ("-----BEGIN RSA PRIVATE KEY-----\\nMIIEowIBAAKCAQEA7\\n-----END RSA PRIVATE KEY-----", "MIIEowIBAAKCAQEA7"),
        ("kubectl --token=s3cr3tvalue get pods", "s3cr3tvalue"),
        ("password: hunter2hunter2", "hunter2hunter2"),
    ]:
        clean = scrub.text(text)
        assert secret not in clean and REDACTED in clean, text
    ordinary = "isolation broken: node node1/ens192 (192.168.111.21) answered ARP: basic connectivity token-free"
    assert scrub.text(ordinary) == ordinary


def test_known_secrets_come_from_kubeconfig_files_and_secret_named_variables(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "config"
    kubeconfig.write_text("apiVersion: v1\nkind: Config\nusers:\n- name: admin\n  user:\n"
                          "    token: plainlookingvalue42\n    client-key-data: QUJDREVGR0hJSktMTU5PUA==\n")
    secrets = known_secrets([kubeconfig], environ={"MY_API_TOKEN": "another-secret-1", "HOME": "/root"})
    assert {"plainlookingvalue42", "QUJDREVGR0hJSktMTU5PUA==", "another-secret-1"} <= secrets
    assert "/root" not in secrets
    scrub = Scrubber(secrets)
    assert "plainlookingvalue42" not in scrub.text("reason: saw plainlookingvalue42 in a message")


def test_scrubbing_a_tree_rewrites_only_text_files(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text(json.dumps({"reason": "Authorization: Bearer abcdefghijklmnop"}))
    (tmp_path / "b.bin").write_bytes(b"\xff\xfe Bearer abcdefghijklmnop")
    changed = Scrubber().tree(tmp_path)
    assert changed == [tmp_path / "a.json"]
    assert "abcdefghijklmnop" not in (tmp_path / "a.json").read_text()


def test_scrubbing_large_files_in_chunks_cuts_no_secret_in_two(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from netattest.report import scrub

    monkeypatch.setattr(scrub, "CHUNK", 64)  # far smaller than the PEM block and the lines around it
    literal = "s3cr3t-literal-value"
    pem = "-----BEGIN RSA PRIVATE KEY-----\n" + "\n".join(["QUJDREVGR0hJSktMTU5PUA=="] * 12) + \
          "\n-----END RSA PRIVATE KEY-----\n"
    lines = [f"line {i}: nothing to hide, Grüße\n" for i in range(40)]
    text = "".join(lines[:7]) + pem + "".join(lines[7:20]) + f"token: {literal}\n" + "".join(lines[20:]) + literal
    (tmp_path / "big.txt").write_text(text)
    (tmp_path / "clean.txt").write_text("".join(lines))
    before = (tmp_path / "clean.txt").stat().st_mtime_ns
    changed = Scrubber([literal]).tree(tmp_path)
    assert changed == [tmp_path / "big.txt"]
    out = (tmp_path / "big.txt").read_text()
    assert "QUJDREVGR0hJSktMTU5PUA" not in out and literal not in out and out.count("[REDACTED]") >= 3
    assert out.replace(scrub.REDACTED, "").count("Grüße") == 40, "text around the secrets was damaged"
    assert (tmp_path / "clean.txt").stat().st_mtime_ns == before and not list(tmp_path.glob("*.scrub"))


# --- the manifest -----------------------------------------------------------------------------------------------------
def test_manifest_lists_every_file_and_detects_changes(tmp_path: Path) -> None:
    (tmp_path / "summary.json").write_text("{}")
    (tmp_path / "pcaps").mkdir()
    (tmp_path / "pcaps" / "x.pcap").write_bytes(pcap_bytes([(T0, b"\x01" * 60)]))
    digest = write_manifest(tmp_path, "0000abcd")
    text = (tmp_path / "manifest.json").read_text()
    manifest = json.loads(text)
    validate("manifest", manifest)
    assert [f["path"] for f in manifest["files"]] == ["pcaps/x.pcap", "summary.json"]
    assert manifest["count"] == 2 and manifest["total_bytes"] == sum(f["size"] for f in manifest["files"])
    assert text == json.dumps(manifest, indent=1) + "\n", "the streamed manifest is not one json.dumps"
    assert digest == hashlib.sha256(text.encode()).hexdigest()
    assert verify(tmp_path).ok
    proc = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=tmp_path, capture_output=True, text=True,
                          check=False)
    assert proc.returncode == 0 and "summary.json: OK" in proc.stdout
    (tmp_path / "summary.json").write_text('{"exit_status": 0}')
    (tmp_path / "pcaps" / "x.pcap").unlink()
    (tmp_path / "extra.txt").write_text("added later")
    result = verify(tmp_path)
    assert not result.ok
    assert (result.modified, result.missing, result.unlisted) == (["summary.json"], ["pcaps/x.pcap"], ["extra.txt"])


# --- JUnit and Allure metadata ----------------------------------------------------------------------------------------
JUNIT = """<?xml version="1.0" encoding="utf-8"?><testsuites name="pytest tests"><testsuite name="pytest" errors="0"
failures="2" skipped="0" tests="3" time="1.0"><testcase classname="suites.test_isolation" name="test_isolation[a-&gt;b]"
time="0.1"><failure message="AssertionError: isolation broken">trace</failure></testcase><testcase
classname="suites.test_isolation" name="test_isolation[a-&gt;c]" time="0.1"><failure message="BrokenEvidence: deaf">t
</failure></testcase><testcase classname="suites.test_mac" name="test_mac_behaviour[x]" time="0.1" /></testsuite>
</testsuites>"""


def test_junit_reports_broken_tests_as_errors_with_properties(tmp_path: Path) -> None:
    path = tmp_path / "junit.xml"
    path.write_text(JUNIT)
    outcomes = {"suites/test_isolation.py::test_isolation[a->b]": {"status": "failed", "reason": "isolation broken",
                                                                    "check": "a->b"},
                "suites/test_isolation.py::test_isolation[a->c]": {"status": "broken", "reason": "deaf probe"},
                "suites/test_mac.py::test_mac_behaviour[x]": {"status": "passed", "reason": ""}}
    assert rewrite_junit(path, outcomes, {"run_id": "0000abcd", "topology_sha256": "f" * 64}) == 1
    suite = ET.parse(path).getroot().find("testsuite")
    assert suite is not None and (suite.get("failures"), suite.get("errors")) == ("1", "1")
    props = {p.get("name"): p.get("value") for p in suite.find("properties")}  # type: ignore[union-attr]
    assert props["netattest.run_id"] == "0000abcd" and props["netattest.topology_sha256"] == "f" * 64
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    broken = cases["test_isolation[a->c]"]
    assert broken.find("failure") is None and broken.find("error").get("type") == "broken"  # type: ignore[union-attr]
    failed_props = {p.get("name"): p.get("value") for p in cases["test_isolation[a->b]"].iter("property")}
    assert failed_props == {"netattest.status": "failed", "netattest.reason": "isolation broken",
                            "netattest.check": "a->b"}


def test_allure_environment_is_escaped_and_categories_match_real_reasons() -> None:
    summary = {"run_id": "0000abcd", "started": T0, "finished": T0 + 3, "target": "lab", "kernel": "6.1",
               "harness_version": "0.1.0", "capture": "failed",
               "topology": {"name": "small", "file": "/t/small.yaml", "sha256": "a" * 64},
               "environment": {"kernel_kind": "host kernel", "os": "Debian", "python": "3.11",
                               "cni_plugins": {"macvlan": {"version": "CNI macvlan plugin version unknown",
                                                           "package": "containernetworking-plugins 1.1.1",
                                                           "sha256": "b" * 64}}}}
    entries = environment_entries(summary)
    assert entries["Topology.SHA-256"] == "a" * 64 and entries["CNI.macvlan.sha256"] == "b" * 64
    text = environment_properties(entries)
    assert "Run.id=0000abcd\n" in text and "Topology.file=/t/small.yaml\n" in text
    assert all(ord(c) < 127 for c in text)

    def category(status: str, message: str) -> str:
        return next(c["name"] for c in CATEGORIES if status in c["matchedStatuses"]
                    and re.fullmatch(c.get("messageRegex", "(?s).*"), message))
    assert category("failed", "AssertionError: isolation broken: node ...").startswith("Isolation broken")
    assert category("failed", "AssertionError: duplicate address: 192.168.112.31 answered").startswith("Address")
    assert category("broken", "BrokenEvidence: sanity twin got no answer: ...").startswith("Deaf probe")
    assert category("broken", "LabError: cannot create").startswith("Harness or target")


# --- the engine keeps raw frames only when asked --------------------------------------------------------------------
@pytest.mark.lab
def test_engine_keeps_the_frames_of_each_probe_for_pcaps(tmp_path: Path) -> None:
    from netattest.probe.engine import ProbeEngine
    from tests.helpers.netlab import NetnsLab as Lab
    lab = Lab()
    try:
        a = lab.host("a", "10.254.0.1/24")
        b = lab.host("b", "10.254.0.2/24")
        probes = [Probe("arp", "arp", a, b.ip), Probe("icmp", "icmp", a, b.ip, b.mac),
                  Probe("silent", "arp", a, "10.254.0.99", expect_answer=False)]
        with ProbeEngine(timeout=0.3, retries=1) as plain:
            assert all(r.frames == [] for r in plain.run(probes)[0])
        with ProbeEngine(timeout=0.3, retries=1, keep_frames=True) as keeping:
            results = {r.probe.id: r for r in keeping.run(probes)[0]}
    finally:
        lab.teardown()
    arp_frames = results["arp"].frames
    assert [f.sent for f in arp_frames] == [True, False] and arp_frames[0].time <= arp_frames[1].time
    assert arp_frames[0].data.hex() == results["arp"].frame_hex()
    assert abs(arp_frames[0].time - results["arp"].sent_at) < 1e-3
    reply = Ether(arp_frames[1].data)
    assert reply[ARP].op == 2 and reply[ARP].hwsrc == b.mac and reply[ARP].psrc == b.ip
    icmp = [Ether(f.data) for f in results["icmp"].frames]
    assert [p[ICMP].type for p in icmp] == [8, 0]
    assert [f.sent for f in results["silent"].frames] == [True]  # sent once, no answer, no retry
    path = tmp_path / "probe.pcap"
    path.write_bytes(pcap_bytes([(f.time, f.data) for r in results.values() for f in r.frames]))
    assert len(rdpcap(str(path))) == 5
