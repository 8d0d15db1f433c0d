"""What Multus refuses before any plugin runs, in Multus's own words (so a pod expecting its attachment to fail can
match the same text on the lab and on a cluster's pod events).

Multus looks up each NAD of a pod's networks annotation: with ``namespaceIsolation`` it refuses a NAD from another
namespace (unless that namespace is listed as non-isolated, ``default`` by default), and a NAD that does not exist
ends the sandbox with "cannot find a network-attachment-definition".
"""

from __future__ import annotations

from netattest.topology.model import Pod, Topology


def multus_refusal(topology: Topology, pod: Pod, namespace: str, name: str, exists: bool) -> str | None:
    """Why Multus would refuse the pod's selection of NAD ``namespace/name``, or None when it accepts it."""
    multus = topology.multus
    if multus.namespace_isolation and namespace != pod.namespace \
            and namespace not in multus.non_isolated_namespaces:
        return ("GetNetworkDelegates: namespace isolation enabled, annotation violates permission, pod is in "
                f"namespace {pod.namespace} but refers to target namespace {namespace}")
    if not exists:
        return (f"getKubernetesDelegate: cannot find a network-attachment-definition ({name}) in namespace "
                f"({namespace}): network-attachment-definitions.k8s.cni.cncf.io \"{name}\" not found")
    return None
