"""Credentials files for the fake cluster, as a real cluster's users get them.

* kubeconfigs whose cluster entry trusts the session CA (``certificate-authority-data``) or skips verification
  (``insecure-skip-tls-verify: true``), and whose user entry is a bearer token or a client certificate and key
  (``client-certificate-data`` / ``client-key-data``);
* a pod's in-cluster files: the service account token and ``ca.crt``, with ``KUBERNETES_SERVICE_HOST`` and
  ``KUBERNETES_SERVICE_PORT`` pointing at the server.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def token_user(token: str) -> dict[str, Any]:
    return {"token": token}


def cert_user(cert_pem: bytes, key_pem: bytes) -> dict[str, Any]:
    return {"client-certificate-data": _b64(cert_pem), "client-key-data": _b64(key_pem)}


def cluster_entry(url: str, *, ca_pem: bytes | None, insecure: bool) -> dict[str, Any]:
    entry: dict[str, Any] = {"server": url}
    if insecure:
        entry["insecure-skip-tls-verify"] = True
    elif ca_pem is not None and url.startswith("https://"):
        entry["certificate-authority-data"] = _b64(ca_pem)
    return entry


def write_kubeconfig(path: Path, cluster: dict[str, Any], user: dict[str, Any], *, context: str = "fake",
                     user_name: str = "fake-user") -> Path:
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": context,
        "clusters": [{"name": "fake-cluster", "cluster": cluster}],
        "users": [{"name": user_name, "user": user}],
        "contexts": [{"name": context, "context": {"cluster": "fake-cluster", "user": user_name}}],
    }))
    return path


@dataclass(frozen=True)
class InCluster:
    """What a pod sees: the two service-account files and the two environment variables."""

    token_file: Path
    ca_file: Path
    env: dict[str, str]


def write_in_cluster(directory: Path, url: str, token: str, ca_pem: bytes) -> InCluster:
    directory.mkdir(parents=True, exist_ok=True)
    token_file, ca_file = directory / "token", directory / "ca.crt"
    token_file.write_text(token)
    ca_file.write_bytes(ca_pem)
    parts = urlsplit(url)
    env = {"KUBERNETES_SERVICE_HOST": str(parts.hostname), "KUBERNETES_SERVICE_PORT": str(parts.port)}
    return InCluster(token_file, ca_file, env)
