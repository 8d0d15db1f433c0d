"""The probe transcript of one check, for people: what was sent, from where, who answered and when, and the
verdict. Built from a check record (``records.check_record``), so Allure and the HTML report say the same."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any


def _clock(epoch: float) -> str:
    if not epoch:
        return "--:--:--.------"
    return time.strftime("%H:%M:%S", time.gmtime(epoch)) + f".{int((epoch % 1) * 1_000_000):06d}"


def _probe_lines(probe: Mapping[str, Any], heading: str = "") -> list[str]:
    sent = probe["sent"] or f"{probe['kind']} to {probe['target_ip']}"
    silent = "" if probe["expect_answer"] else ", must stay silent"
    lines = [f"{_clock(probe['sent_at'])}Z  {heading}{sent}  [{probe['attempts']} attempt(s){silent}]"]
    if probe.get("error"):
        lines.append(f"    !! not sent: {probe['error']}")
    for answer in probe["answers"]:
        what = "is-at" if probe["kind"] == "arp" else f"{answer.get('kind') or 'answer'} from"
        via = f", Ethernet source {answer['eth_src']}" if answer.get("eth_src") not in (None, "", answer["mac"]) else ""
        ttl = f", TTL {answer['ttl']}" if answer.get("ttl") else ""
        lines.append(f"    <- {answer['ip']} {what} {answer['mac']} ({answer['owner']}) in {answer['rtt_ms']:.2f} ms"
                     f" (attempt {answer['attempt']}){via}{ttl}")
    if not probe["answers"] and not probe.get("error"):
        lines.append("    <- no answer within the window")
    return lines


def transcript(record: Mapping[str, Any]) -> str:
    source, target = record["source"], record["target"]
    lines = [
        f"check   {record['id']}",
        f"expect  {record['expected']}" + (f" (known behaviour: {record['known_behaviour']})"
                                           if record.get("known_behaviour") else f" ({record['why']})"),
        f"from    {source['label']} {source['iface']} on {source['network']}"
        + (f" ({source['ip']}, MAC {source['mac']})" if source.get("ip") else ""),
        f"to      {target['label']} on {target['network']}"
        + (f" ({target['ip']}, MAC {target['mac']})" if target.get("ip") else ""),
        "",
    ]
    if not record["probes"]:
        lines.append("no probe was sent: the check was decided before probing")
    for probe in record["probes"]:
        lines += _probe_lines(probe)
    for path in record.get("paths") or []:
        hop = path["hop"]
        lines += ["", f"through next hop {hop['who']} (MAC {hop['mac']}, {hop['ip']}), sent from {path['sent_from']}:"]
        for probe in path["probes"]:
            lines += _probe_lines(probe)
    if record.get("heard"):
        lines += ["", "heard by target-side listeners (must stay silent):"] + [f"    !! {h}" for h in record["heard"]]
    if record.get("twin"):
        lines += ["", "sanity twin (same socket, same window: must be answered inside the source VLAN):"]
        lines += _probe_lines(record["twin"])
    if record.get("l3_twins"):
        lines += ["", "IP sanity twins (from the sender of the next-hop probes: must be answered in its VLAN):"]
        for probe in record["l3_twins"]:
            lines += _probe_lines(probe)
    lines += ["", f"verdict {record['status']}: {record['reason']}"]
    if record.get("pcap"):
        lines.append(f"pcap    {record['pcap']}")
    return "\n".join(lines) + "\n"
