"""The RBAC authorizer, with kube-apiserver's matching rules, visiting order and wording.

Behaviour restated from kube's ``plugin/pkg/auth/authorizer/rbac`` and the rule resolver in
``pkg/registry/rbac/validation``:

* ClusterRoleBindings are visited first, then the RoleBindings of the request's namespace; the
  first rule that allows wins and the reason names the binding, its role and the first subject
  of that binding that matched (``RBAC: allowed by ClusterRoleBinding "b" of ClusterRole "r" to
  Group "g"``).
* Subjects: ``User`` by name, ``Group`` by membership, ``ServiceAccount`` by the user name
  ``system:serviceaccount:<ns>:<name>`` (a RoleBinding's namespace is the default namespace).
* A binding whose role is missing contributes a resolution error; if nothing allows, the
  answer is NoOpinion with reason ``RBAC: <aggregated errors>``.
* Verbs, API groups and resources match exactly or through ``*``; ``*/<sub>`` matches any
  resource's subresource ``<sub>``; ``<res>/*`` is not a wildcard (it only matches the literal
  subresource ``*``). A rule with ``resourceNames`` only matches those names (so never a
  nameless list or create). ``nonResourceURLs`` match exactly, or by prefix with a trailing ``*``.
* ClusterRoles with an ``aggregationRule`` get the union of the rules of the ClusterRoles their
  selectors match, sorted by name and de-duplicated, as kube's aggregation controller would
  have written them; they are computed when the index is built, not stored.

Indexes are rebuilt only when the store's revision moves; bindings are indexed by subject so a
decision never scans all bindings, and decisions themselves are memoised per revision.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .._goquote import quote
from ..identity import SERVICE_ACCOUNT_USER_PREFIX, Identity
from ..resolver import Attributes
from ..selectors import LabelRequirement, match_labels
from .base import (
    RBAC_GROUP,
    Decision,
    ListObjects,
    PolicyRule,
    Revision,
    RulesReview,
    aggregate_errors,
    change_key,
)

__all__ = [
    "RBACAuthorizer",
    "aggregated_rules",
    "api_group_matches",
    "label_selector_matcher",
    "non_resource_url_matches",
    "resource_matches",
    "resource_name_matches",
    "rule_allows",
    "rules_allow",
    "verb_matches",
]

_ALL = "*"


# --------------------------------------------------------------------------- rule matching


def verb_matches(rule: PolicyRule, verb: str) -> bool:
    """Exact or ``*``: ``impersonate-on:user-info:list`` is just a string, no partial wildcard."""
    return _ALL in rule.verbs or verb in rule.verbs


def api_group_matches(rule: PolicyRule, group: str) -> bool:
    return _ALL in rule.api_groups or group in rule.api_groups


def resource_matches(rule: PolicyRule, combined: str, subresource: str) -> bool:
    """``combined`` is ``resource[/subresource]``; ``*/<sub>`` matches any resource's ``<sub>``."""
    resources = rule.resources
    if _ALL in resources or combined in resources:
        return True
    return bool(subresource) and f"*/{subresource}" in resources


def resource_name_matches(rule: PolicyRule, name: str) -> bool:
    return not rule.resource_names or name in rule.resource_names


def non_resource_url_matches(rule: PolicyRule, path: str) -> bool:
    for url in rule.non_resource_urls:
        if url in (_ALL, path):
            return True
        if url.endswith(_ALL) and path.startswith(url.rstrip(_ALL)):
            return True
    return False


def rule_allows(attrs: Attributes, rule: PolicyRule) -> bool:
    """kube's ``RuleAllows``: does this one rule cover the request?"""
    if not verb_matches(rule, attrs.verb):
        return False
    if not attrs.resource_request:
        return non_resource_url_matches(rule, attrs.path)
    combined = f"{attrs.resource}/{attrs.subresource}" if attrs.subresource else attrs.resource
    return (
        api_group_matches(rule, attrs.api_group)
        and resource_matches(rule, combined, attrs.subresource)
        and resource_name_matches(rule, attrs.name)
    )


def rules_allow(attrs: Attributes, rules: Sequence[PolicyRule]) -> bool:
    return any(rule_allows(attrs, rule) for rule in rules)


# --------------------------------------------------------------------------- aggregation

_SELECTOR_OPERATORS = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!"}


