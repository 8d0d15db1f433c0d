"""``k8s.v1.cni.cncf.io/networks``: what a pod asks for (multus-cni ``parsePodNetworkAnnotation``,
``NetworkSelectionElement``), parsed and rendered as Multus does."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from netattest.annotations.golike import (
    _ACCEPTED,
    _check_size,
    _go_fields,
    _go_trim,
    _interface_problem,
    _is_label,
    _is_mac,
    _is_subdomain,
    _load_json,
    _parse_cidr,
    _parse_ip,
    _Problem,
    _q,
    _string_list,
)
from netattest.errors import AnnotationError

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
