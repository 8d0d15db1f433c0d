"""Run short commands (CNI plugins, ``ip``, node reads) and capture their output, through a small helper process
when one is started.

Inside the kernel sandbox, starting a process costs in proportion to the mappings of the process that starts it:
measured in the sandbox, 0.3-0.4 s from a process holding scapy, pyroute2 and pytest (about 300 mappings), against
0.1 s through a bare Python helper started early. A session there starts one helper (:func:`start`) and every
:func:`run` goes through it; without one (natively, where the difference is a millisecond) :func:`run` is
``subprocess.run``. The helper runs each request in its own thread, so callers in parallel threads stay parallel;
it ends when its stdin closes (:func:`stop`, or the session's death). Long-lived daemons are not started here.
"""

from __future__ import annotations

import atexit
import base64
import json
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from typing import Any

#: the helper: one JSON request a line on stdin, one JSON answer a line on stdout, a thread per request
HELPER = r"""
import base64, json, subprocess, sys, threading
lock = threading.Lock()
def serve(req):
    data = req.get("input")
    answer = {"id": req["id"]}
    try:
        p = subprocess.run(req["argv"], input=None if data is None else base64.b64decode(data),
                           stdin=subprocess.DEVNULL if data is None else None, capture_output=True,
                           env=req["env"], timeout=req.get("timeout"))
        answer.update(rc=p.returncode, stdout=p.stdout, stderr=p.stderr)
    except subprocess.TimeoutExpired as e:
        answer.update(timeout=True, stdout=e.stdout or b"", stderr=e.stderr or b"")
    except OSError as e:
        answer.update(errno=e.errno, strerror=e.strerror, filename=e.filename)
    for key in ("stdout", "stderr"):
        if key in answer:
            answer[key] = base64.b64encode(answer[key]).decode()
    line = json.dumps(answer) + "\n"
    with lock:
        sys.stdout.write(line)
        sys.stdout.flush()
for line in sys.stdin:
    threading.Thread(target=serve, args=(json.loads(line),), daemon=True).start()
"""


class HelperGone(Exception):
    """The helper had ended before the request was sent: nothing ran, the caller may run it itself."""


class _Call:
    __slots__ = ("answer", "done")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.answer: dict[str, Any] | None = None


class Spawner:
    """The helper process and the calls waiting for its answers."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen([sys.executable, "-I", "-S", "-c", HELPER], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, start_new_session=True)  # no terminal Ctrl-C
        self.calls: dict[int, _Call] = {}
        self.lock = threading.Lock()
        self.next_id = 0
        self.alive = True
        threading.Thread(target=self._read, name="netattest-spawn", daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            answer = json.loads(line)
            with self.lock:
                call = self.calls.pop(answer["id"], None)
            if call is not None:
                call.answer = answer
                call.done.set()
        with self.lock:  # the helper is gone: whoever waits learns it
            self.alive = False
            waiting, self.calls = list(self.calls.values()), {}
        for call in waiting:
            call.done.set()

    def run(self, argv: Sequence[str], *, input: bytes | None, env: Mapping[str, str] | None,
            timeout: float | None) -> subprocess.CompletedProcess[bytes]:
        call = _Call()
        request = {"argv": [str(a) for a in argv], "env": dict(env) if env is not None else None,
                   "timeout": timeout, "input": None if input is None else base64.b64encode(input).decode()}
        with self.lock:
            if not self.alive:
                raise HelperGone
            self.next_id += 1
            request["id"] = self.next_id
            self.calls[self.next_id] = call
            assert self.proc.stdin is not None
            self.proc.stdin.write((json.dumps(request) + "\n").encode())
            self.proc.stdin.flush()
        call.done.wait()
        answer = call.answer
        if answer is None:
            raise OSError(f"the spawn helper ended while running {argv[0]}")
        if "errno" in answer:
            raise OSError(answer["errno"], answer["strerror"], answer["filename"])
        out, err = (base64.b64decode(answer[k]) for k in ("stdout", "stderr"))
        if answer.get("timeout"):
            raise subprocess.TimeoutExpired(list(argv), timeout or 0.0, out, err)
        return subprocess.CompletedProcess(list(argv), answer["rc"], out, err)

    def close(self) -> None:
        with self.lock:
            self.alive = False
        try:
            if self.proc.stdin is not None:
                self.proc.stdin.close()
            self.proc.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait()


_helper: Spawner | None = None


def start() -> None:
    """Start this process's helper (idempotent); from now on :func:`run` goes through it."""
    global _helper
    if _helper is None:
        _helper = Spawner()
        atexit.register(stop)


def stop() -> None:
    global _helper
    helper, _helper = _helper, None
    if helper is not None:
        helper.close()


def run(argv: Sequence[str], *, input: bytes | None = None, env: Mapping[str, str] | None = None,
        timeout: float | None = None, text: bool = False) -> subprocess.CompletedProcess[Any]:
    """``subprocess.run(argv, input=..., env=..., timeout=..., capture_output=True, text=...)`` (stdin is
    /dev/null without ``input``), through the helper when one runs. Raises OSError when ``argv[0]`` cannot be
    started, subprocess.TimeoutExpired after killing it at ``timeout``."""
    helper = _helper
    if helper is not None:
        try:
            done = helper.run(argv, input=input, env=env, timeout=timeout)
        except HelperGone:
            pass  # nothing ran: run it here
        else:
            if text:
                return subprocess.CompletedProcess(done.args, done.returncode,
                                                   done.stdout.decode(errors="replace"),
                                                   done.stderr.decode(errors="replace"))
            return done
    return subprocess.run(list(argv), input=input, env=env, timeout=timeout, capture_output=True, text=text,
                          stdin=subprocess.DEVNULL if input is None else None, check=False)
