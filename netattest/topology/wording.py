"""The wording of topology errors: field paths, quoted values, suggestions, and the one error factory.

Every problem the loader finds is one line ``file:line: field 'path': problem. Fix: ...``; these helpers keep the
pieces short and printable whatever the user's file contains.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Sequence
from typing import Any

from ..errors import TopologyError
from ..naming import quote

Path = tuple[str | int, ...]
FILE_FIELD = "-"
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_q = quote


def format_path(path: Path) -> str:
    """Render a field path the way messages show it: ``pods[2].networks[0].ips[0]``, ``-`` for the file."""
    out = ""
    for part in path:
        if isinstance(part, str) and not part.isprintable():
            part = repr(part)[1:-1]
        if isinstance(part, int) or not _IDENT.fullmatch(part):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out or FILE_FIELD


def make_error(source: str, line: int | None, path: Path | str, problem: str, fix: str) -> TopologyError:
    """The one place errors are made: always one line, whatever text the user's file contained."""
    field = path if isinstance(path, str) else format_path(path)
    return TopologyError(source, line, field, _oneline(problem), _oneline(fix))


def _oneline(text: str) -> str:
    return " ".join(str(text).split())


def _describe(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, (int, float)):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the text {_q(value)}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def _suggest(value: Any, options: Iterable[str]) -> str | None:
    if not isinstance(value, str):
        return None
    options = list(options)
    folded = {o.lower().replace("_", "").replace("-", ""): o for o in options}
    key = value.lower().replace("_", "").replace("-", "")
    if key in folded:
        return folded[key]
    close = difflib.get_close_matches(value, options, n=1, cutoff=0.6)
    return close[0] if close else None


def _int(value: Any) -> int | None:
    """JSON Schema's integer admits 112.0; the model wants a real int."""
    return None if value is None else int(value)


def _did_you_mean(value: Any, options: Sequence[str]) -> str:
    guess = _suggest(value, options)
    return f" (did you mean '{guess}'?)" if guess else ""


def _choose(value: Any, options: Sequence[str]) -> str:
    return f"use one of {', '.join(options)}{_did_you_mean(value, options)}"


def _listing(items: Iterable[str], limit: int = 8, sep: str = ", ") -> str:
    items = list(items)
    shown = sep.join(items[:limit]) + (f"{sep}... ({len(items)} in all)" if len(items) > limit else "")
    return shown or "none"
