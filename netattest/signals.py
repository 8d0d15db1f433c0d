"""SIGTERM/SIGHUP become KeyboardInterrupt, so every ``finally`` and fixture finalizer runs on them too.

Only in the process that installed the handler: libraries fork helpers (pyroute2 does, to create namespaces)
and a forked child must still die of SIGTERM, not raise into code that is not its own.

:func:`deferred_interrupts` holds them for a block that must not stop half-way: a cleanup, or a request that
creates something (an interrupt raised while its answer is on the way would leave an object the run never
recorded, so its teardown could not remove it).

A KeyboardInterrupt raised where Python cannot propagate it (an at-fork callback of a library's forked helper, a
finalizer) is only printed as "Exception ignored", and the run would go on as if no signal came: the process that
installed the handler sends such a swallowed signal to itself again, so it is raised at the next place that can.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_owner_pid: int | None = None
#: How long a swallowed signal waits before it is sent again: long enough for the at-fork callbacks (or the
#: finalizer) that swallowed it to have returned, so the second delivery lands in ordinary code.
REDELIVERY_DELAY_S = 0.01
_previous_unraisablehook: Any = sys.__unraisablehook__


def _handler(signum: int, _frame: object) -> None:
    if os.getpid() != _owner_pid:
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)
        return
    interrupt = KeyboardInterrupt(f"signal {signal.Signals(signum).name}")
    interrupt.signum = signum  # type: ignore[attr-defined]  # read by _redeliver_swallowed
    raise interrupt


def _redeliver_swallowed(unraisable: Any) -> None:
    """sys.unraisablehook: an interrupt raised where it could not propagate is sent again (SIGTERM/SIGHUP from
    our handler, SIGINT from Python's own)."""
    exc = unraisable.exc_value
    signum = getattr(exc, "signum", signal.SIGINT) if isinstance(exc, KeyboardInterrupt) else None
    if signum is None or os.getpid() != _owner_pid:
        _previous_unraisablehook(unraisable)
        return
    timer = threading.Timer(REDELIVERY_DELAY_S, os.kill, (os.getpid(), signum))
    timer.daemon = True
    try:
        timer.start()
    except RuntimeError:  # the interpreter is shutting down: the process is ending anyway, say what was lost
        _previous_unraisablehook(unraisable)


def terminate_as_interrupt() -> None:
    global _owner_pid, _previous_unraisablehook
    _owner_pid = os.getpid()
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _handler)
    if sys.unraisablehook is not _redeliver_swallowed:  # installed twice (cli, then the session): chain once
        _previous_unraisablehook = sys.unraisablehook
        sys.unraisablehook = _redeliver_swallowed


@contextmanager
def deferred_interrupts() -> Iterator[None]:
    """Hold SIGINT/SIGTERM/SIGHUP until the block is done, then re-deliver the first one. A no-op off the main
    thread (Python runs signal handlers there only, so a worker is never interrupted anyway)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    previous = {}
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        try:
            previous[sig] = signal.signal(sig, lambda signum, _frame: received.append(signum))
        except (ValueError, OSError):  # pragma: no cover
            pass
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if received:
            os.kill(os.getpid(), received[0])
