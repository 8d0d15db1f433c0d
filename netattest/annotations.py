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

import ipaddress
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from netattest.errors import AnnotationError
from netattest.naming import ifname_problem, is_dns1123_label, is_dns1123_subdomain

NETWORKS_ANNOTATION = "k8s.v1.cni.cncf.io/networks"
NETWORK_STATUS_ANNOTATION = "k8s.v1.cni.cncf.io/network-status"

#: Annotations larger than this are refused before parsing (Kubernetes caps *all* annotations at 256 KiB).
MAX_ANNOTATION_BYTES = 64 * 1024
#: Deepest JSON nesting kept inside ``device-info``; real device-info is three levels deep.
_MAX_DEPTH = 32

_SHORT_FORM = "[namespace/]name[@interface]"
_ACCEPTED = f"expected {_SHORT_FORM}, comma separated, or a JSON list of objects"
_MAC_COLON = re.compile(r"[0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2})*")
_MAC_HYPHEN = re.compile(r"[0-9A-Fa-f]{2}(?:-[0-9A-Fa-f]{2})*")
_MAC_DOT = re.compile(r"[0-9A-Fa-f]{4}(?:\.[0-9A-Fa-f]{4})*")
_PREFIX = re.compile(r"[0-9]+")
# Go's unicode.IsSpace, which strings.TrimSpace uses: ASCII whitespace, NEL, NBSP and the Unicode Z categories.
_GO_SPACE = "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a" \
    "\u2028\u2029\u202f\u205f\u3000"
_GO_NIL_IP = "<nil>"


# --------------------------------------------------------------------------------------------------------------
# small validators shared by both annotations


def _q(value: object, limit: int = 60) -> str:
    """Quote ``value`` for a one-line message: non-printables escaped, long values cut."""
    if isinstance(value, str):
        text = value
    else:
        try:
            text = json.dumps(value, ensure_ascii=False, default=str)
        except (ValueError, TypeError, RecursionError):
            text = f"<{type(value).__name__}>"
    if len(text) > limit:
        text = text[:limit] + "..."
    return "'" + "".join(c if c.isprintable() else ascii(c)[1:-1] for c in text) + "'"


def _go_trim(text: str) -> str:
    """strings.TrimSpace: Multus trims with Go's notion of whitespace, not Python's."""
    return text.strip(_GO_SPACE)


_is_label = is_dns1123_label
_is_subdomain = is_dns1123_subdomain


def _parse_ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """Go's net.ParseIP: dotted IPv4 or IPv6 text, no zone, no prefix."""
    if not isinstance(text, str) or "%" in text or "/" in text or not text.isascii():
        return None
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _parse_cidr(text: str) -> tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, int] | None:
    """Go's net.ParseCIDR: ``address/prefixlen`` with a decimal length (no netmask notation), host bits allowed."""
    if not isinstance(text, str) or text.count("/") != 1:
        return None
    addr_text, prefix_text = text.split("/")
    addr = _parse_ip(addr_text)
    if addr is None or _PREFIX.fullmatch(prefix_text) is None or len(prefix_text.lstrip("0")) > 3:
        return None
    prefix = int(prefix_text)
    if prefix > addr.max_prefixlen:
        return None
    return addr, prefix


