"""The in-pod probe agent: one long-lived process per pod, JSON lines in on stdin, JSON lines out on stdout.

Stdlib + scapy only (like :mod:`netattest.probe.engine`, which it drives), because it is streamed into probe pods
over the exec channel: the harness sends a short bootstrap as ``python3 -c`` and then this module's and the
engine's source on stdin (see :func:`bootstrap_payload`), so no custom image is needed. In the lab it runs as
``ip netns exec <pod-netns> python -m netattest.probe.agent``.

Protocol (version 1), one JSON object per line each way:

* on start the agent writes ``{"event": "ready", "protocol": 1, "python": ..., "scapy": ..., "pid": ...}``;
  ``scapy`` is null and ``error`` says why when scapy cannot be imported (then every probe fails);
* requests are ``{"id": <int>, "op": <op>, ...}``; every request gets exactly one reply ``{"id": <same>,
  "ok": true, ...}`` or ``{"id": <same>, "ok": false, "error": "<one line>"}``; a line that is not a JSON object
  gets ``{"id": null, "ok": false, ...}``, and the agent carries on;
* ops: ``hello`` (versions, hostname), ``interfaces`` (every interface of the agent's network namespace read over
  netlink: name, MAC, IPv4 CIDRs, link kind, ipvlan/macvlan mode, MTU, up), ``neighbours`` (the IPv4 ARP
  table: ip, mac, ifname, state), ``routes`` (the IPv4 main table, as ``ip route`` prints it), ``bridge_ports``
  (every bridge port: its bridge, VLAN entries, hairpin), ``sysctls`` (``names``: dotted sysctl names, read in the
  agent's namespace), ``probe`` (``probes``: a list of :class:`~netattest.probe.engine.Probe` as dicts, ``engine``:
  timeout/retries/... for this window; replies with ``results`` and ``stats``), ``listen`` (``listeners``:
  :class:`~netattest.probe.model.Listener` as dicts, opened now and read during every later window), ``collect``
  (closes them; replies ``heard`` and ``listening``), ``ping``, ``quit``;
* end of stdin ends the agent (closing the exec stream is enough to stop it).

Anything a library prints goes to stderr: stdout carries protocol lines only.
"""

from __future__ import annotations

import json
import os
import platform
import socket
import sys
import time
import traceback
from dataclasses import asdict
from typing import Any, BinaryIO

# in a pod, the bootstrap registers the shipped modules' sources under these very names
from netattest.probe.engine import ProbeEngine
from netattest.probe.model import Answer, CapturedFrame, Endpoint, Heard, Listener, Probe, ProbeResult, WindowStats
from netattest.probe.readers import read_bridge_ports, read_interfaces, read_neighbours, read_routes, read_sysctls

PROTOCOL = 1
AGENT = "netattest-probe-agent"

# --- wire format (shared with the harness side) ------------------------------------------------------------------


def probe_to_wire(probe: Probe) -> dict[str, Any]:
    return asdict(probe)


def probe_from_wire(data: dict[str, Any]) -> Probe:
    src = data["source"]
    return Probe(id=str(data["id"]), kind=data["kind"],
                 source=Endpoint(src.get("netns"), src["ifname"], src["ip"], src["mac"], src.get("label", "")),
                 target_ip=data["target_ip"], target_mac=data.get("target_mac"),
                 expect_answer=bool(data.get("expect_answer", True)), mark=int(data.get("mark") or 0))


def listener_to_wire(listener: Listener) -> dict[str, Any]:
    return asdict(listener)


def listener_from_wire(data: dict[str, Any]) -> Listener:
    return Listener(id=str(data["id"]), netns=data.get("netns"), ifname=str(data["ifname"]),
                    mode=data.get("mode", "marks"), watch_ips=tuple(data.get("watch_ips") or ()),
                    label=str(data.get("label", "")),
                    own_senders=tuple((str(m), str(i)) for m, i in data.get("own_senders") or ()),
                    keep_marks=tuple(int(m) for m in data.get("keep_marks") or ()))


def heard_from_wire(data: dict[str, Any]) -> Heard:
    return Heard(**data)


def result_to_wire(result: ProbeResult) -> dict[str, Any]:
    wire = {"id": result.probe.id, "sent_at": result.sent_at, "attempts": result.attempts,
            "answers": [asdict(a) for a in result.answers], "sent_summary": result.summary(),
            "sent_hex": result.frame_hex(), "error": result.error}
    frames = getattr(result, "frames", None)  # raw frames, only when the engine keeps them (pcaps)
    if frames:
        wire["frames"] = [[f[0], bool(f[1]), bytes(f[2]).hex()] for f in frames]
    return wire


