"""``k8s.v1.cni.cncf.io/network-status``: what Multus reports a pod got (network-attachment-definition-client
``NetworkStatus``), parsed and rendered as Multus writes it."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from netattest.annotations.golike import (
    _GO_NIL_IP,
    _check_size,
    _freeze,
    _go_fields,
    _load_json,
    _parse_ip,
    _Problem,
    _q,
    _string_list,
    _thaw,
)
from netattest.annotations.networks import _json_type, _kind
from netattest.errors import AnnotationError

# --------------------------------------------------------------------------------------------------------------
# k8s.v1.cni.cncf.io/network-status


_DNS_KEYS = ("nameservers", "domain", "search", "options")


@dataclass(frozen=True)
class NetworkStatus:
    """One element of the network-status annotation: what Multus says one attachment really got.

    ``ips`` are bare addresses (Multus drops the prefix); ``gateway`` lists the next hops of the result's default
    routes, verbatim — including Go's ``"<nil>"`` for a default route without ``gw``, because that is what a real
    cluster writes.  ``interface`` is ``""`` when Multus could not tell (a single-interface result without
    ``sandbox``).  ``mtu`` and ``device_info`` exist so annotations written by newer Multus or SR-IOV round-trip.
    """

    name: str
    interface: str
    ips: tuple[str, ...]
    mac: str | None
    default: bool = False
    dns: Mapping[str, object] = field(default_factory=lambda: MappingProxyType({}), hash=False)
    gateway: tuple[str, ...] = ()
    mtu: int | None = None
    device_info: Mapping[str, object] | None = field(default=None, hash=False)

    def __post_init__(self) -> None:
        try:
            _check_status(self)
        except _Problem as exc:
            raise AnnotationError(f"network status {_q(self.name)}: {exc}") from None


def _check_status(st: NetworkStatus) -> None:
    set_ = object.__setattr__
    if not isinstance(st.name, str):
        raise _Problem(f"name {_q(st.name)} is not a string")
    if not isinstance(st.interface, str):
        raise _Problem(f"interface {_q(st.interface)} is not a string")
    set_(st, "ips", _string_list(st.ips, "ips"))
    for ip in st.ips:
        if _parse_ip(ip) is None:
            raise _Problem(f"ip {_q(ip)} is invalid: expected a bare address like '192.168.1.10' (no prefix)")
    if st.mac == "":
        set_(st, "mac", None)
    if st.mac is not None and not isinstance(st.mac, str):
        raise _Problem(f"mac {_q(st.mac)} is not a string")
    if not isinstance(st.default, bool):
        raise _Problem(f"default {_q(st.default)} is not true or false")
    set_(st, "gateway", _string_list(st.gateway, "gateway"))
    for gw in st.gateway:
        if gw != _GO_NIL_IP and _parse_ip(gw) is None:
            raise _Problem(f"gateway {_q(gw)} is invalid: expected a bare IP address")
    if st.mtu is not None and (isinstance(st.mtu, bool) or not isinstance(st.mtu, int) or st.mtu < 0):
        raise _Problem(f"mtu {_q(st.mtu)} is not a non-negative integer")
    if not isinstance(st.dns, Mapping):
        raise _Problem(f"dns {_q(st.dns)} is not an object")
    dns: dict[str, object] = {}
    for key in _DNS_KEYS:
        val = st.dns.get(key)
        if val is None or val == "" or val == () or val == []:
            continue
        if key == "domain":
            if not isinstance(val, str):
                raise _Problem(f"dns domain {_q(val)} is not a string")
            dns[key] = val
        else:
            dns[key] = _string_list(val, f"dns {key}")
    set_(st, "dns", MappingProxyType(dns))
    if st.device_info is not None:
        if not isinstance(st.device_info, Mapping):
            raise _Problem(f"device-info {_q(st.device_info)} is not an object")
        set_(st, "device_info", _freeze(st.device_info))


def _status_json(st: NetworkStatus) -> dict[str, Any]:
    """The Go struct's field order and omitempty rules (``dns`` is a struct, so it is never omitted)."""
    out: dict[str, Any] = {"name": st.name}
    if st.interface:
        out["interface"] = st.interface
    if st.ips:
        out["ips"] = list(st.ips)
    if st.mac:
        out["mac"] = st.mac
    if st.mtu:
        out["mtu"] = st.mtu
    if st.default:
        out["default"] = True
    out["dns"] = _thaw(st.dns)
    if st.device_info is not None:
        out["device-info"] = _thaw(st.device_info)
    if st.gateway:
        out["gateway"] = list(st.gateway)
    return out


