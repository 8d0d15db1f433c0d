"""The fake API server's object store: objects keyed by (group, plural, namespace, name), resource versions, label
and field selectors, merge and JSON patch.

Thread-safe through one re-entrant lock: the server's loop thread and the tests' own thread both read and write it
(tests seed objects and assert on them while a run is going).
"""

from __future__ import annotations

import copy
import itertools
import threading
import uuid
from typing import Any

from tests.fakeapi.model import ApiError, now_stamp

Key = tuple[str, str, "str | None", str]


class Store:
    def __init__(self) -> None:
        self.objects: dict[Key, dict[str, Any]] = {}
        self.lock = threading.RLock()
        self._rv = itertools.count(1000)

    def next_version(self) -> str:
        return str(next(self._rv))

    def add(self, group: str, plural: str, namespace: str | None, obj: dict[str, Any]) -> dict[str, Any]:
        """Store ``obj`` (create or replace), giving it a uid, a creation time and a new resourceVersion."""
        with self.lock:
            meta = obj.setdefault("metadata", {})
            meta.setdefault("uid", str(uuid.uuid4()))
            meta.setdefault("creationTimestamp", now_stamp())
            meta["resourceVersion"] = self.next_version()
            if namespace:
                meta["namespace"] = namespace
            self.objects[(group, plural, namespace, meta["name"])] = obj
            return obj

    def get(self, group: str, plural: str, namespace: str | None, name: str) -> dict[str, Any] | None:
        with self.lock:
            return self.objects.get((group, plural, namespace, name))

    def list(self, group: str, plural: str, namespace: str | None = None) -> list[dict[str, Any]]:
        with self.lock:
            return [o for (g, p, ns, _), o in sorted(self.objects.items(), key=lambda kv: str(kv[0]))
                    if g == group and p == plural and (namespace is None or ns == namespace)]

    def select(self, group: str, plural: str, namespace: str | None, labels: str = "",
               fields: str = "") -> list[dict[str, Any]]:
        return [o for o in self.list(group, plural, namespace)
                if selector_matches(o["metadata"].get("labels") or {}, labels) and field_matches(o, fields)]


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 (also what the fake does for strategic merge patches: the harness sends no list directives)."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def json_patch(target: Any, ops: list[dict[str, Any]]) -> Any:
    """RFC 6902: add, replace, remove and test."""
    doc = copy.deepcopy(target)
    for op in ops:
        parts = [p.replace("~1", "/").replace("~0", "~") for p in op["path"].split("/")[1:]]
        parent = doc
        for part in parts[:-1]:
            parent = parent[int(part)] if isinstance(parent, list) else parent.setdefault(part, {})
        last = parts[-1]
        kind = op["op"]
        if kind in ("add", "replace"):
            if isinstance(parent, list):
                index = len(parent) if last == "-" else int(last)
                if kind == "add":
                    parent.insert(index, op["value"])
                else:
                    parent[index] = op["value"]
            else:
                parent[last] = op["value"]
        elif kind == "remove":
            if isinstance(parent, list):
                parent.pop(int(last))
            else:
                parent.pop(last, None)
        elif kind == "test":
            current = parent[int(last)] if isinstance(parent, list) else parent.get(last)
            if current != op["value"]:
                raise ApiError(422, "Invalid", f"test operation failed at {op['path']}")
    return doc


def _lookup(obj: dict[str, Any], path: str) -> Any:
    value: Any = obj
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def selector_matches(labels: dict[str, str], selector: str) -> bool:
    """Label selector terms: ``k=v``, ``k==v``, ``k!=v``, ``k``, ``!k``, ``k in (a,b)``, ``k notin (a,b)``."""
    for term in filter(None, (t.strip() for t in _split_selector(selector))):
        if " notin " in term or " in " in term:
            key, _, values = term.partition(" notin " if " notin " in term else " in ")
            allowed = {v.strip() for v in values.strip().strip("()").split(",")}
            present = labels.get(key.strip()) in allowed
            if (" notin " in term) == present:
                return False
        elif "!=" in term:
            key, value = term.split("!=", 1)
            if labels.get(key.strip()) == value.strip():
                return False
        elif "=" in term:
            key, value = term.replace("==", "=").split("=", 1)
            if labels.get(key.strip()) != value.strip():
                return False
        elif term.startswith("!"):
            if term[1:].strip() in labels:
                return False
        elif term not in labels:
            return False
    return True


def _split_selector(selector: str) -> list[str]:
    terms, depth, current = [], 0, ""
    for ch in selector:
        depth += ch == "("
        depth -= ch == ")"
        if ch == "," and depth == 0:
            terms.append(current)
            current = ""
        else:
            current += ch
    terms.append(current)
    return terms


def field_matches(obj: dict[str, Any], selector: str) -> bool:
    """Field selector terms ``path=value`` / ``path!=value`` over dotted paths."""
    for term in filter(None, (t.strip() for t in selector.split(","))):
        if "!=" in term:
            path, value = term.split("!=", 1)
            if str(_lookup(obj, path) or "") == value:
                return False
        else:
            path, value = term.replace("==", "=").split("=", 1)
            if str(_lookup(obj, path) or "") != value:
                return False
    return True
