"""What the reference kube-apiserver's configuration and storage imply for stored objects.

ServiceAccount admission is off (as in envtest: no controller-manager creates the ``default``
accounts it would require), so a pod keeps the service account it names, or none; a
TokenRequest for another account cannot bind to it. etcd stores built-in objects as protobuf,
which has no empty list: an empty list or map written to a field Go encodes without
``omitempty`` reads back ``null``. The differential found both (comparing objects in full).

Run against both backends.
"""

from __future__ import annotations

from typing import Any

NS = "default"
RBAC = "/apis/rbac.authorization.k8s.io/v1"


def _pod(name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": NS},
        "spec": {"containers": [{"name": "c", "image": "x"}], **spec},
    }


def test_a_pod_gets_no_default_service_account(apiserver: Any) -> None:
    apiserver.apply(
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "sa", "namespace": NS}},
        _pod("plain"),
        _pod("named", serviceAccountName="sa"),
    )
    _, plain = apiserver.request("GET", f"/api/v1/namespaces/{NS}/pods/plain")
    assert "serviceAccountName" not in plain["spec"]
    assert "serviceAccount" not in plain["spec"]
    _, named = apiserver.request("GET", f"/api/v1/namespaces/{NS}/pods/named")
    assert (named["spec"]["serviceAccountName"], named["spec"]["serviceAccount"]) == ("sa", "sa")
    # A token for an account the pod does not run as does not bind to it.
    request = {
        "apiVersion": "authentication.k8s.io/v1",
        "kind": "TokenRequest",
        "spec": {"boundObjectRef": {"apiVersion": "v1", "kind": "Pod", "name": "plain"}},
    }
    status, body = apiserver.request(
        "POST", f"/api/v1/namespaces/{NS}/serviceaccounts/sa/token", request
    )
    assert status == 400, body
    assert body["message"] == (
        'cannot bind token for serviceaccount "sa" to pod running with different serviceaccount '
        "name."
    )


def test_empty_lists_read_back_as_etcd_stores_them(apiserver: Any) -> None:
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {"name": "empty", "namespace": NS, "labels": {}},
        "rules": [],
    }
    status, created = apiserver.request("POST", f"{RBAC}/namespaces/{NS}/roles", role)
    assert status == 201, created
    assert created["rules"] is None  # no omitempty: written as null
    assert "labels" not in created["metadata"]  # omitempty: dropped
    _, read = apiserver.request("GET", f"{RBAC}/namespaces/{NS}/roles/empty")
    assert read["rules"] is None
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": "empty", "namespace": NS},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "empty"},
        "subjects": [],
    }
    status, created = apiserver.request("POST", f"{RBAC}/namespaces/{NS}/rolebindings", binding)
    assert status == 201, created
    assert "subjects" not in created  # omitempty: dropped
