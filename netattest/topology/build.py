"""Layer 3 of the loader: semantic checks while the model is built, section by section (see the mixins), into the
frozen :class:`~netattest.topology.model.Topology`."""

from __future__ import annotations

from ..naming import label_value_problem
from .build_infra import InfraSection
from .build_nads import NadSection
from .build_pods import PodSection
from .lab_spec import LabSection
from .model import MultusConfig, Topology
from .wording import _q


class TopologyBuilder(LabSection, PodSection, NadSection, InfraSection):
    """The whole builder: every section over one shared state (:class:`~netattest.topology.build_base.BuilderBase`)."""

    def build(self, sha256: str) -> Topology:
        name = self.data["name"]
        problem = label_value_problem(name)
        if problem:
            self.fail(("name",), f"topology name {_q(name)} {problem}", "use something like restricted-vlan")
        networks = self.build_networks()
        nodes = self.build_nodes()
        hosts = self.build_external_hosts()
        raw_multus = self.data.get("multus", {})
        self.multus = MultusConfig(bool(raw_multus.get("namespaceIsolation", False)),
                                   tuple(raw_multus.get("nonIsolatedNamespaces", ("default",))))
        attachments = self.build_attachments()
        pods = self.build_pods()
        self.check_ipam()
        expectations = self.build_expectations()
        lab = self.build_lab()
        return Topology(
            name=name,
            source=self.source,
            sha256=sha256,
            networks=networks,
            nodes=nodes,
            external_hosts=hosts,
            attachments=attachments,
            pods=pods,
            expectations=expectations,
            lab=lab,
            description=self.data.get("description", ""),
            multus=self.multus,
        )
