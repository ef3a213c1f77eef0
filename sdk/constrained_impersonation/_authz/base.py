"""Shared vocabulary of the authorizers: decisions, policy rules, rule reviews, data sources.

Kept apart from the authorizers so that the impersonation filter, the authorization filter and
the review endpoints can depend on the types without importing RBAC or the Node graph.
"""

from __future__ import annotations

import enum
import inspect
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from ..identity import Identity
from ..resolver import Attributes

__all__ = [
    "RBAC_GROUP",
    "Authorizer",
    "Decision",
    "ListObjects",
    "PolicyRule",
    "Revision",
    "RulesReview",
    "aggregate_errors",
    "change_key",
]

RBAC_GROUP = "rbac.authorization.k8s.io"

# ``list_objects(group, plural)``: every stored object of that resource, all namespaces, as JSON.
ListObjects = Callable[[str, str], "list[dict[str, Any]]"]
# ``revision()``: a number that changes whenever any stored object changed. A store may also
# answer ``revision(group, resource)`` for one resource; indexes then follow only theirs.
Revision = Callable[..., int]


def change_key(revision: Revision, resources: Sequence[tuple[str, str]]) -> Callable[[], Hashable]:
    """What an index built from ``resources`` must compare to know it is stale.

    With a store that reports per-resource revisions, a pod write does not invalidate the RBAC
    index (nor a role write the node graph); otherwise any change does.
    """
    try:
        parameters = inspect.signature(revision).parameters.values()
    except (TypeError, ValueError):
        return revision
    positional = [
        p
        for p in parameters
        if p.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    ]
    if len(positional) < 2:
        return revision
    keys = tuple(resources)
    return lambda: tuple(revision(group, resource) for group, resource in keys)


class Decision(enum.Enum):
    """kube's ``authorizer.Decision``: only ALLOW lets a request through; DENY stops the chain."""

    ALLOW = "allow"
    DENY = "deny"
    NO_OPINION = "no-opinion"


def _strings(value: Any) -> tuple[str, ...]:
    """A JSON list of strings as a tuple; anything else (null, wrong type) as empty."""
    if not isinstance(value, list | tuple):
        return ()
    return tuple(item for item in value if isinstance(item, str))


@dataclass(frozen=True, slots=True)
class PolicyRule:
    """One ``rbacv1.PolicyRule``, immutable so that resolved rule lists can be cached and shared."""

    verbs: tuple[str, ...] = ()
    api_groups: tuple[str, ...] = ()
    resources: tuple[str, ...] = ()
    resource_names: tuple[str, ...] = ()
    non_resource_urls: tuple[str, ...] = ()

    @classmethod
    def from_dict(cls, rule: Mapping[str, Any]) -> PolicyRule:
        """Read a rule from its JSON form, ignoring malformed fields rather than failing."""
        return cls(
            verbs=_strings(rule.get("verbs")),
            api_groups=_strings(rule.get("apiGroups")),
            resources=_strings(rule.get("resources")),
            resource_names=_strings(rule.get("resourceNames")),
            non_resource_urls=_strings(rule.get("nonResourceURLs")),
        )

    @classmethod
    def from_list(cls, rules: Any) -> tuple[PolicyRule, ...]:
        if not isinstance(rules, list | tuple):
            return ()
        return tuple(cls.from_dict(rule) for rule in rules if isinstance(rule, Mapping))

    def to_dict(self) -> dict[str, Any]:
        """The JSON form, with kube's ``omitempty`` (``verbs`` is always written)."""
        out = self.resource_rule()
        if self.non_resource_urls:
            out["nonResourceURLs"] = list(self.non_resource_urls)
        return out

    def resource_rule(self) -> dict[str, Any]:
        """``authorizationv1.ResourceRule`` as SelfSubjectRulesReview reports it."""
        out: dict[str, Any] = {"verbs": list(self.verbs)}
        if self.api_groups:
            out["apiGroups"] = list(self.api_groups)
        if self.resources:
            out["resources"] = list(self.resources)
        if self.resource_names:
            out["resourceNames"] = list(self.resource_names)
        return out

    def non_resource_rule(self) -> dict[str, Any]:
        """``authorizationv1.NonResourceRule`` as SelfSubjectRulesReview reports it."""
        out: dict[str, Any] = {"verbs": list(self.verbs)}
        if self.non_resource_urls:
            out["nonResourceURLs"] = list(self.non_resource_urls)
        return out


def aggregate_errors(errors: Iterable[str]) -> str:
    """Format errors as ``utilerrors.NewAggregate`` does: one as-is, several de-duplicated in
    ``[a, b]``. Reasons and evaluation errors in kube's messages use this shape."""
    unique: list[str] = []
    for err in errors:
        if err not in unique:
            unique.append(err)
    if not unique:
        return ""
    if len(unique) == 1:
        return unique[0]
    return "[" + ", ".join(unique) + "]"


@dataclass(frozen=True)
class RulesReview:
    """What an authorizer can enumerate for a user in a namespace (``RuleResolver.RulesFor``).

    ``incomplete`` says some authorizer cannot enumerate its rules (the Node authorizer for
    nodes); ``errors`` become the SelfSubjectRulesReview's ``evaluationError``.
    """

    resource_rules: tuple[PolicyRule, ...] = ()
    non_resource_rules: tuple[PolicyRule, ...] = ()
    incomplete: bool = False
    errors: tuple[str, ...] = ()

    @property
    def evaluation_error(self) -> str:
        return aggregate_errors(self.errors)

    @classmethod
    def from_policy_rules(
        cls, rules: Sequence[PolicyRule], errors: Sequence[str] = (), incomplete: bool = False
    ) -> RulesReview:
        """Split policy rules as kube's RBAC ``RulesFor`` does: a rule with resources is a
        resource rule, one with URLs a non-resource rule (a rule with both counts twice)."""
        return cls(
            resource_rules=tuple(r for r in rules if r.resources),
            non_resource_rules=tuple(r for r in rules if r.non_resource_urls),
            incomplete=incomplete,
            errors=tuple(errors),
        )

    def merged(self, other: RulesReview) -> RulesReview:
        return RulesReview(
            resource_rules=self.resource_rules + other.resource_rules,
            non_resource_rules=self.non_resource_rules + other.non_resource_rules,
            incomplete=self.incomplete or other.incomplete,
            errors=self.errors + other.errors,
        )


class Authorizer(Protocol):
    """kube's ``authorizer.Authorizer`` plus ``RuleResolver``, minus the Go error value (our
    authorizers have no evaluation errors: failures to resolve roles are reasons)."""

    def authorize(self, attrs: Attributes) -> tuple[Decision, str]: ...

    def rules_for(self, user: Identity, namespace: str) -> RulesReview: ...
