"""What tests need to run the same scenario on the embedded server and a real kube-apiserver.

Both servers learn KubeVirt's ``kubevirt.io`` group (the KEP's story 2) from its
CustomResourceDefinition, as a cluster with KubeVirt does (the deputy's tests add virt-api's
aggregated console API too: ``tests/deputy/kubevirt.py``). A real server's caches lag its writes by a few milliseconds, so checks that follow
a write the harness does not settle (an RBAC delete, a pod delete) poll with a deadline.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

KUBEVIRT_CRD: dict[str, Any] = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "virtualmachineinstances.kubevirt.io"},
    "spec": {
        "group": "kubevirt.io",
        "names": {
            "kind": "VirtualMachineInstance",
            "listKind": "VirtualMachineInstanceList",
            "plural": "virtualmachineinstances",
            "singular": "virtualmachineinstance",
            "shortNames": ["vmi", "vmis"],
            "categories": ["all"],
        },
        "scope": "Namespaced",
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "x-kubernetes-preserve-unknown-fields": True,
                    }
                },
            }
        ],
    },
}


def eventually(check: Callable[[], T], *, timeout: float = 15.0, interval: float = 0.05) -> T:
    """``check()`` once it returns without an AssertionError, retried until ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return check()
        except AssertionError:
            if time.monotonic() > deadline:
                raise
        time.sleep(interval)


def serve_kubevirt(server: Any) -> None:
    """Make ``kubevirt.io/v1`` VirtualMachineInstances available on ``server``."""
    status, _ = server.request("GET", "/apis/kubevirt.io/v1")
    if status == 200:
        return
    server.apply(KUBEVIRT_CRD)

    def served() -> None:
        status, listing = server.request("GET", "/apis/kubevirt.io/v1")
        assert status == 200, listing
        assert any(r["name"] == "virtualmachineinstances" for r in listing["resources"])

    eventually(served, timeout=30)
