"""Finding the cluster: kubeconfig (``--kubeconfig``, ``$KUBECONFIG``, ``~/.kube/config``) or in-cluster config.

Every failure becomes one :class:`~netattest.errors.ClusterAccessError` paragraph naming the file, the context and
the fix. The user's kubeconfig is never written (token refreshes stay in memory).
"""

from __future__ import annotations

import contextlib
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from netattest.errors import ClusterAccessError

IN_CLUSTER_ENV = "KUBERNETES_SERVICE_HOST"
TOKEN_FILE = "/var/run/secrets/kubernetes.io/serviceaccount/token"
FIX_KUBECONFIG = ("Fix: pass --kubeconfig PATH (or set KUBECONFIG) pointing at a kubeconfig for the cluster, "
                  "e.g. the one 'oc login' or your cluster installer wrote; inside a pod, in-cluster config is "
                  "used when no kubeconfig is given")


@dataclass
class Connection:
    """An API client plus a description of where it points, for every message that names the cluster."""

    api_client: Any  # kubernetes.client.ApiClient
    exec_client: Any  # a second ApiClient only for exec: kubernetes.stream swaps call_api on the client it uses
    server: str
    context: str | None
    source: str  # kubeconfig path(s) or "in-cluster config"
    insecure: bool = False  # HTTPS without verifying the server's certificate (insecure-skip-tls-verify)

    @property
    def where(self) -> str:
        ctx = f"context '{self.context}' of " if self.context else ""
        return f"{self.server} ({ctx}{self.source})"

    def close(self) -> None:
        for client in (self.api_client, self.exec_client):
            with contextlib.suppress(Exception):  # closing a pool never matters to the user
                client.close()


def kubeconfig_paths(kubeconfig: str | None) -> tuple[list[Path], str]:
    """The kubeconfig files to merge and how they were chosen; [] means in-cluster (or nothing)."""
    if kubeconfig:
        return [Path(kubeconfig).expanduser()], "--kubeconfig"
    env = os.environ.get("KUBECONFIG", "")
    if env.strip():
        return [Path(p).expanduser() for p in env.split(os.pathsep) if p.strip()], "KUBECONFIG"
    default = Path("~/.kube/config").expanduser()
    if default.exists():
        return [default], "default location"
    return [], "none"


def connect(kubeconfig: str | None = None, context: str | None = None, *, request_timeout: float = 30.0,
            retries: int = 1) -> Connection:
    """Load the configuration and build the API clients (nothing is sent to the server yet)."""
    from kubernetes import client
    from kubernetes.config import ConfigException, kube_config
    from kubernetes.config.incluster_config import load_incluster_config

    paths, how = kubeconfig_paths(kubeconfig)
    configuration = client.Configuration()
    if not paths:
        if not os.environ.get(IN_CLUSTER_ENV):
            raise ClusterAccessError(
                "no kubeconfig found: --kubeconfig was not given, KUBECONFIG is not set, ~/.kube/config does not "
                f"exist and this is not a pod with in-cluster config. {FIX_KUBECONFIG}.")
        try:
            load_incluster_config(client_configuration=configuration)
        except (ConfigException, OSError) as exc:
            raise ClusterAccessError(
                f"in-cluster config could not be loaded ({exc}); the pod needs its service account token at "
                f"{TOKEN_FILE}. {FIX_KUBECONFIG}.") from None
        source, active = "in-cluster config", context
    else:
        missing = [str(p) for p in paths if not p.is_file()]
        if len(missing) == len(paths):
            shown = ", ".join(missing)
            raise ClusterAccessError(f"kubeconfig {shown} (from {how}) does not exist or is not a file. "
                                     f"{FIX_KUBECONFIG}.")
        existing = [str(p) for p in paths if p.is_file()]
        source = "kubeconfig " + os.pathsep.join(existing)
        try:
            loader = kube_config._get_kube_config_loader(filename=os.pathsep.join(existing), active_context=context,
                                                         persist_config=False)
            active = loader.current_context["name"] if loader.current_context else context
            loader.load_and_set(configuration)
        except ConfigException as exc:
            raise ClusterAccessError(_config_problem(exc, existing, context)) from None
        except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
            raise ClusterAccessError(f"{source} cannot be read: {type(exc).__name__}: {exc}. {FIX_KUBECONFIG}.") \
                from None
    configuration.retries = retries
    server = configuration.host
    insecure = server.startswith("https://") and not configuration.verify_ssl
    if insecure:  # said once by the caller (a run note), not by urllib3 on every request
        from urllib3.exceptions import InsecureRequestWarning

        warnings.simplefilter("ignore", InsecureRequestWarning)
    api_client = client.ApiClient(configuration)
    exec_client = client.ApiClient(configuration)
    for c in (api_client, exec_client):
        c.user_agent = "netattest"
    return Connection(api_client, exec_client, server, active, source, insecure)


def _config_problem(exc: Exception, paths: list[str], context: str | None) -> str:
    text = str(exc).strip().rstrip(".")
    where = "kubeconfig " + os.pathsep.join(paths)
    contexts = _contexts(paths)
    if context and contexts is not None and context not in contexts:
        listing = ", ".join(contexts) or "none"
        return (f"context '{context}' is not in {where} (contexts there: {listing}). Fix: pass one of them with "
                "--context, or omit --context to use the current context")
    if "current-context" in text or "current_context" in text:
        listing = ", ".join(contexts or []) or "none"
        return (f"{where} has no current context (contexts there: {listing}). Fix: pass --context NAME, or run "
                "'kubectl config use-context NAME'")
    return f"{where} cannot be used: {text}. {FIX_KUBECONFIG}"


def _contexts(paths: list[str]) -> list[str] | None:
    import yaml

    found: list[str] = []
    for path in paths:
        try:
            data = yaml.safe_load(Path(path).read_text()) or {}
        except (OSError, yaml.YAMLError):
            return None
        found += [c.get("name", "") for c in data.get("contexts") or [] if isinstance(c, dict)]
    return found
