"""A compromised node against what it may write, each answered as kube-apiserver v1.37.2.

The Node authorizer cannot see the name or the node of an object being created, so kube's
NodeRestriction admission checks what a node creates (ResourceSlices, Leases, CSINodes, node
CSRs, PodCertificateRequests), and what it writes into a PVC's status. Server-side apply and
the pod subresources added this session must not open a path around it either.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ._attack import APPLY, MERGE, STRATEGIC, Server, call

NODE = "node-a"
SLICES = "/apis/resource.k8s.io/v1/resourceslices"


@pytest.fixture
def server(apiserver: Server) -> Iterator[Server]:
    apiserver.apply(
        "apiVersion: v1\nkind: Node\nmetadata: {name: node-a}",
        "apiVersion: v1\nkind: Node\nmetadata: {name: node-b}",
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: kube-node-lease}",
        "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: app, namespace: default}",
        """apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: claim, namespace: default}
spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}""",
        """apiVersion: v1
kind: Pod
metadata: {name: on-a, namespace: default}
spec:
  nodeName: node-a
  serviceAccountName: app
  containers: [{name: c, image: i}]
  volumes: [{name: v, persistentVolumeClaim: {claimName: claim}}]""",
        """apiVersion: v1
kind: Pod
metadata: {name: on-b, namespace: default}
spec: {nodeName: node-b, serviceAccountName: app, containers: [{name: c, image: i}]}""",
    )
    yield apiserver


def _node(server: Server) -> str:
    return str(server.add_user(f"system:node:{NODE}", ["system:nodes"]))


def _forbidden(body: Any, head: str, why: str) -> None:
    assert body["reason"] == "Forbidden", body
    assert body["message"] == f"{head} is forbidden: {why}"


def _slice(name: str, node: str | None) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "driver": "gpu.example.com",
        "pool": {"name": "pool", "generation": 1, "resourceSliceCount": 1},
    }
    if node is None:
        spec["allNodes"] = True
    else:
        spec["nodeName"] = node
    return {
        "apiVersion": "resource.k8s.io/v1",
        "kind": "ResourceSlice",
        "metadata": {"name": name},
        "spec": spec,
    }


def test_a_node_publishes_devices_only_for_itself(server: Server) -> None:
    token = _node(server)
    for name, node in (("for-b", "node-b"), ("for-all", None)):
        status, body = call(server, "POST", SLICES, _slice(name, node), token=token)
        assert status == 403, body
        _forbidden(
            body,
            f'resourceslices.resource.k8s.io "{name}"',
            "can only create ResourceSlice with the same NodeName as the requesting node",
        )
    status, body = call(server, "POST", SLICES, _slice("mine", NODE), token=token)
    assert status == 201, body
    # Nor can it move its own slice to another node afterwards.
    status, body = call(
        server,
        "PATCH",
        f"{SLICES}/mine",
        {"spec": {"nodeName": "node-b"}},
        token=token,
        content_type=MERGE,
    )
    assert status == 422, body
    assert body["message"] == (
        'ResourceSlice.resource.k8s.io "mine" is invalid: spec.nodeName: Invalid value: '
        '"node-b": field is immutable'
    )
    status, body = call(server, "GET", SLICES)
    assert [s["metadata"]["name"] for s in body["items"]] == ["mine"]


def _csr(common_name: str) -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    request = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(
            x509.Name(
                [
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, "system:nodes"),
                    x509.NameAttribute(NameOID.COMMON_NAME, common_name),
                ]
            )
        )
        .sign(key, hashes.SHA256())
    )
    return base64.b64encode(request.public_bytes(serialization.Encoding.PEM)).decode()


@pytest.mark.parametrize(
    ("signer", "usages"),
    [
        ("kubernetes.io/kubelet-serving", ["digital signature", "server auth"]),
        ("kubernetes.io/kube-apiserver-client-kubelet", ["digital signature", "client auth"]),
    ],
)
def test_a_node_asks_for_certificates_only_in_its_own_name(
    server: Server, signer: str, usages: list[str]
) -> None:
    token = _node(server)

    def request(common_name: str) -> tuple[int, Any]:
        csr = {
            "apiVersion": "certificates.k8s.io/v1",
            "kind": "CertificateSigningRequest",
            "metadata": {"generateName": "node-csr-"},
            "spec": {"request": _csr(common_name), "signerName": signer, "usages": usages},
        }
        return call(
            server,
            "POST",
            "/apis/certificates.k8s.io/v1/certificatesigningrequests",
            csr,
            token=token,
        )

    status, body = request("system:node:node-b")
    assert status == 403, body
    _forbidden(
        body,
        'certificatesigningrequests.certificates.k8s.io "node-csr-"',
        "can only create a node CSR with CN=system:node:node-a",
    )
    status, body = request("system:node:node-a")
    assert status == 201, body


@pytest.mark.parametrize(
    "patch",
    [{"metadata": {"labels": {"stolen": "yes"}}}, {"status": {"phase": "Lost"}}],
    ids=["labels", "phase"],
)
def test_a_node_writes_only_capacity_and_conditions_of_a_claim(
    server: Server, patch: dict[str, Any]
) -> None:
    token = _node(server)
    path = "/api/v1/namespaces/default/persistentvolumeclaims/claim/status"
    status, body = call(server, "PATCH", path, patch, token=token, content_type=MERGE)
    assert status == 403, body
    assert body["message"].startswith(
        'persistentvolumeclaims "claim" is forbidden: node "node-a" is not allowed to update '
        "fields other than status.quantity and status.conditions: "
    )
    status, body = call(
        server,
        "PATCH",
        path,
        {"status": {"conditions": [{"type": "Resizing", "status": "True"}]}},
        token=token,
        content_type=MERGE,
    )
    assert status == 200, body


def test_a_node_creates_only_its_own_lease_and_csinode(server: Server) -> None:
    token = _node(server)
    lease = {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": "node-b"},
    }
    leases = "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases"
    status, body = call(server, "POST", leases, lease, token=token)
    assert status == 403, body
    _forbidden(
        body,
        'leases.coordination.k8s.io "node-b"',
        "can only access node lease with the same name as the requesting node",
    )
    csinode = {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "CSINode",
        "metadata": {"name": "node-b"},
        "spec": {"drivers": []},
    }
    status, body = call(server, "POST", "/apis/storage.k8s.io/v1/csinodes", csinode, token=token)
    assert status == 403, body
    _forbidden(
        body,
        'csinodes.storage.k8s.io "node-b"',
        "can only access CSINode with the same name as the requesting node",
    )
    lease["metadata"] = {"name": NODE}
    status, body = call(server, "POST", leases, lease, token=token)
    assert status == 201, body


def _uid(server: Server, path: str) -> str:
    status, body = call(server, "GET", path)
    assert status == 200, body
    return str(body["metadata"]["uid"])


def test_a_node_asks_for_pod_certificates_only_for_its_pods(server: Server) -> None:
    token = _node(server)
    key = ec.generate_private_key(ec.SECP256R1())
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    nodes = {n: _uid(server, f"/api/v1/nodes/{n}") for n in ("node-a", "node-b")}
    pods = {p: _uid(server, f"/api/v1/namespaces/default/pods/{p}") for p in ("on-a", "on-b")}
    account = _uid(server, "/api/v1/namespaces/default/serviceaccounts/app")

    def request(node: str, pod: str, service_account: str = "app") -> tuple[int, Any]:
        body = {
            "apiVersion": "certificates.k8s.io/v1",
            "kind": "PodCertificateRequest",
            "metadata": {"name": "cert"},
            "spec": {
                "signerName": "example.com/signer",
                "podName": pod,
                "podUID": pods[pod],
                "serviceAccountName": service_account,
                "serviceAccountUID": account,
                "nodeName": node,
                "nodeUID": nodes[node],
                "pkixPublicKey": base64.b64encode(public).decode(),
                "proofOfPossession": base64.b64encode(
                    key.sign(b"proof", ec.ECDSA(hashes.SHA256()))
                ).decode(),
            },
        }
        return call(
            server,
            "POST",
            "/apis/certificates.k8s.io/v1/namespaces/default/podcertificaterequests",
            body,
            token=token,
        )

    head = 'podcertificaterequests.certificates.k8s.io "cert"'
    status, body = request("node-b", "on-b")
    assert status == 403, body
    _forbidden(
        body,
        head,
        'PodCertificateRequest.Spec.NodeName="node-b", which is not the requesting node "node-a"',
    )
    status, body = request(NODE, "on-b")
    assert status == 403, body
    _forbidden(
        body,
        head,
        'pod "default/on-b" is not running on node "node-a" named in the PodCertificateRequest',
    )
    status, body = request(NODE, "on-a", "other")
    assert status == 403, body
    _forbidden(
        body,
        head,
        'PodCertificateRequest for pod "default/on-a" contains serviceAccountName ("other") '
        'that differs from running pod ("app")',
    )
    status, body = request(NODE, "on-a")
    assert status == 403, body
    _forbidden(
        body,
        head,
        'pod "default/on-a" does not mount a podCertificate projected volume for signer '
        '"example.com/signer"',
    )


def test_new_write_paths_keep_node_restriction(server: Server) -> None:
    token = _node(server)
    apply_other = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-b"}}
    status, body = call(
        server,
        "PATCH",
        "/api/v1/nodes/node-b?fieldManager=kubelet",
        apply_other,
        token=token,
        content_type=APPLY,
    )
    assert status == 403, body
    _forbidden(body, 'nodes "node-b"', 'node "node-a" is not allowed to modify node "node-b"')
    status, body = call(
        server,
        "PATCH",
        "/api/v1/nodes/node-b/status",
        {"status": {"conditions": [{"type": "Ready", "status": "False"}]}},
        token=token,
        content_type=STRATEGIC,
    )
    assert status == 403, body
    _forbidden(body, 'nodes "node-b"', 'node "node-a" is not allowed to modify node "node-b"')
    for sub in ("ephemeralcontainers", "resize"):
        status, body = call(
            server,
            "PATCH",
            f"/api/v1/namespaces/default/pods/on-a/{sub}",
            {"metadata": {"labels": {"x": "y"}}},
            token=token,
            content_type=STRATEGIC,
        )
        assert status == 403, body
        _forbidden(
            body,
            'pods "on-a"',
            f'User "system:node:node-a" cannot patch resource "pods/{sub}" in API group "" in '
            'the namespace "default"',
        )
