"""Both servers' bootstrap RBAC, object for object: every ClusterRole, ClusterRoleBinding, Role
and RoleBinding labelled ``kubernetes.io/bootstrapping=rbac-defaults``, with what a server sets
itself (uid, resourceVersion, timestamps, managedFields) left out.

Kept on purpose (docs/conformance.md): the rules of the aggregated roles (``admin``, ``edit``,
``view``), which kube leaves empty until a controller-manager aggregates them and the embedded
server fills as a running cluster shows them; their aggregation rules are compared.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from .conftest import Pair, not_running, record

KINDS = ("clusterroles", "clusterrolebindings", "roles", "rolebindings")
LABEL = ("kubernetes.io/bootstrapping", "rbac-defaults")


def bootstrap_policy(server: Any) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for plural in KINDS:
        status, body = server.request("GET", f"/apis/rbac.authorization.k8s.io/v1/{plural}")
        assert status == 200, body
        for item in body["items"]:
            meta = item["metadata"]
            if (meta.get("labels") or {}).get(LABEL[0]) != LABEL[1]:
                continue
            view = {k: v for k, v in item.items() if k not in ("apiVersion", "metadata")}
            view["metadata"] = {
                k: meta[k] for k in ("name", "namespace", "labels", "annotations") if k in meta
            }
            if "aggregationRule" in view:
                view.pop("rules", None)
            out[f"{plural}/{meta.get('namespace', '')}/{meta['name']}"] = view
    return out


def test_bootstrap_policy(
    request: pytest.FixtureRequest, apiserver_class: Callable[..., Any]
) -> None:
    reason = not_running(request.config)
    if reason:
        pytest.skip(reason)
    pair: Pair = request.getfixturevalue("conformance_pair")
    embedded = bootstrap_policy(pair.embedded.server)
    kube = bootstrap_policy(pair.kube.server)
    divergences = [
        f"{key}:\n    embedded: {json.dumps(embedded.get(key), sort_keys=True)}"
        f"\n    kube:     {json.dumps(kube.get(key), sort_keys=True)}"
        for key in sorted(set(embedded) | set(kube))
        if embedded.get(key) != kube.get(key)
    ]
    record(request, len(divergences), [], scenario=False)
    assert len(kube) > 100, sorted(kube)
    assert not divergences, "\n".join(divergences)
