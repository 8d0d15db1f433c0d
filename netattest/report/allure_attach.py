"""Allure inside the suites' tests: labels (epic = network, feature = check kind, story = VLAN), parameters
(source, target, plugin, node, VLAN: excluded from Allure's history id, so trends follow the test and not the
MACs of the day), and the attachments an auditor asks for — the NAD as applied, the pod manifest, the
network-status annotation, ``ip -d addr`` inside the pod, the probe transcript and a pcap of the probe traffic.

The suites get an :class:`EvidenceKit` from the ``evidence`` fixture and write ``with allure.step(...)`` for their
setup / probe / verdict steps themselves, so what a test asserts stays visible in the test.
"""

from __future__ import annotations

import json
import shlex
import subprocess
from collections.abc import Callable, Iterable
from typing import Any

import allure
import yaml
from allure_commons import plugin_manager
from allure_commons.model2 import Attachment, ExecutableItem

from netattest import spawn
from netattest.annotations import NETWORK_STATUS_ANNOTATION, render_network_status
from netattest.inventory import Inventory, PodView
from netattest.manifests import NAD_API_VERSION, nad_cni_config, pod_manifest
from netattest.matrix import Check, Subject
from netattest.outcomes import Outcome
from netattest.report.pcap import pcap_bytes
from netattest.report.records import check_frames, check_pcap, check_record, mac_owners, wants_pcap
from netattest.report.scrub import Scrubber
from netattest.report.transcript import transcript
from netattest.topology.model import Topology

TEXT = allure.attachment_type.TEXT
YAML = allure.attachment_type.YAML
JSON = allure.attachment_type.JSON
PCAP = allure.attachment_type.PCAP


class _BlockDumper(yaml.SafeDumper):
    """Multi-line strings (a NAD's CNI config JSON) as readable ``|`` blocks, as kubectl users write them."""


_BlockDumper.add_representer(
    str, lambda dumper, text: dumper.represent_scalar("tag:yaml.org,2002:str", text,
                                                      style="|" if "\n" in text else None))


def _yaml(docs: Iterable[Any]) -> str:
    return yaml.dump_all(list(docs), Dumper=_BlockDumper, sort_keys=False)


POD_MARK = "--- netattest pod "  # starts the part of the shell's output that belongs to one pod


def ip_addr_inside(views: Iterable[PodView]) -> dict[str, str]:
    """``ip -d addr`` inside each pod, as text by pod key (lab: the pods' namespaces). One shell runs them all: a
    process started by the harness costs ~0.1 s inside the kernel sandbox, one started by a small shell a third."""
    texts: dict[str, str] = {}
    reachable = []
    for view in views:
        if view.netns:
            reachable.append(view)
        else:
            texts[view.key] = (f"(not collected: pod {view.label} has no network namespace on this target: "
                               f"{view.reason or ''})\n")
    if not reachable:
        return texts
    q = shlex.quote
    script = "; ".join(f"echo {q(POD_MARK + view.key)}; ip -d -n {q(str(view.netns))} addr show 2>&1"
                       for view in reachable)
    try:
        out = spawn.run(["/bin/sh", "-c", script], text=True, timeout=20 + len(reachable)).stdout
    except (OSError, subprocess.TimeoutExpired) as exc:
        return {**texts, **{view.key: f"(ip -d addr failed: {exc})\n" for view in reachable}}
    parts: dict[str, list[str]] = {}
    lines: list[str] = []
    for line in out.splitlines(keepends=True):
        if line.startswith(POD_MARK):
            lines = parts.setdefault(line[len(POD_MARK):].rstrip("\n"), [])
        else:
            lines.append(line)
    for view in reachable:
        shown = "".join(parts.get(view.key, []))
        texts[view.key] = f"$ ip -d addr   # inside pod {view.key} on {view.node}\n{shown}"
    return texts


