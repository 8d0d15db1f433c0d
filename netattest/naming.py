"""The naming rules of Kubernetes and Linux, once for the whole code base.

The topology loader, the Multus annotation parsers, the cluster target's generated names and the manifest
validation all ask the same questions (is this a DNS-1123 label? a Linux interface name?), and used to answer them
with four copies of the rule that could drift apart. Each rule lives here, with the wording of its problem.
"""

from __future__ import annotations

import re

DNS1123_LABEL_MAX = 63  # namespaces, most object names, label values
DNS1123_SUBDOMAIN_MAX = 253  # node and pod names
IFNAME_MAX = 15  # IFNAMSIZ (16) minus the terminating NUL

DNS1123_LABEL_PATTERN = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
DNS1123_SUBDOMAIN_PATTERN = rf"{DNS1123_LABEL_PATTERN}(\.{DNS1123_LABEL_PATTERN})*"
_DNS1123_LABEL = re.compile(DNS1123_LABEL_PATTERN)
_DNS1123_SUBDOMAIN = re.compile(DNS1123_SUBDOMAIN_PATTERN)
_LABEL_PART = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?")


def quote(value: object, limit: int = 60) -> str:
    """A user value for a message: printable, short, quoted."""
    text = value if isinstance(value, str) else str(value)
    if not text.isprintable():
        text = repr(text)[1:-1]
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return f"'{text}'"


def is_dns1123_label(text: object) -> bool:
    return isinstance(text, str) and len(text) <= DNS1123_LABEL_MAX and _DNS1123_LABEL.fullmatch(text) is not None


def is_dns1123_subdomain(text: object) -> bool:
    return (isinstance(text, str) and len(text) <= DNS1123_SUBDOMAIN_MAX
            and _DNS1123_SUBDOMAIN.fullmatch(text) is not None)


def dns1123_problem(value: str, subdomain: bool = False) -> str | None:
    """Why ``value`` is not a DNS-1123 label (or subdomain), or None when it is one."""
    limit = DNS1123_SUBDOMAIN_MAX if subdomain else DNS1123_LABEL_MAX
    if len(value) > limit:
        return f"is {len(value)} characters long, more than {limit}"
    extra = "-." if subdomain else "-"
    bad = sorted({c for c in value if not (c.isascii() and (c.islower() or c.isdigit())) and c not in extra})
    if bad:
        upper = " (uppercase is not allowed)" if any(c.isupper() for c in bad) else ""
        return "contains " + ", ".join(quote(c) for c in bad) + upper
    parts = value.split(".") if subdomain else [value]
    if any(not p or not p[0].isalnum() or not p[-1].isalnum() for p in parts):
        return "must start and end with a lowercase letter or digit"
    return None


def dns1123_fix(value: str) -> str:
    """How to write ``value`` as a DNS-1123 label, with an example made from it."""
    candidate = re.sub(r"[^a-z0-9-]+", "-", value.lower()).strip("-")[:DNS1123_LABEL_MAX].strip("-") or "name"
    return ("use lowercase letters, digits and '-', starting and ending with a letter or digit, "
            f"at most {DNS1123_LABEL_MAX} characters (e.g. '{candidate}')")


def ifname_problem(value: str) -> str | None:
    """Why the kernel would refuse (or rename) interface name ``value``, or None when it takes it as is.

    The kernel's dev_valid_name wants fewer than IFNAMSIZ bytes, no '/', ':' or whitespace and not '.'/'..'; and
    '%' is a template to it (n%d becomes n0), so the interface would not get the name asked for.
    """
    size = len(value.encode("utf-8", "surrogatepass"))  # a lone surrogate is refused below, not here
    if not value:
        return "is empty"
    if size > IFNAME_MAX:
        return f"is {size} bytes long; Linux interface names have at most {IFNAME_MAX}"
    if value in (".", ".."):
        return "is '.' or '..', which Linux refuses"
    bad = sorted({c for c in value if c in "/:%" or not "!" <= c <= "~"})
    if bad:
        return ("contains " + ", ".join(repr(c) for c in bad) + ", which Linux refuses or rewrites in interface "
                "names (use printable ASCII without '/', ':', '%' or spaces)")
    return None


def label_key_problem(key: str) -> str | None:
    """Why ``key`` is not a Kubernetes label key (``[prefix/]name``), or None."""
    prefix, _, name = key.rpartition("/")
    if prefix and dns1123_problem(prefix, subdomain=True) is not None:
        return f"has an invalid prefix {quote(prefix)} (must be a DNS subdomain like example.com)"
    if not name or len(name) > DNS1123_LABEL_MAX or not _LABEL_PART.fullmatch(name):
        return "has an invalid name part (1-63 characters: letters, digits, '-', '_', '.', alphanumeric at both ends)"
    return None


def label_value_problem(value: str) -> str | None:
    """Why ``value`` is not a Kubernetes label value, or None."""
    if value and (len(value) > DNS1123_LABEL_MAX or not _LABEL_PART.fullmatch(value)):
        return "is not a valid label value (at most 63 letters, digits, '-', '_', '.', alphanumeric at both ends)"
    return None
