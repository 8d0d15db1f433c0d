"""VLANs that must not be routed to each other stay silent — at L2, at L3 through every next hop, and one way.

Every silence is backed by sanity twins from the same socket, and one-way paths by listeners on the target side
that a canary proved can hear. The neighbour census of each source VLAN (who could forward a frame elsewhere) is
its own test, so an untrustworthy discovery or a host the topology does not declare is reported where it belongs.
"""

from __future__ import annotations

import allure
import pytest

from netattest.matrix import Check
from netattest.outcomes import MatrixRun
from netattest.report.allure_attach import EvidenceKit
from netattest.verdicts import settle

pytestmark = pytest.mark.isolation


@allure.feature("isolation")
def test_isolation(isolation_check: Check, matrix: MatrixRun, evidence: EvidenceKit) -> None:
    outcome = matrix.outcomes[isolation_check.id]
    evidence.describe_check(isolation_check, "isolation_check")
    source, target = isolation_check.source, isolation_check.target
    with allure.step(f"setup: {source.label} {source.iface} on {source.network}"):
        if source.kind == "pod":
            evidence.attach_pod(source.name)
    with allure.step(f"L2: ARP who-has {outcome.target_ip or target.label} from {source.label}, with a sanity twin "
                     "from the same socket"):
        evidence.attach_probe(outcome)
    for path in outcome.paths:
        with allure.step(f"L3 through next hop {path.hop_who} ({path.hop_mac}): {path.summary()}"):
            pass
    if source.network != target.network and outcome.paths is not None:
        heard = "; ".join(outcome.heard) or "nothing"
        with allure.step(f"target side ({target.network}): heard {heard}"):
            pass
    with allure.step(f"verdict: {outcome.status}: {outcome.reason}"):  # the transcript ends with it too
        settle(outcome.status, outcome.reason)


@allure.feature("neighbour census")
def test_neighbours(swept_network: str, matrix: MatrixRun, evidence: EvidenceKit) -> None:
    """The census of a source VLAN: trustworthy (the sweep heard someone, no frame lost) and complete as declared
    (``unknownNeighbours: fail`` on the network turns a host the topology does not declare into a failure)."""
    evidence.describe_census(swept_network)
    table = matrix.neighbours.get(swept_network)
    with allure.step(f"setup: the sweeping pod on {swept_network}"):
        if table is not None and table.sweeper_pod:
            evidence.attach_pod(table.sweeper_pod)
    if table is None:
        settle("broken", f"network {swept_network} was not swept: no isolation check there was probed")
        return
    listing = "; ".join(f"{n.ip} {n.mac} ({n.who}, {n.how})" for n in table.neighbours) or "nobody"
    with allure.step(f"ARP sweep of {table.addresses_swept} address(es) of {table.subnet} from {table.swept_from}: "
                     f"{len(table.neighbours)} neighbour(s)"):
        allure.attach(listing.replace("; ", "\n"), name="neighbours", attachment_type=allure.attachment_type.TEXT)
    if table.problem:
        with allure.step(f"verdict: broken: neighbour discovery on {swept_network} cannot be trusted"):
            settle("broken", f"neighbour discovery on {swept_network} cannot be trusted: {table.problem}")
        return
    unknown = table.unknown()
    hops = [n for n in table.neighbours if n.can_forward]
    reason = (f"{len(table.neighbours)} neighbour(s) on {swept_network} ({table.subnet}, {table.addresses_swept} "
              f"address(es) swept from {table.swept_from}{', subnet larger than the sweep' if table.bounded else ''}"
              f"); {len(hops)} could forward and were probed as next hops")
    if unknown:
        found = "; ".join(f"{n.ip} ({n.mac}): {n.who}" for n in unknown)
        reason += f"; NOT IN THE TOPOLOGY: {found}"
        if matrix.strict_neighbours.get(swept_network):
            why = (f"{len(unknown)} host(s) on {swept_network} the topology does not declare: {found}. Fix: declare "
                   "them under externalHosts, or remove them from the VLAN")
            with allure.step(f"verdict: failed: {why}"):
                settle("failed", why)
            return
    with allure.step(f"verdict: passed: {reason}"):
        settle("passed", reason)
