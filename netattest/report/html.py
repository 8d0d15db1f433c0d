"""The self-contained HTML report of one run (``report.html``): one file, inline CSS, no script and no fetch, so it
opens from disk anywhere. Rendered with Jinja2 (autoescaping on: every value from a record is escaped) from the
run's own records, so it shows exactly what summary.json, checks.json and inventory.json say.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import ijson
import jinja2

from netattest.report.records import read_json, slug
from netattest.report.transcript import transcript

REPORT = "report.html"
TEMPLATE = "report.html.j2"
VERDICTS = {0: ("ALL EXPECTATIONS HELD", "ok"), 1: ("EXPECTATIONS FAILED", "failed"),
            2: ("BROKEN (harness or target)", "broken")}


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(Path(__file__).with_name("templates"))),
                             autoescape=True, undefined=jinja2.ChainableUndefined, trim_blocks=True,
                             lstrip_blocks=True)
    env.filters["stamp"] = lambda t: time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(t)) if t else "—"
    return env


def _vlan_names(summary: Mapping[str, Any]) -> dict[str, str]:
    networks = (summary.get("topology") or {}).get("networks") or []
    return {n["name"]: (f"VLAN {n['vlan']} {n['name']}" if n.get("vlan") is not None else n["name"])
            for n in networks}


_CELL_TEXT = {
    ("reachable", "passed"): "reach ✓",
    ("reachable", "failed"): "no reach ✗",
    ("isolated", "passed"): "silent ✓",
    ("isolated", "failed"): "ANSWERED ✗",
}


def _cell(check: Mapping[str, Any]) -> dict[str, Any]:
    expected, status = check["expected"], check["status"]
    if status == "broken":
        text = "broken ?"
    elif expected == "reachable" and status == "failed" and check["observed"] == "answered":
        text = "wrong MAC ✗"
    elif expected == "isolated" and status == "failed" and check["observed"] == "heard":
        text = "ARRIVED ✗"  # nothing came back, but the probes were heard on the target side: a one-way path
    else:
        text = _CELL_TEXT.get((expected, status), status)
    return {"text": text, "status": status, "expected": expected, "observed": check["observed"],
            "css": f"c-{status} c-{expected}", "title": check["reason"], "anchor": "check-" + slug(check["id"]),
            "pcap": check.get("pcap")}


def matrices(checks: list[Mapping[str, Any]], vlans: Mapping[str, str]) -> list[dict[str, Any]]:
    """One table per (source VLAN, target VLAN): rows are sources, columns targets, cells the checks."""
    groups: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for check in checks:
        groups.setdefault((check["source"]["network"], check["target"]["network"]), []).append(check)
    tables = []
    for (src_net, dst_net), members in groups.items():
        rows: dict[str, dict[str, Any]] = {}
        cols: dict[str, dict[str, Any]] = {}
        for check in members:
            source, target = check["source"], check["target"]
            row = rows.setdefault(source["label"], {"label": source["label"], "ip": "", "cells": {}})
            col = cols.setdefault(target["label"], {"label": target["label"], "ip": "", "kind": target["kind"]})
            row["ip"] = row["ip"] or source.get("ip") or ""  # a check decided before probing knows no address
            col["ip"] = col["ip"] or target.get("ip") or ""
            rows[source["label"]]["cells"][target["label"]] = _cell(check)
        # targets that are also sources first, in row order (the self cells form a diagonal), then the others
        col_list = [cols[label] for label in rows if label in cols] + [c for label, c in cols.items()
                                                                      if label not in rows]
        tables.append({
            "title": vlans.get(src_net, src_net) + ("" if src_net == dst_net else f" → {vlans.get(dst_net, dst_net)}"),
            "source": src_net, "target": dst_net, "cols": col_list,
            "rows": [{**row, "cells": [row["cells"].get(c["label"]) for c in col_list]} for row in rows.values()],
            "counts": {s: sum(1 for c in members if c["status"] == s) for s in ("passed", "failed", "broken")},
        })
    return tables


def _shares_master_mac(attached: Mapping[str, Any]) -> bool:
    """ipvlan and vlan children carry their master's MAC; so does a macvlan child in passthru mode."""
    plugin, mode = attached["attachment"]["plugin"], attached["attachment"].get("mode")
    return plugin in ("ipvlan", "vlan") or (plugin == "macvlan" and mode == "passthru")


