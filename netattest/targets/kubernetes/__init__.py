"""A real Kubernetes / OpenShift cluster as a target: namespaces, NADs and probe pods on labelled nodes.

Lifecycle of :meth:`KubernetesTarget.deploy`:

1. connect and pre-flight: the API answers, the credentials work, OpenShift or not, the NAD CRD is installed (or
   the network operator, for ``provision=operator``), the probe SCC exists on OpenShift, and the user may do what
   a run does (SelfSubjectAccessReview) — each failure is one paragraph with the fix;
2. one namespace per topology namespace (``netattest-<run-id>-<ns>``: run-id label, expiry annotation, PodSecurity
   labels), a service account for the probe pods (bound to the probe SCC on OpenShift);
3. the NADs, through the custom objects API or through the network operator;
4. one probe pod per topology pod (nodeSelector from the topology, the networks annotation with static ips/mac,
   NET_RAW) and one host-network inventory pod per node;
5. wait, saying in one line why a pod is stuck; 6. one long-lived probe agent per running pod, over exec;
7. external hosts resolved on the wire (ARP from a pod of their VLAN) or from the nodes' ARP tables.

Everything the run created is removed by :meth:`teardown` — and by ``deploy`` itself when it fails or is
interrupted (Ctrl-C, SIGTERM) — unless ``keep`` is set. Only namespaces this run created (its create answered 201)
are ever deleted: a namespace that already existed (409) is left alone.
"""

from __future__ import annotations

from netattest.targets.kubernetes.deploy import Deployment
from netattest.targets.kubernetes.observe import Observation
from netattest.targets.kubernetes.options import options_from_pytest
from netattest.targets.kubernetes.probing import Probing
from netattest.targets.kubernetes.state import NODE_ROUTE_PREFIX, ROUTE_PREFIX, EngineSettings


class KubernetesTarget(Deployment, Observation, Probing):
    """The cluster target: :class:`Deployment` builds and removes, :class:`Observation` reads back,
    :class:`Probing` sends; they share one :class:`~netattest.targets.kubernetes.state.TargetState`."""


__all__ = ["NODE_ROUTE_PREFIX", "ROUTE_PREFIX", "EngineSettings", "KubernetesTarget", "options_from_pytest"]
