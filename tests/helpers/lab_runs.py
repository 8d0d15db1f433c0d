"""The real runs the evidence tests share: `netattest run` on the embedded lab (macvlan-only, host kernel), "clean"
(capture all, fake secrets planted), "miswired" (baseline: clean) and "silent"; each made once per test session
and cached under the session's base temporary directory."""

from __future__ import annotations

import json
import re
import secrets
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from netattest.runid import new_run_id
from tests.conftest import MACVLAN_ONLY, REPO, with_lab_section

#: mis-wiring: a router joins the VLANs, pod-b is pinned to node3 (which lacks its master NIC), mac-c's address moves
MISWIRED_LAB = """
routers:
  - name: rogue
    legs:
      - {network: openshift, address: 192.168.111.254/24}
      - {network: restricted, address: 192.168.112.254/24}
drift:
  podNode: {pod-b: node3}
  podIps: {mac-c/net1: [192.168.112.42/24]}
"""


@dataclass
class Secrets:
    token: str  # in the kubeconfig, shaped like nothing in particular
    key_data: str  # client-key-data in the kubeconfig
    env_token: str  # in a secret-named environment variable
    bearer: str  # a JWT-shaped bearer token written into the topology's description

    def all(self) -> list[str]:
        return [self.token, self.key_data, self.env_token, self.bearer]


@dataclass
class LabRun:
    dir: Path
    returncode: int
    stdout: str

    @property
    def id(self) -> str:
        return self.dir.name

    def json(self, name: str) -> dict:
        return json.loads((self.dir / name).read_text())


def fake_secrets(base: Path) -> tuple[Secrets, Path]:
    path = base / "secrets.json"
    if not path.exists():
        values = Secrets(f"kubeTok{secrets.token_hex(12)}", secrets.token_urlsafe(48),
                         f"envTok{secrets.token_hex(12)}",
                         "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQifQ." + secrets.token_hex(16))
        path.write_text(json.dumps(values.__dict__))
        (base / "kubeconfig").write_text(
            "apiVersion: v1\nkind: Config\ncurrent-context: lab\nclusters:\n- name: lab\n  cluster: {server: "
            "'https://127.0.0.1:6443'}\ncontexts:\n- name: lab\n  context: {cluster: lab, user: admin}\nusers:\n"
            f"- name: admin\n  user:\n    token: {values.token}\n    client-key-data: {values.key_data}\n")
    return Secrets(**json.loads(path.read_text())), base / "kubeconfig"


def lab_run(factory: pytest.TempPathFactory, name: str) -> LabRun:
    """One of the shared runs: "clean" (capture all, secrets planted), "miswired" (baseline: clean), "silent".
    Run ids are fresh each session: another session on this machine may be running the same tests."""
    base = factory.getbasetemp() / "netattest-report-runs"
    base.mkdir(exist_ok=True)
    reports = base / "reports"
    done = base / f"{name}.cli.json"
    if done.exists():
        cached = json.loads(done.read_text())
        return LabRun(reports / cached["run_id"], cached["returncode"], cached["stdout"])
    run_id = new_run_id()
    planted, kubeconfig = fake_secrets(base)
    text = MACVLAN_ONLY.read_text()
    extra: list[str] = []
    if name == "clean":
        text = re.sub(r"^description: .*$", f'description: "restricted VLAN lab; ops token {planted.token}, '
                      f'header Authorization: Bearer {planted.bearer}"', text, count=1, flags=re.MULTILINE)
        extra = ["--capture", "all"]
    elif name == "miswired":
        text = with_lab_section(text, MISWIRED_LAB)
        extra = ["--baseline", lab_run(factory, "clean").id]
    else:
        extra = ["--capture", "none", "-m", "isolation"]
    topology = base / f"{name}.yaml"
    topology.write_text(text)
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "PYTHONPATH": str(REPO), "KUBECONFIG": str(kubeconfig),
           "NETATTEST_FAKE_API_TOKEN": planted.env_token, "HOME": str(base)}
    proc = subprocess.run([sys.executable, "-m", "netattest.cli", "run", "--topology", str(topology),
                           "--reports-dir", str(reports), "--kernel", "host", "--run-id", run_id, *extra],
                          cwd=REPO, capture_output=True, text=True, timeout=300, env=env, check=False)
    assert (reports / run_id / "summary.json").exists(), proc.stdout + proc.stderr
    done.write_text(json.dumps({"run_id": run_id, "returncode": proc.returncode, "stdout": proc.stdout + proc.stderr}))
    return LabRun(reports / run_id, proc.returncode, proc.stdout + proc.stderr)