def result_from_wire(data: dict[str, Any], probe: Probe) -> ProbeResult:
    result = ProbeResult(probe=probe, sent_at=float(data.get("sent_at") or 0.0),
                         attempts=int(data.get("attempts", 0)), answers=[Answer(**a) for a in data.get("answers", [])],
                         sent_summary=data.get("sent_summary", ""), sent_hex=data.get("sent_hex", ""),
                         error=data.get("error", ""))
    if data.get("frames"):  # the engine ships with the agent: both know CapturedFrame
        result.frames = [CapturedFrame(float(t), bool(sent), bytes.fromhex(raw)) for t, sent, raw in data["frames"]]
    return result


def stats_to_wire(stats: WindowStats) -> dict[str, Any]:
    return asdict(stats)


def stats_from_wire(data: dict[str, Any]) -> WindowStats:
    return WindowStats(probes=int(data["probes"]), frames_sent=int(data["frames_sent"]),
                       frames_received=int(data["frames_received"]), kernel_drops=int(data["kernel_drops"]),
                       duration_s=float(data["duration_s"]), socket_errors=list(data.get("socket_errors", [])),
                       rounds=int(data.get("rounds", 0)), heard=[heard_from_wire(h) for h in data.get("heard", [])],
                       listening=dict(data.get("listening") or {}),
                       setup_s=float(data.get("setup_s", 0.0)))


# --- the agent ---------------------------------------------------------------------------------------------------
ENGINE_KEYS = ("timeout", "retries", "retry_timeout", "settle", "records", "keep_frames")


class Agent:
    def __init__(self, out: BinaryIO | int) -> None:
        self.out = out
        self.engine: ProbeEngine | None = None
        self.scapy: str | None = None
        self.scapy_error = ""

    def warm_up(self) -> None:
        """Import scapy and build the frame templates now, so the first probe window does not pay for it (about
        1 s natively)."""
        try:
            import scapy

            from netattest.probe.frames import warm_up as build_frame_templates

            build_frame_templates()

            self.scapy = str(getattr(scapy, "VERSION", "") or "unknown")
        except Exception as exc:  # noqa: BLE001 - ImportError, or a broken install: the agent says so
            self.scapy_error = f"scapy cannot be imported: {type(exc).__name__}: {exc}"

    def send(self, message: dict[str, Any]) -> None:
        data = (json.dumps(message, separators=(",", ":")) + "\n").encode()
        if isinstance(self.out, int):
            view = memoryview(data)
            while view:
                written = os.write(self.out, view)
                view = view[written:]
        else:
            self.out.write(data)
            self.out.flush()

    def ready(self) -> dict[str, Any]:
        msg = {"event": "ready", "agent": AGENT, "protocol": PROTOCOL, "python": platform.python_version(),
               "scapy": self.scapy, "pid": os.getpid(), "hostname": socket.gethostname(),
               "uid": os.getuid()}
        if self.scapy_error:
            msg["error"] = self.scapy_error
        return msg

    def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        op = request.get("op")
        if op == "hello":
            hello = self.ready()
            del hello["event"]
            return {**hello, "time": time.time()}
        if op == "ping":
            return {"time": time.time()}
        if op == "interfaces":
            return {"interfaces": read_interfaces()}
        if op == "neighbours":
            return {"neighbours": read_neighbours()}
        if op == "routes":
            return {"routes": read_routes()}
        if op == "bridge_ports":
            return {"bridge_ports": read_bridge_ports()}
        if op == "sysctls":
            return {"sysctls": read_sysctls([str(n) for n in request.get("names", [])])}
        if op == "probe":
            return self._probe(request)
        if op == "listen":
            self._engine({}).listen([listener_from_wire(x) for x in request.get("listeners", [])])
            return {}
        if op == "collect":
            heard, listening = self._engine({}).collect()
            return {"heard": [asdict(h) for h in heard], "listening": listening}
        if op == "quit":
            return {}
        raise ValueError(f"unknown op {op!r} (known: hello, interfaces, neighbours, routes, bridge_ports, sysctls, "
                         "probe, listen, collect, ping, quit)")

    def _engine(self, params: dict[str, Any]) -> ProbeEngine:
        if self.engine is None:
            self.engine = ProbeEngine(**params)
        else:
            for key, value in params.items():
                setattr(self.engine, key, value)
            if "timeout" in params and "retry_timeout" not in params:
                self.engine.retry_timeout = float(params["timeout"]) / 2
        return self.engine

    def _probe(self, request: dict[str, Any]) -> dict[str, Any]:
        if self.scapy is None and not self.scapy_error:
            self.warm_up()  # started with --lazy
        if self.scapy is None:
            raise RuntimeError(self.scapy_error or "scapy is not available")
        params = {k: v for k, v in (request.get("engine") or {}).items() if k in ENGINE_KEYS}
        probes = [probe_from_wire(p) for p in request.get("probes", [])]
        results, stats = self._engine(params).run(probes)
        return {"results": [result_to_wire(r) for r in results], "stats": stats_to_wire(stats)}

    def serve(self, stdin: BinaryIO) -> int:
        self.send(self.ready())
        try:
            while True:
                line = stdin.readline()
                if not line:
                    return 0
                if not line.strip():
                    continue
                try:
                    request = json.loads(line)
                    if not isinstance(request, dict):
                        raise ValueError("a request is a JSON object")
                except ValueError as exc:
                    self.send({"id": None, "ok": False, "error": f"bad request line: {exc}"})
                    continue
                rid = request.get("id")
                try:
                    reply = self.handle(request)
                    self.send({"id": rid, "ok": True, **reply})
                except Exception as exc:  # noqa: BLE001 - one bad request must not stop the agent
                    if not isinstance(exc, (ValueError, KeyError, TypeError)):
                        traceback.print_exc(file=sys.stderr)
                    self.send({"id": rid, "ok": False, "error": f"{type(exc).__name__}: {exc}".splitlines()[0]})
                if request.get("op") == "quit":
                    return 0
        finally:
            if self.engine is not None:
                self.engine.close()


