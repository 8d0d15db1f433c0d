"""Entering network namespaces from one thread, without ever creating one by mistake.

Stdlib only (ctypes ``setns``): shipped into probe pods with the engine, and reused by the lab.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
from collections.abc import Iterator

from netattest.probe.model import ProbeError

CLONE_NEWNET = 0x40000000
NETNS_RUN_DIR = "/var/run/netns"

_libc: ctypes.CDLL | None = None


def _setns(fd: int) -> None:
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"setns: {os.strerror(err)}")


def netns_path(netns: str) -> str:
    """Path of a named namespace; an absolute path (e.g. CNI_NETNS, /proc/<pid>/ns/net) is taken as is."""
    if netns.startswith("/"):
        return netns
    if not netns or "/" in netns or netns in (".", ".."):
        raise ProbeError(f"invalid netns name {netns!r}")
    return os.path.join(NETNS_RUN_DIR, netns)


@contextlib.contextmanager
def in_netns(netns: str | None) -> Iterator[None]:
    """Run the block with the calling thread inside network namespace ``netns`` (None: stay where we are).

    Only *opens* an existing namespace file: a wrong name raises FileNotFoundError and never creates anything.
    The original namespace is always restored; failing to restore it is fatal for the process and raises.
    """
    if netns is None:
        yield
        return
    target = os.open(netns_path(netns), os.O_RDONLY | os.O_CLOEXEC)
    try:
        orig = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        try:
            _setns(target)  # EINVAL if the file is not a network namespace
            try:
                yield
            finally:
                try:
                    _setns(orig)
                except OSError as exc:  # pragma: no cover - would leave the thread in a foreign namespace
                    raise RuntimeError(f"could not return to the original network namespace: {exc}") from exc
        finally:
            os.close(orig)
    finally:
        os.close(target)


def netns_identity(netns: str | None) -> tuple[int, int]:
    """(device, inode) of a namespace: tells a namespace from another created later under the same name."""
    st = os.stat(netns_path(netns) if netns is not None else "/proc/thread-self/ns/net")
    return st.st_dev, st.st_ino
