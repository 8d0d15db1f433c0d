"""The Kubernetes / OpenShift target's parts, one concern per module.

``names`` (labels, run namespaces, expiry) and ``plan`` (every manifest a run applies) are pure and import nothing
from the ``kubernetes`` client; ``render`` and the CLI use them without a cluster. Only ``config`` / ``api`` (the
REST client, behind the harness's own error classes) and ``stream_exec`` (the single adapter over
``kubernetes.stream``) import the client, lazily, so the lab path never pays for it. ``channel`` is the exec
channel interface and the agent's line-protocol client; ``provision``, ``pods`` and ``gc`` build on ``api``;
``nodepods`` runs the node pre-flight's debug pods (one per node, in a namespace of the run) with those parts.
"""