def label_selector_matcher(selector: Any) -> Callable[[Mapping[str, str]], bool] | None:
    """A ``metav1.LabelSelector`` as a predicate on labels; None if it is malformed (kube's
    aggregation controller skips selectors it cannot convert). ``{}`` matches everything."""
    if not isinstance(selector, Mapping):
        return None
    requirements: list[LabelRequirement] = []
    match_labels_field = selector.get("matchLabels") or {}
    if not isinstance(match_labels_field, Mapping):
        return None
    for key, value in match_labels_field.items():
        if not isinstance(key, str) or not isinstance(value, str):
            return None
        requirements.append(LabelRequirement(key, "=", (value,)))
    expressions = selector.get("matchExpressions") or []
    if not isinstance(expressions, list):
        return None
    for expr in expressions:
        if not isinstance(expr, Mapping):
            return None
        key, operator = expr.get("key"), _SELECTOR_OPERATORS.get(str(expr.get("operator")))
        values = expr.get("values") or []
        if not isinstance(key, str) or operator is None or not isinstance(values, list):
            return None
        if (operator in ("in", "notin")) != bool(values):
            return None
        requirements.append(LabelRequirement(key, operator, tuple(str(v) for v in values)))
    return lambda labels: match_labels(requirements, labels)


def _labels(obj: Mapping[str, Any]) -> Mapping[str, str]:
    meta = obj.get("metadata")
    labels = meta.get("labels") if isinstance(meta, Mapping) else None
    if not isinstance(labels, Mapping):
        return {}
    return {str(k): str(v) for k, v in labels.items()}


def _name(obj: Mapping[str, Any]) -> str:
    meta = obj.get("metadata")
    return str(meta.get("name") or "") if isinstance(meta, Mapping) else ""


def _namespace(obj: Mapping[str, Any]) -> str:
    meta = obj.get("metadata")
    return str(meta.get("namespace") or "") if isinstance(meta, Mapping) else ""


class _ClusterRoles:
    """ClusterRoles by name, resolving aggregation on demand (memoised, cycle-safe)."""

    def __init__(self, objects: Sequence[Mapping[str, Any]]) -> None:
        self._objects: dict[str, Mapping[str, Any]] = {}
        for obj in objects:
            name = _name(obj)
            if name:
                self._objects[name] = obj
        self._resolved: dict[str, tuple[PolicyRule, ...]] = {}

    def __contains__(self, name: str) -> bool:
        return name in self._objects

    def rules(self, name: str, _visiting: frozenset[str] = frozenset()) -> tuple[PolicyRule, ...]:
        """The effective rules of an existing ClusterRole (aggregated ones computed)."""
        cached = self._resolved.get(name)
        if cached is not None:
            return cached
        obj = self._objects[name]
        aggregation = obj.get("aggregationRule")
        if aggregation is None:
            rules = PolicyRule.from_list(obj.get("rules"))
        else:
            rules = self._aggregate(name, aggregation, _visiting | {name})
        if not _visiting:
            self._resolved[name] = rules
        return rules

    def _aggregate(
        self, name: str, aggregation: Any, visiting: frozenset[str]
    ) -> tuple[PolicyRule, ...]:
        selectors = (
            aggregation.get("clusterRoleSelectors") if isinstance(aggregation, Mapping) else None
        )
        matchers = [label_selector_matcher(s) for s in selectors or ()]
        chosen: set[str] = set()
        for other, obj in self._objects.items():
            if other == name:
                continue
            labels = _labels(obj)
            if any(m is not None and m(labels) for m in matchers):
                chosen.add(other)
        out: list[PolicyRule] = []
        seen: set[PolicyRule] = set()
        for other in sorted(chosen):
            # A role already being aggregated on this path contributes through the outer call.
            sub = () if other in visiting else self.rules(other, visiting)
            for rule in sub:
                if rule not in seen:
                    seen.add(rule)
                    out.append(rule)
        return tuple(out)


