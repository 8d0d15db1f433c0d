"""The topologies shipped with netattest (package data), and how a ``--topology`` value names one.

A value that is an existing file is that file; a bare name (no directory part) that is not a file in the current
directory names a shipped topology, with or without ``.yaml``. Anything else is left as given, so the loader says
that the file does not exist (and lists the shipped names).
"""

from __future__ import annotations

import os
from pathlib import Path

from netattest.paths import TOPOLOGIES_DIR

SUFFIXES = (".yaml", ".yml")


def shipped_topologies() -> list[Path]:
    """The shipped topology files, by name."""
    return sorted(p for p in TOPOLOGIES_DIR.glob("*.yaml") if p.is_file())


def shipped_names() -> list[str]:
    return [p.stem for p in shipped_topologies()]


def is_bare_name(given: str) -> bool:
    return bool(given) and os.sep not in given and "/" not in given and given not in (".", "..")


def resolve_topology(given: str | os.PathLike[str]) -> Path:
    """The file a ``--topology`` value means: the path itself if it exists, else a shipped topology of that name."""
    path = Path(given)
    text = os.fspath(given)
    if path.exists() or not is_bare_name(text):
        return path
    stem = text[: -len(suffix)] if (suffix := next((s for s in SUFFIXES if text.endswith(s)), "")) else text
    candidate = TOPOLOGIES_DIR / f"{stem}.yaml"
    return candidate if candidate.is_file() else path
