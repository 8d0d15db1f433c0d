"""Every option of a run, defined once: the pytest plugin registers them and ``netattest run`` offers the same
names (grouped, with help and default) and passes what the user set on to the pytest session.

A new option is one entry here; a test fails when the plugin knows an option that ``netattest run --help`` does
not show.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any

DEFAULT_TOPOLOGY = "restricted-vlan"  # a shipped topology (netattest/topologies/), see resolve_topology
TOPOLOGY_HELP = ("topology YAML file, or the name of a shipped topology ('netattest topologies' lists them; a "
                 "file of that name in the current directory wins) (default: %(default)s)")
CAPTURE_MODES = ("all", "failed", "none")
GROUPS = {
    "selection": "what to run",
    "lab": "the embedded lab (--target lab, the default)",
    "cluster": "a real Kubernetes / OpenShift cluster (--target kubernetes)",
    "nodes": "the node pre-flight (runs first; an unfit node stops the run)",
    "probing": "probing",
    "evidence": "evidence and reports",
}


@dataclass(frozen=True)
class Option:
    flags: tuple[str, ...]  # the first is the pytest name; the others are accepted by netattest run too
    group: str
    help: str
    default: Any = None
    type: Any = None
    choices: tuple[str, ...] | None = None
    action: str | None = None
    dest: str | None = None
    metavar: str | None = None

    @property
    def name(self) -> str:
        return self.flags[0]

    @property
    def key(self) -> str:
        """The attribute name on pytest's config.option and argparse's namespace."""
        return self.dest or self.name.lstrip("-").replace("-", "_")

    def kwargs(self) -> dict[str, Any]:
        out: dict[str, Any] = {"help": self.help, "dest": self.key}
        if self.action:
            out["action"] = self.action
            if self.action == "append":
                out["default"] = []
            elif self.action in ("store_true", "store_false"):
                out["default"] = self.action == "store_false" if self.default is None else self.default
        else:
            out["default"] = self.default
        for field, value in (("type", self.type), ("choices", self.choices), ("metavar", self.metavar)):
            if value is not None:
                out[field] = value
        return out


OPTIONS: tuple[Option, ...] = (
    # -- selection
    Option(("--topology",), "selection", TOPOLOGY_HELP, DEFAULT_TOPOLOGY),
    Option(("--target",), "selection", "where to run: the embedded lab (default) or a real cluster", "lab",
           choices=("lab", "kubernetes")),
    Option(("--run-id",), "selection", "run id, 8 hex digits (default: a new one)"),
    # -- lab
    Option(("--kernel",), "lab", "lab kernel: host, the user-mode Linux sandbox (uml), or auto: the sandbox only "
                                 "when the host kernel lacks a feature the topology needs (default: %(default)s)",
           "auto", choices=("auto", "host", "uml")),
    Option(("--keep",), "lab", "keep the lab (or the cluster namespaces) after the run, for inspection",
           action="store_true"),
    Option(("--lab",), "lab", "run against this kept lab (netattest lab up, or a run with --keep): no build, no "
                              "teardown", metavar="RUN_ID"),
    # -- cluster
    Option(("--kubeconfig",), "cluster", "kubeconfig file (default: $KUBECONFIG, ~/.kube/config, then in-cluster "
                                         "config)"),
    Option(("--context",), "cluster", "kubeconfig context (default: the current context)"),
    Option(("--provision",), "cluster", "create NADs directly (custom objects API) or through OpenShift's network "
                                        "operator (spec.additionalNetworks, restored after the run; default: "
                                        "%(default)s)", "direct", choices=("direct", "operator")),
    Option(("--probe-image",), "cluster", "probe image with python3 and scapy (default: $NETATTEST_PROBE_IMAGE or "
                                          "the pinned public image; 'netattest images' lists it)"),
    Option(("--scc",), "cluster", "OpenShift SCC of the probe pods (deploy/rbac-openshift.yaml; default: "
                                  "%(default)s)", "netattest-probe"),
    Option(("--node-scc",), "cluster", "OpenShift SCC of the node pre-flight's privileged host-network debug pods "
                                       "(default: %(default)s)", "netattest-node-check"),
    Option(("--openshift",), "cluster", "treat the cluster as OpenShift (SCC binding, operator; default: detected)",
           "auto", choices=("auto", "yes", "no")),
    Option(("--ttl",), "cluster", "expiry of the run's namespaces, after which 'netattest gc' removes them "
                                  "(default: 2h)"),
    Option(("--pod-timeout",), "cluster", "seconds for every probe pod to run, image pulls included (default: "
                                          "%(default)s)", 300.0, type=float),
    Option(("--no-node-inventory",), "cluster", "no host-network pods reading the nodes' NICs (master MACs stay "
                                                "unknown)", True, action="store_false", dest="node_inventory"),
    # -- nodes
    Option(("--skip-preflight",), "nodes", "do not check the nodes first", action="store_true"),
    Option(("--node-host",), "nodes", "reach NODE through this testinfra host spec, e.g. "
                                      "node1=ssh://core@10.0.0.11 (repeatable; default: the lab's namespace, or a "
                                      "debug pod on a cluster)", action="append", metavar="NODE=HOSTSPEC"),
    Option(("--cni-bin-dir",), "nodes", "CNI bin dir of every node, or of NODE (repeatable; default: the lab's "
                                        "/usr/lib/cni and /opt/cni/bin; on a cluster /opt/cni/bin, /var/lib/cni/bin, "
                                        "/usr/libexec/cni)", action="append", metavar="[NODE=]DIR"),
    # -- probing
    Option(("--probe-timeout",), "probing", "seconds a probe waits for its answer (default: %(default)s)", 1.0,
           type=float),
    Option(("--probe-retries",), "probing", "extra rounds for probes that must answer (default: %(default)s)", 2,
           type=int),
    Option(("--sweep-timeout",), "probing", "seconds the neighbour discovery sweep waits for ARP answers (default: "
                                            "half the probe timeout); a later answer is asked again in the probe "
                                            "window and makes the VLAN's isolation checks broken, never silently "
                                            "missed", type=float),
    Option(("--sweep-limit",), "probing", "addresses swept per VLAN (default: %(default)s, a /20); larger subnets "
                                          "are swept up to this many plus every address the topology names", 4094,
           type=int),
    # -- evidence
    Option(("--reports-dir",), "evidence", "reports root; a run writes <dir>/<run-id>/ (default: %(default)s)",
           "reports"),
    Option(("--pcap", "--capture"), "evidence", "pcaps of the probe traffic: every check (all), checks that did "
                                                "not pass (failed, the default), none", "failed",
           choices=CAPTURE_MODES),
    Option(("--timings",), "evidence", "write the run's phase timings (JSON: sandbox boot, pre-flight, lab build, "
                                       "probe setup and listening, suites, evidence, teardown) to FILE",
           metavar="FILE"),
    Option(("--baseline",), "evidence", "an earlier run (directory or run id): the report lists what changed since",
           metavar="RUN"),
)
BY_KEY = {o.key: o for o in OPTIONS}


def add_to_pytest(parser: Any) -> None:
    """Register every option with pytest, in its group (``pytest --help`` shows them as netattest's)."""
    for key, title in GROUPS.items():
        group = parser.getgroup(f"netattest-{key}", f"netattest: {title}")
        for option in (o for o in OPTIONS if o.group == key):
            group.addoption(option.name, **option.kwargs())


def add_to_argparse(parser: argparse.ArgumentParser, *, skip: tuple[str, ...] = ()) -> None:
    """The same options for ``netattest run``, grouped the same way; ``skip``: keys the command defines itself."""
    for key, title in GROUPS.items():
        group = parser.add_argument_group(title)
        for option in (o for o in OPTIONS if o.group == key and o.key not in skip):
            kwargs = option.kwargs()
            if option.action == "append":
                kwargs["default"] = None  # "not given": nothing to pass on
            group.add_argument(*option.flags, **kwargs)


def to_pytest_argv(args: argparse.Namespace) -> list[str]:
    """The pytest arguments for what the user set on ``netattest run`` (defaults are the plugin's own)."""
    argv: list[str] = []
    for option in OPTIONS:
        value = getattr(args, option.key, None)
        if option.action == "append":
            for item in value or []:
                argv += [option.name, str(item)]
        elif option.action in ("store_true", "store_false"):
            if value is not None and value != option.kwargs()["default"]:
                argv.append(option.name)
        elif value is not None and value != option.default:
            argv += [option.name, str(value)]
    return argv
