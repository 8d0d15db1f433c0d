"""The package stands alone: a wheel built from this checkout, installed into a fresh virtualenv, lists and runs the
shipped topologies from a directory with no repository around it, and plain ``pytest --pyargs netattest.suites``
takes the same options; the wheel holds one top-level package (no generic ``fixtures``, ``suites`` or ``tests``).

The virtualenv gets the wheel's dependencies from the pip cache or PyPI (no system site-packages: the checkout's
editable install there would shadow the wheel).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO

#: what the copy the wheel is built from leaves out: setuptools builds in its source tree (build/, *.egg-info),
#: which must not be the shared checkout, and reports or caches are no part of a source tree
NOT_SOURCE = shutil.ignore_patterns(".git", "reports", ".tools", "__pycache__", "*.egg-info", "build", "dist",
                                    ".*_cache", ".hypothesis", ".venv", "venv")


def _env() -> dict[str, str]:
    """No PYTHONPATH: the installed netattest must not find the checkout."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return {**env, "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_ROOT_USER_ACTION": "ignore"}


def _run(argv: list[str | Path], cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in argv], cwd=cwd, env=_env(), capture_output=True, text=True,
                          timeout=timeout, check=False)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("wheel")
    shutil.copytree(REPO, base / "src", symlinks=True, ignore=NOT_SOURCE)
    built = _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", base / "dist", base / "src"], base)
    assert built.returncode == 0, built.stdout[-2000:] + built.stderr[-3000:]
    (found,) = (base / "dist").glob("netattest-*.whl")
    return found


@pytest.fixture(scope="module")
def venv_bin(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    venv = tmp_path_factory.mktemp("venv")
    made = _run([sys.executable, "-m", "venv", venv], venv)
    assert made.returncode == 0, made.stderr[-2000:]
    installed = _run([venv / "bin" / "python", "-m", "pip", "install", "-q", wheel], venv, timeout=600)
    assert installed.returncode == 0, installed.stderr[-3000:]
    return venv / "bin"


@pytest.fixture
def elsewhere(tmp_path: Path) -> Path:
    """A working directory with no checkout and no pytest configuration."""
    where = tmp_path / "elsewhere"
    where.mkdir()
    return where


def test_the_wheel_holds_one_package_with_its_suites_plugin_and_topologies(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    assert len(names) == len(set(names))
    tops = {name.split("/")[0] for name in names}
    assert tops == {"netattest", wheel.name.split("-py3")[0] + ".dist-info"}, tops  # no fixtures/, suites/, tests/
    shipped = {f"netattest/topologies/{p.name}" for p in (REPO / "topologies").glob("*.yaml")}
    assert len(shipped) > 10 and shipped <= set(names)
    assert not [n for n in names if n.endswith(".yaml") and n not in shipped]  # each topology once
    assert {"netattest/suites/__init__.py", "netattest/suites/conftest.py", "netattest/suites/test_mac.py",
            "netattest/plugin/options.py", "netattest/plugin/sandbox.py", "netattest/pytest.ini",
            "netattest/report/templates/report.html.j2", "netattest/pyargs_plugin.py"} <= set(names)
    entry_points = zipfile.ZipFile(wheel).read(wheel.name.split("-py3")[0] + ".dist-info/entry_points.txt").decode()
    assert "[pytest11]" in entry_points and "netattest.pyargs_plugin" in entry_points


@pytest.mark.lab
def test_the_installed_cli_lists_and_runs_a_shipped_topology_by_name_from_anywhere(venv_bin: Path,
                                                                                   elsewhere: Path) -> None:
    listed = _run([venv_bin / "netattest", "topologies"], elsewhere)
    assert listed.returncode == 0, listed.stderr
    rows = {line.split()[0]: line.split()[1] for line in listed.stdout.splitlines()[1:] if line[:1].isalnum()}
    assert rows.get("macvlan-only") == "host", listed.stdout
    assert set(rows) >= {p.stem for p in (REPO / "topologies").glob("*.yaml")}

    reports = elsewhere / "out"
    ran = _run([venv_bin / "netattest", "run", "--topology", "macvlan-only", "--kernel", "host", "--reports-dir",
                reports], elsewhere)
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-3000:]
    (summary_file,) = reports.glob("*/summary.json")
    summary = json.loads(summary_file.read_text())
    counts = summary["counts"]
    assert counts["passed"] > 50 and counts["failed"] == counts["broken"] == 0, counts
    # the installed package's topology and suites, not the checkout's
    assert summary["topology"]["file"].startswith(str(venv_bin.parent)), summary["topology"]
    assert all(t["nodeid"].startswith("suites/test_") for t in summary["tests"])
    assert not (elsewhere / ".pytest_cache").exists()


def test_an_unknown_topology_name_lists_the_shipped_ones(venv_bin: Path, elsewhere: Path) -> None:
    ran = _run([venv_bin / "netattest", "run", "--topology", "no-such-topology"], elsewhere)
    assert ran.returncode == 2 and "Traceback" not in ran.stderr, ran.stderr
    assert "no-such-topology" in ran.stderr and "macvlan-only" in ran.stderr and "netattest topologies" in ran.stderr


@pytest.mark.sandbox
@pytest.mark.lab
@pytest.mark.needs("uml")
def test_the_installed_package_runs_the_default_topology_in_the_kernel_sandbox(venv_bin: Path,
                                                                              elsewhere: Path) -> None:
    """The seed topology needs ipvlan: the session re-runs inside the sandbox and must import the installed
    package there; reports go to ./reports of the directory the run started in."""
    ran = _run([venv_bin / "netattest", "run", "-m", "attachment"], elsewhere)
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-3000:]
    (summary_file,) = (elsewhere / "reports").glob("*/summary.json")
    summary = json.loads(summary_file.read_text())
    assert summary["topology"]["name"] == "restricted-vlan" and summary["counts"]["failed"] == 0
    assert summary["counts"]["broken"] == 0 and summary["counts"]["passed"] > 0


def test_plain_pytest_pyargs_takes_the_suites_options_and_other_sessions_never_see_them(venv_bin: Path,
                                                                                       elsewhere: Path) -> None:
    collected = _run([venv_bin / "python", "-m", "pytest", "--pyargs", "netattest.suites", "--topology",
                      "macvlan-only", "--reports-dir", elsewhere / "out", "--collect-only", "-q", "--strict-markers",
                      "-p", "no:cacheprovider"], elsewhere)
    assert collected.returncode == 0, collected.stdout[-3000:] + collected.stderr[-3000:]
    assert " tests collected" in collected.stdout
    other = _run([venv_bin / "python", "-m", "pytest", "--help"], elsewhere)
    assert other.returncode == 0 and "--topology" not in other.stdout  # the entry point is inert here