def main(argv: list[str] | None = None) -> int:
    """``--lazy``: import scapy only when the first probe comes (agents that only read interfaces start faster)."""
    args = sys.argv[1:] if argv is None else list(argv)
    # stdout is the protocol: keep a private copy of fd 1 and point fd 1 (and sys.stdout) at stderr, so nothing a
    # library prints can corrupt a reply line
    out = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    agent = Agent(out)
    if "--lazy" not in args:
        agent.warm_up()
    try:
        return agent.serve(sys.stdin.buffer)
    except KeyboardInterrupt:
        return 0
    finally:
        os.close(out)


# --- getting the agent into a pod --------------------------------------------------------------------------------
#: ``python3 -c`` program: read one JSON line (module sources) from stdin, install the modules, run the agent.
BOOTSTRAP = (
    "import sys,json,types\n"
    "h=json.loads(sys.stdin.buffer.readline())\n"
    "for n in h['packages']:\n"
    " m=types.ModuleType(n);m.__path__=[];sys.modules[n]=m\n"
    "for n,s in h['modules']:\n"
    " m=types.ModuleType(n);m.__file__='<netattest '+n+'>';sys.modules[n]=m\n"
    " exec(compile(s,m.__file__,'exec'),m.__dict__)\n"
    "sys.exit(sys.modules[h['main']].main(h['argv']))\n"
)


def agent_command(python: str = "python3") -> list[str]:
    """The exec command that starts the agent in a pod; send :func:`bootstrap_payload` on its stdin first."""
    return [python, "-c", BOOTSTRAP]


#: the stdlib + scapy modules an agent needs, in import order (each imports only those before it)
SHIPPED_MODULES = ("model", "netns", "frames", "sockets", "listen", "window", "engine", "readers", "agent")


def bootstrap_payload(argv: list[str] | None = None) -> bytes:
    """The engine's and the agent's source as one JSON line, for :data:`BOOTSTRAP` to install and run with
    ``argv`` (e.g. ``["--lazy"]``)."""
    here = os.path.dirname(os.path.abspath(__file__))
    modules = []
    for name in SHIPPED_MODULES:
        with open(os.path.join(here, name + ".py"), encoding="utf-8") as handle:
            modules.append((f"netattest.probe.{name}", handle.read()))
    header = {"packages": ["netattest", "netattest.probe"], "modules": modules, "main": "netattest.probe.agent",
              "argv": list(argv or [])}
    return (json.dumps(header) + "\n").encode()


if __name__ == "__main__":
    sys.exit(main())
