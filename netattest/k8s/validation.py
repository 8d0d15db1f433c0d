"""Rendered manifests checked before anything reaches a cluster: Kubernetes objects against the Kubernetes JSON
schemas (kubernetes-validate), NADs against the CRD's schema plus a CNI config Multus can parse (a single plugin or
a conflist), and the OpenShift network operator's Raw entries."""

from __future__ import annotations

import json
from typing import Any

from netattest.naming import DNS1123_LABEL_MAX, DNS1123_LABEL_PATTERN, DNS1123_SUBDOMAIN_MAX, DNS1123_SUBDOMAIN_PATTERN

#: Kubernetes version whose schemas (from the kubernetes-validate package) the rendered manifests must satisfy.
KUBERNETES_SCHEMA_VERSION = "1.30"
#: The NetworkAttachmentDefinition CRD's own schema (Multus ships the CRD with just spec.config), made strict.
NAD_SCHEMA: dict[str, Any] = {
    "type": "object", "additionalProperties": False, "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "k8s.cni.cncf.io/v1"}, "kind": {"const": "NetworkAttachmentDefinition"},
        "metadata": {"type": "object", "required": ["name", "namespace"], "properties": {
            "name": {"type": "string", "pattern": f"^{DNS1123_SUBDOMAIN_PATTERN}$",
                     "maxLength": DNS1123_SUBDOMAIN_MAX},
            "namespace": {"type": "string", "pattern": f"^{DNS1123_LABEL_PATTERN}$", "maxLength": DNS1123_LABEL_MAX},
            "labels": {"type": "object", "additionalProperties": {"type": "string",
                                                                  "maxLength": DNS1123_LABEL_MAX}}}},
        "spec": {"type": "object", "additionalProperties": False, "required": ["config"],
                 "properties": {"config": {"type": "string", "minLength": 2}}},
    },
}
#: One Raw entry of networks.operator.openshift.io ``spec.additionalNetworks`` (operator.openshift.io/v1).
OPERATOR_ENTRY_SCHEMA: dict[str, Any] = {
    "type": "object", "additionalProperties": False, "required": ["name", "type", "rawCNIConfig"],
    "properties": {"name": {"type": "string", "minLength": 1}, "namespace": {"type": "string"},
                   "type": {"const": "Raw"}, "rawCNIConfig": {"type": "string", "minLength": 2}},
}


def cni_config_problem(config: Any) -> str | None:
    """What Multus would refuse in a NAD's config: a single plugin (cniVersion, type) or a conflist (cniVersion,
    name, plugins: a non-empty list of objects with a type)."""
    if not isinstance(config, dict):
        return "the CNI config is not a JSON object"
    if "cniVersion" not in config:
        return "the CNI config lacks cniVersion"
    if "plugins" in config:
        plugins = config["plugins"]
        if not isinstance(plugins, list) or not plugins:
            return "the CNI conflist's plugins is not a non-empty list"
        untyped = [i for i, p in enumerate(plugins) if not isinstance(p, dict) or not p.get("type")]
        if untyped:
            return f"the CNI conflist's plugins[{untyped[0]}] lacks type"
        return None if config.get("name") else "the CNI conflist lacks name"
    return None if config.get("type") else "the CNI config lacks type"


def validate_manifest(doc: dict[str, Any], version: str = KUBERNETES_SCHEMA_VERSION) -> None:
    """Check one manifest against the Kubernetes schemas (strict: unknown fields are errors); NADs against the
    CRD's schema plus a parseable CNI config. Raises NetattestError naming the object, the field and the problem."""
    import jsonschema

    from netattest.errors import NetattestError

    kind = doc.get("kind", "?")
    meta = doc.get("metadata") or {}
    namespace = f"{meta['namespace']}/" if meta.get("namespace") else ""
    name = f"{kind} {namespace}{meta.get('name', '?')}"
    if kind == "NetworkAttachmentDefinition":
        errors = sorted(jsonschema.Draft202012Validator(NAD_SCHEMA).iter_errors(doc), key=lambda e: list(e.path))
        if errors:
            path = ".".join(str(p) for p in errors[0].path) or "(root)"
            raise NetattestError(f"rendered {name} is invalid at {path}: {errors[0].message}")
        try:
            config = json.loads(doc["spec"]["config"])
        except ValueError as exc:
            raise NetattestError(f"rendered {name}: spec.config is not JSON ({exc})") from None
        problem = cni_config_problem(config)
        if problem:
            raise NetattestError(f"rendered {name}: {problem}")
        return
    if kind == "Network" and doc.get("apiVersion") == "operator.openshift.io/v1":
        for index, entry in enumerate((doc.get("spec") or {}).get("additionalNetworks") or []):
            errors = list(jsonschema.Draft202012Validator(OPERATOR_ENTRY_SCHEMA).iter_errors(entry))
            if errors:
                raise NetattestError(f"rendered {name}: spec.additionalNetworks[{index}] is invalid: "
                                     f"{errors[0].message}")
        return
    try:
        import kubernetes_validate
    except ImportError:
        raise NetattestError("manifests cannot be validated: the kubernetes-validate package (Kubernetes JSON "
                             "schemas) is not installed. Fix: python3 -m pip install kubernetes-validate") from None
    try:
        kubernetes_validate.validate(doc, version, strict=True)
    except kubernetes_validate.ValidationError as exc:
        path = ".".join(str(p) for p in exc.path) or "(root)"
        raise NetattestError(f"rendered {name} does not validate against the Kubernetes {exc.version} schema at "
                             f"{path}: {exc.message}") from None
    except kubernetes_validate.SchemaNotFoundError as exc:
        raise NetattestError(f"rendered {name}: {exc.message}") from None
