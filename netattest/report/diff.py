"""What changed between two runs, from their records (summary.json, checks.json, inventory.json): checks and tests
that flipped, pods and nodes that appeared, vanished or moved, addresses and MACs that moved, and MAC relations
that changed (an ipvlan child no longer carrying its master's MAC, a MAC answering for someone else).

The embedded lab builds fresh interfaces on every run, so its MACs change from run to run by construction; the
diff says so and keeps those changes apart from the relations, which must not change.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from netattest.errors import NetattestError

SCHEMA = "netattest.run-diff/v1"


class RunRecords:
    """The records of one run directory."""

    def __init__(self, run_dir: Path) -> None:
        self.dir = run_dir
        summary = run_dir / "summary.json"
        if not summary.is_file():
            raise NetattestError(f"{run_dir}: not a netattest run directory (no summary.json). Fix: give a "
                                 "directory written by `netattest run`, e.g. reports/<run-id>")
        try:
            self.summary: dict[str, Any] = json.loads(summary.read_text())
            self.checks: dict[str, Any] = self._load("checks.json") or {"checks": [], "wire_macs": []}
            self.inventory: dict[str, Any] = (self._load("inventory.json") or {}).get("inventory") or {}
        except ValueError as exc:
            raise NetattestError(f"{run_dir}: a record is not valid JSON ({exc})") from None

    def _load(self, name: str) -> Any:
        path = self.dir / name
        return json.loads(path.read_text()) if path.is_file() else None

    @property
    def run_id(self) -> str:
        return str(self.summary.get("run_id", self.dir.name))

    def header(self) -> dict[str, Any]:
        topology = self.summary.get("topology") or {}
        return {"run_id": self.run_id, "dir": str(self.dir), "target": self.summary.get("target"),
                "topology": topology.get("name"), "topology_sha256": topology.get("sha256"),
                "started": self.summary.get("started"), "exit_status": self.summary.get("exit_status"),
                "counts": self.summary.get("counts")}


def resolve_run(ref: str, reports_dir: Path | str = "reports") -> Path:
    """A run directory from a path or a run id (looked up in the reports directory)."""
    path = Path(ref)
    if (path / "summary.json").is_file():
        return path.absolute()
    candidate = Path(reports_dir) / ref
    if (candidate / "summary.json").is_file():
        return candidate.absolute()
    raise NetattestError(f"{ref}: no run there (looked for {path}/summary.json and {candidate}/summary.json). "
                         "Fix: give a run directory or the run id of a run under --reports-dir")


def _pods(inventory: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return {f"{p['namespace']}/{p['name']}": p for p in inventory.get("pods") or []}


def _pod_ifaces(pod: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: i for name, i in (pod.get("interfaces") or {}).items() if name != "lo"}


def _relation(pod: Mapping[str, Any], iface: Mapping[str, Any], nodes: Mapping[str, Any]) -> str:
    """How a pod interface's MAC relates to its master: the property that must survive a rebuild."""
    master = next((a for a in pod.get("attachments") or [] if a.get("interface") == iface["name"]), None)
    if master is None:
        return "no attachment recorded"
    node = nodes.get(pod.get("node") or "", {})
    nic = (node.get("nics") or {}).get(master.get("master") or "")
    if nic is None:
        return f"{iface.get('kind') or 'unknown'} link, master {master.get('master')} not found"
    shares = "shares its master's MAC" if nic.get("mac") == iface.get("mac") else "has its own MAC"
    return f"{iface.get('kind') or 'unknown'} link, {shares}"


def _status_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, list[dict[str, Any]]]:
    flipped = [{"id": key, "old": old[key]["status"], "new": new[key]["status"],
                "old_reason": old[key].get("reason", ""), "reason": new[key].get("reason", "")}
               for key in old.keys() & new.keys() if old[key]["status"] != new[key]["status"]]
    added = [{"id": key, "status": new[key]["status"], "reason": new[key].get("reason", "")}
             for key in new.keys() - old.keys()]
    removed = [{"id": key, "status": old[key]["status"]} for key in old.keys() - new.keys()]
    return {"flipped": sorted(flipped, key=lambda e: e["id"]), "added": sorted(added, key=lambda e: e["id"]),
            "removed": sorted(removed, key=lambda e: e["id"])}


