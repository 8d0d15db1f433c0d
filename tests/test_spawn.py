"""The spawn helper (netattest.spawn): the same answers as subprocess.run, through a helper process or without."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from netattest import spawn


@pytest.fixture(params=["direct", "helper"])
def mode(request: pytest.FixtureRequest) -> Iterator[str]:
    if request.param == "helper":
        spawn.start()
    try:
        yield request.param
    finally:
        spawn.stop()


def test_output_status_input_and_environment_come_back(mode: str) -> None:
    done = spawn.run(["sh", "-c", 'cat; echo "$X" >&2; exit 3'], input=b"data\x00\xff", env={"X": "y"})
    assert (done.returncode, done.stdout, done.stderr) == (3, b"data\x00\xff", b"y\n")
    text = spawn.run(["echo", "hi"], text=True)
    assert (text.returncode, text.stdout, text.stderr) == (0, "hi\n", "")


def test_stdin_is_empty_without_input(mode: str) -> None:
    assert spawn.run(["cat"], timeout=5).stdout == b""


def test_a_missing_program_and_a_timeout_raise_as_subprocess_does(mode: str) -> None:
    with pytest.raises(FileNotFoundError):
        spawn.run(["/nonexistent/program"])
    started = time.monotonic()
    with pytest.raises(subprocess.TimeoutExpired):
        spawn.run(["sleep", "10"], timeout=0.2)
    assert time.monotonic() - started < 5


def test_calls_from_parallel_threads_run_in_parallel(mode: str) -> None:
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=6) as pool:
        outs = list(pool.map(lambda i: spawn.run(["sh", "-c", f"sleep 0.5; echo {i}"]).stdout, range(6)))
    assert outs == [f"{i}\n".encode() for i in range(6)]
    assert time.monotonic() - started < 2.5


def test_after_the_helper_ended_commands_run_here() -> None:
    spawn.start()
    helper = spawn._helper
    assert helper is not None
    helper.proc.kill()
    helper.proc.wait()
    for _ in range(100):  # the reader sees the end of the helper's output
        if not helper.alive:
            break
        time.sleep(0.01)
    try:
        assert spawn.run(["echo", "here"]).stdout == b"here\n"
    finally:
        spawn.stop()