def nad_as_applied(view: PodView) -> list[dict[str, Any]]:
    """The NADs this pod's interfaces were created from, with the plugin and mode really applied."""
    docs = []
    for attached in view.attachments:
        att = attached.attachment
        config = nad_cni_config(att, plugin=attached.applied_plugin, mode=attached.applied_mode)
        doc: dict[str, Any] = {"apiVersion": NAD_API_VERSION, "kind": "NetworkAttachmentDefinition",
                               "metadata": {"name": att.name, "namespace": att.namespace},
                               "spec": {"config": json.dumps(config, indent=2, sort_keys=True)}}
        notes = {}
        if (attached.applied_plugin, attached.applied_mode) != (att.plugin, att.mode):
            notes["netattest/drift"] = (f"applied {attached.applied_plugin} {attached.applied_mode}; the topology "
                                        f"expects {att.plugin} {att.mode}")
        if attached.error:
            notes["netattest/error"] = attached.error
        if notes:
            doc["metadata"]["annotations"] = notes
        docs.append(doc)
    return docs


class EvidenceKit:
    """Per-session helper: labels and attachments for one test at a time; caches per-pod evidence."""

    def __init__(self, topology: Topology, capture: str, inventory: Callable[[], Inventory | None],
                 scrubber: Scrubber | None = None) -> None:
        self.topology = topology
        self.capture = capture
        self._inventory = inventory
        self.scrubber = scrubber or Scrubber()
        self.pod_evidence: dict[str, dict[str, str]] = {}
        self._open_steps: list[Any] = []
        self._written: dict[tuple[str, str], str] = {}  # (pod, evidence) -> attachment file already in the results
        self._owners: dict[str, list[str]] | None = None

    # -- steps ----------------------------------------------------------------------------------------------------
    def verdict(self, title: str, wire: Iterable[Outcome] = ()) -> None:
        """Open the verdict step: the rest of the test runs inside it, and the evidence layer closes it when the
        test's call ends (failed on an assertion, broken on any other exception), so long test bodies need not be
        indented under a ``with`` block. ``wire``: checks whose traffic goes into a pcap by capture mode."""
        step = allure.step(f"verdict: {title}")
        step.__enter__()
        self._open_steps.append((step, list(wire)))

    def close_steps(self, exc: BaseException | None) -> None:
        while self._open_steps:
            step, wire = self._open_steps.pop()
            if wire:
                self.attach_wire(wire, failed=exc is not None)
            step.__exit__(type(exc) if exc else None, exc, exc.__traceback__ if exc else None)

    def arp_towards(self, outcomes: Iterable[Outcome], subject: Subject) -> list[Outcome]:
        """The reachability checks whose ARP replies show a pod interface's MAC on the wire; attaches a summary."""
        towards = [o for o in outcomes if o.check.expect_answer and o.check.target.kind == "pod"
                   and o.check.target.name == subject.name and o.check.target.iface == subject.iface]
        lines = []
        for outcome in towards:
            macs = sorted({a.mac for r in outcome.results if r.probe.kind == "arp" for a in r.answers})
            lines.append(f"{outcome.check.source.label:>24} -> ARP reply from {', '.join(macs) or 'nobody'}")
        allure.attach("\n".join(lines) + "\n" if lines else "no reachability check targets this interface\n",
                      name="ARP replies seen on the wire", attachment_type=TEXT)
        return towards

    def network_of(self, nad: str) -> str | None:
        """The network of a NAD given by name or namespace/name."""
        att = next((a for a in self.topology.attachments if nad in (a.name, a.key)), None)
        return att.network if att else None

    # -- labels ---------------------------------------------------------------------------------------------------
    def _vlan(self, network: str) -> str:
        try:
            vlan = self.topology.network(network).vlan
        except StopIteration:
            return network
        return f"VLAN {vlan} {network}" if vlan is not None else network

    def _epic(self, network: str | None) -> None:
        allure.dynamic.epic(f"network {self._vlan(network)}" if network else "no secondary network")

    def _param(self, name: str, value: Any) -> None:
        allure.dynamic.parameter(name, value, excluded=True)

    def describe_check(self, check: Check, param: str) -> None:
        """Labels and parameters of a reachability or isolation check (``param``: the pytest parameter name)."""
        source, target = check.source, check.target
        self._epic(source.network)
        same = source.network == target.network
        allure.dynamic.story(self._vlan(source.network) if same
                             else f"{self._vlan(source.network)} -> {self._vlan(target.network)}")
        allure.dynamic.parameter(param, check.id)  # the pytest parameter, shown by its id instead of its repr
        self._param("source", f"{source.label} {source.iface}")
        self._param("target", f"{target.label}" + (f" {target.iface}" if target.kind == "pod" else ""))
        if source.attachment:
            self._param("plugin", f"{source.attachment.plugin} {source.attachment.mode}".strip())
        self._param("node", source.node or "unscheduled")
        self._param("VLAN", self._vlan(source.network) if same
                    else f"{self._vlan(source.network)} -> {self._vlan(target.network)}")
        verb = "must reach" if check.expect_answer else "must stay silent towards"
        allure.dynamic.description(f"{source.label} ({source.iface} on {source.network}) {verb} {target.label} "
                                   f"on {target.network}: {check.known_behaviour or check.why}")

    def describe_census(self, network: str) -> None:
        """Labels of a VLAN's neighbour census: it belongs to the VLAN's epic, as its isolation checks do."""
        self._epic(network)
        allure.dynamic.story(self._vlan(network))
        allure.dynamic.parameter("swept_network", network)
        allure.dynamic.description(f"who is on {self._vlan(network)}: every neighbour the ARP sweep and the passive "
                                   "listener found, named from the inventory or unknown; each that could forward "
                                   "was probed as a next hop by the isolation checks")

    def describe_pod(self, pod_key: str, param: str | None = None, param_value: str | None = None,
                     subject: Subject | None = None) -> None:
        """Labels and parameters of a per-pod test (attachment, MAC behaviour)."""
        pod = next((p for p in self.topology.pods if p.key == pod_key), None)
        network = subject.network if subject else None
        attachment = subject.attachment if subject else None
        if network is None and pod is not None and pod.networks:
            name = pod.networks[0].attachment.split("/")[-1]
            attachment = next((a for a in self.topology.attachments if a.name == name), None)
            network = attachment.network if attachment else None
        self._epic(network)
        allure.dynamic.story(self._vlan(network) if network else "no secondary network")
        if network:
            self._param("VLAN", self._vlan(network))
        if param is None and subject is not None and subject.attachment is not None:
            param, param_value = "pod_interface", subject.interface_id
        if param and param_value is not None:
            allure.dynamic.parameter(param, param_value)  # the pytest parameter, shown by its test id
        self._param("source", pod_key + (f" {subject.iface}" if subject else ""))
        if attachment:
            self._param("plugin", f"{attachment.plugin} {attachment.mode}".strip())
        view = self._view(pod_key)
        self._param("node", (view.node if view else None) or "unscheduled")

    def describe_group(self, nad: str, node: str | None = None, **params: str) -> None:
        """Labels and parameters of a test about the pods of one NAD (MAC sharing, MAC uniqueness), and its setup
        step: the evidence of each of those pods (on ``node`` only, when given)."""
        network = self.network_of(nad)
        self._epic(network)
        if network:
            allure.dynamic.story(self._vlan(network))
            self._param("VLAN", self._vlan(network))
        self._param("NAD", nad)
        if node:
            self._param("node", node)
        for name, value in params.items():
            self._param(name, value)
        pods = self._pods_of(nad, node)
        with allure.step(f"setup: pods of NAD {nad}" + (f" on {node}" if node else "") + f": {', '.join(pods)}"):
            for pod in pods:
                self.attach_pod(pod)

    def _pods_of(self, nad: str, node: str | None) -> list[str]:
        inventory = self._inventory()
        found = []
        for view in inventory.pods if inventory else []:
            if node and view.node != node:
                continue
            if any(nad in (a.attachment.name, a.attachment.key) for a in view.attachments):
                found.append(view.key)
        return found

    # -- per-pod evidence -----------------------------------------------------------------------------------------
    def _view(self, pod_key: str) -> PodView | None:
        inventory = self._inventory()
        if inventory is None:
            return None
        namespace, name = pod_key.split("/", 1)
        return next((p for p in inventory.pods if p.name == name and p.namespace == namespace), None)

    def collect_pods(self) -> dict[str, dict[str, str]]:
        """Evidence of every pod (once per session, while the target still exists)."""
        inventory = self._inventory()
        if inventory is None or self.pod_evidence:
            return self.pod_evidence
        ip_addr = ip_addr_inside(inventory.pods)
        for view in inventory.pods:
            pod = next((p for p in self.topology.pods if p.key == view.key), None)
            manifest = view.manifest or (pod_manifest(pod) if pod else {})
            self.pod_evidence[view.key] = {
                "node": view.node or "",
                "nad_as_applied": self.scrubber.text(_yaml(nad_as_applied(view))) if view.attachments else "",
                "pod_manifest": self.scrubber.text(_yaml([manifest])),
                "network_status": self._network_status(view),
                "ip_addr": self.scrubber.text(ip_addr[view.key]),
            }
        return self.pod_evidence

    @staticmethod
    def _network_status(view: PodView) -> str:
        """The network-status annotation as the target wrote it (else rendered from the observed statuses)."""
        metadata = view.manifest.get("metadata") if isinstance(view.manifest, dict) else None
        annotations = metadata.get("annotations") if isinstance(metadata, dict) else None
        raw = annotations.get(NETWORK_STATUS_ANNOTATION) if isinstance(annotations, dict) else None
        text = str(raw) if raw is not None else render_network_status(view.network_status)
        try:
            return json.dumps(json.loads(text), indent=2)
        except ValueError:
            return text

    def attach_pod(self, pod_key: str, *, prefix: str = "") -> None:
        """The NAD as applied, the pod manifest, the network-status annotation and ``ip -d addr`` inside."""
        evidence = self.collect_pods().get(pod_key)
        if evidence is None:
            allure.attach(f"pod {pod_key} is not in the target's inventory\n", name=f"{prefix}pod",
                          attachment_type=TEXT)
            return
        short = pod_key.split("/")[-1]
        if evidence["nad_as_applied"]:
            self._attach_once((pod_key, "nad_as_applied"), evidence["nad_as_applied"],
                              f"{prefix}NAD as applied ({short})", YAML)
        self._attach_once((pod_key, "pod_manifest"), evidence["pod_manifest"], f"{prefix}pod manifest ({short})", YAML)
        self._attach_once((pod_key, "network_status"), evidence["network_status"],
                          f"{prefix}network-status annotation ({short})", JSON)
        self._attach_once((pod_key, "ip_addr"), evidence["ip_addr"], f"{prefix}ip -d addr inside {short}", TEXT)

    def _attach_once(self, key: tuple[str, str], body: str, name: str, kind: Any) -> None:
        """Attach evidence that is the same in every test that shows it (a pod's NAD appears in each of its checks):
        the first test writes the file, later ones reference it, so a 20,000-check run writes one file per pod and
        kind instead of one per check. Allure reads an attachment by its file name, once per file."""
        item = _current_allure_item()
        source = self._written.get(key)
        if item is None or source is None:
            allure.attach(body, name=name, attachment_type=kind)
            if item is not None and item.attachments:
                self._written[key] = item.attachments[-1].source
            return
        item.attachments.append(Attachment(name=name, source=source, type=kind.mime_type))

    # -- probe evidence -------------------------------------------------------------------------------------------
    def attach_probe(self, outcome: Outcome) -> None:
        """The probe transcript, and the pcap of the check's traffic when the capture mode asks for it."""
        inventory = self._inventory()
        if self._owners is None or inventory is None:  # one map per session: the inventory is fixed once probed
            self._owners = mac_owners(inventory) if inventory is not None else None
        record = check_record(outcome, self._owners or {})
        allure.attach(self.scrubber.text(transcript(record)), name="probe transcript", attachment_type=TEXT)
        data = check_pcap(outcome, self.capture)
        if data is not None:
            allure.attach(data, name="probe traffic (pcap)", attachment_type=PCAP)

    def attach_wire(self, outcomes: Iterable[Outcome], failed: bool, name: str = "ARP replies (pcap)") -> None:
        """A pcap of the given checks' traffic (e.g. every ARP towards one pod), by capture mode."""
        if not wants_pcap(self.capture, "failed" if failed else "passed"):
            return
        frames = [f for outcome in outcomes for f in check_frames(outcome)]
        if frames:
            allure.attach(pcap_bytes(frames), name=name, attachment_type=PCAP)


def _current_allure_item() -> ExecutableItem | None:
    """The test or step that ``allure.attach`` would attach to now, or None when no Allure reporter is active."""
    for plugin in plugin_manager.get_plugins():
        reporter = getattr(plugin, "allure_logger", None)
        if reporter is not None and hasattr(reporter, "get_last_item"):
            item = reporter.get_last_item(ExecutableItem)
            return item if isinstance(item, ExecutableItem) else None
    return None
