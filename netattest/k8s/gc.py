"""``netattest gc --target kubernetes``: remove what interrupted cluster runs left, by label and TTL only.

A namespace is netattest's when it carries ``app.kubernetes.io/managed-by=netattest`` *and* a
``netattest.io/run-id`` label: a name prefix proves nothing and is never used. Without ``--run-id`` only namespaces
past their ``netattest.io/expires-at`` are removed, so a run in progress elsewhere is safe; ``--run-id`` removes
that run's namespaces whatever their expiry. Network-operator entries pointing into removed namespaces go too.

A run interrupted by Ctrl-C or SIGTERM removes what it made itself (requests that create something hold the
interrupt until their answer is recorded). A SIGKILLed run cannot: its namespaces stay, unexpired, and from the
cluster a dead owner looks like a live run on another machine, so only ``--run-id`` removes them before the TTL
(``netattest run`` prints that command when its session was killed).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from netattest.errors import ClusterError
from netattest.k8s import names
from netattest.k8s.api import Cluster, NotFound
from netattest.k8s.provision import remove_operator_entries


@dataclass(frozen=True)
class ClusterLeftover:
    namespace: str
    run_id: str
    expires: datetime | None
    why: str  # why it is (or is not) removed
    remove: bool


def find_leftovers(cluster: Cluster, run_id: str | None = None, now: datetime | None = None) \
        -> list[ClusterLeftover]:
    moment = now or datetime.now(UTC)
    found = []
    for ns in cluster.list_namespaces(names.OWN_SELECTOR):
        meta = ns.get("metadata") or {}
        labels = meta.get("labels") or {}
        if labels.get(names.LABEL_MANAGED_BY) != names.MANAGED_BY or not labels.get(names.LABEL_RUN_ID):
            continue  # a server that ignores selectors must not make gc delete someone else's namespace
        rid = labels[names.LABEL_RUN_ID]
        expires = names.parse_expiry((meta.get("annotations") or {}).get(names.ANNOTATION_EXPIRES))
        terminating = (ns.get("status") or {}).get("phase") == "Terminating"
        if run_id is not None:
            if rid != run_id:
                continue
            found.append(ClusterLeftover(meta["name"], rid, expires, "asked for by run id", not terminating))
        elif terminating:
            found.append(ClusterLeftover(meta["name"], rid, expires, "already being deleted", False))
        elif expires is None:
            found.append(ClusterLeftover(meta["name"], rid, None, "no valid expiry annotation: remove it with "
                                         f"--run-id {rid}", False))
        elif expires <= moment:
            found.append(ClusterLeftover(meta["name"], rid, expires, f"expired at {_iso(expires)}", True))
        else:
            found.append(ClusterLeftover(meta["name"], rid, expires, f"run may still be going: expires "
                                         f"{_iso(expires)}", False))
    return found


def collect(cluster: Cluster, run_id: str | None = None, *, dry_run: bool = False,
            now: datetime | None = None) -> tuple[list[ClusterLeftover], list[str]]:
    """Remove leftovers; returns (every netattest namespace seen, problems)."""
    leftovers = find_leftovers(cluster, run_id, now)
    doomed = {lo.namespace for lo in leftovers if lo.remove}
    problems: list[str] = []
    if dry_run or not doomed:
        return leftovers, problems
    _, problem = remove_operator_entries(cluster, doomed)
    if problem:
        problems.append(problem)
    for namespace in sorted(doomed):
        try:
            cluster.delete_namespace(namespace)
        except NotFound:
            pass
        except ClusterError as exc:
            problems.append(str(exc))
    return leftovers, problems


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
