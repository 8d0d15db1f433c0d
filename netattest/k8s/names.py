"""Names, labels and annotations of everything a run creates on a cluster.

Every object carries ``netattest.io/run-id=<id>`` and ``app.kubernetes.io/managed-by=netattest``; cleanup and
``gc`` select by these labels only, never by a name prefix, so another tool's ``netattest-*`` namespace (or a
namespace a user created by hand) is never touched. A run namespace is ``netattest-<run-id>-<topology namespace>``
(at most 63 characters: long names are shortened with a hash, so two topology namespaces never collide) and
carries ``netattest.io/expires-at`` (UTC, ISO 8601): ``gc`` removes a namespace only past that time, unless asked
for its run id.
"""

from __future__ import annotations

import getpass
import hashlib
import os
import re
import socket
from datetime import UTC, datetime, timedelta

from netattest.naming import DNS1123_LABEL_MAX, is_dns1123_label

PREFIX = "netattest"
LABEL_RUN_ID = "netattest.io/run-id"
LABEL_MANAGED_BY = "app.kubernetes.io/managed-by"
MANAGED_BY = "netattest"
LABEL_TOPOLOGY_NAMESPACE = "netattest.io/topology-namespace"
LABEL_ROLE = "netattest.io/role"  # probe | node-inventory | node-check (pre-flight debug pods)
LABEL_POD = "netattest.io/pod"  # the topology's pod name
LABEL_NODE = "netattest.io/node"
ANNOTATION_EXPIRES = "netattest.io/expires-at"
ANNOTATION_CREATED_BY = "netattest.io/created-by"
ANNOTATION_TOPOLOGY = "netattest.io/topology"
MAX_LABEL = DNS1123_LABEL_MAX
DEFAULT_TTL = timedelta(hours=2)
#: selects exactly netattest's own objects (any run)
OWN_SELECTOR = f"{LABEL_MANAGED_BY}={MANAGED_BY},{LABEL_RUN_ID}"


def _shorten(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters with a stable 5-character hash, ending alphanumeric."""
    if len(text) <= limit:
        return text
    digest = hashlib.sha256(text.encode()).hexdigest()[:5]
    return f"{text[:limit - 6].rstrip('-.')}-{digest}"


def run_namespace(run_id: str, namespace: str) -> str:
    """``netattest-<run-id>-<namespace>``, a DNS label of at most 63 characters."""
    name = _shorten(f"{PREFIX}-{run_id}-{namespace}", MAX_LABEL)
    if not is_dns1123_label(name):
        raise ValueError(f"cannot derive a namespace name from {namespace!r}")
    return name


def label_value(text: str) -> str:
    """``text`` as a label value or object name of at most 63 characters (shortened with a stable hash)."""
    return _shorten(text, MAX_LABEL)


def node_pod_name(node: str) -> str:
    """The node-inventory pod of ``node`` (pod names are DNS subdomains; kept to 63 for the pod's hostname)."""
    return _shorten(f"{PREFIX}-node-{node}".lower(), MAX_LABEL)


def run_labels(run_id: str, **extra: str) -> dict[str, str]:
    return {LABEL_MANAGED_BY: MANAGED_BY, LABEL_RUN_ID: run_id, **extra}


def run_selector(run_id: str) -> str:
    return f"{LABEL_MANAGED_BY}={MANAGED_BY},{LABEL_RUN_ID}={run_id}"


def expires_at(ttl: timedelta, now: datetime | None = None) -> str:
    moment = (now or datetime.now(UTC)) + ttl
    return moment.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_expiry(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def parse_ttl(text: str) -> timedelta:
    """``90m``, ``2h``, ``1d``, ``3600`` (seconds) -> timedelta."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", text)
    if not match:
        raise ValueError(f"TTL {text!r}: expected a number with an optional unit s, m, h or d, e.g. 2h")
    value, unit = float(match[1]), match[2] or "s"
    return timedelta(seconds=value * {"s": 1, "m": 60, "h": 3600, "d": 86400}[unit])


def created_by() -> str:
    """Who made a run's objects (user@host pid), written into their annotations for whoever finds them."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # a container without a passwd entry
        user = str(os.getuid())
    return f"{user}@{socket.gethostname()} pid {os.getpid()}"
