"""A testinfra backend that runs commands inside a network namespace of this machine: ``netns://<name>``.

Lab nodes are network namespaces that share the host's filesystem and processes, so a command run with
``ip netns exec <name>`` sees exactly what a shell on that node would: its interfaces, addresses and sysctls
(``ip netns exec`` also mounts the namespace's own /sys, so /sys/class/net is the node's), and the node's files.
Every testinfra module that works through ``host.run`` (interface, sysctl, file, process, ...) then works on a lab
node unchanged::

    host = testinfra.get_host("netns://na-3fa2c901-node-node1")
    host.interface("ens224").addresses
"""

from __future__ import annotations

import os
import shutil
from typing import Any

import testinfra.backend
from testinfra.backend import base

from netattest import spawn

NAME = "netns"


class NetnsBackend(base.BaseBackend):
    NAME = NAME

    def __init__(self, name: str, *args: Any, **kwargs: Any) -> None:
        self.name = name
        self.ip = shutil.which("ip") or "/usr/sbin/ip"
        super().__init__(name, *args, **kwargs)

    def run(self, command: str, *args: str, **kwargs: Any) -> base.CommandResult:
        """``ip netns exec <name> /bin/sh -c <command>``, spawned directly (:func:`netattest.spawn.run`):
        testinfra's ``run_local`` would start a shell to start ``ip`` (one process more per command)."""
        cmd = self.get_command(command, *args)
        proc = spawn.run([self.ip, "netns", "exec", self.name, "/bin/sh", "-c", cmd])
        return self.result(proc.returncode, self.encode(cmd), proc.stdout, proc.stderr)

    def exists(self) -> bool:
        """Whether the namespace is there (``ip netns exec`` on a missing one fails every command with 255)."""
        return os.path.exists(os.path.join("/var/run/netns", self.name))


def register() -> None:
    """Make ``netns://`` (and ``k8sexec://``, :mod:`netattest.nodes.k8sexec`) testinfra connection types.

    testinfra looks backends up by URL scheme in the plain dict ``testinfra.backend.BACKENDS`` (class paths,
    imported on demand) and has no entry point for third-party backends; this is the one place netattest adds
    its schemes to it. Idempotent; importing this module registers them.
    """
    testinfra.backend.BACKENDS.setdefault(NAME, f"{__name__}.NetnsBackend")
    testinfra.backend.BACKENDS.setdefault("k8sexec", "netattest.nodes.k8sexec.K8sExecBackend")


register()
