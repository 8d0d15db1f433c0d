"""A CNI result turned into the pod's network-status the way Multus does (``CreateNetworkStatus`` /
``CreateNetworkStatuses``, ``isDefaultRoute``): the lab writes the status a cluster would."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from netattest.annotations.golike import (
    _GO_NIL_IP,
    _go_ip_string,
    _interface_problem,
    _parse_cidr,
    _parse_ip,
    _Problem,
    _q,
    _string_list,
)
from netattest.annotations.status import _DNS_KEYS, NetworkStatus
from netattest.errors import AnnotationError

# --------------------------------------------------------------------------------------------------------------
# CNI result -> network status (CreateNetworkStatus / CreateNetworkStatuses)


@dataclass
class _Iface:
    name: str
    mac: str
    sandbox: str
    mtu: int


@dataclass
class _IPConf:
    address: str  # bare, Go-formatted
    interface: int | None
    has_gateway: bool


def _result_problem(network_name: str, detail: str) -> AnnotationError:
    return AnnotationError(
        f"CNI result for network {_q(network_name)}: {detail}; expected a CNI 0.3.x/0.4.0/1.x result object "
        "with 'interfaces', 'ips' and 'routes'"
    )


def _read_result(
    network_name: str, result: Mapping[str, Any]
) -> tuple[list[_Iface], list[_IPConf], list[str], dict[str, Any]]:
    """Convert any supported result version to the 1.0 shape, as cni100.NewResultFromResult does."""
    if not isinstance(result, Mapping):
        raise _result_problem(network_name, f"result {_q(result)} is not an object")

    def items(key: str) -> list[Mapping[str, Any]]:
        val = result.get(key)
        if val is None:
            return []
        if not isinstance(val, list) or not all(isinstance(v, Mapping) for v in val):
            raise _result_problem(network_name, f"'{key}' {_q(val)} is not a list of objects")
        return val

    def text(obj: Mapping[str, Any], key: str, ctx: str) -> str:
        val = obj.get(key)
        if val is None:
            return ""
        if not isinstance(val, str):
            raise _result_problem(network_name, f"{ctx} '{key}' {_q(val)} is not a string")
        return val

    interfaces = []
    for iface in items("interfaces"):
        mtu = iface.get("mtu") or 0
        if isinstance(mtu, bool) or not isinstance(mtu, int):
            raise _result_problem(network_name, f"interface 'mtu' {_q(mtu)} is not an integer")
        interfaces.append(
            _Iface(text(iface, "name", "interface"), text(iface, "mac", "interface"),
                   text(iface, "sandbox", "interface"), mtu)
        )

    ips: list[_IPConf] = []
    raw_ips = list(items("ips"))
    routes = list(items("routes"))
    # CNI 0.1.0/0.2.0: "ip4"/"ip6" blocks with "ip" and their own routes, and no interfaces at all.
    for legacy in ("ip4", "ip6"):
        block = result.get(legacy)
        if block is None:
            continue
        if not isinstance(block, Mapping):
            raise _result_problem(network_name, f"'{legacy}' {_q(block)} is not an object")
        raw_ips.append({"address": block.get("ip")})
        block_routes = block.get("routes") or []
        if not isinstance(block_routes, list) or not all(isinstance(r, Mapping) for r in block_routes):
            raise _result_problem(network_name, f"'{legacy}' routes {_q(block_routes)} is not a list of objects")
        routes.extend(block_routes)
    for ipc in raw_ips:
        parsed = _parse_cidr(ipc.get("address"))  # type: ignore[arg-type]
        if parsed is None:
            raise _result_problem(network_name, f"ip 'address' {_q(ipc.get('address'))} is not an address/prefix")
        index = ipc.get("interface")
        if index is not None and (isinstance(index, bool) or not isinstance(index, int)):
            raise _result_problem(network_name, f"ip 'interface' {_q(index)} is not an integer index")
        gw = ipc.get("gateway")
        if gw is not None and _parse_ip(gw) is None:
            raise _result_problem(network_name, f"ip 'gateway' {_q(gw)} is not an IP address")
        ips.append(_IPConf(_go_ip_string(parsed[0]), index, gw is not None))

    gateways = []
    for route in routes:
        dst = route.get("dst")
        gw = route.get("gw")
        if gw is not None and _parse_ip(gw) is None:
            raise _result_problem(network_name, f"route 'gw' {_q(gw)} is not an IP address")
        if dst is None:
            is_default = True  # Go: zero IPNet (nil IP and mask) counts as default
        else:
            parsed_dst = _parse_cidr(dst)
            if parsed_dst is None:
                raise _result_problem(network_name, f"route 'dst' {_q(dst)} is not an address/prefix")
            # isDefaultRoute compares only the IP with 0.0.0.0 / ::, whatever the prefix length.
            is_default = not any(parsed_dst[0].packed)
        if is_default:
            gateways.append(_go_ip_string(_parse_ip(gw)) if gw is not None else _GO_NIL_IP)  # type: ignore[arg-type]

    dns = result.get("dns") or {}
    if not isinstance(dns, Mapping):
        raise _result_problem(network_name, f"'dns' {_q(dns)} is not an object")
    return interfaces, ips, gateways, dict(dns)


def network_statuses_from_cni_result(
    network_name: str, result: Mapping[str, Any], default: bool = False
) -> list[NetworkStatus]:
    """All statuses Multus records for one delegate's result, mirroring CreateNetworkStatuses.

    A result with exactly one interface takes the CreateNetworkStatus path: that interface (if it has a
    ``sandbox``) gets every IP.  Otherwise each ``sandbox`` interface gets its own status and the IPs whose
    ``interface`` index points at it; IPs without an index go to the last one, every status carries all default
    gateways, and for the default network the interface owning the first gateway-bearing IP is marked default.
    """
    if not isinstance(network_name, str):
        raise AnnotationError(f"network name {_q(network_name)} is not a string; expected 'namespace/name'")
    interfaces, ips, gateways, raw_dns = _read_result(network_name, result)
    try:
        dns_view = {k: raw_dns[k] for k in _DNS_KEYS if k in raw_dns and raw_dns[k] is not None}
        for k in ("nameservers", "search", "options"):
            if k in dns_view:
                dns_view[k] = _string_list(dns_view[k], f"dns {k}")
    except _Problem as exc:
        raise _result_problem(network_name, str(exc)) from None

    def make(iface: _Iface, addrs: list[str], is_default: bool) -> NetworkStatus:
        return NetworkStatus(
            name=network_name,
            interface=iface.name if iface.sandbox else "",
            ips=tuple(addrs),
            mac=(iface.mac or None) if iface.sandbox else None,
            default=is_default,
            dns=dns_view,
            gateway=tuple(gateways),
            mtu=(iface.mtu or None) if iface.sandbox else None,
        )

    if len(interfaces) == 1:
        return [make(interfaces[0], [ip.address for ip in ips], default)]

    # gatewayInterfaceIndex: the interface of the first IP that has both a gateway and an interface index.
    gw_index = -1
    if default:
        gw_index = next((ip.interface for ip in ips if ip.has_gateway and ip.interface is not None), -1)
    index_map: dict[int, int] = {}
    members: list[tuple[_Iface, list[str], bool]] = []
    found_first = did_default = False
    for i, iface in enumerate(interfaces):
        if not iface.sandbox:
            continue
        is_default = False
        if default and i == gw_index and not did_default:
            is_default = did_default = True
        if default and gw_index == -1 and not found_first:
            is_default = found_first = True
        index_map[i] = len(members)
        members.append((iface, [], is_default))
    for ip in ips:
        if ip.interface is not None:
            if ip.interface in index_map:
                members[index_map[ip.interface]][1].append(ip.address)
        elif members:
            members[-1][1].append(ip.address)
    return [make(iface, addrs, is_default) for iface, addrs, is_default in members]


def network_status_from_cni_result(
    network_name: str, ifname: str, result: Mapping[str, Any], default: bool = False
) -> NetworkStatus:
    """The status Multus records for the attachment created as ``ifname`` from this plugin result.

    Picks the ``sandbox`` interface named ``ifname`` among :func:`network_statuses_from_cni_result`; when a
    plugin names its only container interface differently, that interface is used, as Multus would.  A result
    without any container interface cannot describe ``ifname`` and is rejected.
    """
    problem = _interface_problem(ifname)
    if problem:
        raise AnnotationError(f"CNI result for network {_q(network_name)}: {problem}")
    statuses = network_statuses_from_cni_result(network_name, result, default)
    for st in statuses:
        if st.interface == ifname:
            return st
    if len(statuses) == 1 and statuses[0].interface:
        return statuses[0]
    found = ", ".join(_q(st.interface) for st in statuses if st.interface) or "none"
    raise _result_problem(
        network_name, f"no container interface named {_q(ifname)} (interfaces with a sandbox: {found})"
    )

