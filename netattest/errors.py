"""Error classes the user sees as one clear paragraph, never as a traceback.

Every error the harness raises on purpose derives from :class:`NetattestError`; the CLI and the pytest plugin
print ``str(error)`` and exit with status 2 ("the harness or target was broken"), mirroring Allure's *broken*.
"""

from __future__ import annotations

EXIT_FAILED = 1  # an expectation did not hold
EXIT_BROKEN = 2  # the harness or the target was broken: nothing was proven either way


class NetattestError(Exception):
    """A problem the user can fix; its message names the cause and the fix in one paragraph."""

    exit_code = EXIT_BROKEN


class TopologyError(NetattestError):
    """A topology file is invalid: names the file, line, field and how to fix it."""

    def __init__(self, path: str, line: int | None, field: str, problem: str, fix: str) -> None:
        self.path = path
        self.line = line
        self.field = field
        self.problem = problem
        self.fix = fix
        where = f"{path}:{line}" if line else path
        super().__init__(f"{where}: field '{field}': {problem}. Fix: {fix}")


class AnnotationError(NetattestError):
    """A pod's networks or network-status annotation cannot be parsed."""


class KernelError(NetattestError):
    """Neither the host kernel nor the kernel sandbox can provide what the topology needs."""


class LabError(NetattestError):
    """The embedded lab could not be built or torn down."""


class CniError(LabError):
    """A CNI plugin binary failed; carries the plugin's own error code and message."""

    def __init__(self, plugin: str, command: str, code: int | None, msg: str, details: str = "") -> None:
        self.plugin = plugin
        self.command = command
        self.code = code
        self.msg = msg
        self.details = details
        text = f"CNI plugin '{plugin}' {command} failed"
        if code is not None:
            text += f" (CNI error code {code})"
        text += f": {msg}"
        if details:
            text += f" ({details})"
        super().__init__(text)


class ClusterError(NetattestError):
    """The cluster target could not do its job: names the object, the cluster and the fix."""


class ClusterAccessError(ClusterError):
    """No usable kubeconfig / context / credentials, or the API server cannot be reached."""


class ClusterPermissionError(ClusterError):
    """The API server (RBAC, PodSecurity admission, an OpenShift SCC) refused a request: 403."""


class ProbeAgentError(NetattestError):
    """The probe agent in a pod could not be started or stopped answering its line protocol."""


class NodeAccessError(NetattestError):
    """A node cannot be reached to read its facts."""
