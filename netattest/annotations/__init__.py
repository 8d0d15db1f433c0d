"""Read and write the two Multus pod annotations exactly as Multus does.

``k8s.v1.cni.cncf.io/networks`` is what a pod *asks* for; ``k8s.v1.cni.cncf.io/network-status`` is what Multus
*reports* it got.  The harness proves a network's behaviour by comparing the two, so both directions have to match
real Multus byte for byte: the embedded lab writes a status the same way a cluster does, and a status read from a
cluster is understood the same way Multus meant it.

Sources mirrored (see the docstrings for the quirks kept on purpose):

* multus-cni ``pkg/k8sclient/k8sclient.go`` ``parsePodNetworkAnnotation`` / ``parsePodNetworkObjectName`` and
  ``pkg/types/types.go`` ``NetworkSelectionElement``;
* network-attachment-definition-client ``pkg/utils/net-attach-def.go`` ``CreateNetworkStatus`` /
  ``CreateNetworkStatuses`` / ``isDefaultRoute`` and ``pkg/apis/k8s.cni.cncf.io/v1/types.go`` ``NetworkStatus``.

Every rejection is an :class:`~netattest.errors.AnnotationError` whose message is one line, quotes the offending
piece and names the accepted form; no input string makes these functions raise anything else.
"""

from __future__ import annotations

from netattest.annotations.golike import NETWORK_STATUS_ANNOTATION, NETWORKS_ANNOTATION
from netattest.annotations.networks import NetworkSelection, parse_networks_annotation, render_networks_annotation
from netattest.annotations.status import NetworkStatus, parse_network_status, render_network_status

__all__ = ["NETWORKS_ANNOTATION", "NETWORK_STATUS_ANNOTATION", "NetworkSelection", "NetworkStatus",
           "parse_network_status", "parse_networks_annotation", "render_network_status", "render_networks_annotation"]