def diff_runs(old_dir: Path, new_dir: Path) -> dict[str, Any]:
    old, new = RunRecords(old_dir), RunRecords(new_dir)
    checks = _status_changes({c["id"]: c for c in old.checks.get("checks", [])},
                             {c["id"]: c for c in new.checks.get("checks", [])})
    check_tests = {c.get("test") for run in (old, new) for c in run.checks.get("checks", [])}
    tests = _status_changes(
        {t["nodeid"]: t for t in old.summary.get("tests") or [] if t["nodeid"] not in check_tests},
        {t["nodeid"]: t for t in new.summary.get("tests") or [] if t["nodeid"] not in check_tests})
    result: dict[str, Any] = {
        "schema": SCHEMA, "old": old.header(), "new": new.header(),
        "topology_changed": old.header()["topology_sha256"] != new.header()["topology_sha256"],
        "checks": checks, "tests": tests,
    }
    result.update(_inventory_changes(old.inventory, new.inventory))
    lab = old.summary.get("target") == new.summary.get("target") == "lab"
    result["lab_macs_regenerated"] = lab
    result["changed"] = bool(
        checks["flipped"] or checks["added"] or checks["removed"] or tests["flipped"] or tests["added"]
        or tests["removed"] or result["topology_changed"] or result["addresses"] or result["mac_relations"]
        or any(result[k][part] for k in ("pods", "nodes", "hosts", "interfaces") for part in result[k])
        or (result["macs"] and not lab))
    return result


def _inventory_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    old_pods, new_pods = _pods(old), _pods(new)
    old_nodes = {n["name"]: n for n in old.get("nodes") or []}
    new_nodes = {n["name"]: n for n in new.get("nodes") or []}
    old_hosts = {f"{h['name']} on {h['network']}": h for h in old.get("hosts") or []}
    new_hosts = {f"{h['name']} on {h['network']}": h for h in new.get("hosts") or []}
    out: dict[str, Any] = {
        "pods": {"added": sorted(new_pods.keys() - old_pods.keys()),
                 "removed": sorted(old_pods.keys() - new_pods.keys()), "moved": [], "phase": []},
        "nodes": {"added": sorted(new_nodes.keys() - old_nodes.keys()),
                  "removed": sorted(old_nodes.keys() - new_nodes.keys()), "labels": []},
        "hosts": {"added": [{"host": k, "role": new_hosts[k].get("role")}
                            for k in sorted(new_hosts.keys() - old_hosts.keys())],
                  "removed": [{"host": k, "role": old_hosts[k].get("role")}
                              for k in sorted(old_hosts.keys() - new_hosts.keys())]},
        "interfaces": {"added": [], "removed": [], "kind": []},
        "addresses": [], "macs": [], "mac_relations": [],
    }
    for key in sorted(old_pods.keys() & new_pods.keys()):
        before, after = old_pods[key], new_pods[key]
        if before.get("node") != after.get("node"):
            out["pods"]["moved"].append({"pod": key, "old": before.get("node"), "new": after.get("node")})
        if before.get("phase") != after.get("phase"):
            out["pods"]["phase"].append({"pod": key, "old": before.get("phase"), "new": after.get("phase"),
                                         "reason": after.get("reason")})
        _compare_ifaces(f"pod {key}", _pod_ifaces(before), _pod_ifaces(after), out)
        for name in sorted(_pod_ifaces(before).keys() & _pod_ifaces(after).keys()):
            old_rel = _relation(before, _pod_ifaces(before)[name], old_nodes)
            new_rel = _relation(after, _pod_ifaces(after)[name], new_nodes)
            if old_rel != new_rel:
                out["mac_relations"].append({"where": f"pod {key} {name}", "old": old_rel, "new": new_rel})
    for name in sorted(old_nodes.keys() & new_nodes.keys()):
        before, after = old_nodes[name], new_nodes[name]
        if before.get("labels") != after.get("labels"):
            out["nodes"]["labels"].append({"node": name, "old": before.get("labels"), "new": after.get("labels")})
        _compare_ifaces(f"node {name}", _node_nics(before), _node_nics(after), out)
    for key in sorted(old_hosts.keys() & new_hosts.keys()):
        _compare_ifaces(f"host {key}", {"eth": old_hosts[key]["interface"]}, {"eth": new_hosts[key]["interface"]},
                        out, label_iface=False)
    return out


def _node_nics(node: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: nic for name, nic in (node.get("nics") or {}).items() if nic.get("kind") or nic.get("addresses")}


