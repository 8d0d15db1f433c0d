"""Build a topology as namespaces, attach pods with the real CNI plugins, read back what was built, tear down.

The build order mirrors a cluster: the switch (fabric), nodes with their NICs, hosts on the VLANs, lab-only
mis-wiring, then pods, which are scheduled by nodeSelector and attached the Multus way. Any failure of a single pod
(the plugin refusing, no node matching) is recorded on that pod as Kubernetes would show it, because that is a
finding for the suites; only faults of the lab itself raise.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from ipaddress import IPv4Interface
from pathlib import Path
from typing import Any

from pyroute2 import netns as pyroute_netns

from netattest.annotations import (
    NETWORK_STATUS_ANNOTATION,
    NETWORKS_ANNOTATION,
    parse_networks_annotation,
    render_network_status,
)
from netattest.errors import CniError, LabError
from netattest.inventory import BridgePort, HostView, InterfaceView, Inventory, NodeView, PodAttachment, PodView
from netattest.lab import cni, daemons, host_device, routers
from netattest.lab.capacity import backlog_drops, check_neighbour_capacity, rx_dropped, table_fulls
from netattest.lab.cni_status import network_status_from_cni_result
from netattest.lab.links import host_side, read_interfaces, read_pod_namespace, retag_bridge_port, set_default_route
from netattest.lab.multus import multus_refusal
from netattest.lab.nads import WHEREABOUTS_NOTE, NadStore
from netattest.lab.nsenter import in_netns, write_sysctls
from netattest.lab.pod_records import POD_RECORDS, PodRecord, record_from_json
from netattest.lab.state import KEPT_FILE, STATE_ROOT, RunDir, known_runs
from netattest.lab.wiring import NODE_SYSCTLS, Fabric, Namespace, remove_namespace
from netattest.manifests import pod_manifest, runtime_config
from netattest.nodes.duties import node_link
from netattest.probe.readers import read_bridge_ports
from netattest.runid import netns_name, new_run_id, parse_netns_name
from netattest.scheduling import no_node_reason, schedule
from netattest.topology.model import Pod, Topology

log = logging.getLogger(__name__)
IPVLAN_DHCP_NOTE = ("ipvlan children share their master's MAC, so a DHCP server keyed on MAC sees all pods of a node "
                    "as one client: the CNI dhcp daemon sends a client id per container and asks for broadcast "
                    "replies (ipvlan cannot deliver a unicast reply to an address not yet configured); each pod "
                    "is expected to hold its own lease")
Progress = Callable[[str], None]
#: Roles in teardown order: pods first so CNI DEL still finds their node namespaces.
TEARDOWN_ORDER = ("pod", "imp", "leak", "rtr", "ext", "node", "fabric")


class Lab:
    """One embedded lab; use as a context manager so every exit path tears it down."""

    def __init__(self, topology: Topology, run_id: str | None = None, *, progress: Progress | None = None,
                 state_root=STATE_ROOT) -> None:
        self.topology = topology
        self.run_id = run_id or new_run_id()
        self.run_dir = RunDir(self.run_id, state_root)
        self.progress = progress or (lambda message: None)
        self._namespaces: dict[str, Namespace] = {}
        self._pods: list[PodRecord] = []
        self._node_nics: dict[str, dict[str, InterfaceView]] = {}  # masters do not change while pods attach
        self.nads = NadStore(topology)
        self._built = False
        self._adopted = False  # adopted from a kept lab (--lab): never torn down by this process

    # -- lifecycle -------------------------------------------------------------------------------------------
    def __enter__(self) -> Lab:
        self.up()
        return self

    def __exit__(self, *exc: object) -> None:
        self.down()

    def up(self, stage: str = "pods") -> Inventory:
        """Build the lab. ``stage="nodes"`` stops before the first pod (switch, nodes, hosts, daemons only), so
        node pre-flight checks can run on nodes that carry no pod yet; :meth:`attach_pods` then finishes."""
        if stage not in ("nodes", "pods"):
            raise ValueError(f"unknown lab stage {stage!r} (nodes or pods)")
        if os.geteuid() != 0:
            raise LabError("the embedded lab needs root to create network namespaces. Fix: run as root, or "
                           "use --kernel uml, which runs the session as root inside a user-mode Linux kernel.")
        check_neighbour_capacity(self.topology)
        self.run_dir.create(self.topology.source)
        self._built = True
        try:
            self._build_fabric_and_nodes()
            self._build_hosts()
            self._start_dhcp()
            if stage == "pods":
                self._build_pods()
        except BaseException:  # Ctrl-C and SIGTERM (raised as KeyboardInterrupt) included
            self.down()
            raise
        return self.inventory()

    def attach_pods(self) -> Inventory:
        """Second stage after ``up(stage="nodes")``: schedule and attach the pods."""
        if not self._built or self._pods:
            raise LabError("attach_pods() needs a lab built with up(stage='nodes') and no pods yet")
        try:
            self._build_pods()
        except BaseException:
            self.down()
            raise
        return self.inventory()

    def keep(self) -> None:
        """Leave the lab running on purpose: ``gc`` spares it, and ``netattest run --lab RUN_ID`` can adopt it."""
        source = Path(self.topology.source)
        self.run_dir.write_json(KEPT_FILE, {"kept_at": time.time(),
                                            "topology": str(source.absolute()) if source.exists() else str(source),
                                            "topology_sha256": self.topology.sha256, "name": self.topology.name})

    @classmethod
    def adopt(cls, run_id: str, topology: Topology, *, progress: Progress | None = None,
              state_root=STATE_ROOT) -> Lab:
        """The kept lab ``run_id`` (``netattest lab up`` or a run with ``--keep``), as the process that built it
        knew it: its namespaces opened, its pods' records read back. Nothing is built; :meth:`release` lets it go
        again without tearing it down. Everything live is read from the namespaces when reported, so a hand edit
        (a NIC taken down, a route added) shows."""
        lab = cls(topology, run_id, progress=progress, state_root=state_root)
        kept = lab.run_dir.read_json(KEPT_FILE)
        owner = lab.run_dir.owner()
        if not isinstance(kept, dict) or owner is None:
            known = ", ".join(r.run_id for r in known_runs(state_root) if (r.path / KEPT_FILE).exists()) or "none"
            raise LabError(f"--lab {run_id}: no kept lab with that run id on this machine (kept labs: {known}). "
                           "Fix: keep one with 'netattest lab up --topology FILE' or 'netattest run --keep', and "
                           "pass the run id it prints")
        if owner.alive() and owner.pid != os.getpid():
            raise LabError(f"--lab {run_id}: the lab is still being built or used by process {owner.pid}. Fix: wait "
                           "for it to finish, or pick another kept lab ('netattest lab status')")
        if kept.get("topology_sha256") != topology.sha256:
            raise LabError(f"--lab {run_id}: the lab was built from {kept.get('topology')} "
                           f"(topology {kept.get('name')}, sha256 {str(kept.get('topology_sha256'))[:12]}), not from "
                           f"{topology.source} (sha256 {topology.sha256[:12]}): its expectations would not describe "
                           f"it. Fix: pass --topology {kept.get('topology')}, or build a lab from this file")
        records_dir = lab.run_dir.path / POD_RECORDS
        records = [(path, lab.run_dir.read_json(f"{POD_RECORDS}/{path.name}"))
                   for path in (sorted(records_dir.glob("*.json")) if records_dir.is_dir() else [])]
        present = set(run_namespaces(run_id))
        expected = [netns_name(run_id, "node", n.name) for n in topology.nodes] + [
            str(data["netns"]) for _, data in records if isinstance(data, dict) and data.get("netns")]
        missing = [n for n in expected if n not in present]
        if missing:
            raise LabError(f"--lab {run_id}: namespaces of the kept lab are gone ({', '.join(missing[:5])}"
                           f"{' ...' if len(missing) > 5 else ''}); it cannot be checked as built. Fix: remove it "
                           f"with 'netattest lab down --run-id {run_id}' and keep a new one")
        for name in present:
            lab._namespaces[name] = Namespace.open(name)  # no netlink handle until something edits it
        for path, data in records:
            try:
                lab._pods.append(record_from_json(data, topology))  # type: ignore[arg-type]
            except (KeyError, TypeError, ValueError) as exc:
                lab.release()
                raise LabError(f"--lab {run_id}: the record {path} does not fit topology {topology.name} "
                               f"({type(exc).__name__}: {exc}); the lab was built by another version of netattest. "
                               f"Fix: 'netattest lab down --run-id {run_id}' and keep a new one") from None
        order = {p.key: n for n, p in enumerate(topology.pods)}
        lab._pods.sort(key=lambda r: order.get(r.pod.key, len(order)))
        lab._built = lab._adopted = True
        return lab

    def release(self) -> None:
        """Close this process's handles on an adopted lab and leave the lab running."""
        for ns in self._namespaces.values():
            ns.close()
        self._namespaces.clear()
        self._built = False

    def down(self) -> list[str]:
        """Tear everything down; returns problems met on the way (teardown never stops half-way)."""
        if self._adopted:
            raise LabError(f"lab {self.run_id} was adopted (--lab): it is not this run's to tear down. Fix: "
                           f"'netattest lab down --run-id {self.run_id}'")
        # A second Ctrl-C or SIGTERM must not cut teardown short: hold them until it is done (they are delivered
        # right after, so the session still stops), instead of leaving half a lab for gc.
        held = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM, signal.SIGHUP})
        try:
            for ns in self._namespaces.values():
                ns.close()
            self._namespaces.clear()
            problems = teardown_run(self.run_id, self.run_dir.path.parent)
            self._built = False
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, held)
        return problems

    # -- build -----------------------------------------------------------------------------------------------
    def _ns(self, role: str, name: str, sysctls: dict[str, str] | None = None) -> Namespace:
        ns = Namespace.create(netns_name(self.run_id, role, name), sysctls)
        self._namespaces[ns.name] = ns
        return ns

    def _build_fabric_and_nodes(self) -> None:
        vlan_aware = needs_vlan_fabric(self.topology)
        self.progress("fabric: " + ("one VLAN-aware bridge with access and trunk ports" if vlan_aware
                                    else "one bridge per network"))
        self.fabric = Fabric(self._ns("fabric", "switch"), vlan_aware)
        for network in self.topology.networks:
            self.fabric.add_network(network.name, network.mtu, network.vlan)
        for node in self.topology.nodes:
            self.progress(f"node {node.name}")
            ns = self._ns("node", node.name, NODE_SYSCTLS)
            for nic in node.nics:  # parents before their VLAN sub-interfaces
                if nic.parent:
                    continue
                if nic.trunk:
                    self.fabric.plug_trunk(nic.trunk, ns, nic.name, mtu=nic.mtu)
                else:
                    self.fabric.plug(str(nic.network), ns, nic.name, mtu=nic.mtu)
                if nic.address:
                    ns.add_address(nic.name, nic.address)
            for nic in node.nics:
                if nic.parent:
                    ns.ipr.link("add", ifname=nic.name, kind="vlan", link=ns.index(nic.parent),
                                vlan_id=int(nic.vlan or self.topology.network(str(nic.network)).vlan or 0))
                    ns.link_up(nic.name, mtu=nic.mtu)
                    if nic.address:
                        ns.add_address(nic.name, nic.address)
            for bridge in node.bridges:  # bridge NADs' node bridges; the plugin makes a node-local one itself
                # vlan_filtering only when asked: a kernel without it refuses even the attribute set to 0
                filtering = {"br_vlan_filtering": 1} if bridge.vlan_filtering else {}
                ns.ipr.link("add", ifname=bridge.name, kind="bridge", br_stp_state=0, br_forward_delay=0, **filtering)
                index = ns.link_up(bridge.name)
                if bridge.uplink:
                    ns.link_up(bridge.uplink, master=index)
            gateway = self._gateway_for(node.nics)
            if gateway:
                ns.add_default_route(gateway)
            for ref in self.topology.lab.drift.nic_down:  # lab drift: a NIC taken down by hand
                owner, _, nic_name = ref.partition("/")
                if owner == node.name:
                    ns.ipr.link("set", index=ns.index(nic_name), state="down")

    def _gateway_for(self, nics) -> str | None:
        for nic in nics:
            if nic.address and nic.network:
                gateway = self.topology.network(nic.network).gateway
                if gateway and gateway != nic.address.ip:
                    return str(gateway)
        return None

    def _build_hosts(self) -> None:
        removed = set(self.topology.lab.drift.remove_external_hosts)
        for host in self.topology.external_hosts:
            if host.name in removed:
                continue
            ns = self._ns("ext", host.name)
            self.fabric.plug(host.network, ns, "eth0", mtu=self.topology.network(host.network).mtu, mac=host.mac)
            ns.add_address("eth0", host.address)
        for router in self.topology.lab.routers:
            self.progress(f"lab-only router {router.name} joining {', '.join(n for n, _ in router.legs)}"
                          + routers.describe(router))
            sysctls = {"net/ipv4/ip_forward": "1"}
            ns = self._ns("rtr", router.name, sysctls)
            for index, (network, address) in enumerate(router.legs):
                ifname = f"eth{index}"
                self.fabric.plug(network, ns, ifname)
                ns.add_address(ifname, address)
                if router.proxy_arp:
                    write_sysctls(ns.name, {f"net/ipv4/conf/{ifname}/proxy_arp": "1"})
            rules = routers.ruleset(router)
            if rules:
                routers.apply_ruleset(ns.name, rules, router.name)
        for leak in self.topology.lab.leaks:
            self.progress(f"lab-only L2 leak {leak.name} bridging {', '.join(leak.networks)}")
            ns = self._ns("leak", leak.name)
            ns.ipr.link("add", ifname="br0", kind="bridge", br_stp_state=0, br_forward_delay=0)
            bridge = ns.link_up("br0")
            for index, network in enumerate(leak.networks):
                self.fabric.plug(network, ns, f"eth{index}")
                ns.link_up(f"eth{index}", master=bridge)
        for impostor in self.topology.lab.impostors:
            ns = self._ns("imp", impostor.name)
            self.fabric.plug(impostor.network, ns, "eth0")
            prefix = self.topology.network(impostor.network).subnet.prefixlen
            ns.add_address("eth0", IPv4Interface(f"{impostor.claims}/{prefix}"))

    def _start_dhcp(self) -> None:
        """dnsmasq on every DHCP-server host, and the CNI dhcp daemon when a NAD uses dhcp IPAM."""
        removed = set(self.topology.lab.drift.remove_external_hosts)
        for host in self.topology.external_hosts:
            if not host.dhcp_server or host.name in removed:
                continue
            self.progress(f"DHCP server on {host.name}")
            subnet = self.topology.network(host.network).subnet
            first, last = host.dhcp_range(subnet)
            directory = self.run_dir.sub("dhcp")
            argv = [shutil.which("dnsmasq") or "/usr/sbin/dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null",
                    "--port=0", "--interface=eth0", "--bind-interfaces", "--user=root", "--log-dhcp",
                    f"--dhcp-range={first},{last},{subnet.netmask},1h",
                    f"--dhcp-leasefile={directory / (host.name + '.leases')}",
                    f"--pid-file={directory / (host.name + '.pid')}",
                    "--dhcp-option=6"]  # no DNS servers: the lab has none
            if not host.dhcp_default_route and host.name not in self.topology.lab.drift.dhcp_default_route:
                argv.append("--dhcp-option=3")  # an empty router option: do not hijack the pod's default route
            lease_file = directory / f"{host.name}.leases"
            daemons.start(self.run_dir.path, f"dnsmasq-{host.name}", argv,
                          netns=netns_name(self.run_id, "ext", host.name), ready=lease_file.exists)
        if self.nads.uses("dhcp"):
            self.progress("CNI dhcp daemon")
            socket = self.run_dir.sub("dhcp") / "dhcp.sock"
            daemons.start(self.run_dir.path, "cni-dhcp",
                          # -broadcast: ipvlan children cannot receive a unicast offer before they hold an address
                          [os.path.join(cni.find_plugin_dir("dhcp"), "dhcp"), "daemon", "-broadcast",
                           "-socketpath", str(socket), "-timeout", "10s"], netns=None, ready=socket.exists)

    def _build_pods(self) -> None:
        placement = schedule(self.topology)
        for number, pod in enumerate(self.topology.pods, 1):
            self.progress(f"pod {number}/{len(self.topology.pods)} {pod.key}")
            node = placement[pod.key]
            reason = None if node else no_node_reason(self.topology, pod)
            record = PodRecord(pod, node, None, reason, [], [], [])
            self._pods.append(record)
            if node is not None:
                pod_ns = self._ns("pod", f"{pod.namespace}.{pod.name}")
                record.netns = pod_ns.name
                self._attach(record, pod_ns)
            self.run_dir.write_json(record.file_name, record.to_json())

    def _drifted_pod(self, pod: Pod) -> Pod:
        """The pod as the lab creates it: lab drift may give it other addresses than the topology expects."""
        drift = self.topology.lab.drift.pod_ips
        networks = tuple(replace(net, ips=drift[f"{pod.name}/{net.interface}"])
                         if f"{pod.name}/{net.interface}" in drift else net for net in pod.networks)
        return replace(pod, networks=networks)

    def _attach(self, record: PodRecord, pod_ns: Namespace) -> None:
        """Attach the networks of the pod's annotation the way Multus does: parse the annotation, look up each NAD
        (namespace isolation first), run its plugins in order, stop at the first failure (the pod sandbox then
        never starts), then apply a ``default-route`` request."""
        pod, node = record.pod, str(record.node)
        node_ns = netns_name(self.run_id, "node", node)
        if node not in self._node_nics:
            self._node_nics[node] = read_interfaces(node_ns)
        node_nics = self._node_nics[node]
        record.manifest = pod_manifest(self._drifted_pod(pod))
        annotation = record.manifest["metadata"]["annotations"].get(NETWORKS_ANNOTATION, "")
        selections = parse_networks_annotation(annotation, pod.namespace)
        for selection in selections:
            refusal = multus_refusal(self.topology, pod, selection.namespace, selection.name,
                                     self.nads.get(selection.namespace, selection.name) is not None)
            if refusal:
                record.reason = f"FailedCreatePodSandBox: {refusal}"
                return
            nad = self.nads.get(selection.namespace, selection.name)
            assert nad is not None
            link = node_link(nad.attachment, self.topology.node(node), self.topology.networks_by_name())
            master = node_nics.get(link or "")
            view = PodAttachment(nad.attachment.network, nad.attachment, nad.plugin, nad.mode,
                                 str(selection.interface), selection.ips, link, master.mac if master else None)
            config = nad.cni_config(node, self.run_dir.path)
            runtime = runtime_config(selection)
            if runtime:
                config["runtimeConfig"] = runtime
            call = cni.CniCall(config, node_ns, pod_ns.name, str(selection.interface),
                               f"{self.run_id}-{pod.namespace}-{pod.name}")
            try:
                result = cni.cni_add(call)
            except CniError as exc:
                record.reason = f"FailedCreatePodSandBox: {exc} (pod on node {node}, NAD {nad.attachment.key})"
                record.attachments.append(replace(view, error=str(exc)))
                return
            try:
                result, view = self._after_add(record, call, result, view, pod_ns)
            except CniError as exc:
                record.reason = (f"FailedCreatePodSandBox: {exc} (pod on node {node}, NAD {nad.attachment.key}, "
                                 "re-added after the host-device round trip)")
                record.attachments.append(replace(view, error=str(exc)))
                return
            record.calls.append({"config": config, "node_netns": node_ns, "pod_netns": pod_ns.name,
                                 "ifname": call.ifname, "container_id": call.container_id, "result": result,
                                 "nad": nad.attachment.key})
            record.attachments.append(view)
            record.statuses.append(network_status_from_cni_result(nad.attachment.key, call.ifname, result))
        for selection in selections:
            if selection.default_route:
                set_default_route(pod_ns.ipr, str(selection.interface), selection.default_route[0])
        if record.statuses:
            record.manifest["metadata"]["annotations"][NETWORK_STATUS_ANNOTATION] = \
                render_network_status(record.statuses)

    def _after_add(self, record: PodRecord, call: cni.CniCall, result: dict[str, Any], view: PodAttachment,
                   pod_ns: Namespace) -> tuple[dict[str, Any], PodAttachment]:
        """What follows a successful ADD: the host-device round trip (DEL, look, ADD), the bridge port's lab drift;
        returns the result in force and the attachment as observed."""
        drift = self.topology.lab.drift
        key = f"{record.pod.name}/{call.ifname}"
        node_ipr = self._namespaces[call.node_netns].ipr
        view = replace(view, host_port=host_side(result, call.ifname))
        if view.applied_plugin == "host-device" and view.master:
            before = self._node_nics[str(record.node)].get(view.master)
            trip, result = host_device.round_trip(call, result, view.master, before, node_ipr, pod_ns.ipr,
                                                  kept=key in drift.host_device_kept)
            view = replace(view, round_trip=trip)
        if key in drift.bridge_port_vlan and view.host_port:
            retag_bridge_port(node_ipr, view.host_port, drift.bridge_port_vlan[key])
        return result, view

    def drop_counters(self) -> dict[str, int]:
        """Drops the probe engine's own sockets cannot see: a full neighbour table, a full input backlog, and frames
        the nodes and the switch dropped on receive. A probe window during which any of these grew proves nothing
        by silence."""
        counters = {"neighbour table full": table_fulls(), "input backlog full (host-wide)": backlog_drops()}
        for name in self._namespaces:
            role = parse_netns_name(name)
            if role and role[1] in ("node", "fabric"):
                counters[f"rx dropped in {role[1]} {role[2]}"] = rx_dropped(name)
        return counters

    # -- observe ---------------------------------------------------------------------------------------------
    def check(self) -> list[str]:
        """CNI CHECK for every attachment; returns the failures (empty when every plugin agrees)."""
        failures = []
        for record in self._pods:
            for call in record.calls:
                try:
                    cni.cni_check(_call_from(call), call["result"])  # type: ignore[arg-type]
                except CniError as exc:
                    failures.append(f"{record.pod.key} {call['ifname']}: {exc}")
        return failures

    def inventory(self) -> Inventory:
        bridges = self.nads.uses_plugin("bridge") or any(n.bridges for n in self.topology.nodes)
        nodes = [self._node_view(n.name, n.all_labels(), bridges) for n in self.topology.nodes]
        pods = [self._pod_view(record) for record in self._pods]
        return Inventory(self.run_id, "lab", pods, nodes, self._host_views(), notes=self._notes())

    def _node_view(self, name: str, labels: dict[str, str], bridges: bool) -> NodeView:
        netns = netns_name(self.run_id, "node", name)
        ports: list[BridgePort] = []
        if bridges:  # read as the cluster target reads it, by the agent's netlink reader
            with in_netns(netns):
                ports = [BridgePort.from_wire(p) for p in read_bridge_ports()]
        return NodeView(name, labels, read_interfaces(netns), netns, ports)

    def _pod_view(self, record: PodRecord) -> PodView:
        interfaces: dict[str, InterfaceView] = {}
        routes: list[str] = []
        sysctls: dict[str, str] = {}
        if record.netns:
            names = [k for a in record.attachments if a.attachment.tuning for k in a.attachment.tuning.sysctl]
            interfaces, routes, sysctls = read_pod_namespace(record.netns, names)
        failed = record.reason is not None
        phase = "Pending" if record.node is None or failed else "Running"
        return PodView(record.pod.name, record.pod.namespace, record.node, phase, record.reason, interfaces,
                       list(record.statuses), list(record.attachments), record.netns, record.manifest, routes,
                       sysctls)

    def _host_views(self) -> list[HostView]:
        views = []
        removed = set(self.topology.lab.drift.remove_external_hosts)
        for host in self.topology.external_hosts:
            if host.name not in removed:
                views.append(self._host_view(host.name, "ext", host.network, "eth0", "external"))
        for router in self.topology.lab.routers:
            for index, (network, _) in enumerate(router.legs):
                views.append(self._host_view(router.name, "rtr", network, f"eth{index}", "router"))
        for impostor in self.topology.lab.impostors:
            views.append(self._host_view(impostor.name, "imp", impostor.network, "eth0", "impostor"))
        return views

    def _host_view(self, name: str, role: str, network: str, ifname: str, kind: str) -> HostView:
        ns = self._namespaces[netns_name(self.run_id, role, name)]
        return HostView(name, network, read_interfaces(ns.name)[ifname], kind, ns.name)

    def _notes(self) -> list[str]:
        drift = self.topology.lab.drift
        notes = [WHEREABOUTS_NOTE] if self.nads.uses("whereabouts") else []
        if self.nads.uses("dhcp", plugin="ipvlan"):
            notes.append(IPVLAN_DHCP_NOTE)
        if drift.any():
            notes.append("lab drift applied on purpose (the lab differs from the topology's expectations): "
                         f"{drift}")
        lab = self.topology.lab
        if lab.routers or lab.impostors or lab.leaks:
            notes.append("lab-only mis-wiring present: "
                         + ", ".join([f"router {r.name}{routers.describe(r)}" for r in lab.routers]
                                     + [f"L2 leak {k.name} bridging {'+'.join(k.networks)}" for k in lab.leaks]
                                     + [f"impostor {i.name} claims {i.claims}" for i in self.topology.lab.impostors]))
        return notes


