"""The pytest11 entry point: lets plain ``pytest --pyargs netattest.suites --topology ...`` take the suites' options.

pytest reads the options of a conftest only when a path argument leads to it, and ``--pyargs netattest.suites`` is
no path at option time, so the suites' conftest would come too late for ``--topology``. An entry point loads in
every pytest session of the environment, though: this hook does nothing unless ``--pyargs`` names the suites, so
other sessions (the harness's own tests, anyone else's) never see the suites' options or layers.
"""

from __future__ import annotations

import pytest

SUITES = "netattest.suites"


def names_the_suites(pyargs: bool, args: list[str]) -> bool:
    return pyargs and any(a.split("::")[0] == SUITES or a.startswith(SUITES + ".") for a in args)


def pytest_load_initial_conftests(early_config: pytest.Config) -> None:
    known = early_config.known_args_namespace
    if names_the_suites(bool(getattr(known, "pyargs", False)), list(getattr(known, "file_or_dir", None) or [])):
        from netattest.plugin import register_layers

        register_layers(early_config.pluginmanager)
