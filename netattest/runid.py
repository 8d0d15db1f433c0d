"""Run ids: every object a run creates carries one, so cleanup never touches another run's objects.

A lab network namespace is named ``na-<run-id>-<role>-<name>``; the run id is 8 hex digits, so the prefix
``na-<run-id>-`` identifies exactly one run and ``gc`` can decide per run whether its owner is still alive.
"""

from __future__ import annotations

import re
import secrets

NETNS_PREFIX = "na-"
_RUN_ID = re.compile(r"^[0-9a-f]{8}$")
_NETNS = re.compile(r"^na-(?P<run>[0-9a-f]{8})-(?P<role>[a-z]+)-(?P<name>.+)$")


def new_run_id() -> str:
    return secrets.token_hex(4)


def is_run_id(value: str) -> bool:
    return bool(_RUN_ID.match(value))


def netns_name(run_id: str, role: str, name: str) -> str:
    """Name of a lab namespace; ``role`` is fabric, node, ext, rtr, imp or pod."""
    return f"{NETNS_PREFIX}{run_id}-{role}-{name}"


def parse_netns_name(name: str) -> tuple[str, str, str] | None:
    """(run id, role, name) of a lab namespace name, or None when the namespace is not netattest's."""
    match = _NETNS.match(name)
    return (match["run"], match["role"], match["name"]) if match else None
