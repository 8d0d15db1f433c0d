"""Plain-JSON views of the harness's dataclasses (inventories, probe results) for records and reports.

``dataclasses.asdict`` deep-copies and chokes on read-only mappings; this walks the objects instead and turns
addresses and other value types into their string form.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from ipaddress import IPv4Address, IPv4Interface, IPv4Network
from pathlib import Path
from typing import Any


def to_jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [to_jsonable(v) for v in value]
        return sorted(items, key=str) if isinstance(value, (set, frozenset)) else items
    if isinstance(value, (IPv4Address, IPv4Interface, IPv4Network, Path)):
        return str(value)
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def dumps(value: Any, **kwargs: Any) -> str:
    return json.dumps(to_jsonable(value), **kwargs)
