"""Allure result files without parametrization noise.

allure-pytest writes a *container* file for every fixture set-up, including the pseudo-fixture pytest makes for
each directly parametrized argument of each test. Those containers have no children, so the Allure report never
shows them, yet a 20,000-check run wrote 20,000 of them (and hashed, scrubbed and listed each in the manifest).
Containers that do hold tests (real fixtures with their set-up steps) are written as before.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from allure_commons import hookimpl, plugin_manager
from allure_commons.logger import AllureFileLogger


class FileLoggerWithoutEmptyContainers(AllureFileLogger):
    """allure-pytest's own file logger, minus containers that no test belongs to."""

    @hookimpl
    def report_container(self, container: Any) -> None:
        if container.children:
            super().report_container(container)


def drop_empty_containers(report_dir: str | Path, add_cleanup: Callable[[Callable[[], None]], None]) -> bool:
    """Swap allure-pytest's file logger for one that skips childless containers; False if none is registered.

    ``add_cleanup`` (``pytest.Config.add_cleanup``) puts the original back at the end of the session, before
    allure-pytest's own clean-up, which unregisters that very object."""
    for original in list(plugin_manager.get_plugins()):
        if type(original) is AllureFileLogger:
            replacement = FileLoggerWithoutEmptyContainers(report_dir)
            plugin_manager.unregister(original)
            plugin_manager.register(replacement)

            def restore(replacement: Any = replacement, original: Any = original) -> None:
                plugin_manager.unregister(replacement)
                plugin_manager.register(original)

            add_cleanup(restore)
            return True
    return False
