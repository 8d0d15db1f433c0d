"""SIGTERM/SIGHUP become KeyboardInterrupt, so every ``finally`` and fixture finalizer runs on them too.

Only in the process that installed the handler: libraries fork helpers (pyroute2 does, to create namespaces)
and a forked child must still die of SIGTERM, not raise into code that is not its own.

:func:`deferred_interrupts` holds them for a block that must not stop half-way: a cleanup, or a request that
creates something (an interrupt raised while its answer is on the way would leave an object the run never
recorded, so its teardown could not remove it).
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_owner_pid: int | None = None


def _handler(signum: int, _frame: object) -> None:
    if os.getpid() != _owner_pid:
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)
        return
    raise KeyboardInterrupt(f"signal {signal.Signals(signum).name}")


def terminate_as_interrupt() -> None:
    global _owner_pid
    _owner_pid = os.getpid()
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _handler)


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
