"""Behaviour the embedded server once approximated, pinned to what kube-apiserver v1.37.2 does.

Every test runs on both backends (``--apiserver=embedded|kube``) through the public harness.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit


def test_kubernetes_service_in_default(apiserver: Any) -> None:
    """kube's bootstrap controller writes ``default/kubernetes`` even with
    ``--endpoint-reconciler-type=none``: the first service IP, https 443 to the secure port."""
    status, service = apiserver.request("GET", "/api/v1/namespaces/default/services/kubernetes")
    assert status == 200, service
    port = urlsplit(apiserver.url).port
    assert service["metadata"]["labels"] == {"component": "apiserver", "provider": "kubernetes"}
    assert service["spec"] == {
        "ports": [{"name": "https", "protocol": "TCP", "port": 443, "targetPort": port}],
        "clusterIP": "10.96.0.1",
        "clusterIPs": ["10.96.0.1"],
        "type": "ClusterIP",
        "sessionAffinity": "None",
        "ipFamilies": ["IPv4"],
        "ipFamilyPolicy": "SingleStack",
        "internalTrafficPolicy": "Cluster",
    }
    assert service["status"] == {"loadBalancer": {}}
    [entry] = service["metadata"]["managedFields"]
    assert (entry["manager"], entry["operation"], entry["apiVersion"]) == (
        "kube-apiserver",
        "Update",
        "v1",
    )
    assert set(entry["fieldsV1"]["f:spec"]) == {
        "f:clusterIP",
        "f:internalTrafficPolicy",
        "f:ipFamilyPolicy",
        "f:ports",
        "f:sessionAffinity",
        "f:type",
    }
    # The endpoints are left to the (disabled) reconciler: none exist.
    status, _ = apiserver.request("GET", "/api/v1/namespaces/default/endpoints/kubernetes")
    assert status == 404
