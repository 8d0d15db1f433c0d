"""Which kernel runs the lab: detect the host kernel's network features and choose host or sandbox.

Detection really tries: it creates a throwaway network namespace, builds one device of every kind the lab needs
inside it (veth, ipvlan, macvlan, 802.1Q vlan, bridge, bridge with vlan_filtering) and deletes the namespace
again. The root namespace's links are never touched. A kernel that cannot load modules answers "Operation not
supported" for a missing kind, a kernel that can load them loads them on demand: both answers are the truth the
lab would meet.
"""

from __future__ import annotations

import functools
import os
import secrets
from dataclasses import dataclass
from typing import Any

from netattest.errors import KernelError
from netattest.sandbox import uml as _uml

FEATURES = ("veth", "macvlan", "ipvlan", "vlan_8021q", "bridge", "bridge_vlan_filtering", "netns")

CHOICES = ("host", "uml", "auto")

# Features the lab always needs: namespaces, veth pairs for the wiring, a bridge for the fabric.
_ALWAYS_NEEDED = frozenset({"veth", "bridge", "netns"})


@dataclass(frozen=True)
class KernelFeatures:
    """What the running kernel can do, as found by trying it."""

    present: frozenset[str]
    missing: frozenset[str]
    how: str  # how the answer was found (or why nothing could be tried)

    def has(self, *features: str) -> bool:
        return all(f in self.present for f in features)


def _errtext(exc: BaseException) -> str:
    code = getattr(exc, "code", None)
    if code is not None and len(exc.args) >= 2:
        return f"{exc.args[1]} (errno {code})"
    return str(exc) or type(exc).__name__


def _all_missing(how: str) -> KernelFeatures:
    return KernelFeatures(present=frozenset(), missing=frozenset(FEATURES), how=how)


@functools.cache
def detect_kernel_features() -> KernelFeatures:
    """Probe the running kernel once per process (cached; ``detect_kernel_features.cache_clear()`` re-probes)."""
    if hasattr(os, "geteuid") and os.geteuid() != 0:
        return _all_missing(
            f"not probed: creating network namespaces needs root (running as uid {os.geteuid()}), so every "
            "feature counts as missing"
        )
    try:
        from pyroute2 import IPRoute, netns
    except ImportError as exc:  # pragma: no cover - pyroute2 is a hard dependency
        return _all_missing(f"not probed: pyroute2 is not importable ({exc}); install pyroute2")
    from netattest.probe.netns import in_netns

    name = f"netattest-kprobe-{os.getpid()}-{secrets.token_hex(3)}"
    try:
        netns.create(name)
    except Exception as exc:  # noqa: BLE001 - any failure here means "no namespaces for us"
        return _all_missing(f"not probed: could not create a network namespace ({_errtext(exc)})")

    present: set[str] = {"netns"}
    notes: list[str] = []
    try:
        with in_netns(name):  # a netlink socket opened inside stays bound there; no forked NetNS helper
            handle = IPRoute()
        with handle as ns:
            present |= _probe_links(ns, notes)
    except Exception as exc:  # noqa: BLE001
        notes.append(f"probe aborted: {_errtext(exc)}")
    finally:
        try:
            netns.remove(name)
        except Exception as exc:  # noqa: BLE001
            notes.append(f"could not remove probe namespace {name}: {_errtext(exc)}")

    missing = frozenset(FEATURES) - present
    how = "tried in a throwaway network namespace with pyroute2: "
    how += "created " + (", ".join(f for f in FEATURES if f in present) or "nothing")
    if notes:
        how += "; " + "; ".join(notes)
    return KernelFeatures(present=frozenset(present), missing=missing, how=how)


def _probe_links(ns: Any, notes: list[str]) -> set[str]:
    """Create one device of each kind inside the probe namespace ``ns``; return the kinds that worked."""
    from pyroute2.netlink.exceptions import NetlinkError

    found: set[str] = set()

    def kind_of(ifname: str) -> tuple[str | None, Any]:
        idx = ns.link_lookup(ifname=ifname)
        if not idx:
            return None, None
        link = ns.get_links(idx[0])[0]
        return link.get_nested("IFLA_LINKINFO", "IFLA_INFO_KIND"), link

    def attempt(feature: str, ifname: str, kind: str, **kw: Any) -> Any:
        try:
            ns.link("add", ifname=ifname, kind=kind, **kw)
        except NetlinkError as exc:
            notes.append(f"kernel refused {feature} ({_errtext(exc)})")
            return None
        got, link = kind_of(ifname)
        if got != kind:
            notes.append(f"{feature}: asked for a {kind} device, got {got!r}")
            return None
        found.add(feature)
        return link

    if attempt("veth", "nap0", "veth", peer="nap1") is None:
        notes.append("macvlan, ipvlan and vlan_8021q untested (they need a veth parent)")
    else:
        # ipvlan and macvlan both claim their parent's receive handler: give each its own end of the pair.
        end0, end1 = ns.link_lookup(ifname="nap0")[0], ns.link_lookup(ifname="nap1")[0]
        attempt("ipvlan", "naipvl", "ipvlan", link=end0, ipvlan_mode=0)  # mode l2
        attempt("macvlan", "namacvl", "macvlan", link=end1, macvlan_mode="bridge")
        attempt("vlan_8021q", "navlan", "vlan", link=end0, vlan_id=112)
    if attempt("bridge", "nabr0", "bridge") is None:
        notes.append("bridge_vlan_filtering untested (no bridge)")
    else:
        link = attempt("bridge_vlan_filtering", "nabr1", "bridge", br_vlan_filtering=1)
        if link is not None:
            value = link.get_nested("IFLA_LINKINFO", "IFLA_INFO_DATA", "IFLA_BR_VLAN_FILTERING")
            if value != 1:
                found.discard("bridge_vlan_filtering")
                notes.append(f"bridge_vlan_filtering: the bridge reports vlan_filtering={value!r}")
    return found


