"""Regenerate ``schemas.json``: the field names and types of the built-in kinds the server stores.

Run ``python -m constrained_impersonation._apiserver.schema_gen`` after changing the served
kinds. The facts come from the ``kubernetes`` client's generated models (the same API version
line); the server itself never imports that package, which costs close to a second.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

__all__ = ["ROOTS", "generate"]

OUTPUT = Path(__file__).with_name("schemas.json")

# (apiVersion, kind) → the client's model class.
ROOTS: dict[tuple[str, str], str] = {
    ("v1", "Namespace"): "V1Namespace",
    ("v1", "Node"): "V1Node",
    ("v1", "Pod"): "V1Pod",
    ("v1", "ServiceAccount"): "V1ServiceAccount",
    ("v1", "ConfigMap"): "V1ConfigMap",
    ("v1", "Secret"): "V1Secret",
    ("v1", "Event"): "CoreV1Event",
    ("v1", "Binding"): "V1Binding",
    ("v1", "DeleteOptions"): "V1DeleteOptions",
    ("policy/v1", "Eviction"): "V1Eviction",
    ("apps/v1", "DaemonSet"): "V1DaemonSet",
    ("rbac.authorization.k8s.io/v1", "Role"): "V1Role",
    ("rbac.authorization.k8s.io/v1", "RoleBinding"): "V1RoleBinding",
    ("rbac.authorization.k8s.io/v1", "ClusterRole"): "V1ClusterRole",
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"): "V1ClusterRoleBinding",
    ("authentication.k8s.io/v1", "TokenRequest"): "AuthenticationV1TokenRequest",
    ("authentication.k8s.io/v1", "TokenReview"): "V1TokenReview",
    ("authentication.k8s.io/v1", "SelfSubjectReview"): "V1SelfSubjectReview",
    ("authorization.k8s.io/v1", "SubjectAccessReview"): "V1SubjectAccessReview",
    ("authorization.k8s.io/v1", "SelfSubjectAccessReview"): "V1SelfSubjectAccessReview",
    ("authorization.k8s.io/v1", "LocalSubjectAccessReview"): "V1LocalSubjectAccessReview",
    ("authorization.k8s.io/v1", "SelfSubjectRulesReview"): "V1SelfSubjectRulesReview",
}

# resource.Quantity fields: the client types them as strings, kube also accepts JSON numbers.
_QUANTITY_FIELDS = {
    ("V1ResourceRequirements", "limits"),
    ("V1ResourceRequirements", "requests"),
    ("V1PodSpec", "overhead"),
    ("V1EmptyDirVolumeSource", "sizeLimit"),
    ("V1NodeStatus", "capacity"),
    ("V1NodeStatus", "allocatable"),
    ("V1ContainerStatus", "allocatedResources"),
    ("V1PodStatus", "allocatedResources"),
}

_LIST = re.compile(r"List\[(.+)\]")
_DICT = re.compile(r"Dict\[str, (.+)\]")
_SCALARS = {
    "str": "string",
    "int": "integer",
    "bool": "boolean",
    "float": "number",
    "datetime": "time",
    "date": "time",
    "bytes": "bytes",
    "object": "any",
}


def _convert(models: Any, typ: str, todo: list[str]) -> str:
    if typ in _SCALARS:
        return _SCALARS[typ]
    if m := _LIST.fullmatch(typ):
        return "[]" + _convert(models, m.group(1), todo)
    if m := _DICT.fullmatch(typ):
        return "{}" + _convert(models, m.group(1), todo)
    if hasattr(models, typ):
        todo.append(typ)
        return typ
    raise ValueError(f"unknown type {typ}")


def generate() -> dict[str, Any]:
    from kubernetes.client import models

    types: dict[str, dict[str, str]] = {}
    todo = list(ROOTS.values())
    while todo:
        name = todo.pop()
        if name in types:
            continue
        cls = getattr(models, name)
        fields: dict[str, str] = {}
        for attr, typ in cls.openapi_types.items():
            key = cls.attribute_map[attr]
            converted = _convert(models, typ, todo)
            if (name, key) in _QUANTITY_FIELDS:
                converted = converted.replace("string", "quantity")
            fields[key] = converted
        types[name] = dict(sorted(fields.items()))
    return {
        "kinds": {f"{av}/{kind}": model for (av, kind), model in sorted(ROOTS.items())},
        "types": dict(sorted(types.items())),
    }


def main() -> int:
    OUTPUT.write_text(json.dumps(generate(), indent=None, separators=(",", ":")) + "\n")
    print(f"wrote {OUTPUT}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
