"""Facts about where and with what a run ran: kernel, OS, harness and library versions, and for the lab the CNI
plugin binaries actually executed (path, SHA-256, the version they report, their Debian package).

Never reads environment variables' values (only NETATTEST_IN_SANDBOX, to say whether the kernel is the sandbox's).
"""

from __future__ import annotations

import os
import platform
import shlex
import subprocess
from collections.abc import Iterable
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

from netattest import __version__, spawn
from netattest.lab.cni import CNI_BIN_DIRS
from netattest.report.manifest import sha256_file

LIBRARIES = ("pytest", "scapy", "pyroute2", "allure-pytest", "kubernetes", "Jinja2")


def _run(argv: list[str], *, stderr: bool = False) -> str:
    try:
        proc = spawn.run(argv, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    if proc.returncode != 0:
        return ""
    return (proc.stdout + (proc.stderr if stderr else "")).strip()


PACKAGES = ("containernetworking-plugins",)  # Debian packages that ship CNI plugins
DPKG_INFO = Path("/var/lib/dpkg/info")


@cache
def _package_files(package: str) -> frozenset[str]:
    """Files a Debian package installed, from dpkg's list (read directly: ``dpkg-query -S`` scans every list and
    takes seconds inside the kernel sandbox)."""
    for name in (f"{package}.list", f"{package}:amd64.list", f"{package}:arm64.list"):
        try:
            return frozenset((DPKG_INFO / name).read_text().splitlines())
        except OSError:
            continue
    return frozenset()


def _package_of(path: str) -> str:
    """The Debian package (of PACKAGES) that installed ``path``, or ""."""
    return next((package for package in PACKAGES if path in _package_files(package)), "")


MARK = "--- netattest:"  # starts each part of the facts shell's output


def _sections(script: str) -> dict[str, str]:
    """Run ``script`` in one shell and split its output at MARK lines: every process the harness starts costs
    ~0.1 s inside the kernel sandbox, one that a small shell starts a third of that."""
    out = _run(["/bin/sh", "-c", script + "; exit 0"])  # a part that failed is empty, the others stay
    parts: dict[str, list[str]] = {}
    lines: list[str] = []
    for line in out.splitlines():
        if line.startswith(MARK):
            lines = parts.setdefault(line[len(MARK):], [])
        else:
            lines.append(line)
    return {name: "\n".join(part).strip() for name, part in parts.items()}


def cni_plugins(names: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Per CNI plugin: where its binary is, its digest, what it says about its version, and its package."""
    paths = {name: next((p for p in (Path(d) / name for d in CNI_BIN_DIRS) if p.is_file()), None)
             for name in names}
    packages = {str(path): _package_of(str(path)) for path in paths.values() if path is not None}
    q = shlex.quote
    script = [f'echo {q(MARK + "version " + name)}; v=$({q(str(path))} --version 2>&1) && echo "$v"'
              for name, path in paths.items() if path is not None]  # the reference plugins print to stderr
    script += [f'echo {q(MARK + "package " + package)}; v=$(dpkg-query -W -f=\'${{Version}}\' {q(package)}) && '
               'echo "$v"' for package in sorted(set(packages.values()) - {""})]
    said = _sections("; ".join(script)) if script else {}
    facts: dict[str, dict[str, Any]] = {}
    for name, path in paths.items():
        if path is None:
            facts[name] = {"path": None, "sha256": None, "version": "not installed", "protocols": "",
                           "package": ""}
            continue
        version = said.get(f"version {name}", "").splitlines()
        package = packages[str(path)]
        facts[name] = {"path": str(path), "sha256": sha256_file(path), "version": version[0] if version else "",
                       "protocols": version[1].split(":", 1)[-1].strip() if len(version) > 1 else "",
                       "package": f"{package} {said.get('package ' + package, '')}".strip() if package else ""}
    return facts


def _os_name() -> str:
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip('"')
    except OSError:
        pass
    return platform.system()


def _library(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def environment_facts(target: str, plugins: Iterable[str]) -> dict[str, Any]:
    in_sandbox = os.environ.get("NETATTEST_IN_SANDBOX") == "1"
    facts: dict[str, Any] = {
        "harness_version": __version__,
        "python": platform.python_version(),
        "kernel": platform.release(),
        "kernel_kind": "user-mode Linux sandbox" if in_sandbox else "host kernel",
        "machine": platform.machine(),
        "os": _os_name(),
        "hostname": platform.node(),
        "libraries": {name: _library(name) for name in LIBRARIES},
    }
    if target == "lab":
        facts["cni_plugins"] = cni_plugins(sorted(set(plugins)))
    else:
        facts["cni_plugins"] = {}
    return facts
