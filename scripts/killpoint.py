"""Crash-test hook: signal a lab run at an exact point of bring-up or teardown. Test machinery only.

Loaded into a ``netattest run`` session as a pytest plugin through the environment, so that the product code
carries no call site at all::

    PYTEST_PLUGINS=scripts.killpoint NETATTEST_KILL_AT=up:7 NETATTEST_KILL_SIGNAL=TERM netattest run ...

It wraps, at import, the functions that make up the lab's steps and counts them per phase:

* ``up``   - every namespace the lab creates (``Lab._ns``) and every CNI ADD (``cni._invoke``);
* ``down`` - every CNI DEL (``cni._invoke``) and every namespace removal of ``teardown_run``.

``NETATTEST_KILL_AT=<phase>:<n>`` signals *before* the n-th step of the phase (1-based). Also read:

* ``NETATTEST_KILL_SIGNAL``  INT, TERM or KILL (default KILL);
* ``NETATTEST_KILL_TARGET``  ``self`` (this session process, the lab's owner: what the OOM killer does),
  ``parent`` (the ``netattest run`` front process, which forwards the signal: ``kill <pid>``) or ``group`` (the
  whole process group: Ctrl-C at a terminal, ``kill -9 -<pgid>``); default ``self``;
* ``NETATTEST_KILL_FIRED``   a file written (with the point) just before the signal is sent;
* ``NETATTEST_KILL_TRACE``   a file that gets one ``<phase> <epoch> <step>`` line per step (calibration: which steps,
  when).

Without ``NETATTEST_KILL_AT`` and ``NETATTEST_KILL_TRACE`` importing this module changes nothing.
"""

from __future__ import annotations

import functools
import os
import signal
import threading
import time
from collections.abc import Callable
from typing import Any

SIGNALS = {"INT": signal.SIGINT, "TERM": signal.SIGTERM, "KILL": signal.SIGKILL}
TARGETS = ("self", "parent", "group")

_at = os.environ.get("NETATTEST_KILL_AT", "")
_trace = os.environ.get("NETATTEST_KILL_TRACE", "")
_phase, _, _n = _at.partition(":")
_index = int(_n) if _n.isdigit() else 0
_counts: dict[str, int] = {}
_lock = threading.Lock()
_fired = False


def hit(phase: str, step: str) -> None:
    """One step of ``phase`` is about to run; signal when it is the chosen one."""
    global _fired
    with _lock:
        count = _counts[phase] = _counts.get(phase, 0) + 1
        if _trace:
            with open(_trace, "a") as handle:
                handle.write(f"{phase} {time.time():.6f} {step}\n")
        if _fired or phase != _phase or count != _index:
            return
        _fired = True
    fire(f"{phase}:{count} {step}")


def fire(point: str) -> None:
    sig = SIGNALS[os.environ.get("NETATTEST_KILL_SIGNAL", "KILL")]
    target = os.environ.get("NETATTEST_KILL_TARGET", "self")
    marker = os.environ.get("NETATTEST_KILL_FIRED")
    if marker:
        with open(marker, "w") as handle:
            handle.write(f"{point} {sig.name} {target} pid={os.getpid()} t={time.time():.6f}\n")
    if target == "group":
        os.killpg(os.getpgrp(), sig)
    elif target == "parent":
        os.kill(os.getppid(), sig)
    else:
        os.kill(os.getpid(), sig)
    if threading.current_thread() is threading.main_thread():
        # a signal sent to the front process comes back forwarded: wait here, so the interrupt lands exactly at
        # this point (the handler raises out of the sleep)
        time.sleep(2)


def _wrap(phase: str, step: Callable[..., str], func: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        hit(phase, step(*args, **kwargs))
        return func(*args, **kwargs)

    wrapper.__killpoint__ = True  # type: ignore[attr-defined]
    return wrapper


def install() -> None:
    """Wrap the lab's steps (idempotent)."""
    from netattest.lab import cni
    from netattest.lab import lab as lab_module

    if getattr(lab_module.Lab._ns, "__killpoint__", False):
        return
    lab_module.Lab._ns = _wrap("up", lambda self, role, name, *a, **k: f"netns-add {role}-{name}",
                               lab_module.Lab._ns)
    invoke = cni._invoke

    @functools.wraps(invoke)
    def cni_invoke(call: Any, command: str, *args: Any, **kwargs: Any) -> Any:
        hit("up" if command == "ADD" else "down" if command == "DEL" else "cni", f"cni-{command} {call.ifname}")
        return invoke(call, command, *args, **kwargs)

    cni._invoke = cni_invoke
    lab_module.remove_namespace = _wrap("down", lambda name: f"netns-del {name}", lab_module.remove_namespace)


if _at or _trace:
    install()