def render_network_status(statuses: Sequence[NetworkStatus]) -> str:
    """Render statuses exactly as Multus's SetNetworkStatus does.

    Each element is ``json.MarshalIndent(status, "", "    ")``, joined with ``,`` inside ``[...]``; Go's HTML-safe
    escaping of ``<``, ``>``, ``&`` and U+2028/U+2029 is reproduced so the bytes match a real cluster's.
    """
    parts = []
    for st in statuses:
        if not isinstance(st, NetworkStatus):
            raise AnnotationError(f"cannot render {_q(st)}: expected NetworkStatus objects")
        text = json.dumps(_status_json(st), indent=4, ensure_ascii=False)
        for char, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"),
                              ("\u2029", "\\u2029")):
            text = text.replace(char, escaped)
        parts.append(text)
    return "[" + ",".join(parts) + "]"


_STATUS_KEYS = ("name", "interface", "ips", "mac", "mtu", "default", "dns", "device-info", "gateway")
_STATUS_ACCEPTED = "expected a JSON list of objects with a string 'name', as Multus writes"


def parse_network_status(value: str) -> list[NetworkStatus]:
    """Parse a network-status annotation as written by Multus (or another writer of the same format).

    Like Go's decoder, keys match case-insensitively, unknown keys and ``null`` values are ignored, and a missing
    ``interface``/``ips``/``mac`` just means Multus had nothing to say.  Values are type-checked and addresses
    validated, so what comes back can be trusted by the assertions built on it.
    """
    value = _check_size(value, "network-status")
    data = _load_json(value, "network-status", _STATUS_ACCEPTED)
    if data is None:
        return []
    if not isinstance(data, list):
        raise AnnotationError(
            f"network-status annotation JSON is {_json_type(data)}, not a list; {_STATUS_ACCEPTED}"
        )
    statuses = []
    for index, element in enumerate(data, 1):
        where = f"network-status entry {index} {_q(element)}"
        if not isinstance(element, dict):
            raise AnnotationError(f"{where} is {_json_type(element)}, not an object; {_STATUS_ACCEPTED}")
        try:
            statuses.append(_status_from_json(element))
        except _Problem as exc:
            hint = "" if "expected" in str(exc) else f"; {_STATUS_ACCEPTED}"
            raise AnnotationError(f"{where}: {exc}{hint}") from None
    return statuses


def _status_from_json(element: dict[str, Any]) -> NetworkStatus:
    f = _go_fields(element, _STATUS_KEYS)
    if "name" not in f or not isinstance(f["name"], str):
        raise _Problem(f"missing the string 'name' key; {_STATUS_ACCEPTED}")
    for key in ("interface", "mac"):
        if key in f and not isinstance(f[key], str):
            raise _Problem(f"'{key}' must be a string, got {_kind(f[key])}")
    if "default" in f and not isinstance(f["default"], bool):
        raise _Problem(f"'default' must be true or false, got {_kind(f['default'])}")
    if "mtu" in f and (isinstance(f["mtu"], bool) or not isinstance(f["mtu"], int)):
        raise _Problem(f"'mtu' must be an integer, got {_kind(f['mtu'])}")
    for key in ("dns", "device-info"):
        if key in f and not isinstance(f[key], dict):
            raise _Problem(f"'{key}' must be an object, got {_kind(f[key])}")
    dns = _go_fields(f.get("dns", {}), _DNS_KEYS)
    for key in ("nameservers", "search", "options"):
        if key in dns:
            dns[key] = _string_list(dns[key], f"dns {key}")
    st = NetworkStatus.__new__(NetworkStatus)
    for attr, val in (
        ("name", f["name"]),
        ("interface", f.get("interface", "")),
        ("ips", _string_list(f["ips"], "ips") if "ips" in f else ()),
        ("mac", f.get("mac") or None),
        ("default", f.get("default", False)),
        ("dns", dns),
        ("gateway", _string_list(f["gateway"], "gateway") if "gateway" in f else ()),
        ("mtu", f.get("mtu") or None),
        ("device_info", f.get("device-info")),
    ):
        object.__setattr__(st, attr, val)
    _check_status(st)
    return st
