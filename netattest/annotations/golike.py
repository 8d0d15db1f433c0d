"""What Multus's Go code does to annotation text, mirrored: Go's whitespace trim, net.ParseIP /
ParseCIDR, MAC forms, strict JSON with depth and size limits, and the one-line quoting of offending input."""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Iterable, Mapping
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
