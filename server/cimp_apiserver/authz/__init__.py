"""Authorization of the embedded API server: kube-apiserver's ``Node,RBAC`` chain.

``new_authorizer(list_objects, revision)`` builds the chain the server uses (``system:masters``,
then the Node authorizer, then RBAC); ``bootstrap_objects()`` is the default policy the server
seeds. Every authorizer answers ``authorize(attrs) -> (Decision, reason)`` and
``rules_for(user, namespace) -> RulesReview``.
"""

from __future__ import annotations

from constrained_impersonation._authz.base import (
    RBAC_GROUP,
    Authorizer,
    Decision,
    ListObjects,
    PolicyRule,
    Revision,
    RulesReview,
    aggregate_errors,
)
from constrained_impersonation._authz.rbac import (
    RBACAuthorizer,
    aggregated_rules,
    rule_allows,
    rules_allow,
)

from .bootstrap import NODE_RULES, bootstrap_objects
from .node import NodeAuthorizer, node_identity
from .union import PrivilegedGroupAuthorizer, UnionAuthorizer, new_authorizer

__all__ = [
    "NODE_RULES",
    "RBAC_GROUP",
    "Authorizer",
    "Decision",
    "ListObjects",
    "NodeAuthorizer",
    "PolicyRule",
    "PrivilegedGroupAuthorizer",
    "RBACAuthorizer",
    "Revision",
    "RulesReview",
    "UnionAuthorizer",
    "aggregate_errors",
    "aggregated_rules",
    "bootstrap_objects",
    "new_authorizer",
    "node_identity",
    "rule_allows",
    "rules_allow",
]
