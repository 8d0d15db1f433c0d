"""A testinfra backend that runs each command in a pod over the harness's own exec channel: ``k8sexec://<pod>``.

testinfra's ``kubectl://`` backend shells out to a ``kubectl`` binary per command; this one speaks the API server's
exec websocket through :mod:`netattest.k8s.stream_exec` (the one adapter over ``kubernetes.stream``), so no binary
is needed and the credentials are the run's own. One exec per command, without stdin; the exit code comes from
the exec's status channel. With ``chroot`` set (``/host`` for the pre-flight's debug pods, which mount the node's /
there) every command runs as ``chroot <root> /bin/sh -c <command>``: the node's own binaries and files, in the pod's
host network and host PID namespace, so testinfra's modules see exactly what a shell on the node would::

    host = testinfra.get_host("k8sexec://netattest-node-3fa2c901-node1?namespace=netattest-3fa2c901-node-checks"
                              "&container=node&kubeconfig=/home/me/.kube/config")
    host.interface("ens224").exists

(``chroot="/host"`` as a keyword of ``get_host``: testinfra keeps only its own URL parameters). The pre-flight
builds its hosts with :func:`exec_host` instead, handing over the run's API connection.
"""

from __future__ import annotations

import shlex
from typing import Any

import testinfra.host
from testinfra.backend import base

from netattest.errors import NetattestError, NodeAccessError

NAME = "k8sexec"
DEFAULT_TIMEOUT = 60.0


class K8sExecBackend(base.BaseBackend):
    NAME = NAME

    def __init__(self, name: str, *args: Any, namespace: str | None = None, container: str | None = None,
                 kubeconfig: str | None = None, context: str | None = None, timeout: Any = None,
                 chroot: str | None = None, api_connection: Any = None, **kwargs: Any) -> None:
        self.pod = name
        self.namespace = namespace or "default"
        self.container = container
        self.kubeconfig = kubeconfig
        self.context = context
        self.timeout = float(timeout) if timeout else DEFAULT_TIMEOUT
        self.chroot = chroot
        self._connection = api_connection
        super().__init__(name, *args, **kwargs)

    @property
    def where(self) -> str:
        return f"pod {self.namespace}/{self.pod}" + (f" (chroot {self.chroot})" if self.chroot else "")

    def get_pytest_id(self) -> str:
        return f"{NAME}://{self.namespace}/{self.pod}"

    def connection(self) -> Any:
        if self._connection is None:
            from netattest.k8s.config import connect

            self._connection = connect(self.kubeconfig, self.context)
        return self._connection

    def argv(self, command: str) -> list[str]:
        return (["chroot", self.chroot] if self.chroot else []) + ["/bin/sh", "-c", command]

    def run(self, command: str, *args: str, **kwargs: Any) -> base.CommandResult:
        from netattest.k8s.stream_exec import run_command

        cmd = self.get_command(command, *args)
        try:
            done = run_command(self.connection(), self.namespace, self.pod, self.container or "", self.argv(cmd),
                               timeout=self.timeout)
        except NodeAccessError:
            raise
        except NetattestError as exc:  # exec refused (403), the pod is gone, the API server is unreachable
            raise NodeAccessError(f"{self.where}: {exc}") from None
        if done is None:
            raise NodeAccessError(f"{self.where}: command {shlex.quote(cmd)[:120]} did not finish within "
                                  f"{self.timeout:g} s")
        if done.returncode is None:
            raise NodeAccessError(f"{self.where}: the container runtime could not run {self.argv(cmd)[0]!r}: "
                                  f"{done.status or 'no exit status'}. Fix: the debug image needs /bin/sh and "
                                  "chroot, and the node /bin/sh (or reach the node with --node-host NODE=ssh://...)")
        return self.result(done.returncode, self.encode(cmd), done.stdout, done.stderr)


def exec_host(pod: str, namespace: str, *, connection: Any, container: str, chroot: str | None = None,
              timeout: float = DEFAULT_TIMEOUT) -> Any:
    """A testinfra ``Host`` over :class:`K8sExecBackend` using an open API connection (not cached by testinfra:
    the host lives as long as its debug pod)."""
    backend = K8sExecBackend(pod, namespace=namespace, container=container, chroot=chroot, timeout=timeout,
                             api_connection=connection)
    host = testinfra.host.Host(backend)
    backend.set_host(host)
    return host
