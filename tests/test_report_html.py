"""The self-contained HTML report, rendered from records of a scripted run and parsed back (no lab needed)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from netattest.report import records
from netattest.report.html import REPORT
from tests.helpers.html import parse
from tests.helpers.records import MACS, healthy, synthetic_run

EVIL = '<script>alert("pwned")</script> & <img src=x onerror=alert(1)>'


def test_html_report_header_matrix_mac_table_and_failures(tmp_path: Path) -> None:
    run_dir = synthetic_run(tmp_path / "0000abcd")
    dom = parse((run_dir / REPORT).read_text())
    assert dom.ids["verdict"].text == "EXPECTATIONS FAILED"
    counts = {n.attrs["data-count"]: n.text for n in dom.ids["counts"].find_all("span")}
    summary = json.loads((run_dir / "summary.json").read_text())
    assert counts["failed"] == f"{summary['counts']['failed']} failed" and summary["counts"]["failed"] >= 1
    run_facts = dom.ids["run"].text
    assert "c" * 64 in run_facts and "target lab" in run_facts and "kernel 6.1.0-test" in run_facts

    tables = dom.ids["matrix"].find_all("table", class_="matrix")
    assert [(t.attrs["data-source"], t.attrs["data-target"]) for t in tables] == [
        ("restricted", "restricted"), ("restricted", "openshift")]
    iso = tables[1]
    headers = [th.attrs["data-target"] for th in iso.find_all("th", class_="col")]
    assert headers == ["gateway", "node1/ens192"]
    row = next(r for r in iso.find_all("tr") if r.attrs.get("data-source") == "pod-a@node1")
    cells = row.find_all("td")
    leak = cells[headers.index("node1/ens192")]
    assert leak.attrs["data-status"] == "failed" and "c-failed" in leak.attrs["class"].split()
    assert leak.attrs["data-expected"] == "isolated" and leak.attrs["data-observed"] == "answered"
    assert leak.text == "ANSWERED ✗" and "isolation broken" in leak.attrs["title"]
    silent = cells[headers.index("gateway")]
    assert (silent.attrs["data-status"], silent.text) == ("passed", "silent ✓")
    same_vlan = tables[0]
    diagonal = [r.find_all("td")[i] for i, r in enumerate(same_vlan.find("tbody").find_all("tr"))
                if r.attrs["data-source"] != "ext-host"]
    assert all(d.attrs["data-status"] == "none" for d in diagonal)  # no pod checks itself
    reach = next(r for r in same_vlan.find_all("tr") if r.attrs.get("data-source") == "pod-a@node1").find_all("td")
    assert {c.text for c in reach if c.attrs["data-status"] != "none"} == {"reach ✓"}
    # every cell links to the evidence of its check
    anchor = leak.find("a").attrs["href"].lstrip("#")
    assert anchor in dom.ids and "restricted->openshift:pod-a@node1->node1/ens192" in dom.ids[anchor].text

    mac_rows = dom.ids["mac-table"].find("tbody").find_all("tr")
    by_pod = {r.attrs["data-pod"]: [td.text for td in r.find_all("td")] for r in mac_rows}
    assert set(by_pod) == {"t/pod-a", "t/pod-c"}
    pod_a = by_pod["t/pod-a"]
    assert pod_a[:6] == ["t/pod-a", "node1", "net1", "macvlan bridge", "macvlan bridge", "ens224"]
    assert pod_a[6] == MACS["ens224"] and pod_a[7] == MACS["pod-a"] and pod_a[8] == MACS["pod-a"]
    assert pod_a[9] == "own MAC, unique" and pod_a[10] == "passed"

    failures = dom.ids["failures"].find_all("li")
    assert len(failures) == len(summary["problems"])
    first = failures[0]
    assert first.find("span", class_="badge").text == "FAILED" and "isolation broken" in first.text
    assert first.find("a").attrs["href"].lstrip("#") in dom.ids


def test_html_report_escapes_everything_and_fetches_nothing(tmp_path: Path) -> None:
    run_dir = synthetic_run(tmp_path / "0000dead", extra_problem=EVIL)
    html = (run_dir / REPORT).read_text()
    assert "<script" not in html.lower() and "<img" not in html.lower()
    assert "&lt;script&gt;alert(&#34;pwned&#34;)&lt;/script&gt; &amp; &lt;img src=x onerror=alert(1)&gt;" in html
    dom = parse(html)
    assert EVIL in dom.ids["failures"].text
    for tag in ("script", "link", "img", "iframe", "object", "embed"):
        assert not dom.root.find_all(tag), tag
    for node in dom.root.find_all("a"):
        href = node.attrs.get("href", "")
        assert href.startswith(("#", "pcaps/")), href
        if href.startswith("pcaps/"):
            assert (run_dir / href).is_file()
    assert "url(" not in html and "@import" not in html and "http://" not in html and "https://" not in html
    assert dom.root.find("style").text  # the CSS is inline


def test_html_report_of_a_clean_run_says_so(tmp_path: Path) -> None:
    run_dir = synthetic_run(tmp_path / "0000cafe", respond=healthy)
    dom = parse((run_dir / REPORT).read_text())
    assert dom.ids["verdict"].text == "ALL EXPECTATIONS HELD"
    assert "None: every expectation held." in dom.ids["failures"].text
    statuses = {td.attrs["data-status"] for td in dom.ids["matrix"].find_all("td")}
    assert statuses == {"passed", "none"}
    # capture "failed": a run where nothing failed keeps no pcap, and its report links none
    assert not list(run_dir.rglob("*.pcap"))
    assert not [a for a in dom.root.find_all("a") if a.attrs.get("href", "").startswith("pcaps/")]


def test_large_runs_keep_transcripts_only_for_checks_that_did_not_pass(tmp_path: Path, monkeypatch: Any) -> None:
    from netattest.report import html

    small = parse((synthetic_run(tmp_path / "0000aaaa") / REPORT).read_text())
    assert "transcripts-omitted" not in small.ids
    monkeypatch.setattr(html, "TRANSCRIPTS_INLINE_LIMIT", 1)
    run_dir = synthetic_run(tmp_path / "0000bbbb")
    dom = parse((run_dir / REPORT).read_text())
    checks = json.loads((run_dir / "checks.json").read_text())["checks"]
    passed = [c for c in checks if c["status"] == "passed"]
    assert passed and len(passed) < len(checks)
    assert dom.ids["transcripts-omitted"].text.startswith(f"{len(passed)} passed checks")
    for check in checks:
        box = dom.ids["check-" + records.slug(check["id"])]
        has_transcript = "probe transcript" in box.text
        assert has_transcript is (check["status"] != "passed"), check["id"]
        # the same checks keep their full transcript in the small report
        assert "probe transcript" in small.ids["check-" + records.slug(check["id"])].text
