"""Allure's run-level files in ``allure-results/``: ``environment.properties`` (the Environment widget),
``executor.json`` (the Executors widget and the labels of trend points) and ``categories.json`` (failures grouped
by what went wrong on the network, infrastructure faults apart)."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

CATEGORIES: list[dict[str, Any]] = [
    {"name": "Isolation broken: a VLAN answers that must stay silent", "matchedStatuses": ["failed"],
     "messageRegex": "(?s).*isolation broken.*"},
    {"name": "Address owned by the wrong MAC (duplicate IP or impostor)", "matchedStatuses": ["failed"],
     "messageRegex": "(?s).*(duplicate address|someone else answers).*"},
    {"name": "No L2 path inside a VLAN", "matchedStatuses": ["failed"],
     "messageRegex": "(?s).*(no ARP reply|ICMP echo got no reply).*"},
    {"name": "MAC behaviour differs from the plugin's promise", "matchedStatuses": ["failed"],
     "messageRegex": "(?s).*(MAC|ARP replies for).*"},
    {"name": "Attachment or placement wrong", "matchedStatuses": ["failed"],
     "messageRegex": "(?s).*(landed on node|has no interface|promises|FailedCreatePodSandBox|network-status|"
                     "addresses|was not scheduled|cannot take part|not present).*"},
    {"name": "Deaf probe: sanity twin unanswered (silence proves nothing)", "matchedStatuses": ["broken"],
     "messageRegex": "(?s).*(sanity twin|no sanity twin).*"},
    {"name": "Probe window untrustworthy (kernel drops, socket errors)", "matchedStatuses": ["broken"],
     "messageRegex": "(?s).*(dropped|not trustworthy|could not be sent).*"},
    {"name": "Harness or target broken", "matchedStatuses": ["broken"]},
    {"name": "Other failed expectations", "matchedStatuses": ["failed"]},
]


def _escape(text: str, key: bool = False) -> str:
    out = []
    for char in str(text):
        if char in "\\#!" or char in "=: " and key:
            out.append("\\" + char)
        elif char == "\n":
            out.append("\\n")
        elif ord(char) > 126 or ord(char) < 32:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    return "".join(out)


def environment_properties(facts: Mapping[str, str]) -> str:
    return "".join(f"{_escape(k, key=True)}={_escape(v)}\n" for k, v in facts.items())


def _stamp(epoch: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(epoch)) if epoch else ""


def environment_entries(summary: Mapping[str, Any]) -> dict[str, str]:
    """The facts shown in Allure's Environment widget, from the run summary."""
    topology = summary.get("topology") or {}
    env = summary.get("environment") or {}
    entries = {
        "Run.id": summary["run_id"],
        "Run.start": _stamp(summary.get("started")),
        "Run.end": _stamp(summary.get("finished")),
        "Topology": topology.get("name", ""),
        "Topology.file": topology.get("file", ""),
        "Topology.SHA-256": topology.get("sha256", ""),
        "Target": summary.get("target", ""),
        "Kernel": f"{summary.get('kernel', '')} ({env.get('kernel_kind', '')})",
        "OS": env.get("os", ""),
        "Harness.version": summary.get("harness_version", ""),
        "Python": env.get("python", ""),
        "Capture": summary.get("capture", ""),
    }
    for name, plugin in (env.get("cni_plugins") or {}).items():
        entries[f"CNI.{name}"] = " · ".join(x for x in (plugin.get("version"), plugin.get("package")) if x)
        if plugin.get("sha256"):
            entries[f"CNI.{name}.sha256"] = plugin["sha256"]
    for name, version in (env.get("libraries") or {}).items():
        entries[f"lib.{name}"] = version
    return entries


def write_allure_metadata(results_dir: Path, summary: Mapping[str, Any], report_html: str = "") -> None:
    results_dir.mkdir(parents=True, exist_ok=True)
    (results_dir / "environment.properties").write_text(environment_properties(environment_entries(summary)),
                                                        encoding="latin-1")
    topology = (summary.get("topology") or {}).get("name", "")
    executor = {
        "name": "netattest", "type": "netattest",
        "buildName": f"netattest run {summary['run_id']}",
        "buildOrder": int(summary.get("started") or 0),
        "reportName": f"netattest · {topology} · run {summary['run_id']}",
    }
    if report_html:
        executor["reportUrl"] = report_html
    (results_dir / "executor.json").write_text(json.dumps(executor, indent=2))
    (results_dir / "categories.json").write_text(json.dumps(CATEGORIES, indent=2))