def mac_table(inventory: Mapping[str, Any], checks_doc: Mapping[str, Any],
              tests: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """pod, node, interface, plugin, master, master MAC, pod MAC, MACs seen on the wire, rule, verdict."""
    wire = {(w["pod"], w["iface"]): w["macs"] for w in checks_doc.get("wire_macs") or []}
    verdicts: dict[tuple[str, str | None], Mapping[str, Any]] = {}
    for entry in tests:
        subject = entry.get("subject") or {}
        if entry["name"].startswith("test_mac_behaviour[") and subject.get("pod"):
            verdicts[(subject["pod"], subject.get("iface"))] = entry
    nodes = {n["name"]: n for n in inventory.get("nodes") or []}
    rows = []
    for pod in inventory.get("pods") or []:
        key = f"{pod['namespace']}/{pod['name']}"
        for attached in pod.get("attachments") or []:
            iface_name = attached["interface"]
            iface = (pod.get("interfaces") or {}).get(iface_name) or {}
            master_nic = ((nodes.get(pod.get("node") or "") or {}).get("nics") or {}).get(attached["master"]) or {}
            plugin = attached["applied_plugin"]
            test = verdicts.get((key, iface_name))
            rows.append({
                "pod": key, "node": pod.get("node") or "unscheduled", "iface": iface_name,
                "plugin": f"{plugin} {attached.get('applied_mode') or ''}".strip(),
                "kernel_kind": f"{iface.get('kind') or '—'} {iface.get('mode') or ''}".strip(),
                "master": attached["master"], "master_mac": master_nic.get("mac") or attached.get("master_mac") or "—",
                "pod_mac": iface.get("mac") or "—", "wire": wire.get((key, iface_name), []),
                "rule": "= master MAC" if _shares_master_mac(attached) else "own MAC, unique",
                "status": test["status"] if test else "not tested",
                "reason": test.get("reason", "") if test else "",
                "shares": bool(iface.get("mac")) and iface.get("mac") == master_nic.get("mac"),
            })
    return rows


#: above this many checks, passed checks are listed without their transcript (which checks.json, probes.jsonl and
#: Allure keep): a 20,000-check report would otherwise be a 40 MB page that browsers struggle to open
TRANSCRIPTS_INLINE_LIMIT = 2_000


def _lean_check(record: Mapping[str, Any], keep_transcript: bool) -> dict[str, Any]:
    """What the page shows of a check record: its probes are reduced to the transcript (when kept)."""
    source, target = record["source"], record["target"]
    return {
        "id": record["id"], "test": record.get("test"), "kind": record.get("kind"), "expected": record["expected"],
        "observed": record["observed"], "status": record["status"], "reason": record["reason"],
        "source": {k: source.get(k) for k in ("label", "iface", "ip", "mac", "network", "kind")},
        "target": {k: target.get(k) for k in ("label", "ip", "network", "kind")},
        "target_ip": record.get("target_ip"), "target_mac": record.get("target_mac"),
        "answering_macs": record.get("answering_macs") or [], "pcap": record.get("pcap"),
        "anchor": "check-" + slug(record["id"]),
        "transcript": transcript(record) if keep_transcript else None,
        "paths": [{"hop": p["hop"], "summary": p["summary"], "sent_from": p["sent_from"]}
                  for p in record.get("paths") or []],
        "heard": record.get("heard") or [],
    }


def _read_checks(path: Path) -> tuple[dict[str, Any], int]:
    """checks.json streamed check by check (ijson), so the page of a 20,000-check run never holds the 50 MB
    document or all probe records in memory; returns the document with lean checks, and how many passed checks
    lost their inline transcript."""
    doc: dict[str, Any] = {"checks": [], "wire_macs": [], "window": None, "sweep_window": None, "neighbours": {},
                           "findings": [], "listeners": []}
    if not path.exists():
        return doc, 0
    checks: list[dict[str, Any]] = doc["checks"]
    with path.open("rb") as handle:
        for record in ijson.items(handle, "checks.item", use_float=True):
            over = len(checks) >= TRANSCRIPTS_INLINE_LIMIT
            if over and len(checks) == TRANSCRIPTS_INLINE_LIMIT:  # the limit is crossed: drop those kept so far
                for check in checks:
                    if check["status"] == "passed":
                        check["transcript"] = None
            checks.append(_lean_check(record, keep_transcript=not over or record["status"] != "passed"))
    for key in ("wire_macs", "window", "sweep_window", "neighbours", "findings", "listeners"):
        # written before the checks: found without reading the file again
        with path.open("rb") as handle:
            doc[key] = next(ijson.items(handle, key, use_float=True), doc[key])
    omitted = sum(1 for c in checks if c["transcript"] is None) if len(checks) > TRANSCRIPTS_INLINE_LIMIT else 0
    return doc, omitted


def build_model(run_dir: Path) -> dict[str, Any]:
    summary = read_json(run_dir / "summary.json") or {}
    checks_doc, omitted = _read_checks(run_dir / "checks.json")
    inventory_doc = read_json(run_dir / "inventory.json") or {}
    inventory = inventory_doc.get("inventory") or {}
    diff = read_json(run_dir / "diff.json")
    checks = checks_doc.get("checks") or []
    tests = summary.get("tests") or []
    vlans = _vlan_names(summary)
    anchor_of_test = {c["test"]: c["anchor"] for c in checks if c.get("test")}
    exit_status = summary.get("exit_status")
    verdict, verdict_css = VERDICTS.get(exit_status if isinstance(exit_status, int) else -1,
                                        (f"exit {exit_status}", "broken"))
    started, finished = summary.get("started"), summary.get("finished")
    failures = [{"test": p["test"].split("::")[-1], "status": p["status"], "reason": p["reason"],
                 "anchor": anchor_of_test.get(p["test"])} for p in summary.get("problems") or []]
    evidence = inventory_doc.get("pod_evidence") or {}
    pods = []
    for pod in inventory.get("pods") or []:
        key = f"{pod['namespace']}/{pod['name']}"
        pods.append({"key": key, "node": pod.get("node") or "unscheduled", "phase": pod.get("phase"),
                     "reason": pod.get("reason") or "",
                     "interfaces": [i for name, i in (pod.get("interfaces") or {}).items() if name != "lo"],
                     "evidence": evidence.get(key) or {}})
    return {
        "summary": summary, "verdict": verdict, "verdict_css": verdict_css,
        "topology": summary.get("topology") or {}, "environment": summary.get("environment") or {},
        "duration": (finished - started) if started and finished else None,
        "failures": failures, "matrices": matrices(checks, vlans), "mac_rows": mac_table(inventory, checks_doc, tests),
        "checks": checks, "transcripts_omitted": omitted,
        "window": checks_doc.get("window"), "pods": pods, "notes": inventory.get("notes") or [],
        "sweep_window": checks_doc.get("sweep_window"), "neighbours": checks_doc.get("neighbours") or {},
        "findings": checks_doc.get("findings") or [], "listeners": checks_doc.get("listeners") or [],
        "diff": diff, "vlans": vlans,
        "skipped": [t for t in tests if t["status"] == "skipped"],
    }


def render(model: Mapping[str, Any]) -> str:
    return _environment().get_template(TEMPLATE).render(**model)


def write_html(run_dir: Path) -> Path:
    """Render streamed into the file: the page of a large run is never one string in memory."""
    path = run_dir / REPORT
    _environment().get_template(TEMPLATE).stream(**build_model(run_dir)).dump(str(path), encoding="utf-8")
    return path
