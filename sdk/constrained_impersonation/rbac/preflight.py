"""Preflight: does the requestor hold exactly what a session needs, before it sends anything?

The required checks are the ones kube-apiserver will make (docs/semantics.md#checks): one action
check ``impersonate-on:<mode>:<verb>`` per declared verb, resource, namespace and name, and the
target checks ``impersonate:<mode>`` with their exact attributes (the wildcard shortcut first for 4
or more groups or extras, as the server asks it). They are asked of the live server with
SelfSubjectAccessReview (for the caller itself) or SubjectAccessReview (for another
requestor; needs ``create`` on subjectaccessreviews).

Over-grants are looked for in the requestor's rules: SelfSubjectRulesReview for the caller,
the RBAC objects for another requestor (when the caller may list them): legacy
``impersonate``, ``*`` verbs, target grants of other modes or kinds, action grants outside
the scope.

A controller can run it at start::

    report = rbac.preflight(base_client, session)
    report.raise_if_missing()          # one error listing every missing grant
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .._authz.base import PolicyRule
from ..errors import ImpersonationError
from ..headers import check_constrained
from ..identity import Identity, node_name_of, service_account_of
from ..scope import NonResourceRule, Rule, Scope
from .kube import ApiError, KubeClient
from .objects import RbacSet
from .policy import (
    AUTHENTICATION_GROUP,
    Check,
    Subject,
    action_verb,
    check_mode,
    merge_rules,
    target_checks,
)

if TYPE_CHECKING:
    from kubernetes.client import ApiClient

__all__ = [
    "CheckResult",
    "MissingGrants",
    "Report",
    "default_mode",
    "overgrants",
    "preflight",
    "required_checks",
]

_AUTHZ = "/apis/authorization.k8s.io/v1"
_TARGET_KINDS = {
    "associated-node": {"nodes"},
    "arbitrary-node": {"nodes"},
    "serviceaccount": {"serviceaccounts"},
    "user-info": {"users", "uids", "groups", "userextras"},
}


class MissingGrants(ImpersonationError, PermissionError):
    """Preflight found checks the requestor would fail; ``report`` has the details."""

    def __init__(self, report: Report) -> None:
        self.report = report
        missing = ", ".join(r.check.describe() for r in report.missing)
        super().__init__(
            f"{report.requestor} lacks {len(report.missing)} grant(s) for a {report.mode} "
            f"session impersonating {report.identity.user!r}: {missing}. Grant: "
            f"{merge_rules(r.check.grant() for r in report.missing)}"
        )


@dataclass(frozen=True)
class CheckResult:
    """One required check and the server's answer (``shortcut``: the wildcard check the
    server asks first; its denial is not a gap)."""

    check: Check
    allowed: bool
    reason: str = ""
    shortcut: bool = False
    covered_by: str = ""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "kind": self.check.kind,
            "check": self.check.describe(),
            "allowed": self.allowed,
            "attributes": self.check.review_attributes(),
        }
        if self.reason:
            out["reason"] = self.reason
        if self.shortcut:
            out["shortcut"] = True
        if self.covered_by:
            out["coveredBy"] = self.covered_by
        return out


@dataclass
class Report:
    """Preflight result: ``ok`` when every required check is allowed."""

    mode: str
    requestor: str
    identity: Identity
    results: list[CheckResult] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def missing(self) -> list[CheckResult]:
        return [r for r in self.results if not r.allowed and not r.shortcut]

    @property
    def ok(self) -> bool:
        return not self.missing

    def raise_if_missing(self) -> None:
        if not self.ok:
            raise MissingGrants(self)

    def to_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "requestor": self.requestor,
            "impersonate": self.identity.to_user_info(),
            "ok": self.ok,
            "checks": [r.to_dict() for r in self.results],
            "missing": merge_rules(r.check.grant() for r in self.missing),
            "warnings": list(self.warnings),
            "notes": list(self.notes),
        }


def default_mode(identity: Identity) -> str:
    """The mode a session for ``identity`` uses (node targets: associated-node, as
    ``NodeSession``; pass ``arbitrary-node`` explicitly for ``ArbitraryNodeSession``)."""
    if node_name_of(identity.user) is not None:
        return "associated-node"
    if service_account_of(identity.user) is not None:
        return "serviceaccount"
    return "user-info"


def _action_checks(scope: Scope, mode: str) -> list[Check]:
    checks: list[Check] = []
    for rule in scope.rules:
        if isinstance(rule, NonResourceRule):
            checks.extend(
                Check("action", action_verb(mode, verb), path=path)
                for verb in rule.verbs
                for path in rule.paths
            )
            continue
        assert isinstance(rule, Rule)
        for verb in rule.verbs:
            for resource in rule.resources:
                base, _, sub = resource.partition("/")
                checks.extend(
                    Check("action", action_verb(mode, verb), rule.group, "", base, sub, ns, name)
                    for ns in rule.namespaces or ("",)
                    for name in rule.names or ("",)
                )
    return checks


def required_checks(scope: Scope, identity: Identity, mode: str) -> list[Check]:
    """Every check the server makes for a session: action checks, then target checks."""
    check_mode(mode)
    if scope.unrestricted:
        raise ValueError("an unrestricted scope has no finite set of checks; declare Rule(...)s")
    check_constrained(identity)
    if mode in ("associated-node", "arbitrary-node") and node_name_of(identity.user) is None:
        raise ValueError(f"mode {mode} impersonates a node user (system:node:<name>)")
    if mode == "serviceaccount" and service_account_of(identity.user) is None:
        raise ValueError("mode serviceaccount impersonates system:serviceaccount:<ns>:<name>")
    if mode == "user-info" and (node_name_of(identity.user) or service_account_of(identity.user)):
        raise ValueError("user-info never applies to node or service-account users")
    return _action_checks(scope, mode) + target_checks(identity, mode)


# --------------------------------------------------------------------------- asking


class _Reviewer:
    def __init__(self, kube: KubeClient, requestor: Identity | None) -> None:
        self.kube = kube
        self.requestor = requestor

    def ask(self, check: Check) -> tuple[bool, str]:
        spec: dict[str, Any] = dict(check.review_attributes())
        if self.requestor is None:
            kind, path = "SelfSubjectAccessReview", f"{_AUTHZ}/selfsubjectaccessreviews"
        else:
            kind, path = "SubjectAccessReview", f"{_AUTHZ}/subjectaccessreviews"
            spec["user"] = self.requestor.user
            if self.requestor.groups:
                spec["groups"] = list(self.requestor.groups)
            if self.requestor.uid:
                spec["uid"] = self.requestor.uid
            if self.requestor.extra:
                spec["extra"] = {k: list(v) for k, v in self.requestor.extra.items()}
        body = {"apiVersion": "authorization.k8s.io/v1", "kind": kind, "spec": spec}
        status = self.kube.create(path, body).get("status") or {}
        reason = str(status.get("reason") or status.get("evaluationError") or "")
        return bool(status.get("allowed")), reason


def _evaluate(reviewer: _Reviewer, checks: Sequence[Check]) -> list[CheckResult]:
    results: list[CheckResult] = []
    covered: dict[str, str] = {}  # "group" / "extra" -> shortcut that covered them
    for check in checks:
        if check.kind in ("groups*", "extras*"):
            allowed, reason = reviewer.ask(check)
            results.append(CheckResult(check, allowed, reason, shortcut=True))
            if allowed:
                covered[check.kind.rstrip("s*")] = check.describe()
            continue
        if check.kind in covered:
            results.append(CheckResult(check, True, covered_by=covered[check.kind]))
            continue
        allowed, reason = reviewer.ask(check)
        results.append(CheckResult(check, allowed, reason))
    return results


# --------------------------------------------------------------------------- over-grants


def _rule_text(rule: PolicyRule) -> str:
    what = ",".join(rule.resources or rule.non_resource_urls)
    groups = ",".join(g or '""' for g in rule.api_groups)
    names = f" named {','.join(rule.resource_names)}" if rule.resource_names else ""
    return f"{','.join(rule.verbs)} on {what}" + (f" ({groups})" if groups else "") + names


def overgrants(
    rules: Iterable[tuple[PolicyRule, str]], scope: Scope, identity: Identity, mode: str
) -> list[str]:
    """Warnings for grants a ``mode`` session for ``identity`` with ``scope`` never needs.

    ``rules`` are (rule, where it comes from) pairs.
    """
    needed_kinds = set(_TARGET_KINDS[mode])
    if mode == "user-info":
        if identity.uid is None:
            needed_kinds.discard("uids")
        if not identity.groups:
            needed_kinds.discard("groups")
        if not identity.extra:
            needed_kinds.discard("userextras")
    warnings: list[str] = []
    seen: set[str] = set()

    def warn(text: str) -> None:
        if text not in seen:
            seen.add(text)
            warnings.append(text)

    for rule, origin in rules:
        via = f" (via {origin})" if origin else ""
        verbs = set(rule.verbs)
        if "impersonate" in verbs:
            warn(
                f"legacy impersonate: {_rule_text(rule)}{via}; a constrained session never "
                "needs it, and it makes the server accept identities constrained modes refuse "
                "(system:masters, any group)"
            )
        if "*" in verbs and (
            "*" in rule.api_groups
            or AUTHENTICATION_GROUP in rule.api_groups
            or bool(rule.non_resource_urls)
        ):
            warn(
                f"'*' verbs: {_rule_text(rule)}{via}; it passes every impersonation check of "
                "every mode"
            )
        for verb in sorted(verbs):
            if verb.startswith("impersonate:"):
                other = verb.split(":", 1)[1]
                if other != mode:
                    warn(f"{verb} is not needed by a {mode} session: {_rule_text(rule)}{via}")
                    continue
                for resource in rule.resources:
                    kind = resource.split("/", 1)[0]
                    if resource == "*" or kind not in needed_kinds:
                        warn(
                            f"{verb} on {resource} is not needed (the session impersonates "
                            f"{identity!r}){via}"
                        )
            elif verb.startswith("impersonate-on:"):
                parts = verb.split(":", 2)
                if len(parts) != 3 or parts[1] != mode:
                    warn(f"{verb} is not needed by a {mode} session: {_rule_text(rule)}{via}")
                    continue
                base_verb = parts[2]
                if rule.non_resource_urls:
                    extra = [
                        p for p in rule.non_resource_urls if not scope.allows_path(base_verb, p)
                    ]
                else:
                    extra = [
                        f"{r} ({g or 'core'})"
                        for g in rule.api_groups
                        for r in rule.resources
                        if not _scope_allows_somewhere(scope, base_verb, g, r)
                    ]
                if extra:
                    warn(
                        f"{verb} on {', '.join(extra)} is outside the session's scope {scope}{via}"
                    )
    return warnings


def _scope_allows_somewhere(scope: Scope, verb: str, group: str, resource: str) -> bool:
    return any(
        isinstance(rule, Rule)
        and verb in rule.verbs
        and rule.group == group
        and resource in rule.resources
        for rule in scope.rules
    )


def _self_rules(kube: KubeClient, namespaces: Iterable[str]) -> list[tuple[PolicyRule, str]]:
    """The caller's rules from SelfSubjectRulesReview. kube requires a namespace and answers
    with the cluster-wide rules plus that namespace's, so "" is asked as ``default`` and a
    rule seen in several namespaces is kept once, with the first namespace it came from."""
    rules: dict[PolicyRule, str] = {}
    for namespace in sorted({ns or "default" for ns in namespaces}):
        body = {
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SelfSubjectRulesReview",
            "spec": {"namespace": namespace},
        }
        status = kube.create(f"{_AUTHZ}/selfsubjectrulesreviews", body).get("status") or {}
        origin = f"your rules in namespace {namespace}"
        for raw in (*(status.get("resourceRules") or ()), *(status.get("nonResourceRules") or ())):
            rules.setdefault(PolicyRule.from_dict(raw), origin)
    return list(rules.items())


def _subject_rules(rbac: RbacSet, requestor: Identity) -> list[tuple[PolicyRule, str]]:
    rules: list[tuple[PolicyRule, str]] = []
    for subject, holding in rbac.holdings():
        if subject.matches(requestor):
            rules.extend((rule, holding.via()) for rule in holding.rules)
    return rules


def _namespaces(scope: Scope, identity: Identity) -> set[str]:
    found = {""}
    for rule in scope.rules:
        if isinstance(rule, Rule) and rule.namespaces:
            found.update(rule.namespaces)
    sa = service_account_of(identity.user)
    if sa is not None:
        found.add(sa[0])
    return found


def preflight(
    api_client: ApiClient | KubeClient,
    session: Any = None,
    *,
    scope: Scope | None = None,
    identity: Identity | None = None,
    mode: str | None = None,
    requestor: Subject | str | Identity | None = None,
    look_for_overgrants: bool = True,
) -> Report:
    """Ask the server whether a session would pass every impersonation check.

    Give a ``session`` (any object with ``scope``, ``identity`` and ``mode``, such as
    ``UserSession``) or ``scope`` + ``identity`` (+ ``mode``, default from the identity).
    ``api_client`` is the *base* client (not the session's): without ``requestor`` the
    checks are asked for its own credentials (SelfSubjectAccessReview); with ``requestor``
    (``NS/NAME``, ``user:NAME``, a :class:`Subject` or an :class:`Identity`) for that
    subject (SubjectAccessReview).
    """
    if session is not None:
        scope = scope or session.scope
        identity = identity or session.identity
        mode = mode or getattr(session, "mode", None) or None
    if scope is None or identity is None:
        raise ValueError("preflight needs a session, or scope= and identity=")
    mode = check_mode(mode or default_mode(identity))
    kube = api_client if isinstance(api_client, KubeClient) else KubeClient(api_client)
    requestor_identity: Identity | None
    if requestor is None:
        requestor_identity, label = None, "you (the caller)"
    elif isinstance(requestor, Identity):
        requestor_identity, label = requestor, requestor.user
    else:
        subject = requestor if isinstance(requestor, Subject) else Subject.parse(requestor)
        requestor_identity, label = subject.identity(), str(subject)
    checks = required_checks(scope, identity, mode)
    report = Report(mode=mode, requestor=label, identity=identity)
    report.results = _evaluate(_Reviewer(kube, requestor_identity), checks)
    if mode == "associated-node":
        report.notes.append(
            "associated-node also needs the requestor's token to be bound to the node (a "
            "pod-bound service-account token of a pod on that node); access reviews cannot "
            "check that"
        )
    if look_for_overgrants:
        try:
            if requestor_identity is None:
                rules = _self_rules(kube, _namespaces(scope, identity))
            else:
                rules = _subject_rules(RbacSet.from_cluster(kube), requestor_identity)
        except ApiError as exc:
            report.notes.append(
                f"over-grants not checked: cannot read the requestor's rules ({exc.status}: "
                f"{exc.body.get('message', '')})"
            )
        else:
            report.warnings = overgrants(rules, scope, identity, mode)
    return report
