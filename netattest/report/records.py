"""Machine records of a run, written into the run directory:

* ``probes.jsonl``   one JSON object per probe (schema ``netattest.probe/v1``, see ``schemas/probe.schema.json``);
* ``checks.json``    every check of the matrix with its verdict (``netattest.checks/v1``);
* ``inventory.json`` what the target built, as observed, plus per-pod evidence (``netattest.inventory/v1``);
* ``pcaps/*.pcap``   the probe traffic of a check (every frame sent, every matched answer), by capture mode.

All records are built from the evaluator's objects through :func:`netattest.serialize.to_jsonable`; nothing here
reads the environment.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from netattest.actors import UNKNOWN, Actors
from netattest.inventory import Inventory
from netattest.matrix import Subject
from netattest.neighbours import NeighbourTable
from netattest.outcomes import MatrixRun, Outcome, PathTried
from netattest.probe.engine import Heard, ProbeResult, WindowStats
from netattest.report.pcap import pcap_bytes, write_pcap
from netattest.serialize import to_jsonable

PROBE_SCHEMA = "netattest.probe/v1"
CHECKS_SCHEMA = "netattest.checks/v1"
INVENTORY_SCHEMA = "netattest.inventory/v1"
CAPTURE_MODES = ("all", "failed", "none")
PCAP_DIR = "pcaps"


def slug(text: str) -> str:
    """A file-name and anchor-safe, unique name for a check id."""
    digest = hashlib.sha1(text.encode()).hexdigest()[:8]
    return f"{re.sub(r'[^A-Za-z0-9._-]+', '_', text).strip('_')[:80]}-{digest}"


def mac_owners(inventory: Inventory | None) -> dict[str, list[str]]:
    """MAC -> who carries it (pods' secondary interfaces, node NICs, hosts), as observed (one index with the judge's,
    :class:`netattest.actors.Actors`, so a record never names someone the reason does not)."""
    return {mac: [a.label for a in actors] for mac, actors in Actors(inventory).by_mac.items()}


def _owner(owners: Mapping[str, list[str]], mac: str) -> str:
    names = owners.get(mac)
    return " / ".join(names) if names else UNKNOWN


def probe_summary(result: ProbeResult, owners: Mapping[str, list[str]]) -> dict[str, Any]:
    probe = result.probe
    return {
        "id": probe.id, "kind": probe.kind, "sent": result.summary(), "target_ip": probe.target_ip,
        "target_mac": probe.target_mac, "expect_answer": probe.expect_answer, "sent_at": result.sent_at,
        "attempts": result.attempts, "error": result.error, "mark": _mark(probe.mark),
        "answers": [{"ip": a.ip, "mac": a.mac, "eth_src": a.eth_src, "rtt_ms": round(a.rtt_ms, 3),
                     "attempt": a.attempt, "kind": a.kind, "ttl": a.ttl, "owner": _owner(owners, a.mac)}
                    for a in result.answers],
    }


def _mark(mark: int) -> str | None:
    """Marks are 64-bit: hex strings, because JSON readers (JavaScript, yajl) lose or refuse such integers."""
    return f"{mark:016x}" if mark else None


def path_record(path: PathTried, owners: Mapping[str, list[str]]) -> dict[str, Any]:
    """One next hop an isolation check's IP probes went through, and what came back from each."""
    return {"hop": {"mac": path.hop_mac, "ip": path.hop_ip, "who": path.hop_who}, "sent_from": path.sent_from,
            "target_ip": path.target_ip, "summary": path.summary(),
            "probes": [probe_summary(r, owners) for r in path.results]}


def heard_record(heard: Heard, network: str) -> dict[str, Any]:
    """What a listener heard, with the network it listens on (marks as hex strings)."""
    return {"listener": heard.listener, "network": network, "what": heard.what, "eth_src": heard.eth_src,
            "eth_dst": heard.eth_dst, "ip_src": heard.ip_src, "ip_dst": heard.ip_dst, "proto": heard.proto,
            "mark": _mark(heard.mark), "outgoing": heard.outgoing, "count": heard.count, "time": heard.time}


def neighbours_record(tables: Mapping[str, NeighbourTable]) -> dict[str, Any]:
    """The census of every swept VLAN: who is there and who the harness did not expect."""
    return {network: {"subnet": t.subnet, "swept_from": t.swept_from, "addresses_swept": t.addresses_swept,
                      "bounded": t.bounded, "problem": t.problem, "duration_s": round(t.duration_s, 3),
                      "neighbours": [{"ip": n.ip, "mac": n.mac, "kind": n.kind, "who": n.who, "how": n.how,
                                      "next_hop": n.can_forward} for n in t.neighbours]}
            for network, t in tables.items()}


