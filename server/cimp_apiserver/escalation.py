"""RBAC escalation prevention: nobody grants through RBAC what they do not hold themselves.

Restates kube's ``pkg/registry/rbac`` policy-based storage for Roles, ClusterRoles and their
bindings (it runs where kube runs it: after mutating admission, before validation):

* ``system:masters`` may write anything (``EscalationAllowed``);
* a Role or ClusterRole is written by whoever may ``escalate`` it, or holds every rule it
  grants (``ConfirmNoEscalation``: the writer's own RBAC rules in the request's namespace
  must cover each rule broken down to one verb, resource and name); an ``aggregationRule``
  needs full authority (``*`` on everything and every URL);
* a binding is written by whoever may ``bind`` its role, or holds every rule of that role
  (which must then exist);
* an update that changes only what the garbage collector changes (owner references,
  finalizers) is never checked.

The refusal names the rules not held in kube's compact form, sorted, so a test passing here
passes against kube-apiserver.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from constrained_impersonation._authz.base import RBAC_GROUP, Decision, PolicyRule, aggregate_errors
from constrained_impersonation._authz.rbac import RBACAuthorizer
from constrained_impersonation.identity import SYSTEM_MASTERS, Identity
from constrained_impersonation.resolver import Attributes, RequestInfo

from .admission import AuthorizeFn
from .hooks import Admission
from .status import StatusError, bad_request, forbidden_object, internal_error, not_found, quote

__all__ = ["RBACEscalation", "covers", "describe_missing"]

_ROLES = frozenset({"roles", "clusterroles"})
_BINDINGS = {"rolebindings": "RoleBinding", "clusterrolebindings": "ClusterRoleBinding"}
_FULL_AUTHORITY = (
    PolicyRule(verbs=("*",), api_groups=("*",), resources=("*",)),
    PolicyRule(verbs=("*",), non_resource_urls=("*",)),
)
# Metadata the garbage collector changes; updates touching only these are never checked.
_GC_FIELDS = ("ownerReferences", "finalizers", "selfLink", "managedFields")


# --------------------------------------------------------------------------- covering rules


def _breakdown(rule: PolicyRule) -> list[PolicyRule]:
    """One rule per group, resource, verb (and name); one per URL and verb."""
    out: list[PolicyRule] = []
    for group in rule.api_groups:
        for resource in rule.resources:
            for verb in rule.verbs:
                one = PolicyRule(verbs=(verb,), api_groups=(group,), resources=(resource,))
                if not rule.resource_names:
                    out.append(one)
                for name in rule.resource_names:
                    out.append(replace(one, resource_names=(name,)))
    for url in rule.non_resource_urls:
        for verb in rule.verbs:
            out.append(PolicyRule(verbs=(verb,), non_resource_urls=(url,)))
    return out


def _resources_covered(owned: Sequence[str], wanted: Sequence[str]) -> bool:
    if "*" in owned or all(r in owned for r in wanted):
        return True
    for path in wanted:
        if path in owned:
            continue
        if "/" not in path:
            return False
        if "*/" + path.split("/", 1)[1] not in owned:
            return False
    return True


def _url_covered(owner: str, path: str) -> bool:
    return owner == path or (owner.endswith("*") and path.startswith(owner.rstrip("*")))


def _rule_covers(owner: PolicyRule, sub: PolicyRule) -> bool:
    """kube's ``ruleCovers``: ``sub`` has at most one verb, resource and name."""
    names = not owner.resource_names or (
        bool(sub.resource_names) and all(n in owner.resource_names for n in sub.resource_names)
    )
    urls = all(
        any(_url_covered(o, p) for o in owner.non_resource_urls) for p in sub.non_resource_urls
    )
    return (
        ("*" in owner.verbs or all(v in owner.verbs for v in sub.verbs))
        and ("*" in owner.api_groups or all(g in owner.api_groups for g in sub.api_groups))
        and _resources_covered(owner.resources, sub.resources)
        and urls
        and names
    )


