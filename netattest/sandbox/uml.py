"""Run one command inside a user-mode Linux kernel (Debian ``user-mode-linux``) and return its exit status.

The guest kernel is a real Linux 6.1 running as an ordinary host process. It boots with the host's root as a
read-only hostfs, a generated ``/bin/sh`` init script as PID 1, and:

* proc, sysfs, devpts, and tmpfs on /run, /tmp, /dev/shm and /var/tmp (the host root stays read-only);
* each ``writable`` host directory hostfs-mounted read-write at the same path;
* optionally a cache directory kept across boots (XDG_CACHE_HOME and Python's bytecode), read-write;
* kernel modules from the UML module tree (``modprobe -d``, also for the kernel's own on-demand loading), with
  veth, macvlan, ipvlan, 8021q and bridge loaded up front;
* ``lo`` up, the command run as root in ``cwd`` with the given environment plus ``NETATTEST_IN_SANDBOX=1``.

Console 0 carries the command's output to the caller (through a pipe we copy from); console 1 is the kernel's
console (``console=tty1``) and goes with UML's own messages to the kernel log, so the command's output has no
kernel noise in it. The exit status comes back through a hostfs-mounted scratch directory, which also holds the
init script and UML's ``uml_dir``; it is removed afterwards whatever happens, and the whole UML process group
(UML forks helper processes) is killed on timeout, KeyboardInterrupt, SIGTERM or SIGHUP.
"""

from __future__ import annotations

import codecs
import contextlib
import functools
import io
import os
import re
import secrets
import select
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from netattest.errors import KernelError

IN_SANDBOX_ENV = "NETATTEST_IN_SANDBOX"
UML_ENV = "NETATTEST_UML"  # optional: path of the linux.uml binary to use
UML_MODULES_ROOT = Path("/usr/lib/uml/modules")  # Debian: /usr/lib/uml/modules/<kernel version>/
SCRATCH_PREFIX = "netattest-uml-"
EAGER_MODULES = ("veth", "macvlan", "ipvlan", "8021q", "bridge")

GUEST_SCRATCH = "/run/netattest-sandbox"  # where the scratch directory appears inside the guest
_GUEST_KMOD = "/run/netattest-kmod"  # modprobe -d root inside the guest: lib/modules -> UML module tree
_GUEST_FIFO = "/run/netattest-out"
# Guest paths covered by fresh filesystems (devtmpfs is mounted on /dev by the kernel before init runs).
_GUEST_TMPFS = ("/run", "/tmp", "/dev/shm", "/var/tmp")
_HIDDEN_IN_GUEST = (*_GUEST_TMPFS, "/dev")
_FORBIDDEN = ("/proc", "/sys", "/dev")
_SBIN = ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_TAIL_LINES = 15


def find_uml() -> Path | None:
    """The ``linux.uml`` binary: ``$NETATTEST_UML`` if set, else ``linux.uml`` on PATH or in /usr/bin."""
    override = os.environ.get(UML_ENV)
    candidates = [override] if override else [shutil.which("linux.uml"), "/usr/bin/linux.uml"]
    for candidate in candidates:
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return Path(os.path.abspath(candidate))
    return None


@functools.cache
def _version_of(binary: str) -> str | None:
    try:
        out = subprocess.run([binary, "--version"], check=False, capture_output=True, text=True, timeout=10,
                             stdin=subprocess.DEVNULL).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return out.splitlines()[0] if out else None


def uml_version() -> str | None:
    """Kernel version of the installed ``linux.uml`` (e.g. ``6.1.176``), or None when there is none."""
    uml = find_uml()
    return _version_of(str(uml)) if uml else None


# ---------------------------------------------------------------------------------------------------- helpers


def _is_under(path: str, top: str) -> bool:
    return path == top or path.startswith(top.rstrip("/") + "/")


def _check_host_dir(path: Path | str, what: str) -> str:
    text = os.fspath(path)
    if not os.path.isabs(text):
        raise KernelError(f"kernel sandbox: {what} {text!r} must be an absolute path.")
    text = os.path.normpath(text)
    if not os.path.isdir(text):
        raise KernelError(f"kernel sandbox: {what} {text} does not exist on the host (or is not a directory); "
                          "create it before starting the sandbox.")
    if any(_is_under(text, top) for top in _FORBIDDEN) and not _is_under(text, "/dev/shm"):
        raise KernelError(f"kernel sandbox: {what} {text} lies under /proc, /sys or /dev, which the guest kernel "
                          "mounts itself; use a directory elsewhere.")
    if text == "/" and what.startswith("writable"):
        raise KernelError("kernel sandbox: the host root / cannot be a writable directory: the sandbox keeps the "
                          "host's files read-only; name the directories that must receive results instead.")
    if "," in text or "\n" in text:
        raise KernelError(f"kernel sandbox: {what} {text!r} contains a comma or newline, which hostfs mount "
                          "options cannot carry; use a directory without them.")
    return text