def findings(tables: Mapping[str, NeighbourTable]) -> list[dict[str, str]]:
    """Unknown neighbours: hosts on a VLAN that the topology does not declare (each a next hop that was probed)."""
    return [{"network": network, "ip": n.ip, "mac": n.mac, "who": n.who, "how": n.how}
            for network, t in tables.items() for n in t.unknown()]


def _subject(subject: Subject) -> dict[str, Any]:
    return {"kind": subject.kind, "name": subject.name, "label": subject.label, "iface": subject.iface,
            "network": subject.network, "node": subject.node,
            "plugin": subject.attachment.plugin if subject.attachment else None}


def _observed(outcome: Outcome) -> str:
    """answered / silent / heard (nothing came back, but a listener heard the probes arrive) / error / not probed.
    An ICMP error from a next hop itself is not an answer from the target."""
    path_results = [r for p in outcome.paths for r in p.results]
    if not outcome.results and not path_results:
        return "not probed"
    if any(r.error for r in outcome.results + path_results):
        return "error"
    if any(r.answers for r in outcome.results) or any(
            a.ip != p.hop_ip for p in outcome.paths for r in p.results for a in r.answers):
        return "answered"
    return "heard" if outcome.heard else "silent"


def _twin(outcome: Outcome) -> ProbeResult | None:
    """The sanity twin backs silence only: isolation checks carry it, reachability checks do not need it."""
    return outcome.twin if not outcome.check.expect_answer else None


def check_frames(outcome: Outcome) -> list[tuple[float, bytes]]:
    """Every kept frame of a check's probes and, for an isolation check, of its next-hop probes and sanity twins."""
    twin = _twin(outcome)
    results = outcome.results + ([twin] if twin else []) + [r for p in outcome.paths for r in p.results] \
        + outcome.l3_twins
    return sorted(((f.time, f.data) for r in results for f in r.frames), key=lambda f: f[0])


def wants_pcap(capture: str, status: str) -> bool:
    return capture == "all" or (capture == "failed" and status != "passed")


def check_pcap(outcome: Outcome, capture: str) -> bytes | None:
    """The pcap of a check's traffic when the capture mode asks for it and frames were kept."""
    if not wants_pcap(capture, outcome.status):
        return None
    frames = check_frames(outcome)
    return pcap_bytes(frames) if frames else None


def check_record(outcome: Outcome, owners: Mapping[str, list[str]], test: str | None = None,
                 pcap: str | None = None) -> dict[str, Any]:
    check = outcome.check
    source = _subject(check.source)
    if outcome.results:
        endpoint = outcome.results[0].probe.source
        source.update(ip=endpoint.ip, mac=endpoint.mac)
    else:
        source.update(ip=None, mac=None)
    target = {**_subject(check.target), "ip": outcome.target_ip, "mac": outcome.expected_mac}
    probes = [probe_summary(r, owners) for r in outcome.results]
    return {
        "id": check.id,
        "test": test,
        "kind": "reachability" if check.expect_answer else "isolation",
        "expected": check.verdict,
        "observed": _observed(outcome),
        "status": outcome.status,
        "reason": outcome.reason,
        "why": check.why,
        "known_behaviour": check.known_behaviour,
        "source": source,
        "target": target,
        "target_ip": outcome.target_ip,
        "target_mac": outcome.expected_mac,
        "answering_macs": sorted({a["mac"] for p in probes for a in p["answers"]}),
        "probes": probes,
        "twin": probe_summary(twin, owners) if (twin := _twin(outcome)) else None,
        "paths": [path_record(p, owners) for p in outcome.paths],
        "l3_twins": [probe_summary(r, owners) for r in outcome.l3_twins],
        "heard": list(outcome.heard),
        "pcap": pcap,
    }


def probe_record(result: ProbeResult, check: str, verdict: str, pcap: str | None) -> dict[str, Any]:
    """One line of probes.jsonl (the fields of the original run record, plus schema and pcap)."""
    probe = result.probe
    return {
        "schema": PROBE_SCHEMA, "id": probe.id, "kind": probe.kind, "source": to_jsonable(probe.source),
        "target_ip": probe.target_ip, "target_mac": probe.target_mac, "expect_answer": probe.expect_answer,
        "mark": _mark(probe.mark), "sent": result.summary(), "sent_hex": result.frame_hex(), "sent_at": result.sent_at,
        "attempts": result.attempts, "error": result.error,
        "answers": [to_jsonable(a) for a in result.answers], "check": check, "verdict": verdict, "pcap": pcap,
    }