def _compare_ifaces(owner: str, before: Mapping[str, Any], after: Mapping[str, Any], out: dict[str, Any],
                    label_iface: bool = True) -> None:
    for name in sorted(after.keys() - before.keys()):
        out["interfaces"]["added"].append({"where": f"{owner} {name}", "addresses": after[name].get("addresses")})
    for name in sorted(before.keys() - after.keys()):
        out["interfaces"]["removed"].append({"where": f"{owner} {name}", "addresses": before[name].get("addresses")})
    for name in sorted(before.keys() & after.keys()):
        a, b = before[name], after[name]
        where = f"{owner} {name}" if label_iface else owner
        if sorted(a.get("addresses") or []) != sorted(b.get("addresses") or []):
            out["addresses"].append({"where": where, "old": a.get("addresses"), "new": b.get("addresses")})
        if a.get("mac") != b.get("mac"):
            out["macs"].append({"where": where, "old": a.get("mac"), "new": b.get("mac")})
        if (a.get("kind"), a.get("mode")) != (b.get("kind"), b.get("mode")):
            out["interfaces"]["kind"].append({"where": where, "old": f"{a.get('kind')} {a.get('mode') or ''}".strip(),
                                              "new": f"{b.get('kind')} {b.get('mode') or ''}".strip()})


def format_diff(diff: Mapping[str, Any], limit: int = 50) -> str:
    """The diff as text for a terminal."""
    old, new = diff["old"], diff["new"]
    lines = [f"netattest diff {old['run_id']} -> {new['run_id']}  (topology {old['topology']} -> {new['topology']}"
             + (", topology file CHANGED" if diff["topology_changed"] else ", same topology file") + ")"]
    oc, nc = old.get("counts") or {}, new.get("counts") or {}
    lines.append("  counts: " + ", ".join(f"{k} {oc.get(k, 0)} -> {nc.get(k, 0)}"
                                           for k in ("passed", "failed", "broken", "skipped")))

    def section(title: str, items: list[str]) -> None:
        if not items:
            return
        lines.append(f"{title} ({len(items)}):")
        lines.extend(f"  {item}" for item in items[:limit])
        if len(items) > limit:
            lines.append(f"  ... and {len(items) - limit} more (see --json)")

    for kind in ("checks", "tests"):
        part = diff[kind]
        section(f"{kind} flipped", [f"{e['old']:>7} -> {e['new']:<7} {e['id']}" + (f"\n            {e['reason']}"
                                                                               if e["reason"] else "")
                                    for e in part["flipped"]])
        section(f"new {kind}", [f"{e['status']:>7} {e['id']}" for e in part["added"]])
        section(f"vanished {kind}", [f"{e['status']:>7} {e['id']}" for e in part["removed"]])
    section("new pods", diff["pods"]["added"])
    section("vanished pods", diff["pods"]["removed"])
    section("pods moved to another node", [f"{e['pod']}: {e['old']} -> {e['new']}" for e in diff["pods"]["moved"]])
    section("pod phase changed", [f"{e['pod']}: {e['old']} -> {e['new']}" + (f" ({e['reason']})" if e["reason"] else "")
                                  for e in diff["pods"]["phase"]])
    section("new nodes", diff["nodes"]["added"])
    section("vanished nodes", diff["nodes"]["removed"])
    section("node labels changed", [f"{e['node']}: {e['old']} -> {e['new']}" for e in diff["nodes"]["labels"]])
    section("new hosts on the networks", [f"{e['host']} ({e['role']})" for e in diff["hosts"]["added"]])
    section("vanished hosts", [f"{e['host']} ({e['role']})" for e in diff["hosts"]["removed"]])
    section("new interfaces", [f"{e['where']} {e['addresses']}" for e in diff["interfaces"]["added"]])
    section("vanished interfaces", [f"{e['where']} {e['addresses']}" for e in diff["interfaces"]["removed"]])
    section("interface kind changed", [f"{e['where']}: {e['old']} -> {e['new']}" for e in diff["interfaces"]["kind"]])
    section("addresses moved", [f"{e['where']}: {e['old']} -> {e['new']}" for e in diff["addresses"]])
    section("MAC relations changed", [f"{e['where']}: {e['old']} -> {e['new']}" for e in diff["mac_relations"]])
    if diff["macs"]:
        if diff.get("lab_macs_regenerated"):
            lines.append(f"MACs changed ({len(diff['macs'])}): expected on the embedded lab, which builds new "
                         "interfaces on every run; the relations above are what must hold")
        else:
            section("MACs moved", [f"{e['where']}: {e['old']} -> {e['new']}" for e in diff["macs"]])
    if not diff["changed"]:
        lines.append("no change in verdicts, pods, nodes, hosts, addresses or MAC relations")
    return "\n".join(lines)
