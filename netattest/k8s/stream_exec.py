"""The one adapter over ``kubernetes.stream``: a pod exec websocket as an :class:`~netattest.k8s.channel.ExecChannel`.

The client offers ``v5.channel.k8s.io`` and ``v4.channel.k8s.io``; every frame starts with a channel byte (0 stdin,
1 stdout, 2 stderr, 3 the exit status as JSON, 255 close in v5). ``kubernetes.stream.stream`` temporarily replaces
``call_api`` on the ApiClient it is given, so it gets a client of its own (``Connection.exec_client``) and opening
streams is serialized; reading and writing an open stream needs no lock.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Sequence
from typing import Any

from netattest.errors import ClusterAccessError, ClusterPermissionError, ProbeAgentError
from netattest.k8s.channel import ChannelClosed, Completed, run_to_end

STDOUT, STDERR, STATUS = 1, 2, 3
_open_lock = threading.Lock()


class WebSocketExecChannel:
    def __init__(self, ws: Any, description: str) -> None:
        self.ws = ws
        self.description = description
        self._err: deque[bytes] = deque(maxlen=100)
        self._status: str | None = None
        self._closed = False

    @property
    def subprotocol(self) -> str | None:
        return getattr(self.ws, "subprotocol", None)

    def _collect(self) -> None:
        err = self.ws.read_channel(STDERR, timeout=0)
        if err:
            self._err.append(err if isinstance(err, bytes) else err.encode())
        status = self.ws.read_channel(STATUS, timeout=0)
        if status:
            self._status = _status_text(status)

    def send(self, data: bytes) -> None:
        if self._closed or not self.ws.is_open():
            raise ChannelClosed("exec stream closed")
        try:
            self.ws.write_stdin(data)
        except Exception as exc:  # noqa: BLE001 - websocket-client raises its own exception classes
            raise ChannelClosed(f"exec stream closed: {exc}") from None

    def read(self, timeout: float) -> bytes:
        if self._closed:
            raise ChannelClosed("exec stream closed")
        try:
            if self.ws.is_open():
                self.ws.update(timeout=max(0.0, timeout))
        except Exception as exc:  # noqa: BLE001 - websocket-client raises its own exception classes
            raise ChannelClosed(f"exec stream broke: {exc}") from None
        data = self.ws.read_channel(STDOUT, timeout=0)  # also hands out what arrived before the stream closed
        self._collect_quietly()
        if data:
            return data if isinstance(data, bytes) else data.encode()
        if not self.ws.is_open():
            raise ChannelClosed("exec stream ended")
        return b""

    def _collect_quietly(self) -> None:
        try:
            self._collect()
        except Exception:  # noqa: BLE001 - diagnostics only, never worth a failure
            pass

    def stderr(self) -> str:
        self._collect_quietly()
        return b"".join(self._err).decode("utf-8", "replace")

    def exit_status(self) -> str | None:
        self._collect_quietly()
        return self._status

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self.ws.close_channel(0)  # v5: close stdin, the agent ends on EOF (a no-op on v4)
        except Exception:  # noqa: BLE001 - closing a stream that may be broken already
            pass
        try:
            self.ws.close()
        except Exception:  # noqa: BLE001 - closing a stream that may be broken already
            pass


def _status_text(raw: Any) -> str:
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    try:
        data = json.loads(text)
    except ValueError:
        return text.strip()[:300]
    if data.get("status") == "Success":
        return "exit code 0"
    causes = (data.get("details") or {}).get("causes") or []
    code = next((c.get("message") for c in causes if c.get("reason") == "ExitCode"), None)
    if code is not None:
        return f"exit code {code}"
    return str(data.get("message") or data.get("reason") or text)[:300]


def open_exec(connection: Any, namespace: str, pod: str, container: str, command: Sequence[str], *,
              stdin: bool = True) -> WebSocketExecChannel:
    """Start ``command`` in a pod's container with stdout/stderr (and stdin unless ``stdin=False``) attached, no
    TTY."""
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException
    from kubernetes.stream import stream

    api = client.CoreV1Api(connection.exec_client)
    where = f"{namespace}/{pod}"
    try:
        with _open_lock:
            ws = stream(api.connect_get_namespaced_pod_exec, pod, namespace, command=list(command),
                        container=container, stdin=stdin, stdout=True, stderr=True, tty=False,
                        _preload_content=False, binary=True)
    except ApiException as exc:
        reason = str(exc.reason or exc)
        if "403" in reason:
            raise ClusterPermissionError(
                f"exec into pod {where} was forbidden on {connection.where}: {reason.splitlines()[0]}. Fix: the "
                "harness's user needs 'create' on pods/exec in its run namespaces (deploy/rbac.yaml)") from None
        if "401" in reason:
            raise ClusterAccessError(f"exec into pod {where} was refused (401) on {connection.where}: log in "
                                     "again") from None
        raise ProbeAgentError(f"exec into pod {where} failed on {connection.where}: {reason.splitlines()[0]}") \
            from None
    return WebSocketExecChannel(ws, f"exec {where}")


def run_command(connection: Any, namespace: str, pod: str, container: str, command: Sequence[str], *,
                timeout: float) -> Completed | None:
    """Run ``command`` in a pod's container to its end, without stdin: one exec per command (the node checks'
    testinfra backend). None when it did not end within ``timeout`` s."""
    channel = open_exec(connection, namespace, pod, container, command, stdin=False)
    try:
        return run_to_end(channel, timeout)
    finally:
        channel.close()
