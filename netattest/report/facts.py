"""Facts about where and with what a run ran: kernel, OS, harness and library versions, and for the lab the CNI
plugin binaries actually executed (path, SHA-256, the version they report, their Debian package).

Never reads environment variables' values (only NETATTEST_IN_SANDBOX, to say whether the kernel is the sandbox's).
"""

from __future__ import annotations

import os
import platform
import subprocess
from collections.abc import Iterable
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

from netattest import __version__
from netattest.lab.cni import CNI_BIN_DIRS
from netattest.report.manifest import sha256_file

LIBRARIES = ("pytest", "scapy", "pyroute2", "allure-pytest", "kubernetes", "Jinja2")


def _run(argv: list[str], *, stderr: bool = False, **kwargs: Any) -> str:
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False, **kwargs)
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


@cache
def _package_version(package: str) -> str:
    return _run(["dpkg-query", "-W", "-f=${Version}", package])


def _package_of(path: str) -> str:
    for package in PACKAGES:
        if path in _package_files(package):
            return f"{package} {_package_version(package)}".strip()
    return ""


def cni_plugin(name: str) -> dict[str, Any]:
    """Where a CNI plugin binary is, its digest, what it says about its version, and its package."""
    for directory in CNI_BIN_DIRS:
        path = Path(directory) / name
        if path.is_file():
            said = _run([str(path), "--version"], stderr=True).splitlines()  # the reference plugins print to stderr
            return {"path": str(path), "sha256": sha256_file(path), "version": said[0] if said else "",
                    "protocols": said[1].split(":", 1)[-1].strip() if len(said) > 1 else "",
                    "package": _package_of(str(path))}
    return {"path": None, "sha256": None, "version": "not installed", "protocols": "", "package": ""}


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
        facts["cni_plugins"] = {name: cni_plugin(name) for name in sorted(set(plugins))}
    else:
        facts["cni_plugins"] = {}
    return facts