def _go_ip_string(addr: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    """net.IP.String(): like Python's RFC 5952 text, except IPv4-mapped IPv6 prints as dotted IPv4."""
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return str(addr.ipv4_mapped)
    return str(addr)


def _is_mac(text: str) -> bool:
    """Go's net.ParseMAC: 6, 8 or 20 octets as ``xx:xx``, ``xx-xx`` or ``xxxx.xxxx``."""
    if not isinstance(text, str) or not text.isascii():
        return False
    if _MAC_COLON.fullmatch(text) or _MAC_HYPHEN.fullmatch(text):
        return (len(text) + 1) // 3 in (6, 8, 20)
    if _MAC_DOT.fullmatch(text):
        return (len(text) + 1) // 5 * 2 in (6, 8, 20)
    return False


def _interface_problem(name: object) -> str | None:
    """Why ``name`` cannot be a Linux interface name, or None.

    The kernel's dev_valid_name wants fewer than IFNAMSIZ (16) bytes, no '/', ':' or whitespace and not '.'/'..';
    we also insist on printable ASCII so the name survives every tool the harness drives.
    """
    if not isinstance(name, str):
        return f"interface {_q(name)} is not a string: expected 1-15 characters"
    if ifname_problem(name) is not None:
        return (
            f"interface {_q(name)} is not a valid Linux interface name: expected 1-15 printable ASCII characters "
            "without '/', ':', '%' or spaces ('%' is a kernel name template)"
        )
    return None


def _check_size(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise AnnotationError(f"{what} annotation must be a string, got {type(value).__name__}")
    # Compare characters first so a huge string is refused without being encoded.
    if len(value) > MAX_ANNOTATION_BYTES or len(value.encode("utf-8", "surrogatepass")) > MAX_ANNOTATION_BYTES:
        raise AnnotationError(
            f"{what} annotation is larger than {MAX_ANNOTATION_BYTES // 1024} KiB; "
            "expected a short list of networks"
        )
    return value


def _load_json(value: str, what: str, accepted: str) -> Any:
    """json.loads with Go's strictness (no NaN/Infinity) and every failure as AnnotationError."""

    def reject_constant(name: str) -> Any:
        raise ValueError(f"{name} is not JSON")

    try:
        return json.loads(value, parse_constant=reject_constant)
    except RecursionError:
        raise AnnotationError(f"{what} annotation is nested too deeply; {accepted}") from None
    except ValueError as exc:
        detail = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
        where = f" at character {exc.pos}" if isinstance(exc, json.JSONDecodeError) else ""
        raise AnnotationError(f"{what} annotation is not valid JSON ({detail}{where}); {accepted}") from None


def _go_fields(obj: Mapping[str, Any], known: Iterable[str]) -> dict[str, Any]:
    """Map JSON keys onto known field names the way encoding/json does.

    Go matches keys case-insensitively, the last duplicate wins, unknown keys are ignored and ``null`` leaves the
    field unset.
    """
    by_fold = {k.casefold(): k for k in known}
    out: dict[str, Any] = {}
    for key, val in obj.items():
        name = key if key in by_fold.values() else by_fold.get(key.casefold())
        if name is None:
            continue
        if val is None:
            out.pop(name, None)
        else:
            out[name] = val
    return out


def _freeze(value: Any, depth: int = 0) -> Any:
    """Deep-copy JSON data into immutable containers so frozen dataclasses stay frozen."""
    if depth > _MAX_DEPTH:
        raise _Problem(f"device-info is nested deeper than {_MAX_DEPTH} levels; expected plain device data")
    if isinstance(value, Mapping):
        return MappingProxyType({str(k): _freeze(v, depth + 1) for k, v in value.items()})
    if isinstance(value, (list, tuple)):
        return tuple(_freeze(v, depth + 1) for v in value)
    return value


def _thaw(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _thaw(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [_thaw(v) for v in value]
    return value


def _string_list(value: Any, what: str) -> tuple[str, ...]:
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise _Problem(f"{what} {_q(value)} is not a list of strings")
    return tuple(value)


class _Problem(Exception):
    """Internal: a validation problem that the caller turns into an AnnotationError with context."""


# --------------------------------------------------------------------------------------------------------------
# k8s.v1.cni.cncf.io/networks


@dataclass(frozen=True)
class NetworkSelection:
    """One element of the networks annotation: which NetworkAttachmentDefinition, and what the pod asks of it.

    ``namespace`` is always resolved (the pod's namespace when the annotation omitted it) so two selections of the
    same network compare equal however they were written.  ``ips`` and ``default_route`` keep the text as given,
    because that text is what Multus hands the plugin as the ``ips`` capability / gateway request.
    """

    name: str
    namespace: str
    interface: str | None = None
    ips: tuple[str, ...] = ()
    mac: str | None = None
    default_route: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "ips", tuple(self.ips) if isinstance(self.ips, (list, tuple)) else self.ips)
        object.__setattr__(
            self,
            "default_route",
            tuple(self.default_route) if isinstance(self.default_route, (list, tuple)) else self.default_route,
        )
        try:
            _check_selection(self)
        except _Problem as exc:
            raise AnnotationError(f"network selection {_q(self.namespace)}/{_q(self.name)}: {exc}") from None

    @property
    def qualified_name(self) -> str:
        """``namespace/name``: the name Multus writes into network-status for this attachment."""
        return f"{self.namespace}/{self.name}"


def _check_selection(sel: NetworkSelection) -> None:
    if not isinstance(sel.name, str) or not _is_subdomain(sel.name):
        raise _Problem(
            f"name {_q(sel.name)} is not a valid NetworkAttachmentDefinition name: expected lowercase letters, "
            "digits, '-' and '.', starting and ending alphanumeric, at most 253 characters"
        )
    if not isinstance(sel.namespace, str) or not _is_label(sel.namespace):
        raise _Problem(
            f"namespace {_q(sel.namespace)} is not a valid namespace: expected lowercase letters, digits and '-', "
            "starting and ending alphanumeric, at most 63 characters"
        )
    if sel.interface is not None:
        problem = _interface_problem(sel.interface)
        if problem:
            raise _Problem(problem)
    if not isinstance(sel.ips, tuple):
        raise _Problem(f"ips {_q(sel.ips)} is not a list of strings")
    for ip in sel.ips:
        if not isinstance(ip, str) or (_parse_cidr(ip) if "/" in ip else _parse_ip(ip)) is None:
            raise _Problem(
                f"ip {_q(ip)} is invalid: expected an address/prefix like '192.168.1.10/24' or a plain address"
            )
    if sel.mac is not None and not _is_mac(sel.mac):
        raise _Problem(f"mac {_q(sel.mac)} is invalid: expected a MAC address like '02:00:00:00:00:01'")
    if not isinstance(sel.default_route, tuple):
        raise _Problem(f"default-route {_q(sel.default_route)} is not a list of strings")
    for gw in sel.default_route:
        if _parse_ip(gw) is None:
            raise _Problem(
                f"default-route gateway {_q(gw)} is invalid: expected a plain IP address like '192.168.1.1'"
            )


_SELECTION_KEYS = (
    "name", "namespace", "ips", "mac", "infiniband-guid", "interface", "interfaceRequest", "portMappings",
    "bandwidth", "deviceID", "cni-args", "default-route",
)


def parse_networks_annotation(value: str, pod_namespace: str) -> list[NetworkSelection]:
    """Parse the pod's networks annotation like Multus: JSON if it contains ``[``, ``{`` or ``"``, else short form.

    Short form: ``name``, ``ns/name``, ``name@if``, ``ns/name@if``, comma separated, whitespace around each part
    ignored.  JSON form: a list of objects with a string ``name``; ``namespace``, ``interface`` (or the pre-3.2
    ``interfaceRequest``), ``ips``, ``mac`` and ``default-route`` are read, other Multus keys are type-checked and
    otherwise ignored, unknown keys ignored.  An empty string means "no secondary networks".

    Deliberately stricter than Multus where Multus would only fail later: empty entries, duplicate interface names
    and invalid names are rejected here instead of at sandbox creation.
    """
    value = _check_size(value, "networks")
    if not isinstance(pod_namespace, str) or not _is_label(pod_namespace):
        raise AnnotationError(
            f"pod namespace {_q(pod_namespace)} is invalid: expected lowercase letters, digits and '-', at most 63"
        )
    if value == "":
        return []
    if any(c in value for c in '[{"'):
        selections = _parse_networks_json(value, pod_namespace)
    else:
        selections = [
            _parse_short_entry(item, index, pod_namespace) for index, item in enumerate(value.split(","), 1)
        ]
    seen: dict[str, NetworkSelection] = {}
    for sel in selections:
        if sel.interface is None:
            continue
        if sel.interface in seen:
            first = seen[sel.interface]
            raise AnnotationError(
                f"networks annotation requests interface {_q(sel.interface)} twice ({first.qualified_name} and "
                f"{sel.qualified_name}); expected each interface name at most once"
            )
        seen[sel.interface] = sel
    return selections


def _parse_short_entry(item: str, index: int, pod_namespace: str) -> NetworkSelection:
    """parsePodNetworkObjectName: split at '/', then at '@', trimming Go whitespace around every part."""
    entry = _go_trim(item)
    where = f"networks annotation entry {index} {_q(entry)}"
    if entry == "":
        raise AnnotationError(f"networks annotation entry {index} is empty; {_ACCEPTED}")
    slash = entry.split("/")
    if len(slash) > 2:
        raise AnnotationError(f"{where}: more than one '/'; {_ACCEPTED}")
    namespace = _go_trim(slash[0]) if len(slash) == 2 else ""
    at = slash[-1].split("@")
    if len(at) > 2:
        raise AnnotationError(f"{where}: more than one '@'; {_ACCEPTED}")
    name = _go_trim(at[0])
    interface = _go_trim(at[1]) if len(at) == 2 else ""
    if len(slash) == 2 and namespace == "":
        raise AnnotationError(f"{where}: empty namespace before '/'; {_ACCEPTED}")
    if name == "":
        raise AnnotationError(f"{where}: empty network name; {_ACCEPTED}")
    if len(at) == 2 and interface == "":
        raise AnnotationError(f"{where}: empty interface after '@'; {_ACCEPTED}")
    for part, label in ((namespace, "namespace"), (name, "network name")):
        if part and not (_is_label(part) if label == "namespace" else _is_subdomain(part) and "." not in part):
            raise AnnotationError(
                f"{where}: {label} {_q(part)} must be lowercase letters, digits and '-', starting and ending "
                f"alphanumeric (names with '.' need the JSON form); {_ACCEPTED}"
            )
    if interface:
        problem = _interface_problem(interface)
        if problem:
            raise AnnotationError(f"{where}: {problem}")
    return NetworkSelection(name=name, namespace=namespace or pod_namespace, interface=interface or None)


def _parse_networks_json(value: str, pod_namespace: str) -> list[NetworkSelection]:
    data = _load_json(value, "networks", _ACCEPTED)
    if data is None:  # Go unmarshals JSON null into an empty slice
        return []
    if not isinstance(data, list):
        raise AnnotationError(f"networks annotation JSON is {_json_type(data)}, not a list; {_ACCEPTED}")
    selections = []
    for index, element in enumerate(data, 1):
        where = f"networks annotation entry {index} {_q(element)}"
        if not isinstance(element, dict):
            raise AnnotationError(f"{where} is {_json_type(element)}, not an object; {_ACCEPTED}")
        try:
            selections.append(_selection_from_json(element, pod_namespace))
        except _Problem as exc:
            hint = "" if "expected" in str(exc) else f"; {_ACCEPTED}"
            raise AnnotationError(f"{where}: {exc}{hint}") from None
    return selections


def _kind(value: object) -> str:
    """'object', 'list', ...: the JSON kind of a decoded value, for messages."""
    return {dict: "object", list: "list", str: "string", bool: "boolean", int: "number", float: "number"}.get(
        type(value), "null"
    )


def _json_type(value: object) -> str:
    """The JSON kind with its article: 'an object', 'a list', 'null'."""
    kind = _kind(value)
    return kind if kind == "null" else ("an " if kind == "object" else "a ") + kind


def _selection_from_json(element: dict[str, Any], pod_namespace: str) -> NetworkSelection:
    f = _go_fields(element, _SELECTION_KEYS)
    for key in ("name", "namespace", "mac", "interface", "interfaceRequest", "infiniband-guid", "deviceID"):
        if key in f and not isinstance(f[key], str):
            raise _Problem(f"'{key}' must be a string, got {_kind(f[key])}")
    for key in ("cni-args", "bandwidth"):
        if key in f and not isinstance(f[key], dict):
            raise _Problem(f"'{key}' must be an object, got {_kind(f[key])}")
    if "portMappings" in f and not (
        isinstance(f["portMappings"], list) and all(isinstance(p, dict) or p is None for p in f["portMappings"])
    ):
        raise _Problem("'portMappings' must be a list of objects")
    if "infiniband-guid" in f and f["infiniband-guid"] and not _is_mac(f["infiniband-guid"]):
        raise _Problem(f"infiniband-guid {_q(f['infiniband-guid'])} is invalid: expected a GUID like 'xx:xx:...'")
    name = f.get("name", "")
    if name == "":
        raise _Problem(f"missing the string 'name' key; {_ACCEPTED}")
    interface = f.get("interface") or f.get("interfaceRequest") or None
    ips = _string_list(f["ips"], "ips") if "ips" in f else ()
    default_route = _string_list(f["default-route"], "default-route") if "default-route" in f else ()
    sel = NetworkSelection.__new__(NetworkSelection)
    for attr, val in (
        ("name", name),
        ("namespace", f.get("namespace") or pod_namespace),
        ("interface", interface),
        ("ips", ips),
        ("mac", f.get("mac") or None),
        ("default_route", default_route),
    ):
        object.__setattr__(sel, attr, val)
    _check_selection(sel)  # raises _Problem with the entry's context added by the caller
    return sel


def render_networks_annotation(selections: Sequence[NetworkSelection], pod_namespace: str) -> str:
    """Render selections as the JSON form Multus reads back to the same selections.

    The JSON form is used even for plain selections because only it carries ips, mac, default-route and
    NetworkAttachmentDefinition names containing '.'; the namespace is left out when it is the pod's own.
    """
    if not isinstance(pod_namespace, str) or not _is_label(pod_namespace):
        raise AnnotationError(f"pod namespace {_q(pod_namespace)} is invalid: expected a DNS-1123 label")
    items = []
    for sel in selections:
        if not isinstance(sel, NetworkSelection):
            raise AnnotationError(f"cannot render {_q(sel)}: expected NetworkSelection objects")
        item: dict[str, Any] = {"name": sel.name}
        if sel.namespace != pod_namespace:
            item["namespace"] = sel.namespace
        if sel.interface:
            item["interface"] = sel.interface
        if sel.ips:
            item["ips"] = list(sel.ips)
        if sel.mac:
            item["mac"] = sel.mac
        if sel.default_route:
            item["default-route"] = list(sel.default_route)
        items.append(item)
    text = json.dumps(items, separators=(",", ":"))
    parse_networks_annotation(text, pod_namespace)  # refuse to write what Multus (and we) would not read back
    return text


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


__all__ = [
    "MAX_ANNOTATION_BYTES",
    "NETWORKS_ANNOTATION",
    "NETWORK_STATUS_ANNOTATION",
    "NetworkSelection",
    "NetworkStatus",
    "network_status_from_cni_result",
    "network_statuses_from_cni_result",
    "parse_network_status",
    "parse_networks_annotation",
    "render_network_status",
    "render_networks_annotation",
]
