"""Where the package's own files are: the suites, their pytest configuration and the shipped topologies travel
inside the package (a wheel has no repository around it), and the few things only a checkout has are found
through :func:`checkout_root`."""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
SUITES_DIR = PACKAGE_DIR / "suites"
PYTEST_INI = PACKAGE_DIR / "pytest.ini"  # the suites' pytest configuration (rootdir: PACKAGE_DIR)
TOPOLOGIES_DIR = PACKAGE_DIR / "topologies"


def child_pythonpath() -> str:
    """PYTHONPATH for a child session (``netattest run``'s pytest, the session inside the kernel sandbox): the
    directory this package was imported from (a checkout, or site-packages) first, so it imports this very
    netattest, then whatever PYTHONPATH already held."""
    return os.pathsep.join(p for p in (str(PACKAGE_DIR.parent), os.environ.get("PYTHONPATH", "")) if p)


def checkout_root() -> Path | None:
    """The repository when netattest runs from a checkout (editable install or PYTHONPATH), else None."""
    root = PACKAGE_DIR.parent
    return root if (root / "pyproject.toml").is_file() and (root / "netattest" / "cli.py").is_file() else None
