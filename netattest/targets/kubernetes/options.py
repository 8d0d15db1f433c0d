"""The cluster target's options as a pytest session gives them (declared in fixtures/kubernetes.py)."""

from __future__ import annotations

from typing import Any

from netattest.k8s import names
from netattest.k8s.plan import (
    ClusterOptions,
)


def options_from_pytest(config: Any) -> ClusterOptions:
    """The cluster options of a pytest session (declared in fixtures/kubernetes.py)."""
    def opt(name: str, default: Any = None) -> Any:
        try:
            value = config.getoption(name)
        except (ValueError, AttributeError):
            return default
        return default if value is None else value

    openshift = {"auto": None, "yes": True, "no": False}[opt("openshift", "auto")]
    kwargs: dict[str, Any] = {
        "kubeconfig": opt("kubeconfig"), "context": opt("context"), "provision": opt("provision", "direct"),
        "openshift": openshift, "scc": opt("scc", "netattest-probe"),
        "node_scc": opt("node_scc", "netattest-node-check"), "node_inventory": opt("node_inventory", True),
        "keep": bool(opt("keep", False)), "pod_timeout": float(opt("pod_timeout", 300.0)),
    }
    image = opt("probe_image")
    if image:
        kwargs["probe_image"] = image
    ttl = opt("ttl")
    if ttl:
        kwargs["ttl"] = names.parse_ttl(str(ttl))
    return ClusterOptions(**kwargs)