def _paths_the_command_needs(cwd: str, argv: Sequence[str], env: Mapping[str, str] | None) -> list[str]:
    """Host directories the command cannot run without: its cwd, its interpreter's prefix and PYTHONPATH.

    A checkout or a virtualenv under /tmp would otherwise vanish under the guest's fresh tmpfs.
    """
    paths = [cwd, os.path.realpath(sys.prefix), os.path.realpath(sys.base_prefix)]
    if argv and os.path.isabs(argv[0]):
        paths.append(os.path.dirname(os.path.realpath(argv[0])))
    pythonpath = (env if env is not None else os.environ).get("PYTHONPATH", "")
    paths += [os.path.realpath(p) for p in pythonpath.split(os.pathsep) if p and os.path.isdir(p)]
    return sorted(dict.fromkeys(paths), key=len)


def _scratch_base() -> str:
    """A host directory for the scratch dir: the guest must see it at boot (not under /dev) and the kernel
    command line must carry its path (no whitespace)."""
    for base in (tempfile.gettempdir(), "/tmp", "/var/tmp"):
        if (os.path.isdir(base) and os.access(base, os.W_OK) and not _is_under(os.path.realpath(base), "/dev")
                and not re.search(r"\s", base)):
            return base
    raise KernelError("kernel sandbox: no usable scratch directory (TMPDIR, /tmp, /var/tmp) on the host: it must "
                      "be writable, outside /dev and without whitespace in its path.")


def _memory_dir(scratch: str) -> str:
    """UML maps its memory file with PROT_EXEC from TMPDIR: prefer /dev/shm (tmpfs), else the scratch dir."""
    for cand in ("/dev/shm", scratch):
        try:
            st = os.statvfs(cand)
        except OSError:
            continue
        if os.access(cand, os.W_OK) and not st.f_flag & os.ST_NOEXEC:
            return cand
    return scratch


def _find_tool(name: str) -> str | None:
    return shutil.which(name, path=":".join(_SBIN))