def needs_vlan_fabric(topology: Topology) -> bool:
    """Trunks, VLAN sub-interfaces and the vlan plugin need 802.1Q tags on the wire, hence a VLAN-aware switch."""
    return (any(nic.trunk or nic.parent for node in topology.nodes for nic in node.nics)
            or "vlan" in topology.plugins())


def _call_from(record: dict[str, object]) -> cni.CniCall:
    return cni.CniCall(record["config"], str(record["node_netns"]), str(record["pod_netns"]),  # type: ignore[arg-type]
                       str(record["ifname"]), str(record["container_id"]))


def run_namespaces(run_id: str) -> list[str]:
    """This run's namespaces, found by their run-id prefix (never another run's)."""
    names = []
    for name in pyroute_netns.listnetns():
        parsed = parse_netns_name(name)
        if parsed and parsed[0] == run_id:
            names.append(name)
    order = {role: i for i, role in enumerate(TEARDOWN_ORDER)}
    return sorted(names, key=lambda n: order.get(parse_netns_name(n)[1], 0))  # type: ignore[index]


def teardown_run(run_id: str, state_root=STATE_ROOT) -> list[str]:
    """Remove every trace of ``run_id``: CNI DEL for recorded attachments, namespaces, run directory.

    Works from what is on disk and in /var/run/netns alone, so ``gc`` can clean a run whose process died.
    """
    problems: list[str] = []
    run_dir = RunDir(run_id, state_root)
    records_dir = run_dir.path / POD_RECORDS
    pods = sorted(records_dir.glob("*.json")) if records_dir.is_dir() else []

    def delete_pod(path: Path) -> list[str]:
        errors = []
        data: dict[str, Any] = dict(run_dir.read_json(f"{POD_RECORDS}/{path.name}") or {})  # type: ignore[call-overload]
        for call in reversed(data.get("calls", [])):
            try:
                cni.cni_del(_call_from(call), call.get("result"))  # type: ignore[arg-type]
            except (CniError, LabError, KeyError) as exc:
                errors.append(f"CNI DEL {path.stem} {call.get('ifname')}: {exc}")
        return errors

    # Plugins are separate processes: DEL pods in parallel (each pod's own DELs stay in reverse order).
    with ThreadPoolExecutor(max_workers=8) as pool:
        for errors in pool.map(delete_pod, pods):
            problems.extend(errors)
    problems += daemons.stop_all(run_dir.path)
    for name in run_namespaces(run_id):
        try:
            remove_namespace(name)
        except OSError as exc:
            problems.append(f"netns {name}: {exc}")
    run_dir.remove()
    return problems
