"""Run ids: every object a run creates carries one, so cleanup never touches another run's objects.

A lab network namespace is named ``na-<run-id>-<role>-<name>``; the run id is 8 hex digits, so the prefix
``na-<run-id>-`` identifies exactly one run and ``gc`` can decide per run whether its owner is still alive.
"""

from __future__ import annotations

import hashlib
import re
import secrets

NETNS_PREFIX = "na-"
_RUN_ID = re.compile(r"^[0-9a-f]{8}$")
_NETNS = re.compile(r"^na-(?P<run>[0-9a-f]{8})-(?P<role>[a-z]+)-(?P<name>.+)$")


def new_run_id() -> str:
    return secrets.token_hex(4)


def is_run_id(value: str) -> bool:
    return bool(_RUN_ID.match(value))


MAX_NETNS_NAME = 200  # a file name under /var/run/netns: at most 255 bytes, with room to spare


def netns_name(run_id: str, role: str, name: str) -> str:
    """Name of a lab namespace; ``role`` is fabric, node, ext, rtr, imp, leak or pod. Kubernetes names may be 253
    characters long: longer ones are shortened with a hash, keeping the run-id prefix that gc relies on."""
    full = f"{NETNS_PREFIX}{run_id}-{role}-{name}"
    if len(full.encode()) <= MAX_NETNS_NAME:
        return full
    digest = hashlib.sha256(name.encode()).hexdigest()[:12]
    return f"{NETNS_PREFIX}{run_id}-{role}-{name[:60]}-{digest}"


def parse_netns_name(name: str) -> tuple[str, str, str] | None:
    """(run id, role, name) of a lab namespace name, or None when the namespace is not netattest's."""
    match = _NETNS.match(name)
    return (match["run"], match["role"], match["name"]) if match else None
