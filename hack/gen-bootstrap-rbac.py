#!/usr/bin/env python3
"""Regenerate the embedded server's bootstrap RBAC policy from kube-apiserver v1.37.2 itself.

    .venv/bin/python hack/gen-bootstrap-rbac.py     # needs .tools/kube/v1.37.2 (make kube)

Starts the pinned kube-apiserver (``constrained_impersonation.testing.KubeAPIServer``, default
feature gates), reads every ClusterRole, ClusterRoleBinding, Role and RoleBinding its RBAC
post-start hook reconciled (label ``kubernetes.io/bootstrapping=rbac-defaults``) and writes
them, in kube's list order and without server-set metadata, to
``server/cimp_apiserver/authz/bootstrap-policy.json``. The aggregated roles (``admin``,
``edit``, ``view``) are written as kube stores them before its controller-manager fills them:
the embedded server aggregates their rules itself.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "sdk"), str(ROOT / "server")]

from constrained_impersonation.testing import KubeAPIServer  # noqa: E402
from constrained_impersonation.testing._assets import KUBE_VERSION  # noqa: E402

OUT = ROOT / "server" / "cimp_apiserver" / "authz" / "bootstrap-policy.json"
KINDS = ("clusterroles", "clusterrolebindings", "roles", "rolebindings")
LABEL = ("kubernetes.io/bootstrapping", "rbac-defaults")
KEEP_META = ("name", "namespace", "labels", "annotations")


def capture(server: Any) -> dict[str, list[dict[str, Any]]]:
    policy: dict[str, list[dict[str, Any]]] = {}
    for plural in KINDS:
        status, body = server.request("GET", f"/apis/rbac.authorization.k8s.io/v1/{plural}")
        if status != 200:
            raise SystemExit(f"GET {plural}: {status} {body}")
        kind = body["kind"].removesuffix("List")
        objects = []
        for item in body["items"]:
            meta = item["metadata"]
            if (meta.get("labels") or {}).get(LABEL[0]) != LABEL[1]:
                continue
            obj = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": kind}
            obj["metadata"] = {k: meta[k] for k in KEEP_META if k in meta}
            obj.update(
                (k, v) for k, v in item.items() if k not in ("apiVersion", "kind", "metadata")
            )
            objects.append(obj)
        policy[plural] = objects
    return policy


def main() -> None:
    with KubeAPIServer() as server:
        policy = capture(server)
    document = {"kubeVersion": KUBE_VERSION, **policy}
    OUT.write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n")
    counts = ", ".join(f"{len(v)} {k}" for k, v in policy.items())
    print(f"wrote {OUT.relative_to(ROOT)}: {counts}")


if __name__ == "__main__":
    main()