def default_cache_dir() -> Path | None:
    """The host directory the sandbox keeps its caches in across boots (``$XDG_CACHE_HOME/netattest/sandbox``, by
    default ``~/.cache/netattest/sandbox``), created on demand; None when it cannot be created."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    path = Path(base).absolute() / "netattest" / "sandbox"
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError:
        return None
    return path if os.access(path, os.W_OK) else None


def _guest_env(env: Mapping[str, str] | None, cache: str | None = None) -> dict[str, str]:
    base = dict(os.environ if env is None else env)
    out = {k: v for k, v in base.items() if _ENV_NAME.match(k) and "\0" not in v}
    path = [p for p in out.get("PATH", "").split(":") if p]
    path += [p for p in _SBIN if p not in path]
    out["PATH"] = ":".join(path)
    out.update({
        IN_SANDBOX_ENV: "1",
        "HOME": "/root",  # read-only inside, hence the writable cache and temp locations below
        "TMPDIR": "/tmp",
        "XDG_CACHE_HOME": "/tmp/.cache",
        "PYTHONDONTWRITEBYTECODE": "1",
    })
    if cache is not None:
        # Kept across boots: what Python and its libraries cache (scapy parses its 50,000-entry MAC vendor table
        # on a cold cache: seconds inside), and compiled bytecode outside the read-only source trees.
        out["XDG_CACHE_HOME"] = os.path.join(cache, "xdg")
        out["PYTHONPYCACHEPREFIX"] = os.path.join(cache, "pycache")
        del out["PYTHONDONTWRITEBYTECODE"]
    return out


def _terminal_size(stream: IO | None) -> tuple[int, int] | None:
    try:
        if stream is not None and stream.isatty():
            size = os.get_terminal_size(stream.fileno())
            return size.columns, size.lines
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        pass
    return None


def _init_script(*, host_scratch: str, cwd: str, argv: Sequence[str], env: Mapping[str, str],
                 mounts: list[tuple[str, bool]], modprobe: str | None, tty: tuple[int, int] | None,
                 modules_dir: Path) -> str:
    q = shlex.quote
    lines = [
        "#!/bin/sh",
        "# netattest kernel sandbox: PID 1 of a user-mode Linux guest, generated for one run "
        "(netattest/sandbox/uml.py)",
        "exec </dev/null >/dev/tty1 2>&1  # our own messages go to the kernel log",
        "PATH=" + q(":".join(_SBIN)) + "; export PATH",
        f"S={q(GUEST_SCRATCH)}",
        'say() { echo "netattest-sandbox: $*"; }',
        "halt() { sync; echo o >/proc/sysrq-trigger; while :; do sleep 60; done; }",
        'die() { say "setup failed: $*"; echo "$*" >"$S/setup-failed"; halt; }',
        "mount -t proc proc /proc || die 'cannot mount /proc'",
        "mount -t sysfs sysfs /sys || die 'cannot mount /sys'",
        "mount -t tmpfs -o mode=0755 tmpfs /run || die 'cannot mount tmpfs on /run'",
        f'mkdir -p "$S" && mount -t hostfs none "$S" -o {q(host_scratch)} || die "cannot mount the scratch directory"',
        "mount -t tmpfs -o mode=1777 tmpfs /tmp || die 'cannot mount tmpfs on /tmp'",
        "mkdir -p /dev/shm && mount -t tmpfs -o mode=1777 tmpfs /dev/shm || die 'cannot mount tmpfs on /dev/shm'",
        "if [ -d /var/tmp ] && [ ! -L /var/tmp ]; then",
        "  mount -t tmpfs -o mode=1777 tmpfs /var/tmp || die 'cannot mount tmpfs on /var/tmp'",
        "fi",
        "mkdir -p /dev/pts && mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts /dev/pts || say 'no devpts'",
        "[ -e /dev/ptmx ] || ln -s pts/ptmx /dev/ptmx",
        "[ -e /dev/fd ] || ln -s /proc/self/fd /dev/fd",
        "for n in 0:stdin 1:stdout 2:stderr; do [ -e /dev/${n#*:} ] || ln -s /proc/self/fd/${n%%:*} /dev/${n#*:}; done",
        "ip link set lo up || say 'cannot bring lo up (is iproute2 installed?)'",
    ]
    if modprobe:
        kmod = q(_GUEST_KMOD)
        lines += [
            f"mkdir -p {kmod}/lib && ln -s {q(str(modules_dir))} {kmod}/lib/modules",
            f"printf '#!/bin/sh\\nexec %s -d %s \"$@\"\\n' {q(modprobe)} {kmod} >{kmod}/modprobe",
            f"chmod 0755 {kmod}/modprobe && echo {kmod}/modprobe >/proc/sys/kernel/modprobe",
            f"{q(modprobe)} -d {kmod} -a {' '.join(EAGER_MODULES)} "
            f"|| say 'could not load all of: {' '.join(EAGER_MODULES)}'",
        ]
    else:
        lines.append("say 'modprobe not found on the host (Debian package kmod): no kernel modules'")
    for path, rw in sorted(mounts, key=lambda m: m[0].count("/")):
        flag = "" if rw else "-r "
        lines.append(f"mkdir -p {q(path)} && mount {flag}-t hostfs none {q(path)} -o {q(path)} "
                     f"|| die {q('cannot mount host directory ' + path)}")
    lines.append(f"cd {q(cwd)} || die {q('cannot enter ' + cwd)}")
    envs = " ".join(q(f"{k}={v}") for k, v in sorted(env.items()))
    command = f"env -i {envs} {' '.join(q(a) for a in argv)} </dev/null"
    # fd 3 holds console 0 open for the whole run: a tty forgets its window size when its last user closes it.
    lines += [
        "exec 3>/dev/tty0",
        "stty -F /dev/tty0 -opost -echo 2>/dev/null  # pass the output bytes through unchanged",
    ]
    if tty is not None:
        # The caller's stdout is a terminal: give the command one too (console 0), of the same size.
        cols, rows = tty
        lines += [
            f"stty -F /dev/tty0 cols {cols} rows {rows} 2>/dev/null",
            f"{command} >&3 2>&3 3>&-",
            "rc=$?",
        ]
    else:
        # Otherwise a pipe, as on the host: a fifo copied to console 0 by cat.
        lines += [
            f"mkfifo {_GUEST_FIFO} || die 'cannot create the output fifo'",
            f"cat {_GUEST_FIFO} >&3 3>&- & cat_pid=$!",
            f"{command} >{_GUEST_FIFO} 2>&1 3>&-",
            "rc=$?",
            "# wait (at most 5 s) for the copier: a daemon the command left behind may keep the fifo open",
            'n=0; while kill -0 "$cat_pid" 2>/dev/null && [ "$n" -lt 50 ]; do sleep 0.1; n=$((n+1)); done',
        ]
    lines += [
        "stty -F /dev/tty0 -echo 2>/dev/null  # returns once console 0 has sent everything",
        "exec 3>&-",
        'echo "$rc" >"$S/rc.tmp" && mv "$S/rc.tmp" "$S/rc"',
        "halt",
        "",
    ]
    return "\n".join(lines)


class _Output:
    """Copies the guest console's bytes to a text or binary stream."""

    def __init__(self, stream: IO) -> None:
        self.stream = stream
        self.binary = isinstance(stream, (io.RawIOBase, io.BufferedIOBase)) or "b" in getattr(stream, "mode", "")
        self.buffer = None if self.binary else getattr(stream, "buffer", None)
        self.decoder = codecs.getincrementaldecoder("utf-8")("replace")

    def write(self, data: bytes) -> None:
        if self.binary:
            self.stream.write(data)
        elif self.buffer is not None:
            self.stream.flush()
            self.buffer.write(data)
            self.buffer.flush()
        else:
            self.stream.write(self.decoder.decode(data))
        self.stream.flush()

    def close(self) -> None:
        if not self.binary and self.buffer is None:
            tail = self.decoder.decode(b"", final=True)
            if tail:
                self.stream.write(tail)
                self.stream.flush()


