"""Node pre-flight: the labelled nodes are fit to carry the secondary networks before any pod is created.

Run first by default (see ``netattest/plugin/nodes.py``); an unfit node stops the session before the target deploys.
Facts are read with testinfra (lab nodes through the ``netns://`` backend, cluster nodes through a debug pod each and
the ``k8sexec://`` backend, any node by SSH with ``--node-host``) and judged by ``netattest.nodes.checks``.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import allure
import pytest

from netattest.nodes import checks
from netattest.nodes.duties import MasterDuty, OffVlan
from netattest.nodes.facts import NodeFacts
from netattest.nodes.fleet import NodeSubject
from netattest.serialize import to_jsonable
from netattest.verdicts import expect

pytestmark = pytest.mark.nodes
FactsOf = Callable[[str], NodeFacts]


def judge(finding: checks.Finding, evidence: dict[str, object]) -> None:
    """Attach what was judged (a setup step with the node's facts, as read), then skip, fail or pass in the verdict
    step, whose title says the outcome."""
    __tracebackhide__ = True
    allure.dynamic.parameter("node", evidence.get("node"), excluded=True)
    with allure.step(f"setup: facts of node {evidence.get('node')} read via {evidence.get('access') or 'testinfra'}"):
        allure.attach(json.dumps(to_jsonable(evidence), indent=2, sort_keys=True), name="node facts",
                      attachment_type=allure.attachment_type.JSON)
        if finding.notes:
            allure.attach("\n".join(finding.notes), name="notes", attachment_type=allure.attachment_type.TEXT)
    outcome = (f"skipped: {finding.skip}" if finding.skip else f"failed: {finding.message}" if finding.problems
               else "passed" + (f": {finding.message}" if finding.message else ""))
    with allure.step(f"verdict: {outcome}"):
        if finding.skip:
            pytest.skip(finding.skip)
        expect(not finding.problems, finding.message)


def _links(facts: NodeFacts, duty: MasterDuty) -> dict[str, object]:
    names = [duty.master] + ([duty.parent] if duty.parent else [])
    return {"node": facts.node, "access": facts.access, "links": {n: facts.link(n) for n in names}}


def _judge_master(check: Callable[[MasterDuty, NodeFacts], checks.Finding], duty: MasterDuty,
                  node_facts: FactsOf) -> None:
    """One master-NIC check on the duty's node, judged with the node's links as its evidence."""
    facts = node_facts(duty.node)
    judge(check(duty, facts), _links(facts, duty))


@allure.epic("nodes")
@allure.feature("master NIC")
def test_master_nic(node_duty: MasterDuty, node_facts: FactsOf) -> None:
    allure.dynamic.parameter("NADs", node_duty.nads)
    _judge_master(checks.check_master_nic, node_duty, node_facts)


@allure.epic("nodes")
@allure.feature("master NIC")
def test_master_link(node_duty: MasterDuty, node_facts: FactsOf) -> None:
    _judge_master(checks.check_master_link, node_duty, node_facts)


@allure.epic("nodes")
@allure.feature("master NIC")
def test_master_mtu(node_duty: MasterDuty, node_facts: FactsOf) -> None:
    _judge_master(checks.check_master_mtu, node_duty, node_facts)


@allure.epic("nodes")
@allure.feature("master NIC")
def test_master_has_no_address(node_duty: MasterDuty, node_facts: FactsOf) -> None:
    _judge_master(checks.check_master_address, node_duty, node_facts)


@allure.epic("nodes")
@allure.feature("master NIC")
def test_master_rx_mode(node_duty: MasterDuty, node_facts: FactsOf) -> None:
    _judge_master(checks.check_master_rx_mode, node_duty, node_facts)


@allure.epic("nodes")
@allure.feature("ARP flux")
def test_arp_flux(any_node: str, node_facts: FactsOf) -> None:
    facts = node_facts(any_node)
    judge(checks.check_arp_flux(facts), {"node": facts.node, "access": facts.access, "arp_all": facts.arp_all,
                                         "arp_default": facts.arp_default, "links": facts.links})


@allure.epic("nodes")
@allure.feature("CNI plugins")
def test_cni_plugins(labelled_node: str, node_subjects: dict[str, NodeSubject], node_facts: FactsOf) -> None:
    subject = node_subjects[labelled_node]
    facts = node_facts(labelled_node)
    judge(checks.check_cni_binaries(subject.required, facts, emulated=subject.emulated),
          {"node": facts.node, "access": facts.access, "bin_dirs": facts.bin_dirs, "binaries": facts.binaries,
           "required": subject.required})


@allure.epic("nodes")
@allure.feature("CNI plugins")
def test_ipam_daemons(labelled_node: str, node_subjects: dict[str, NodeSubject], node_facts: FactsOf) -> None:
    subject = node_subjects[labelled_node]
    facts = node_facts(labelled_node)
    judge(checks.check_ipam_daemons(subject.dhcp, facts, subject.dhcp_sockets),
          {"node": facts.node, "access": facts.access, "dhcp_daemons": facts.dhcp_daemons,
           "expected_sockets": subject.dhcp_sockets})


@allure.epic("nodes")
@allure.feature("unlabelled nodes")
def test_unlabelled_node_off_vlan(off_vlan: OffVlan, node_facts: FactsOf) -> None:
    facts = node_facts(off_vlan.node)
    judge(checks.check_off_vlan(off_vlan, facts), {"node": facts.node, "access": facts.access, "links": facts.links})
