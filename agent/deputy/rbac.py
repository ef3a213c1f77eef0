"""The deputy's RBAC, rendered from the same scope rule the deputy's sessions use.

``deploy/deputy/rbac.yaml`` is this module's output for the default flags
(``cimp-deputy --print-rbac``); a test keeps the two equal, so the committed grants cannot drift
from what the code needs.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import yaml

from constrained_impersonation import Scope, rbac

from .config import DEFAULT_FORWARD_EXTRA, DEFAULT_SERVICE_ACCOUNT
from .console import console_rule

__all__ = ["NAME", "manifests", "render_yaml"]

NAME = "cimp-deputy"
_LABELS = {"app.kubernetes.io/name": NAME, "app.kubernetes.io/part-of": "constrained-impersonation"}

HEADER = """\
# The deputy's RBAC, and nothing else (generated: cimp-deputy --print-rbac > rbac.yaml;
# tests/deputy checks this file equals what that prints).
# - create tokenreviews: authenticate the end user's bearer token. A dedicated role rather
#   than system:auth-delegator, which also grants create on subjectaccessreviews.
# - impersonate:user-info on users, uids, groups and userextras/<each forwarded key>: WHO
#   the deputy may act as (any ordinary user; add a key here only with --forward-extra).
# - impersonate-on:user-info:get on virtualmachineinstances/console: WHAT it may do while
#   acting as them. The user still needs get on that subresource; the API server decides.
"""


def manifests(
    service_account: str = DEFAULT_SERVICE_ACCOUNT,
    forward_extra: Iterable[str] = DEFAULT_FORWARD_EXTRA,
    namespaces: Iterable[str] | None = None,
) -> list[dict[str, Any]]:
    """ClusterRoles/Roles and bindings for a deputy with these flags (namespaced Roles for the
    console when it serves only some namespaces)."""
    namespace, _, name = service_account.partition("/")
    if not namespace or not name:
        raise ValueError(f"--service-account must be NAMESPACE/NAME, got {service_account!r}")
    subject = {"kind": "ServiceAccount", "name": name, "namespace": namespace}
    review_name = f"{NAME}:tokenreview"
    docs: list[dict[str, Any]] = [
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": review_name, "labels": dict(_LABELS)},
            "rules": [
                {
                    "apiGroups": ["authentication.k8s.io"],
                    "resources": ["tokenreviews"],
                    "verbs": ["create"],
                }
            ],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": review_name, "labels": dict(_LABELS)},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": review_name,
            },
            "subjects": [subject],
        },
    ]
    scope = Scope(console_rule(namespaces))
    docs += rbac.render(
        scope,
        "user-info",
        service_account,
        uids=True,
        groups=True,
        extra=list(forward_extra),
        name=NAME,
    )
    return docs


def render_yaml(
    service_account: str = DEFAULT_SERVICE_ACCOUNT,
    forward_extra: Iterable[str] = DEFAULT_FORWARD_EXTRA,
    namespaces: Iterable[str] | None = None,
) -> str:
    """:func:`manifests` as the multi-document YAML committed in ``deploy/deputy/rbac.yaml``."""
    body = yaml.safe_dump_all(
        manifests(service_account, forward_extra, namespaces), sort_keys=False
    )
    return HEADER + "---\n" + body
