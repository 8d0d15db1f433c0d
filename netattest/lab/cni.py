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


def _plugin_configs(config: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Each plugin's network config, as libcni builds it from a conflist: the list's cniVersion and name on every
    entry, and ``runtimeConfig`` only for the capabilities the plugin declares. A single config is a list of one."""
    plugins = config.get("plugins")
    if not isinstance(plugins, list):
        return [dict(config)]
    runtime = config.get("runtimeConfig") or {}
    out = []
    for plugin in plugins:
        entry = {"cniVersion": config.get("cniVersion"), "name": config.get("name"), **plugin}
        wanted = {k: v for k, v in runtime.items() if (plugin.get("capabilities") or {}).get(k)}
        if wanted:
            entry["runtimeConfig"] = wanted
        out.append(entry)
    return out


def _with_type(call: CniCall, config: Mapping[str, Any]) -> CniCall:
    return CniCall(config, call.node_netns, call.pod_netns, call.ifname, call.container_id)


def cni_add(call: CniCall) -> dict[str, Any]:
    """ADD: create the interface in the pod namespace; returns the result (keep it for CHECK). A conflist runs its
    plugins in order, each given the previous one's result (``prevResult``), as libcni does."""
    result: dict[str, Any] = {}
    for n, config in enumerate(_plugin_configs(call.config)):
        stdin = {**config, "prevResult": result} if n else config
        result = _invoke(_with_type(call, config), "ADD", stdin) or result
    return result


def cni_check(call: CniCall, prev_result: Mapping[str, Any]) -> None:
    """CHECK: every plugin verifies the interface still matches the result (needs ``prevResult``)."""
    for config in _plugin_configs(call.config):
        _invoke(_with_type(call, config), "CHECK", {**config, "prevResult": prev_result})


def cni_del(call: CniCall, prev_result: Mapping[str, Any] | None = None) -> None:
    """DEL: a conflist in reverse order; idempotent by the CNI spec, so it is safe in every teardown path."""
    for config in reversed(_plugin_configs(call.config)):
        _invoke(_with_type(call, config), "DEL", {**config, "prevResult": prev_result} if prev_result else config)