def covers(owner: Sequence[PolicyRule], servant: Sequence[PolicyRule]) -> list[PolicyRule]:
    """The broken-down servant rules no owner rule covers (empty: the owner holds them all)."""
    return [
        sub
        for rule in servant
        for sub in _breakdown(rule)
        if not any(_rule_covers(o, sub) for o in owner)
    ]


def _go_strings(values: Sequence[str]) -> str:
    """Go's ``%q`` of a ``[]string``."""
    return "[" + " ".join(quote(v) for v in values) + "]"


def _compact_string(rule: PolicyRule) -> str:
    parts = []
    for label, values in (
        ("APIGroups", rule.api_groups),
        ("Resources", rule.resources),
        ("NonResourceURLs", rule.non_resource_urls),
        ("ResourceNames", rule.resource_names),
        ("Verbs", rule.verbs),
    ):
        if values:
            parts.append(f"{label}:{_go_strings(values)}")
    return "{" + ", ".join(parts) + "}"


def describe_missing(missing: Sequence[PolicyRule]) -> list[str]:
    """kube's listing of missing rules: one-verb rules of the same group, resource and name
    merged, each in compact form, de-duplicated and sorted."""
    compacted: list[PolicyRule] = []
    simple: dict[tuple[str, str, bool, str], list[str]] = {}
    for rule in missing:
        if (
            len(rule.resource_names) <= 1
            and not rule.non_resource_urls
            and len(rule.api_groups) == 1
            and len(rule.resources) == 1
        ):
            key = (
                rule.api_groups[0],
                rule.resources[0],
                bool(rule.resource_names),
                rule.resource_names[0] if rule.resource_names else "",
            )
            simple.setdefault(key, []).extend(rule.verbs)
        else:
            compacted.append(rule)
    for (group, resource, named, name), verbs in simple.items():
        compacted.append(
            PolicyRule(
                verbs=tuple(verbs),
                api_groups=(group,),
                resources=(resource,),
                resource_names=(name,) if named else (),
            )
        )
    return sorted({_compact_string(rule) for rule in compacted})


# --------------------------------------------------------------------------- the check