class _Terminated(BaseException):
    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


@contextlib.contextmanager
def _signals_raise() -> Iterator[dict[int, Any]]:
    """Turn SIGTERM and SIGHUP into an exception while the sandbox runs, so that cleanup happens."""
    old: dict[int, Any] = {}
    if threading.current_thread() is threading.main_thread():
        def handler(signum: int, frame: object) -> None:
            raise _Terminated(signum)

        for sig in (signal.SIGTERM, signal.SIGHUP):
            prev = signal.getsignal(sig)
            if prev is signal.SIG_IGN or prev is None:
                continue
            old[sig] = prev
            signal.signal(sig, handler)
    try:
        yield old
    finally:
        for signum, handler_before in old.items():
            signal.signal(signum, handler_before)


def _tail(path: str, n: int = _TAIL_LINES) -> str:
    try:
        with open(path, "rb") as fh:
            lines = [ln.strip() for ln in fh.read().decode("utf-8", "replace").splitlines()]
    except OSError:
        return "(no kernel log)"
    lines = [ln for ln in lines if ln and not ln.startswith("epollctl ")]
    return " | ".join(lines[-n:]) or "(kernel log is empty)"


def _exited(pid: int) -> bool:
    """Whether ``pid`` has exited, without reaping it (so its pid, which is also the group id, stays ours)."""
    try:
        return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:
        return True


def live_group_members(pgid: int) -> list[int]:
    """Processes of group ``pgid`` that are not yet dead (zombies waiting for a reaper do not count)."""
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(entry))
    return members


