"""Integrity of a run's evidence: the SHA-256 of every file in the run directory, in two forms —

* ``manifest.json`` (schema ``netattest.manifest/v1``: path, size and SHA-256 of each file), for tools;
* ``SHA256SUMS`` in coreutils format, so an auditor can check without netattest: ``sha256sum -c SHA256SUMS``.

``verify`` reports files that are missing, modified, or present but not listed (added after the fact).
Record the manifest's own SHA-256 (``netattest run`` prints it) to make the manifest itself tamper-evident.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

MANIFEST = "manifest.json"
SUMS = "SHA256SUMS"
SCHEMA = "netattest.manifest/v1"
_SELF = {MANIFEST, SUMS}


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def evidence_paths(run_dir: Path) -> list[str]:
    """Relative POSIX paths of the run's files, sorted (plain strings: a run can hold tens of thousands)."""
    found = []
    for folder, _, names in os.walk(run_dir):
        relative = Path(folder).relative_to(run_dir).as_posix()
        for name in names:
            path = name if relative == "." else f"{relative}/{name}"
            full = Path(folder, name)
            if path not in _SELF and full.is_file() and not full.is_symlink():
                found.append(path)
    return sorted(found)


def write_manifest(run_dir: Path, run_id: str = "") -> str:
    """Write manifest.json and SHA256SUMS; returns the SHA-256 of manifest.json.

    Written entry by entry (the same bytes as one ``json.dumps(manifest, indent=1)``), so listing tens of
    thousands of files needs one small tuple per file, not a dict per file and the whole text at once."""
    files = []
    for path in evidence_paths(run_dir):
        full = run_dir / path
        files.append((path, full.stat().st_size, sha256_file(full)))
    head = {"schema": SCHEMA, "run_id": run_id or run_dir.name, "created": time.time(), "algorithm": "sha256",
            "count": len(files), "total_bytes": sum(size for _, size, _ in files)}
    digest = hashlib.sha256()
    with (run_dir / MANIFEST).open("w", encoding="utf-8") as out:
        def emit(text: str) -> None:
            out.write(text)
            digest.update(text.encode())

        emit(json.dumps(head, indent=1)[:-2] + ',\n "files": [')
        for n, (path, size, sha) in enumerate(files):
            entry = json.dumps({"path": path, "size": size, "sha256": sha}, indent=1).replace("\n", "\n  ")
            emit(("," if n else "") + "\n  " + entry)
        emit(("\n ]" if files else "]") + "\n}\n")
    with (run_dir / SUMS).open("w", encoding="utf-8") as out:
        out.writelines(f"{sha}  {path}\n" for path, _, sha in files)
    return digest.hexdigest()


@dataclass
class Verification:
    checked: int = 0
    missing: list[str] = field(default_factory=list)
    modified: list[str] = field(default_factory=list)
    unlisted: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # the manifest itself: absent, unreadable, disagreeing

    @property
    def ok(self) -> bool:
        return not (self.missing or self.modified or self.unlisted or self.problems)

    def lines(self) -> list[str]:
        out = [f"manifest problem: {p}" for p in self.problems]
        out += [f"MISSING   {p}" for p in self.missing]
        out += [f"MODIFIED  {p}" for p in self.modified]
        out += [f"UNLISTED  {p}" for p in self.unlisted]
        return out


def verify(run_dir: Path) -> Verification:
    result = Verification()
    try:
        manifest = json.loads((run_dir / MANIFEST).read_text())
        listed = {f["path"]: f for f in manifest["files"]}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        result.problems.append(f"{run_dir / MANIFEST}: cannot be read ({exc})")
        return result
    try:
        sums: dict[str, str] = {}
        for line in (run_dir / SUMS).read_text().splitlines():
            digest, _, path = line.partition("  ")
            sums[path] = digest
        if sums != {path: f["sha256"] for path, f in listed.items()}:
            result.problems.append(f"{SUMS} and {MANIFEST} disagree")
    except (OSError, ValueError) as exc:
        result.problems.append(f"{run_dir / SUMS}: cannot be read ({exc})")
    for path, entry in sorted(listed.items()):
        file = run_dir / path
        if not file.is_file():
            result.missing.append(path)
            continue
        result.checked += 1
        if file.stat().st_size != entry["size"] or sha256_file(file) != entry["sha256"]:
            result.modified.append(path)
    present = set(evidence_paths(run_dir))
    result.unlisted = sorted(present - set(listed))
    return result
