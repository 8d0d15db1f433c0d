"""The exec channel interface and the probe agent's line-protocol client.

An :class:`ExecChannel` is a byte pipe to a process started somewhere (a pod, through the API server's exec; a lab
namespace, through ``ip netns exec``): send to its stdin, read its stdout with a timeout, look at its stderr and
exit status when it dies. Only :mod:`netattest.k8s.stream_exec` knows how a pod's exec websocket works;
:class:`SubprocessChannel` serves the lab and the tests. :class:`AgentClient` speaks the agent's JSON-lines
protocol (see :mod:`netattest.probe.agent`) over any channel: one long-lived agent per pod, never one exec per
probe.
"""

from __future__ import annotations

import json
import os
import re
import select
import subprocess
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from netattest.errors import ProbeAgentError
from netattest.probe.agent import PROTOCOL, probe_to_wire, result_from_wire, stats_from_wire
from netattest.probe.engine import Probe, ProbeResult, WindowStats


class ChannelClosed(Exception):
    """The process behind the channel is gone (stdout ended)."""


class ExecChannel(Protocol):
    description: str

    def send(self, data: bytes) -> None:
        """Write to the process's stdin."""

    def read(self, timeout: float) -> bytes:
        """Bytes from stdout, waiting at most ``timeout`` s; b"" on timeout; ChannelClosed once it has ended."""

    def stderr(self) -> str:
        """What the process wrote on stderr so far (the tail)."""

    def exit_status(self) -> str | None:
        """How the process ended ("exit code 1", a runtime's message), None while it runs."""

    def close(self) -> None:
        """Close stdin and the stream; the process ends (an agent ends on end of stdin)."""


@dataclass(frozen=True)
class Completed:
    """A command run to its end over an exec channel."""

    returncode: int | None  # None: the runtime did not start it (``status`` says why)
    stdout: bytes
    stderr: bytes
    status: str  # "exit code N", or the runtime's message


_EXIT_CODE = re.compile(r"^exit code (-?\d+)$")


def run_to_end(channel: ExecChannel, timeout: float) -> Completed | None:
    """Read ``channel`` until its process ends; None when it has not ended within ``timeout`` s (the caller
    closes the channel). For one-shot commands (a node check's ``ip -j addr``), not for the agent."""
    deadline = time.monotonic() + timeout
    out = bytearray()
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None
        try:
            out += channel.read(min(remaining, 1.0))
        except ChannelClosed:
            break
    status = channel.exit_status() or ""
    match = _EXIT_CODE.match(status)
    return Completed(int(match[1]) if match else None, bytes(out), channel.stderr().encode("utf-8", "replace"),
                     status)


class SubprocessChannel:
    """A local process as an exec channel (``ip netns exec <ns> python -m netattest.probe.agent`` in the lab)."""

    def __init__(self, argv: Sequence[str], description: str = "", env: dict[str, str] | None = None) -> None:
        self.description = description or " ".join(argv)
        self.proc = subprocess.Popen(list(argv), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env=env)
        self._err: deque[bytes] = deque(maxlen=200)
        self._err_thread = threading.Thread(target=self._drain_stderr, daemon=True)
        self._err_thread.start()
        os.set_blocking(self.proc.stdout.fileno(), False)  # type: ignore[union-attr]

    def _drain_stderr(self) -> None:
        assert self.proc.stderr is not None
        for line in iter(self.proc.stderr.readline, b""):
            self._err.append(line)

    def send(self, data: bytes) -> None:
        try:
            assert self.proc.stdin is not None
            self.proc.stdin.write(data)
            self.proc.stdin.flush()
        except (BrokenPipeError, ValueError, OSError) as exc:
            raise ChannelClosed(f"stdin closed: {exc}") from None

    def read(self, timeout: float) -> bytes:
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        ready, _, _ = select.select([fd], [], [], max(0.0, timeout))
        if not ready:
            return b""
        try:
            data = os.read(fd, 1 << 20)
        except BlockingIOError:
            return b""
        if not data:
            try:  # the process is ending: reap it and read its last words, so the error can quote them
                self.proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                pass
            self._err_thread.join(timeout=1)
            raise ChannelClosed("stdout ended")
        return data

    def stderr(self) -> str:
        return b"".join(self._err).decode("utf-8", "replace")

    def exit_status(self) -> str | None:
        code = self.proc.poll()
        return None if code is None else f"exit code {code}"

    def close(self) -> None:
        if self.proc.stdin is not None and not self.proc.stdin.closed:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._err_thread.join(timeout=2)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        if self.proc.stderr is not None:
            self.proc.stderr.close()