def window_record(stats: WindowStats) -> dict[str, Any]:
    """A window's statistics; what its listeners heard is recorded on its own (marks as hex strings)."""
    record = {k: v for k, v in to_jsonable(stats).items() if k not in ("heard", "listening")}
    return {**record, "trustworthy": stats.trustworthy}


def write_checks(run_dir: Path, matrix: MatrixRun | None, inventory: Inventory | None,
                 tests_by_check: Mapping[str, str], capture: str, run_id: str) -> int:
    """checks.json, probes.jsonl and the pcaps; returns the number of check records.

    Streamed: each check's record is encoded and written as it is built, so a 20,000-check matrix never holds all
    records (nor one 50 MB JSON string) in memory at once. The bytes are those of ``json.dumps(doc, indent=1)``."""
    owners = mac_owners(inventory)
    pcap_of_probe: dict[str, str] = {}
    verdict_of: dict[str, tuple[str, str]] = {}
    outcomes = [] if matrix is None else list(matrix.outcomes.values())
    network_of = {} if matrix is None else {r.id: r.network for r in matrix.listeners}
    # the small parts first and the checks last: a reader gets them without scanning past the checks
    head = {"schema": CHECKS_SCHEMA, "run_id": run_id, "capture": capture,
            "window": None if matrix is None else window_record(matrix.stats),
            "sweep_window": None if matrix is None or matrix.sweep_stats is None else window_record(
                matrix.sweep_stats),
            "neighbours": {} if matrix is None else neighbours_record(matrix.neighbours),
            "findings": [] if matrix is None else findings(matrix.neighbours) + matrix.findings,
            "listeners": [] if matrix is None else [to_jsonable(r) for r in matrix.listeners],
            "heard": [] if matrix is None else [heard_record(h, network_of.get(h.listener, ""))
                                               for h in matrix.heard if not h.listener.startswith("passive:")],
            "heard_on_own_network": 0 if matrix is None else matrix.heard_on_own_network,
            "wire_macs": [] if matrix is None else [
                {"pod": pod, "iface": iface, "macs": sorted(macs)}
                for (pod, iface), macs in sorted(matrix.wire_macs.items())]}
    with (run_dir / "checks.json").open("w") as handle:
        handle.write(json.dumps(head, indent=1)[:-2] + ',\n "checks": [')
        for n, outcome in enumerate(outcomes):
            pcap_name = None
            data = check_pcap(outcome, capture)
            if data is not None:
                pcap_name = f"{PCAP_DIR}/{slug(outcome.check.id)}.pcap"
                (run_dir / PCAP_DIR).mkdir(exist_ok=True)
                (run_dir / pcap_name).write_bytes(data)
            twin = _twin(outcome)
            for result in outcome.results + ([twin] if twin else []) + outcome.l3_twins + [
                    r for path in outcome.paths for r in path.results]:
                verdict_of.setdefault(result.probe.id, (outcome.check.id, outcome.status))
                if pcap_name:
                    pcap_of_probe.setdefault(result.probe.id, pcap_name)
            record = check_record(outcome, owners, tests_by_check.get(outcome.check.id), pcap_name)
            handle.write(("," if n else "") + "\n  " + json.dumps(record, indent=1).replace("\n", "\n  "))
        handle.write(("\n ]" if outcomes else "]") + "\n}")
    with (run_dir / "probes.jsonl").open("w") as handle:
        for result in ([] if matrix is None else [*matrix.sweep_results, *matrix.results]):
            check, verdict = verdict_of.get(result.probe.id, ("", ""))
            handle.write(json.dumps(probe_record(result, check, verdict, pcap_of_probe.get(result.probe.id)))
                         + "\n")
    return len(outcomes)


def write_inventory(run_dir: Path, inventory: Inventory | None, pod_evidence: Mapping[str, Any],
                    run_id: str, neighbours: Mapping[str, NeighbourTable] | None = None) -> None:
    doc = {"schema": INVENTORY_SCHEMA, "run_id": run_id,
           "inventory": None if inventory is None else to_jsonable(inventory),
           "pod_evidence": to_jsonable(dict(pod_evidence)),
           "neighbours": neighbours_record(neighbours or {})}
    (run_dir / "inventory.json").write_text(json.dumps(doc, indent=1))


def read_json(path: Path) -> Any:
    return json.loads(path.read_text()) if path.exists() else None


def read_jsonl(path: Path) -> Iterable[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


__all__ = ["CAPTURE_MODES", "check_pcap", "check_record", "mac_owners", "probe_record", "read_json",
           "read_jsonl", "slug", "wants_pcap", "write_checks", "write_inventory", "write_pcap"]