def _kill_group(pgid: int, wait: float = 5.0) -> None:
    """SIGKILL the whole UML process group and wait until its processes are gone: SIGKILL is asynchronous."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)
    deadline = time.monotonic() + wait
    while live_group_members(pgid) and time.monotonic() < deadline:
        time.sleep(0.02)


# ---------------------------------------------------------------------------------------------------- main API


def run_in_sandbox(argv: Sequence[str], *, cwd: Path, writable: Sequence[Path], env: Mapping[str, str] | None = None,
                   mem_mb: int = 1536, timeout: float | None = 1800, kernel_log: Path | None = None,
                   stdout: IO | None = None, readable: Sequence[Path] = (), cache_dir: Path | None = None) -> int:
    """Boot one user-mode Linux kernel, run ``argv`` as root inside it and return ``argv``'s exit status.

    ``cwd`` is the command's working directory (a host path, seen read-only unless inside ``writable``);
    ``writable`` host directories are mounted read-write at the same paths; ``env`` (default: this process's
    environment) is the command's environment, with ``NETATTEST_IN_SANDBOX=1``, ``HOME=/root``, ``TMPDIR=/tmp``,
    ``XDG_CACHE_HOME`` and ``PYTHONDONTWRITEBYTECODE=1`` forced and the sbin directories added to ``PATH``.
    The command's stdout and stderr (merged) are copied to ``stdout`` (default ``sys.stdout``); it is given a
    terminal only when ``stdout`` is one. Kernel messages go to ``kernel_log`` if given. ``readable`` host
    directories (e.g. the topology file's) stay visible read-only even where the guest's tmpfs would hide them.
    ``cache_dir`` (e.g. :func:`default_cache_dir`), a host directory mounted read-write, keeps caches across boots:
    ``XDG_CACHE_HOME`` and Python's bytecode (``PYTHONPYCACHEPREFIX``, instead of ``PYTHONDONTWRITEBYTECODE``).
    Raises :class:`KernelError` when the sandbox cannot start or dies before the command has finished.
    """
    argv = [os.fspath(a) for a in argv]
    if not argv:
        raise ValueError("run_in_sandbox: argv is empty")
    uml = find_uml()
    if uml is None:
        raise KernelError("kernel sandbox: the user-mode Linux kernel (linux.uml) is not installed: install Debian "
                          "package user-mode-linux (apt-get install user-mode-linux) or set NETATTEST_UML to a "
                          "linux.uml binary; or run on a host kernel that has the needed features.")
    cwd_s = _check_host_dir(cwd, "working directory")
    cache_s = _check_host_dir(cache_dir, "writable directory (cache)") if cache_dir is not None else None
    writable_s = [_check_host_dir(w, "writable directory") for w in writable] + ([cache_s] if cache_s else [])
    mounts: list[tuple[str, bool]] = [(w, True) for w in dict.fromkeys(writable_s)]
    extra = [os.path.realpath(p) for p in readable if os.path.isdir(p)]
    for needed in sorted(dict.fromkeys(_paths_the_command_needs(cwd_s, argv, env) + extra), key=len):
        if (any(_is_under(needed, top) for top in _HIDDEN_IN_GUEST)
                and not any(_is_under(needed, w) for w in writable_s)
                and not any(_is_under(needed, m) for m, _ in mounts)):
            mounts.append((needed, False))  # the guest's own tmpfs would hide it: show the host's, read-only
    out_stream = stdout if stdout is not None else sys.stdout
    tty = _terminal_size(out_stream)
    version = _version_of(str(uml)) or ""
    modules_dir = UML_MODULES_ROOT
    modprobe = _find_tool("modprobe")

    scratch = tempfile.mkdtemp(prefix=SCRATCH_PREFIX, dir=_scratch_base())
    klog = os.path.join(scratch, "kernel.log")
    proc: subprocess.Popen[bytes] | None = None
    rfd = wfd = -1
    try:
        os.chmod(scratch, 0o700)
        init = os.path.join(scratch, "init.sh")
        with open(init, "w") as fh:
            fh.write(_init_script(host_scratch=scratch, cwd=cwd_s, argv=argv, env=_guest_env(env, cache_s),
                                  mounts=mounts, modprobe=modprobe, tty=tty, modules_dir=modules_dir))
        os.chmod(init, 0o755)
        uml_dir = os.path.join(scratch, "uml")
        os.mkdir(uml_dir)
        cmdline = [
            str(uml), f"mem={int(mem_mb)}M", "rootfstype=hostfs", "rootflags=/", "ro", f"init={init}",
            "console=tty1", "con=null", "con0=null,fd:1", "con1=null,fd:2", "ssl=null",
            f"umid=na{secrets.token_hex(4)}", f"uml_dir={uml_dir}",
            "printk.time=1",  # the kernel log (kept with kernel_log) says where a slow boot spent its time
            # Debian's kernel benchmarks its RAID-6 routines at every boot (0.85 s of a 2.3 s boot, 16 jiffies per
            # routine); nothing in the guest uses RAID-6 (it is built in for btrfs), so that initcall is skipped
            "initcall_blacklist=raid6_select_algo",
        ]
        with open(klog, "ab") as fh:
            fh.write(f"# netattest: {' '.join(shlex.quote(c) for c in cmdline)}\n".encode())
            if version and not (modules_dir / version).is_dir():
                fh.write(f"# netattest: no module tree {modules_dir / version} for this kernel\n".encode())
        uml_env = dict(os.environ)
        uml_env["TMPDIR"] = _memory_dir(scratch)
        rfd, wfd = os.pipe()
        with _signals_raise() as old_handlers:
            try:
                with open(klog, "ab") as log:
                    proc = subprocess.Popen(cmdline, stdin=subprocess.DEVNULL, stdout=wfd, stderr=log, cwd=scratch,
                                            env=uml_env, start_new_session=True, close_fds=True)
                os.close(wfd)
                wfd = -1
                _pump(proc, rfd, _Output(out_stream), timeout, klog)
            except _Terminated as term:
                if proc is not None:
                    _kill_group(proc.pid)
                    proc.wait()
                _cleanup(scratch, klog, kernel_log)
                signal.signal(term.signum, old_handlers.get(term.signum, signal.SIG_DFL))
                prev = old_handlers.get(term.signum)
                if callable(prev):
                    prev(term.signum, None)  # the caller's own handler decides
                else:
                    os.kill(os.getpid(), term.signum)  # default action: die of the signal, as without us
                raise KernelError(f"kernel sandbox: interrupted by {signal.Signals(term.signum).name}; the "
                                  "user-mode Linux kernel was killed.") from None
        rc_file = os.path.join(scratch, "rc")
        if os.path.exists(rc_file):
            with open(rc_file) as fh:
                text = fh.read().strip()
            try:
                return int(text)
            except ValueError:
                raise KernelError(f"kernel sandbox: the exit status file held {text!r}; kernel log: "
                                  f"{_tail(klog)}") from None
        failed = os.path.join(scratch, "setup-failed")
        where = f" Full kernel log: {kernel_log}." if kernel_log else ""
        if os.path.exists(failed):
            with open(failed) as fh:
                why = fh.read().strip()
            raise KernelError(f"kernel sandbox: setting up the guest failed ({why}). Last kernel messages: "
                              f"{_tail(klog)}.{where}")
        status = proc.returncode if proc is not None else None
        how = (f"killed by {signal.Signals(-status).name}" if isinstance(status, int) and status < 0
               else f"exit status {status}")
        raise KernelError(
            "kernel sandbox: the user-mode Linux kernel stopped before the command finished (kernel panic, out of "
            f"memory - raise mem_mb, now {mem_mb} MB - or killed; linux.uml {how}). Last kernel "
            f"messages: {_tail(klog)}.{where}")
    finally:
        if proc is not None and proc.returncode is None:
            _kill_group(proc.pid)
            proc.wait()
        for fd in (rfd, wfd):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        _cleanup(scratch, klog, kernel_log)


def _pump(proc: subprocess.Popen[bytes], rfd: int, out: _Output, timeout: float | None, klog: str) -> None:
    """Copy console output until UML exits and the pipe is drained; kill its process group on timeout."""
    deadline = None if timeout is None else time.monotonic() + timeout

    def timed_out() -> KernelError:
        _kill_group(proc.pid)
        proc.wait()
        return KernelError(
            f"kernel sandbox: the command did not finish within {timeout:g} s, so the user-mode Linux kernel was "
            f"killed. Last kernel messages: {_tail(klog)}.")

    exited = eof = False
    while not eof:
        wait = 0.0 if exited else 0.5
        if deadline is not None and not exited:
            left = deadline - time.monotonic()
            if left <= 0:
                raise timed_out()
            wait = min(wait, left)
        ready, _, _ = select.select([rfd], [], [], wait)
        if ready:
            data = os.read(rfd, 65536)
            if data:
                out.write(data)
            else:
                eof = True
            continue
        if exited:
            break  # exited and nothing more to read (a lingering helper may still hold the pipe)
        exited = _exited(proc.pid)
    out.close()
    while not exited:  # end of output first: UML is about to exit
        if deadline is not None and time.monotonic() > deadline:
            raise timed_out()
        time.sleep(0.02)
        exited = _exited(proc.pid)
    _kill_group(proc.pid)  # before reaping: UML's helper processes, should any be left
    proc.wait()


def _cleanup(scratch: str, klog: str, kernel_log: Path | None) -> None:
    if kernel_log is not None and os.path.exists(klog):
        with contextlib.suppress(OSError):
            Path(kernel_log).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(klog, kernel_log)
    shutil.rmtree(scratch, ignore_errors=True)
