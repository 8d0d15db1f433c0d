"""Enter a named network namespace for the current thread, and come back.

``setns`` changes only the calling thread, so a ``with in_netns(name):`` block is safe in a multi-threaded
process as long as the block itself does not hand work to other threads. Used for per-namespace sysctls
(``/proc/sys/net`` shows the namespace of whoever opens it).
"""

from __future__ import annotations

import ctypes
import os
from contextlib import contextmanager
from typing import Iterator

CLONE_NEWNET = 0x40000000
NETNS_RUN_DIR = "/var/run/netns"
_libc = ctypes.CDLL(None, use_errno=True)


def netns_path(name: str) -> str:
    return os.path.join(NETNS_RUN_DIR, name)


def _setns(fd: int) -> None:
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"setns: {os.strerror(err)}")


@contextmanager
def in_netns(name: str) -> Iterator[None]:
    """Run the block inside netns ``name``; never creates a namespace (a wrong name raises FileNotFoundError)."""
    original = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    target = os.open(netns_path(name), os.O_RDONLY)
    try:
        _setns(target)
        try:
            yield
        finally:
            _setns(original)
    finally:
        os.close(target)
        os.close(original)


def write_sysctls(name: str, values: dict[str, str]) -> None:
    """Write sysctls inside netns ``name``; keys are paths under /proc/sys (``net/ipv4/conf/all/arp_ignore``),
    not dotted names, because interface names such as ``ens224.112`` contain dots."""
    with in_netns(name):
        for key, value in values.items():
            with open("/proc/sys/" + key, "w") as handle:
                handle.write(value)