class AgentClient:
    """One probe agent behind an exec channel: start it, ask it, stop it."""

    def __init__(self, channel: ExecChannel, name: str) -> None:
        self.channel = channel
        self.name = name
        self._buffer = b""
        self._next_id = 0
        self.ready: dict[str, Any] = {}

    # -- framing -------------------------------------------------------------------------------------------
    def _readline(self, timeout: float, waiting_for: str) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ProbeAgentError(f"probe agent in {self.name} did not answer within {timeout:g} s while "
                                      f"{waiting_for}{self._tail()}")
            try:
                self._buffer += self.channel.read(min(remaining, 1.0))
            except ChannelClosed:
                raise ProbeAgentError(f"probe agent in {self.name} ended while {waiting_for}{self._tail()}") \
                    from None
        line, self._buffer = self._buffer.split(b"\n", 1)
        try:
            message = json.loads(line)
        except ValueError:
            text = line.decode("utf-8", "replace")[:200]
            raise ProbeAgentError(f"probe agent in {self.name} wrote a line that is not JSON while {waiting_for}: "
                                  f"{text!r}{self._tail()}") from None
        if not isinstance(message, dict):
            raise ProbeAgentError(f"probe agent in {self.name} wrote {message!r} instead of a JSON object")
        return message

    def _tail(self) -> str:
        parts = []
        status = self.channel.exit_status()
        if status:
            parts.append(status)
        err = self.channel.stderr().strip()
        if err:
            lines = err.splitlines()
            parts.append("stderr: " + " | ".join(lines[-3:])[:400])
        return f" ({'; '.join(parts)})" if parts else ""

    # -- protocol ------------------------------------------------------------------------------------------
    def start(self, payload: bytes | None, timeout: float) -> dict[str, Any]:
        """Send the bootstrap payload (streamed agents) and wait for the agent's ready line."""
        if payload:
            try:
                self.channel.send(payload)
            except ChannelClosed:
                raise ProbeAgentError(f"probe agent in {self.name} could not be started{self._tail()}") from None
        ready = self._readline(timeout, "starting")
        if ready.get("event") != "ready":
            raise ProbeAgentError(f"probe agent in {self.name} did not start: first line {ready!r}{self._tail()}")
        if ready.get("protocol") != PROTOCOL:
            raise ProbeAgentError(f"probe agent in {self.name} speaks protocol {ready.get('protocol')}, the harness "
                                  f"speaks {PROTOCOL}: run the same netattest version everywhere")
        self.ready = ready
        return ready

    def request(self, op: str, timeout: float, **fields: Any) -> dict[str, Any]:
        self._next_id += 1
        rid = self._next_id
        line = json.dumps({"id": rid, "op": op, **fields}, separators=(",", ":")).encode() + b"\n"
        try:
            self.channel.send(line)
        except ChannelClosed:
            raise ProbeAgentError(f"probe agent in {self.name} is gone (sending {op}){self._tail()}") from None
        while True:
            reply = self._readline(timeout, f"answering {op}")
            if reply.get("id") == rid:
                break
            if reply.get("id") is None and not reply.get("ok", True):
                raise ProbeAgentError(f"probe agent in {self.name} refused a request: {reply.get('error')}")
        if not reply.get("ok"):
            raise ProbeAgentError(f"probe agent in {self.name} failed {op}: {reply.get('error')}")
        return reply

    def interfaces(self, timeout: float = 30.0) -> list[dict[str, Any]]:
        return list(self.request("interfaces", timeout)["interfaces"])

    def probe(self, probes: Sequence[Probe], *, engine: dict[str, Any], timeout: float) \
            -> tuple[list[ProbeResult], WindowStats]:
        """Run one window in the agent; results come back in the order of ``probes``, as the same objects."""
        reply = self.request("probe", timeout, engine=engine, probes=[probe_to_wire(p) for p in probes])
        by_id: dict[str, Probe] = {}
        for p in probes:
            by_id.setdefault(p.id, p)
        results = [result_from_wire(r, by_id[str(r["id"])]) for r in reply["results"]]
        return results, stats_from_wire(reply["stats"])

    def close(self, timeout: float = 5.0) -> None:
        try:
            self.request("quit", timeout)
        except ProbeAgentError:
            pass
        finally:
            self.channel.close()
