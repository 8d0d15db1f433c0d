"""host-device's second promise, observed: CNI DEL gives the node its link back.

A pod that does not release its device on deletion leaves the node without the NIC, and the next pod scheduled
there fails with 'Link not found'. The lab proves the round trip once per host-device attachment at deploy: ADD
(done by the caller), DEL, look at the node, ADD again, so the pod ends as it began and the verdict is a plain
observation the suite judges (``DeviceRoundTrip``).
"""

from __future__ import annotations

from typing import Any

from netattest.errors import CniError
from netattest.inventory import DeviceRoundTrip, InterfaceView
from netattest.lab import cni
from netattest.lab.links import read_interfaces

#: what the lab renames a kept device to (lab drift ``hostDeviceKept``): DEL looks the device up by the ifname
KEPT_SUFFIX = "x"


def round_trip(call: cni.CniCall, result: dict[str, Any], device: str, before: InterfaceView | None, node_ipr: Any,
               pod_ipr: Any, *, kept: bool = False) -> tuple[DeviceRoundTrip, dict[str, Any]]:
    """DEL the attachment, read the node, ADD it again; return the observation and the result now in force.

    ``kept`` (lab drift): the pod renames the interface first, as an application might, so DEL cannot find it by
    name and the plugin, finding nothing, reports success; the lab then renames it back and keeps the first ADD.
    """
    renamed = call.ifname[: 15 - len(KEPT_SUFFIX)] + KEPT_SUFFIX
    if kept:
        _rename(pod_ipr, call.ifname, renamed)
    note = ""
    try:
        cni.cni_del(call, result)
    except CniError as exc:
        note = f"CNI DEL failed: {exc}"
    on_node = read_interfaces(call.node_netns).get(device)
    left = tuple(sorted(n for n in read_interfaces(call.pod_netns) if n not in ("lo", "eth0")))
    observed = DeviceRoundTrip(device, before.mac if before else "", on_node is not None,
                               on_node.mac if on_node else "", bool(on_node and on_node.up), left, note)
    if kept:
        _rename(pod_ipr, renamed, call.ifname)
        return observed, result
    return observed, cni.cni_add(call)


def _rename(ipr: Any, old: str, new: str) -> None:
    index = ipr.link_lookup(ifname=old)[0]
    ipr.link("set", index=index, state="down")
    ipr.link("set", index=index, ifname=new)
    ipr.link("set", index=index, state="up")