def aggregated_rules(
    cluster_role: Mapping[str, Any], all_cluster_roles: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """The ``rules`` kube's aggregation controller would write into ``cluster_role`` (its own
    rules if it has no ``aggregationRule``). For the REST layer and the bootstrap seed."""
    roles = _ClusterRoles([*all_cluster_roles, cluster_role])
    return [rule.to_dict() for rule in roles.rules(_name(cluster_role))]


# --------------------------------------------------------------------------- bindings


@dataclass(frozen=True, slots=True)
class _Subject:
    kind: str
    name: str
    namespace: str

    def describe(self, binding_namespace: str) -> str:
        """kube's ``describeSubject``: service accounts as ``name/namespace``."""
        if self.kind == "ServiceAccount":
            return f"{self.kind} {quote(self.name + '/' + (self.namespace or binding_namespace))}"
        return f"{self.kind} {quote(self.name)}"


@dataclass(frozen=True, slots=True)
class _Binding:
    namespace: str  # "" for a ClusterRoleBinding
    name: str
    role_kind: str
    role_name: str
    subjects: tuple[_Subject, ...]

    @classmethod
    def from_object(cls, obj: Mapping[str, Any], namespaced: bool) -> _Binding:
        ref = obj.get("roleRef")
        ref = ref if isinstance(ref, Mapping) else {}
        subjects = []
        for raw in obj.get("subjects") or ():
            if isinstance(raw, Mapping):
                subjects.append(
                    _Subject(
                        str(raw.get("kind") or ""),
                        str(raw.get("name") or ""),
                        str(raw.get("namespace") or ""),
                    )
                )
        return cls(
            namespace=_namespace(obj) if namespaced else "",
            name=_name(obj),
            role_kind=str(ref.get("kind") or ""),
            role_name=str(ref.get("name") or ""),
            subjects=tuple(subjects),
        )

    def describe(self, subject_index: int) -> str:
        subject = self.subjects[subject_index].describe(self.namespace)
        if self.namespace:
            head = f"RoleBinding {quote(self.name + '/' + self.namespace)}"
        else:
            head = f"ClusterRoleBinding {quote(self.name)}"
        return f"{head} of {self.role_kind} {quote(self.role_name)} to {subject}"

    def subject_keys(self) -> Iterator[tuple[str, str, int]]:
        """``("user"|"group", key, index)`` for the first subject matching each key. Service
        accounts are keyed by their user name, as kube compares them."""
        seen: set[tuple[str, str]] = set()
        for index, subject in enumerate(self.subjects):
            if subject.kind == "User":
                key = ("user", subject.name)
            elif subject.kind == "Group":
                key = ("group", subject.name)
            elif subject.kind == "ServiceAccount":
                namespace = subject.namespace or self.namespace
                if not namespace:
                    continue
                key = ("user", f"{SERVICE_ACCOUNT_USER_PREFIX}{namespace}:{subject.name}")
            else:
                continue
            if key not in seen:
                seen.add(key)
                yield key[0], key[1], index


class _BindingSet:
    """Bindings of one scope (all ClusterRoleBindings, or one namespace's RoleBindings),
    indexed by user name and by group."""

    def __init__(self) -> None:
        self.bindings: list[_Binding] = []
        self.by_user: dict[str, list[tuple[int, int]]] = {}
        self.by_group: dict[str, list[tuple[int, int]]] = {}

    def add(self, binding: _Binding) -> None:
        position = len(self.bindings)
        self.bindings.append(binding)
        for kind, key, subject_index in binding.subject_keys():
            index = self.by_user if kind == "user" else self.by_group
            index.setdefault(key, []).append((position, subject_index))

    def applicable(self, user: Identity) -> list[tuple[_Binding, int]]:
        """Bindings that apply to ``user`` in list order, with the first matching subject."""
        found: dict[int, int] = {}
        hits = [self.by_user.get(user.user, ())]
        hits.extend(self.by_group.get(group, ()) for group in user.groups)
        for entries in hits:
            for position, subject_index in entries:
                if found.get(position, subject_index) >= subject_index:
                    found[position] = subject_index
        return [(self.bindings[p], found[p]) for p in sorted(found)]


class _Index:
    """Everything RBAC needs from one revision of the store."""

    def __init__(self, list_objects: ListObjects) -> None:
        self.cluster_roles = _ClusterRoles(list_objects(RBAC_GROUP, "clusterroles"))
        self.roles: dict[tuple[str, str], tuple[PolicyRule, ...]] = {}
        for obj in list_objects(RBAC_GROUP, "roles"):
            self.roles[(_namespace(obj), _name(obj))] = PolicyRule.from_list(obj.get("rules"))
        self.cluster_bindings = _BindingSet()
        for obj in list_objects(RBAC_GROUP, "clusterrolebindings"):
            self.cluster_bindings.add(_Binding.from_object(obj, namespaced=False))
        self.namespace_bindings: dict[str, _BindingSet] = {}
        for obj in list_objects(RBAC_GROUP, "rolebindings"):
            binding = _Binding.from_object(obj, namespaced=True)
            self.namespace_bindings.setdefault(binding.namespace, _BindingSet()).add(binding)

    def role_rules(self, binding: _Binding) -> tuple[tuple[PolicyRule, ...], str]:
        """The rules a binding grants, or the resolution error kube would report."""
        if binding.role_kind == "ClusterRole":
            if binding.role_name in self.cluster_roles:
                return self.cluster_roles.rules(binding.role_name), ""
            return (), f"clusterrole.{RBAC_GROUP} {quote(binding.role_name)} not found"
        if binding.role_kind == "Role":
            rules = self.roles.get((binding.namespace, binding.role_name))
            if rules is not None:
                return rules, ""
            return (), f"role.{RBAC_GROUP} {quote(binding.role_name)} not found"
        return (), f"unsupported role reference kind: {quote(binding.role_kind)}"

    def reference_rules(
        self, kind: str, name: str, namespace: str
    ) -> tuple[PolicyRule, ...] | None:
        """The rules of a role reference (aggregated ClusterRoles resolved), None if it names
        no existing role (a Role needs the binding's namespace)."""
        if kind == "ClusterRole":
            return self.cluster_roles.rules(name) if name in self.cluster_roles else None
        if kind == "Role" and namespace:
            return self.roles.get((namespace, name))
        return None

    def visit(self, user: Identity, namespace: str) -> Iterator[tuple[_Binding, int, str]]:
        """Applicable bindings in kube's order: cluster-wide first, then the namespace's."""
        for binding, subject_index in self.cluster_bindings.applicable(user):
            yield binding, subject_index, ""
        if namespace:
            bindings = self.namespace_bindings.get(namespace)
            if bindings is not None:
                for binding, subject_index in bindings.applicable(user):
                    yield binding, subject_index, namespace

    def authorize(self, attrs: Attributes) -> tuple[Decision, str]:
        errors: list[str] = []
        for binding, subject_index, _ in self.visit(attrs.user, attrs.namespace):
            rules, error = self.role_rules(binding)
            if error:
                errors.append(error)
                continue
            for rule in rules:
                if rule_allows(attrs, rule):
                    return Decision.ALLOW, f"RBAC: allowed by {binding.describe(subject_index)}"
        if errors:
            return Decision.NO_OPINION, f"RBAC: {aggregate_errors(errors)}"
        return Decision.NO_OPINION, ""

    def rules_for(self, user: Identity, namespace: str) -> RulesReview:
        rules: list[PolicyRule] = []
        errors: list[str] = []
        for binding, _, _ in self.visit(user, namespace):
            found, error = self.role_rules(binding)
            if error:
                errors.append(error)
            rules.extend(found)
        # kube aggregates RBAC's errors into one error value before the union sees it.
        aggregated = (aggregate_errors(errors),) if errors else ()
        return RulesReview.from_policy_rules(rules, aggregated)


class RBACAuthorizer:
    """Role-based access control over the store's Roles, ClusterRoles and their bindings."""

    def __init__(
        self, list_objects: ListObjects, revision: Revision, cache_size: int = 16384
    ) -> None:
        self._list_objects = list_objects
        self._revision = change_key(
            revision,
            [
                (RBAC_GROUP, r)
                for r in ("clusterroles", "roles", "clusterrolebindings", "rolebindings")
            ],
        )
        self._cache_size = cache_size
        self._lock = threading.Lock()
        self._built_at: Hashable = None
        # The index and the decisions memoised from it are swapped together.
        self._state: tuple[_Index, dict[Attributes, tuple[Decision, str]]] | None = None

    def _current(self) -> tuple[_Index, dict[Attributes, tuple[Decision, str]]]:
        revision = self._revision()
        state = self._state
        if state is not None and revision == self._built_at:
            return state
        with self._lock:
            if self._state is None or revision != self._built_at:
                self._state = (_Index(self._list_objects), {})
                self._built_at = revision
            return self._state

    def authorize(self, attrs: Attributes) -> tuple[Decision, str]:
        index, decisions = self._current()
        cached = decisions.get(attrs)
        if cached is not None:
            return cached
        result = index.authorize(attrs)
        if len(decisions) >= self._cache_size:
            decisions.clear()
        decisions[attrs] = result
        return result

    def rules_for(self, user: Identity, namespace: str) -> RulesReview:
        return self._current()[0].rules_for(user, namespace)

    def role_references(self, user: Identity, namespace: str) -> list[tuple[str, str, str]]:
        """``(role kind, role name, binding namespace)`` of every binding that applies to
        ``user`` in ``namespace``, in kube's order (cluster bindings first)."""
        return [
            (binding.role_kind, binding.role_name, binding.namespace)
            for binding, _, _ in self._current()[0].visit(user, namespace)
        ]

    def reference_rules(
        self, kind: str, name: str, namespace: str
    ) -> tuple[PolicyRule, ...] | None:
        """The rules a role reference grants in ``namespace``, None if it resolves to no role."""
        return self._current()[0].reference_rules(kind, name, namespace)
