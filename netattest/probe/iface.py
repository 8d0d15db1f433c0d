"""Read an interface's MAC and IPv4 addresses inside a network namespace (pyroute2; not shipped into pods)."""

from __future__ import annotations

import errno

from .model import ProbeError
from .netns import in_netns


def read_interface(netns: str | None, ifname: str) -> tuple[str, list[str]]:
    """Return ``(mac, ["10.0.0.5/24", ...])`` of ``ifname`` in ``netns`` (None: the current namespace).

    The netlink socket is opened and used inside the namespace, then closed; the namespace is never created.
    """
    from pyroute2 import IPRoute
    from pyroute2.netlink.exceptions import NetlinkError

    missing = ProbeError(f"no interface {ifname!r} in netns {netns or '(current)'}")
    try:
        with in_netns(netns), IPRoute() as ipr:
            links = ipr.get_links(ifname=ifname)
            if not links:
                raise missing
            link = links[0]
            mac = link.get_attr("IFLA_ADDRESS") or ""
            addrs = ipr.get_addr(index=link["index"], family=2)
            cidrs = [f"{a.get_attr('IFA_ADDRESS')}/{a['prefixlen']}" for a in addrs]
    except FileNotFoundError:
        raise ProbeError(f"netns {netns!r} not found") from None
    except NetlinkError as exc:
        if exc.code == errno.ENODEV:
            raise missing from None
        raise
    return mac.lower(), cidrs
