"""Per-namespace sysctls for the lab.

Namespace switching itself lives in the probe engine (``in_netns``), which must stay stdlib-only so it can be
shipped into cluster pods; the lab reuses it rather than keeping a second copy.
"""

from __future__ import annotations

from netattest.probe.netns import in_netns, netns_path

__all__ = ["in_netns", "netns_path", "write_own_sysctls", "write_sysctls"]


def write_sysctls(name: str, values: dict[str, str]) -> None:
    """Write sysctls inside netns ``name``; keys are paths under /proc/sys (``net/ipv4/conf/all/arp_ignore``),
    not dotted names, because interface names such as ``ens224.112`` contain dots. ``/proc/sys/net`` shows the
    namespace of the thread that opens it, hence the switch."""
    with in_netns(name):
        write_own_sysctls(values)


def write_own_sysctls(values: dict[str, str]) -> None:
    """Write sysctls of the calling thread's namespace (keys as for :func:`write_sysctls`)."""
    for key, value in values.items():
        with open("/proc/sys/" + key, "w") as handle:
            handle.write(value)
