"""Run a real CNI plugin binary exactly as Multus would: config on stdin, CNI_* in the environment.

The plugin runs inside the *node's* network namespace (via ``nsenter``, which execs directly and is safe from
threads, unlike ``preexec_fn``), because plugins look up ``master`` in their own namespace; CNI_NETNS is the
pod namespace's path.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from netattest import spawn
from netattest.errors import CniError, LabError
from netattest.lab.nsenter import netns_path

CNI_BIN_DIRS = ("/usr/lib/cni", "/opt/cni/bin")
PLUGIN_TIMEOUT_S = 60.0


def find_plugin_dir(plugin: str) -> str:
    """The first CNI bin dir holding ``plugin``; a clear error naming the package when none does."""
    for directory in CNI_BIN_DIRS:
        if os.access(os.path.join(directory, plugin), os.X_OK):
            return directory
    raise LabError(
        f"CNI plugin binary '{plugin}' not found in {' or '.join(CNI_BIN_DIRS)}. Fix: install the Debian "
        "package containernetworking-plugins (apt-get install containernetworking-plugins), or put the "
        "reference plugins into /opt/cni/bin."
    )


@dataclass(frozen=True)
class CniCall:
    """Everything that identifies one attachment to the plugin: DEL and CHECK must repeat it exactly."""

    config: Mapping[str, Any]
    node_netns: str
    pod_netns: str
    ifname: str
    container_id: str

    def env(self, command: str, plugin_dir: str) -> dict[str, str]:
        return {
            "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
            "CNI_COMMAND": command,
            "CNI_CONTAINERID": self.container_id,
            "CNI_NETNS": netns_path(self.pod_netns),
            "CNI_IFNAME": self.ifname,
            "CNI_PATH": ":".join(d for d in CNI_BIN_DIRS if os.path.isdir(d)) or plugin_dir,
        }


def _invoke(call: CniCall, command: str, stdin_config: Mapping[str, Any]) -> dict[str, Any]:
    plugin = str(call.config["type"])
    plugin_dir = find_plugin_dir(plugin)
    nsenter = shutil.which("nsenter") or "/usr/bin/nsenter"
    argv = [nsenter, f"--net={netns_path(call.node_netns)}", os.path.join(plugin_dir, plugin)]
    try:
        proc = spawn.run(argv, input=json.dumps(stdin_config).encode(), env=call.env(command, plugin_dir),
                         timeout=PLUGIN_TIMEOUT_S)
    except subprocess.TimeoutExpired as exc:
        raise CniError(plugin, command, None, f"timed out after {PLUGIN_TIMEOUT_S:.0f} s") from exc
    out = proc.stdout.decode(errors="replace").strip()
    if proc.returncode != 0:
        try:
            err = json.loads(out)
            raise CniError(plugin, command, err.get("code"), str(err.get("msg", "")), str(err.get("details", "")))
        except (ValueError, AttributeError):
            raise CniError(plugin, command, None,
                           out or proc.stderr.decode(errors="replace").strip() or f"exit {proc.returncode}") from None
    if not out:
        return {}
    try:
        result = json.loads(out)
    except ValueError as exc:
        raise CniError(plugin, command, None, f"unparseable result: {out[:200]!r}") from exc
    return result if isinstance(result, dict) else {}


def cni_add(call: CniCall) -> dict[str, Any]:
    """ADD: create the interface in the pod namespace; returns the plugin's result (keep it for CHECK)."""
    return _invoke(call, "ADD", call.config)


def cni_check(call: CniCall, prev_result: Mapping[str, Any]) -> None:
    """CHECK: the plugin verifies the interface still matches its result (needs ``prevResult``)."""
    _invoke(call, "CHECK", {**call.config, "prevResult": prev_result})


def cni_del(call: CniCall) -> None:
    """DEL: idempotent by the CNI spec, so it is safe in every teardown path."""
    _invoke(call, "DEL", call.config)
