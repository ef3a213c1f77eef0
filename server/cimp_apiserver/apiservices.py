"""The local APIServices kube-apiserver registers at start, one per built-in group version.

kube's autoregistration controller writes ``<version>.<group>`` (``v1.`` for the core API)
with the group's and version's priorities from kube-apiserver's table, labelled
``kube-aggregator.kubernetes.io/automanaged: onstart`` and always ``Available`` (``Local``).
Their existence matters beyond listings: a user allowed to *create* APIServices but not to
update them cannot point a built-in group version at a service of theirs (kube answers
AlreadyExists); without them here, such a user could take TokenReviews or RBAC away.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .storage import now_rfc3339

__all__ = ["local_api_services"]

# (group, version) → (groupPriorityMinimum, versionPriority), from kube-apiserver v1.37.2's
# tables (pkg/controlplane/apiserver/aggregator.go and cmd/kube-apiserver/app/aggregator.go);
# a served group version missing here gets no APIService, as in kube.
_PRIORITIES: dict[tuple[str, str], tuple[int, int]] = {
    ("", "v1"): (18000, 1),
    ("events.k8s.io", "v1"): (17750, 15),
    ("events.k8s.io", "v1beta1"): (17750, 5),
    ("apps", "v1"): (17800, 15),
    ("authentication.k8s.io", "v1"): (17700, 15),
    ("authentication.k8s.io", "v1beta1"): (17700, 9),
    ("authentication.k8s.io", "v1alpha1"): (17700, 1),
    ("authorization.k8s.io", "v1"): (17600, 15),
    ("autoscaling", "v1"): (17500, 15),
    ("autoscaling", "v2"): (17500, 30),
    ("autoscaling", "v2beta1"): (17500, 9),
    ("autoscaling", "v2beta2"): (17500, 1),
    ("batch", "v1"): (17400, 15),
    ("batch", "v1beta1"): (17400, 9),
    ("batch", "v2alpha1"): (17400, 9),
    ("certificates.k8s.io", "v1"): (17300, 15),
    ("certificates.k8s.io", "v1beta1"): (17300, 9),
    ("certificates.k8s.io", "v1alpha1"): (17300, 1),
    ("networking.k8s.io", "v1"): (17200, 15),
    ("networking.k8s.io", "v1beta1"): (17200, 9),
    ("policy", "v1"): (17100, 15),
    ("policy", "v1beta1"): (17100, 9),
    ("rbac.authorization.k8s.io", "v1"): (17000, 15),
    ("storage.k8s.io", "v1"): (16800, 15),
    ("storage.k8s.io", "v1beta1"): (16800, 9),
    ("storage.k8s.io", "v1alpha1"): (16800, 1),
    ("apiextensions.k8s.io", "v1"): (16700, 15),
    ("admissionregistration.k8s.io", "v1"): (16700, 15),
    ("admissionregistration.k8s.io", "v1beta1"): (16700, 12),
    ("admissionregistration.k8s.io", "v1alpha1"): (16700, 9),
    ("scheduling.k8s.io", "v1"): (16600, 15),
    ("scheduling.k8s.io", "v1beta1"): (16600, 9),
    ("scheduling.k8s.io", "v1alpha3"): (16600, 3),
    ("coordination.k8s.io", "v1"): (16500, 15),
    ("coordination.k8s.io", "v1beta1"): (16500, 13),
    ("coordination.k8s.io", "v1alpha2"): (16500, 12),
    ("node.k8s.io", "v1"): (16300, 15),
    ("node.k8s.io", "v1beta1"): (16300, 9),
    ("node.k8s.io", "v1alpha1"): (16300, 1),
    ("discovery.k8s.io", "v1"): (16200, 15),
    ("discovery.k8s.io", "v1beta1"): (16200, 12),
    ("resource.k8s.io", "v1"): (16200, 21),
    ("resource.k8s.io", "v1beta2"): (16200, 15),
    ("resource.k8s.io", "v1beta1"): (16200, 9),
    ("resource.k8s.io", "v1alpha3"): (16200, 1),
    ("flowcontrol.apiserver.k8s.io", "v1"): (16100, 21),
    ("flowcontrol.apiserver.k8s.io", "v1beta3"): (16100, 18),
    ("flowcontrol.apiserver.k8s.io", "v1beta2"): (16100, 15),
    ("flowcontrol.apiserver.k8s.io", "v1beta1"): (16100, 12),
    ("flowcontrol.apiserver.k8s.io", "v1alpha1"): (16100, 9),
    ("internal.apiserver.k8s.io", "v1alpha1"): (16000, 9),
    ("storagemigration.k8s.io", "v1"): (15800, 15),
    ("storagemigration.k8s.io", "v1beta1"): (15800, 9),
    ("lifecycle.k8s.io", "v1alpha1"): (15700, 1),
}


def local_api_services(groups: Iterable[tuple[str, Iterable[str]]]) -> list[dict[str, Any]]:
    """The APIServices of the served ``(group, versions)`` kube registers at start."""
    out = []
    now = now_rfc3339()
    for group, versions in groups:
        for version in versions:
            priority = _PRIORITIES.get((group, version))
            if priority is None:
                continue
            spec: dict[str, Any] = {"group": group} if group else {}
            spec.update(
                version=version, groupPriorityMinimum=priority[0], versionPriority=priority[1]
            )
            out.append(
                {
                    "kind": "APIService",
                    "apiVersion": "apiregistration.k8s.io/v1",
                    "metadata": {
                        "name": f"{version}.{group}",
                        "labels": {"kube-aggregator.kubernetes.io/automanaged": "onstart"},
                    },
                    "spec": spec,
                    "status": {
                        "conditions": [
                            {
                                "type": "Available",
                                "status": "True",
                                "lastTransitionTime": now,
                                "reason": "Local",
                                "message": "Local APIServices are always available",
                            }
                        ]
                    },
                }
            )
    return out
