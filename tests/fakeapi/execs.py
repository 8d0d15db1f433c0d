"""Pod exec over the ``v5.channel.k8s.io`` / ``v4.channel.k8s.io`` websocket subprotocols, as the kubelet answers
it through the API server: the command runs as a local process (``server.exec_argv`` decides which), every frame
carries a channel byte (0 stdin, 1 stdout, 2 stderr, 3 the exit status as a JSON Status, 255 close in v5).

Over TLS the same handler serves ``wss://``. Without ``stdin=true`` the process gets no stdin (as with the kubelet),
and when the client goes away its stdin is closed, so an agent waiting for input ends.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

from tests.fakeapi.model import CORE, V5, ApiError, Request

if TYPE_CHECKING:
    from tests.fakeapi.server import FakeApiServer


def default_argv(namespace: str, pod: str, command: list[str]) -> list[str]:
    """The command itself, with python3 meaning this Python."""
    return [sys.executable if command[0] in ("python3", "python") else command[0], *command[1:]]


def _not_found_status(command: list[str]) -> bytes:
    return b"\x03" + json.dumps({
        "metadata": {}, "status": "Failure", "reason": "InternalError",
        "message": f'Internal error occurred: error executing command in container: failed to exec in '
                   f'container: OCI runtime exec failed: exec failed: unable to start container process: '
                   f'exec: "{command[0]}": executable file not found in $PATH: unknown'}).encode()


def _exit_status(code: int) -> bytes:
    status = {"metadata": {}, "status": "Success"} if code == 0 else {
        "metadata": {}, "status": "Failure", "message": f"command terminated with non-zero exit code: {code}",
        "reason": "NonZeroExitCode", "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]}}
    return b"\x03" + json.dumps(status).encode()


async def serve_exec(server: FakeApiServer, request: web.Request, req: Request) -> web.StreamResponse:
    with server.store.lock:
        pod = server.objects.get((CORE, "pods", req.namespace, req.name or ""))
    if pod is None:
        raise ApiError(404, "NotFound", f'pods "{req.name}" not found')
    if pod.get("status", {}).get("phase") != "Running":
        raise ApiError(400, "BadRequest", f"pod {req.name} does not have a host assigned"
                       if not pod["spec"].get("nodeName") else "container not found (\"probe\")")
    command = req.query.get("command", [])
    ws = web.WebSocketResponse(protocols=server.exec_protocols, max_msg_size=64 << 20)
    await ws.prepare(request)
    protocol = ws.ws_protocol
    record: dict[str, Any] = {"namespace": req.namespace, "pod": req.name, "command": command,
                              "protocol": protocol, "stdin_bytes": 0, "exit": None, "pid": None, "user": req.user,
                              "auth": req.auth, "secure": req.secure}
    server.execs.append(record)
    argv = server.exec_argv(req.namespace or "", req.name or "", command)
    stdin = asyncio.subprocess.PIPE if req.query.get("stdin", ["false"])[0].lower() == "true" else \
        asyncio.subprocess.DEVNULL
    try:
        proc = await asyncio.create_subprocess_exec(*argv, stdin=stdin, start_new_session=True,
                                                    stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    except (FileNotFoundError, PermissionError):
        await ws.send_bytes(_not_found_status(command))
        await ws.close()
        return ws
    server.procs.add(proc)
    record["pid"] = proc.pid

    async def pump(stream: asyncio.StreamReader, channel: int) -> None:
        while chunk := await stream.read(65536):
            if not ws.closed:
                await ws.send_bytes(bytes([channel]) + chunk)

    pumps = [asyncio.ensure_future(pump(proc.stdout, 1)),  # type: ignore[arg-type]
             asyncio.ensure_future(pump(proc.stderr, 2))]  # type: ignore[arg-type]
    feeder = asyncio.ensure_future(_feed(ws, proc, protocol, record))
    code = await proc.wait()
    await asyncio.gather(*pumps, return_exceptions=True)
    record["exit"] = code
    server.procs.discard(proc)
    if not ws.closed:
        await ws.send_bytes(_exit_status(code))
        await ws.close()
    feeder.cancel()
    return ws


async def _feed(ws: web.WebSocketResponse, proc: asyncio.subprocess.Process, protocol: str | None,
                record: dict[str, Any]) -> None:
    """Client frames to the process's stdin until the client goes away (then stdin closes, as the kubelet does)."""
    async for msg in ws:
        if msg.type not in (WSMsgType.BINARY, WSMsgType.TEXT):
            continue
        data = msg.data if isinstance(msg.data, bytes) else msg.data.encode("utf-8", "surrogateescape")
        if not data:
            continue
        if data[0] == 255 and protocol == V5:
            if data[1:2] == b"\x00" and proc.stdin is not None:
                proc.stdin.close()
            continue
        if data[0] == 0 and proc.stdin is not None and not proc.stdin.is_closing():
            record["stdin_bytes"] += len(data) - 1
            proc.stdin.write(data[1:])
            try:
                await proc.stdin.drain()
            except (BrokenPipeError, ConnectionResetError):
                pass
    if proc.returncode is None and proc.stdin is not None and not proc.stdin.is_closing():
        proc.stdin.close()