def _normalized(value: Any) -> Any:
    """JSON with Go's zero values dropped, so that semantic equality treats a missing field,
    ``null``, ``""``, ``[]`` and ``{}`` alike."""
    if isinstance(value, dict):
        out = {k: _normalized(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if v not in (None, "", [], {})}
    if isinstance(value, list):
        return [_normalized(v) for v in value]
    return value


def _only_gc_fields_change(new: dict[str, Any], old: dict[str, Any] | None) -> bool:
    """kube's ``IsOnlyMutatingGCFields``."""
    if old is None:
        return False
    probe = copy.deepcopy(new)
    meta = probe.setdefault("metadata", {})
    old_meta = old.get("metadata") or {}
    for field in _GC_FIELDS:
        if field in old_meta:
            meta[field] = copy.deepcopy(old_meta[field])
        else:
            meta.pop(field, None)
    return bool(_normalized(probe) == _normalized(old))


def _has_aggregation_rule(obj: dict[str, Any] | None) -> bool:
    rule = (obj or {}).get("aggregationRule")
    return isinstance(rule, dict) and bool(rule.get("clusterRoleSelectors"))


class RBACEscalation:
    """Admission hook refusing RBAC writes that would grant more than the writer holds."""

    def __init__(self, authorize: AuthorizeFn, rbac: RBACAuthorizer) -> None:
        self._authorize = authorize
        self._rbac = rbac

    async def __call__(self, adm: Admission) -> None:
        rt = adm.resource
        if rt.group != RBAC_GROUP or adm.subresource or adm.operation not in ("CREATE", "UPDATE"):
            return
        user = adm.ctx.user
        if user is None or SYSTEM_MASTERS in user.groups or adm.obj is None:
            return
        if rt.resource in _ROLES:
            self._role(adm, user)
        elif rt.resource in _BINDINGS:
            self._binding(adm, user)

    def _allowed(self, attrs: Attributes) -> bool:
        decision, _ = self._authorize(attrs)
        return decision is Decision.ALLOW

    def _name(self, adm: Admission) -> str:
        meta = (adm.obj or {}).get("metadata") or {}
        return str(meta.get("name") or "") if isinstance(meta, dict) else ""

    def _confirm_no_escalation(
        self, adm: Admission, user: Identity, rules: Sequence[PolicyRule], why: str = ""
    ) -> None:
        """Refuse unless ``user``'s own RBAC rules in the request's namespace cover ``rules``."""
        owned: list[PolicyRule] = []
        errors: list[str] = []
        for kind, name, namespace in self._rbac.role_references(user, adm.ctx.info.namespace):
            found = self._rbac.reference_rules(kind, name, namespace)
            if found is None:
                errors.append(_role_ref_error(kind, name, namespace, adm.ctx.info)[1])
            else:
                owned.extend(found)
        missing = covers(owned, rules)
        if not missing:
            return
        message = why or (
            f"user {quote(user.user)} (groups={_go_strings(user.groups)}) is attempting to grant "
            "RBAC permissions not currently held:\n" + "\n".join(describe_missing(missing))
        )
        if errors and not why:
            message += f"; resolution errors: [{aggregate_errors(errors)}]"
        raise forbidden_object(adm.resource.resource, RBAC_GROUP, self._name(adm), message)

    def _role(self, adm: Admission, user: Identity) -> None:
        info = adm.ctx.info
        escalate = Attributes(
            user=user,
            verb="escalate",
            resource_request=True,
            api_group=info.api_group,
            api_version="*",
            resource=info.resource,
            namespace=info.namespace,
            name=info.name,
        )
        if info.is_resource_request and info.resource in _ROLES and self._allowed(escalate):
            return
        obj = adm.obj or {}
        if adm.operation == "UPDATE" and _only_gc_fields_change(obj, adm.old):
            return
        self._confirm_no_escalation(adm, user, PolicyRule.from_list(obj.get("rules")))
        if adm.resource.resource == "clusterroles" and (
            _has_aggregation_rule(obj) or _has_aggregation_rule(adm.old)
        ):
            self._confirm_no_escalation(
                adm,
                user,
                _FULL_AUTHORITY,
                why="must have cluster-admin privileges to use the aggregationRule",
            )

    def _binding(self, adm: Admission, user: Identity) -> None:
        obj = adm.obj or {}
        if adm.operation == "UPDATE" and _only_gc_fields_change(obj, adm.old):
            return
        ref = obj.get("roleRef") if isinstance(obj.get("roleRef"), dict) else {}
        assert isinstance(ref, dict)
        kind, name = str(ref.get("kind") or ""), str(ref.get("name") or "")
        namespace = adm.namespace if adm.resource.resource == "rolebindings" else ""
        resource = {"ClusterRole": "clusterroles", "Role": "roles"}.get(kind)
        if resource is not None:
            bind = Attributes(
                user=user,
                verb="bind",
                resource_request=True,
                api_group=str(ref.get("apiGroup") or ""),
                api_version="*",
                resource=resource,
                namespace=namespace,
                name=name,
            )
            if self._allowed(bind):
                return
        rules = self._rbac.reference_rules(kind, name, namespace)
        if rules is None:
            raise _role_ref_error(kind, name, namespace, adm.ctx.info)[0]
        self._confirm_no_escalation(adm, user, rules)


def _role_ref_error(
    kind: str, name: str, namespace: str, info: RequestInfo
) -> tuple[StatusError, str]:
    """Why a role reference resolves to nothing, as kube's RBAC registry answers it: the
    error of a write naming it, and the text a rule resolution error shows. kube's storage
    names a missing object after the resource of the request (``clusterrolebindings "r" not
    found`` for a binding to a missing ClusterRole ``r``)."""
    if kind == "ClusterRole" or (kind == "Role" and namespace):
        err = not_found(info.resource, name, info.api_group)
        return err, err.message
    if kind == "Role":
        err = bad_request("Namespace parameter required.")
        return err, err.message
    cause = f"unsupported role reference kind: {quote(kind)}"
    return internal_error(cause), cause
