"""SIGTERM/SIGHUP become KeyboardInterrupt, so every ``finally`` and fixture finalizer runs on them too.

Only in the process that installed the handler: libraries fork helpers (pyroute2 does, to create namespaces)
and a forked child must still die of SIGTERM, not raise into code that is not its own.
"""

from __future__ import annotations

import os
import signal

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
