"""The authorizer chain of kube-apiserver ``--authorization-mode=Node,RBAC``.

kube-apiserver always puts the ``system:masters`` authorizer first, then the configured modes.
The union returns the first ALLOW or DENY unchanged; when every authorizer has no opinion it
returns NoOpinion with the reasons of all of them, each prefixed with its authorizer's name and
joined by newlines (k8s.io/apiserver's named union, docs/semantics.md#errors). The
403 message appends that text after ``: ``.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from constrained_impersonation._authz.base import (
    Authorizer,
    Decision,
    ListObjects,
    Revision,
    RulesReview,
)
from constrained_impersonation._authz.rbac import RBACAuthorizer
from constrained_impersonation.identity import SYSTEM_MASTERS, Identity
from constrained_impersonation.resolver import Attributes

from .node import NodeAuthorizer

__all__ = [
    "NODE_AUTHORIZER_NAME",
    "PRIVILEGED_GROUP_AUTHORIZER_NAME",
    "RBAC_AUTHORIZER_NAME",
    "PrivilegedGroupAuthorizer",
    "UnionAuthorizer",
    "new_authorizer",
]

PRIVILEGED_GROUP_AUTHORIZER_NAME = "system-privileged-group.authorizer.kubernetes.io"
NODE_AUTHORIZER_NAME = "node"
RBAC_AUTHORIZER_NAME = "rbac"


class PrivilegedGroupAuthorizer:
    """Allows everything to members of the given groups (``system:masters``), with no reason.

    It enumerates no rules: kube does not register it as a rule resolver, so a superuser's
    SelfSubjectRulesReview shows only what RBAC grants.
    """

    def __init__(self, groups: Collection[str] = (SYSTEM_MASTERS,)) -> None:
        self._groups = frozenset(groups)

    def authorize(self, attrs: Attributes) -> tuple[Decision, str]:
        if not self._groups.isdisjoint(attrs.user.groups):
            return Decision.ALLOW, ""
        return Decision.NO_OPINION, ""

    def rules_for(self, user: Identity, namespace: str) -> RulesReview:
        return RulesReview()


class UnionAuthorizer:
    """First ALLOW or DENY wins; NoOpinion falls through and its reason is collected."""

    def __init__(
        self, chain: Sequence[tuple[str, Authorizer]], prefix_reasons: bool = True
    ) -> None:
        names = [name for name, _ in chain]
        if any(not name for name in names) or len(set(names)) != len(names):
            raise ValueError("authorizer names must be unique and non-empty")
        self._chain = tuple(chain)
        self._prefix = prefix_reasons

    @property
    def chain(self) -> tuple[tuple[str, Authorizer], ...]:
        return self._chain

    def authorize(self, attrs: Attributes) -> tuple[Decision, str]:
        reasons: list[str] = []
        for name, authorizer in self._chain:
            decision, reason = authorizer.authorize(attrs)
            if decision is not Decision.NO_OPINION:
                return decision, reason
            if reason:
                reasons.append(f"{name}: {reason}" if self._prefix else reason)
        return Decision.NO_OPINION, "\n".join(reasons)

    def rules_for(self, user: Identity, namespace: str) -> RulesReview:
        review = RulesReview()
        for _, authorizer in self._chain:
            review = review.merged(authorizer.rules_for(user, namespace))
        return review


def new_authorizer(list_objects: ListObjects, revision: Revision) -> UnionAuthorizer:
    """kube-apiserver's default chain: privileged groups, then Node, then RBAC."""
    return UnionAuthorizer(
        [
            (PRIVILEGED_GROUP_AUTHORIZER_NAME, PrivilegedGroupAuthorizer()),
            (NODE_AUTHORIZER_NAME, NodeAuthorizer(list_objects, revision)),
            (RBAC_AUTHORIZER_NAME, RBACAuthorizer(list_objects, revision)),
        ]
    )