def features_needed(plugins: set[str], needs_trunk: bool, bridge_vlans: bool = False) -> set[str]:
    """Kernel features a topology needs, from the CNI plugin types it uses, whether a node has a trunk and whether
    a bridge NAD tags its ports (the bridge plugin then turns vlan_filtering on)."""
    needed = set(_ALWAYS_NEEDED)
    if "ipvlan" in plugins:
        needed.add("ipvlan")
    if "macvlan" in plugins:
        needed.add("macvlan")
    if "vlan" in plugins or needs_trunk:
        needed |= {"vlan_8021q", "bridge_vlan_filtering"}
    if bridge_vlans:
        needed.add("bridge_vlan_filtering")
    return needed


def _sandbox_name() -> str:
    version = _uml.uml_version()
    return f"linux.uml {version}" if version else "linux.uml"


def _install_hint() -> str:
    return (
        "install Debian package user-mode-linux (apt-get install user-mode-linux; it provides /usr/bin/linux.uml "
        "and its modules in /usr/lib/uml/modules), or point NETATTEST_UML at a linux.uml binary"
    )


def choose_kernel(choice: str, needed: set[str], features: KernelFeatures | None = None) -> tuple[str, str]:
    """Decide where the session runs: ``('host' | 'uml', one-line reason)``.

    ``choice`` is the user's ``--kernel``: ``host`` (fail if the host kernel lacks something), ``uml`` (always the
    user-mode Linux sandbox) or ``auto`` (host when it has everything ``needed``, else the sandbox).
    """
    if choice not in CHOICES:
        raise KernelError(f"--kernel {choice!r} is not a kernel choice; use one of: {', '.join(CHOICES)}.")
    unknown = set(needed) - set(FEATURES)
    if unknown:
        raise ValueError(f"unknown kernel features {sorted(unknown)}; known: {FEATURES}")
    if os.environ.get(_uml.IN_SANDBOX_ENV) == "1":
        return "host", "already running inside the user-mode Linux kernel sandbox"

    if choice == "uml":
        if _uml.find_uml() is None:
            raise KernelError(
                "--kernel uml was requested but the user-mode Linux kernel (linux.uml) is not installed: "
                f"{_install_hint()}; or use --kernel host on a kernel with {_feature_list(needed)}."
            )
        return "uml", f"--kernel uml: running the session inside the user-mode Linux kernel sandbox ({_sandbox_name()})"

    if features is None:
        features = detect_kernel_features()
    missing = [f for f in FEATURES if f in needed and f not in features.present]
    if not missing:
        return "host", f"host kernel has everything needed ({_feature_list(needed)})"

    lacks = _lacks(missing, features)
    if choice == "host":
        raise KernelError(
            f"--kernel host: {lacks} (detection: {features.how}). Use --kernel auto or --kernel uml to run the "
            f"session inside the user-mode Linux kernel sandbox, or run on a kernel that has {', '.join(missing)}."
        )
    if _uml.find_uml() is None:
        raise KernelError(
            f"{lacks} and the user-mode Linux kernel sandbox is not available: {_install_hint()}; or run on a "
            f"kernel with {', '.join(missing)} (every mainstream distribution kernel has them)."
        )
    return "uml", f"{lacks}; running the session inside the user-mode Linux kernel sandbox ({_sandbox_name()})"


def _feature_list(features: set[str]) -> str:
    return ", ".join(sorted(features, key=lambda f: FEATURES.index(f) if f in FEATURES else len(FEATURES)))


def _lacks(missing: list[str], features: KernelFeatures) -> str:
    if "netns" in missing:
        return "cannot create network namespaces here (not root, or no CAP_SYS_ADMIN), so the host kernel is unusable"
    return "host kernel lacks " + ", ".join(missing)
