"""The progress layer: what the session says while it runs, and why it stopped before its checks.

One printer per session (one clock: every line's seconds count from the session's start), used by every layer.
A layer that finds the target unusable before any check records the reason here once; the evidence layer writes it
into the summary (exit status 2) and it is said once: by ``netattest run``'s summary, or at the end of a plain
pytest session.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

Printer = Callable[[str], None]
PRINTER_KEY = pytest.StashKey[Printer]()
#: why the session stopped before its first check (a target that cannot be used), and how many checks did not run
STOPPED_KEY = pytest.StashKey[dict[str, Any]]()


def progress_printer(config: pytest.Config) -> Printer:
    """The session's progress line printer; it gets past pytest's output capture (fixtures run captured)."""
    printer = config.stash.get(PRINTER_KEY, None)
    if printer is None:
        printer = config.stash[PRINTER_KEY] = _printer(config)
    return printer


def _printer(config: pytest.Config) -> Printer:
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    capture = config.pluginmanager.get_plugin("capturemanager")
    started = time.monotonic()

    def show(message: str) -> None:
        if reporter is None or config.getoption("verbose") < -1:
            return
        line = f"[netattest {time.monotonic() - started:5.1f}s] {message}"
        if capture is None:
            reporter.write_line(line)
            return
        with capture.global_and_fixture_disabled():
            reporter.write_line(line)
    return show


def stop_before_checks(session: pytest.Session, reason: str) -> None:
    """Record that no check will run because the target cannot be used."""
    session.config.stash[STOPPED_KEY] = {"before": "any check", "reason": reason,
                                         "checks_not_run": len(session.items)}
    progress_printer(session.config)(f"the target cannot be used: stopping before any of {len(session.items)} "
                                     "checks")


def stopped(config: pytest.Config) -> dict[str, Any] | None:
    return config.stash.get(STOPPED_KEY, None)


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    why = stopped(config)
    if why is None or "N" in (config.option.reportchars or ""):  # -rN: the caller (netattest run) says it
        return
    terminalreporter.write_line(f"netattest: STOPPED before any check ({why['checks_not_run']} not run): "
                                f"{why['reason']}")
