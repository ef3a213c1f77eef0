"""Who can impersonate whom, through which bindings, and how dangerous that is.

For every binding subject, the tool asks the embedded server's RBAC matcher probe questions
(``impersonate`` on a name no rule lists means "any name"; a rule's own ``resourceNames`` give
the named targets) for legacy impersonation and each constrained mode, then ranks:

* **critical**: effectively cluster-admin. It holds every verb on every resource, or it can
  legacy-impersonate ``system:masters`` (any group grant includes it) or a user, group or
  service account bound to every verb on every resource;
* **high**: legacy impersonation of any user, group or service account (of a namespace):
  no action limit; or constrained impersonation that reaches a cluster-admin identity;
* **medium**: legacy impersonation of named identities, or constrained impersonation of any
  user, group, service account or node;
* **low**: constrained impersonation of named targets, or associated-node (own node only);
* **info**: action grants (``impersonate-on``) without any target grant: unusable alone.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .._authz.base import PolicyRule
from .._authz.rbac import rule_allows
from ..identity import SYSTEM_MASTERS, Identity
from .objects import Holding, RbacSet
from .policy import AUTHENTICATION_GROUP, CONSTRAINED_MODES, LEGACY, Check, Subject, target_verb

__all__ = ["RISKS", "Finding", "Reach", "scan"]

RISKS = ("info", "low", "medium", "high", "critical")
_ANY = "\x00any"  # a name no rule lists: allowed only by rules without resourceNames
_PROBE_USER = Identity("cimp:probe")

# (resource, namespaced) per legacy target kind, with the API group of its check
# (docs/semantics.md#attributes).
_LEGACY_TARGETS = {
    "users": ("", False),
    "groups": ("", False),
    "serviceaccounts": ("", True),
    "uids": (AUTHENTICATION_GROUP, False),
    "userextras": (AUTHENTICATION_GROUP, False),
}
_MODE_TARGETS = {
    "associated-node": ("nodes",),
    "arbitrary-node": ("nodes",),
    "serviceaccount": ("serviceaccounts",),
    "user-info": ("users", "groups", "uids", "userextras"),
}


@dataclass
class Reach:
    """Whom a subject can impersonate for one target kind."""

    any: bool = False
    any_in: set[str] = field(default_factory=set)  # namespaces (service accounts)
    names: set[str] = field(default_factory=set)  # names, or NS/NAME (*/NAME: any namespace)

    def __bool__(self) -> bool:
        return self.any or bool(self.any_in) or bool(self.names)

    def covers(self, name: str, namespace: str = "") -> bool:
        if self.any or namespace in self.any_in:
            return True
        if namespace:
            return f"{namespace}/{name}" in self.names or f"*/{name}" in self.names
        return name in self.names

    def text(self) -> str:
        if self.any:
            return "*"
        parts = [f"{ns}/*" for ns in sorted(self.any_in)] + sorted(self.names)
        return ",".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "any": self.any,
            "anyInNamespaces": sorted(self.any_in),
            "names": sorted(self.names),
        }


@dataclass
class Finding:
    """One subject that can impersonate (or holds impersonation grants)."""

    subject: Subject
    risk: str = "info"
    reasons: list[str] = field(default_factory=list)
    reach: dict[str, dict[str, Reach]] = field(default_factory=dict)  # mode -> kind -> Reach
    actions: dict[str, list[str]] = field(default_factory=dict)  # mode -> rule texts
    via: list[str] = field(default_factory=list)
    superuser: bool = False

    @property
    def score(self) -> int:
        return RISKS.index(self.risk)

    @property
    def modes(self) -> list[str]:
        found = set(self.reach) | set(self.actions)
        return [m for m in (LEGACY, *CONSTRAINED_MODES) if m in found]

    def raise_to(self, risk: str, reason: str) -> None:
        if RISKS.index(risk) > self.score:
            self.risk = risk
        if reason not in self.reasons:
            self.reasons.append(reason)

    def reach_text(self) -> str:
        if self.superuser:
            return "everything (* verbs on *)"
        parts = []
        for mode in self.modes:
            kinds = self.reach.get(mode, {})
            inner = "; ".join(f"{kind} {r.text()}" for kind, r in kinds.items() if r)
            if inner:
                parts.append(f"{mode}: {inner}")
        return " | ".join(parts) or "-"

    def to_dict(self) -> dict[str, Any]:
        return {
            "subject": {
                "kind": self.subject.kind,
                "name": self.subject.name,
                **({"namespace": self.subject.namespace} if self.subject.namespace else {}),
            },
            "risk": self.risk,
            "reasons": list(self.reasons),
            "modes": self.modes,
            "superuser": self.superuser,
            "reach": {
                mode: {kind: r.to_dict() for kind, r in kinds.items() if r}
                for mode, kinds in self.reach.items()
            },
            "actions": {mode: list(texts) for mode, texts in self.actions.items()},
            "via": list(self.via),
        }


def _probe(verb: str, group: str, resource: str, namespace: str, name: str) -> Check:
    base, _, sub = resource.partition("/")
    return Check("probe", verb, group, "v1", base, sub, namespace, name)


def _allows(rule: PolicyRule, check: Check) -> bool:
    return rule_allows(check.attributes(_PROBE_USER), rule)


def _reach(
    holdings: Iterable[Holding], verb: str, group: str, kind: str, namespaced: bool
) -> tuple[Reach, set[str]]:
    reach = Reach()
    via: set[str] = set()
    resource = f"{kind}/{_ANY}" if kind == "userextras" else kind
    for holding in holdings:
        if holding.namespace and not namespaced:
            continue  # cluster-scoped checks: RoleBindings never grant them
        namespace = holding.namespace or (_ANY if namespaced else "")
        for rule in holding.rules:
            if _allows(rule, _probe(verb, group, resource, namespace, _ANY)):
                via.add(holding.via())
                if holding.namespace:
                    reach.any_in.add(holding.namespace)
                else:
                    reach.any = True
                continue
            if kind == "userextras":
                for res in rule.resources:
                    key = res.partition("/")[2]
                    name = rule.resource_names[0] if rule.resource_names else _ANY
                    if res.startswith("userextras/") and _allows(
                        rule, _probe(verb, group, res, "", name)
                    ):
                        reach.names.add(key)
                        via.add(holding.via())
                continue
            for name in rule.resource_names:
                if _allows(rule, _probe(verb, group, resource, namespace, name)):
                    via.add(holding.via())
                    if namespaced:
                        reach.names.add(f"{holding.namespace or '*'}/{name}")
                    else:
                        reach.names.add(name)
    return reach, via


def _action_texts(holdings: Iterable[Holding], mode: str) -> tuple[list[str], set[str]]:
    prefix = f"impersonate-on:{mode}:"
    texts: list[str] = []
    via: set[str] = set()
    for holding in holdings:
        where = f" in {holding.namespace}" if holding.namespace else ""
        for rule in holding.rules:
            verbs = [v for v in rule.verbs if v == "*" or v.startswith(prefix)]
            if not verbs:
                continue
            shown = ",".join(v.removeprefix(prefix) for v in verbs)
            if rule.non_resource_urls:
                what = ",".join(rule.non_resource_urls)
            else:
                groups = ",".join(g or "core" for g in rule.api_groups)
                what = f"{','.join(rule.resources)} ({groups})"
                if rule.resource_names:
                    what += f" named {','.join(rule.resource_names)}"
            texts.append(f"{shown} {what}{where}")
            via.add(holding.via())
    return sorted(set(texts)), via


def _is_superuser(holdings: Iterable[Holding]) -> bool:
    probe = _probe(_ANY, _ANY, _ANY, "", "")
    return any(not h.namespace and any(_allows(rule, probe) for rule in h.rules) for h in holdings)


def _analyse(subject: Subject, holdings: list[Holding]) -> Finding | None:
    finding = Finding(subject)
    vias: set[str] = set()
    finding.superuser = _is_superuser(holdings)
    legacy: dict[str, Reach] = {}
    for kind, (group, namespaced) in _LEGACY_TARGETS.items():
        reach, via = _reach(holdings, "impersonate", group, kind, namespaced)
        if reach:
            legacy[kind] = reach
            vias |= via
    if legacy:
        finding.reach[LEGACY] = legacy
    for mode in CONSTRAINED_MODES:
        kinds: dict[str, Reach] = {}
        for kind in _MODE_TARGETS[mode]:
            reach, via = _reach(
                holdings, target_verb(mode), AUTHENTICATION_GROUP, kind, kind == "serviceaccounts"
            )
            if reach:
                kinds[kind] = reach
                vias |= via
        if kinds:
            finding.reach[mode] = kinds
        texts, via = _action_texts(holdings, mode)
        if texts:
            finding.actions[mode] = texts
            vias |= via
    if not finding.reach and not finding.actions and not finding.superuser:
        return None
    finding.via = sorted(vias)
    return finding


@dataclass
class _Admins:
    """Identities known to be effectively cluster-admin."""

    users: set[str] = field(default_factory=set)
    groups: set[str] = field(default_factory=lambda: {SYSTEM_MASTERS})
    service_accounts: set[tuple[str, str]] = field(default_factory=set)

    def add(self, subject: Subject) -> bool:
        if subject.kind == "Group":
            new = subject.name not in self.groups
            self.groups.add(subject.name)
        elif subject.kind == "ServiceAccount":
            key = (subject.namespace, subject.name)
            new = key not in self.service_accounts
            self.service_accounts.add(key)
        else:
            new = subject.name not in self.users
            self.users.add(subject.name)
        return new

    def reached(self, kinds: dict[str, Reach], *, masters: bool) -> list[str]:
        """Admin identities within reach (``masters``: system:masters counts, legacy only)."""
        found: list[str] = []
        groups = kinds.get("groups")
        if groups:
            found += [
                f"group {g}"
                for g in sorted(self.groups)
                if groups.covers(g) and (masters or g != SYSTEM_MASTERS)
            ]
        users = kinds.get("users")
        if users:
            found += [f"user {u}" for u in sorted(self.users) if users.covers(u)]
        sas = kinds.get("serviceaccounts")
        if sas:
            found += [
                f"serviceaccount {ns}/{n}"
                for ns, n in sorted(self.service_accounts)
                if sas.covers(n, ns)
            ]
        return found


def _rank(findings: list[Finding]) -> None:
    """Admins are the superusers and ``system:masters``. Impersonation does not chain (one
    request carries one set of headers), so reaching an impersonator gives only its other
    grants, never its impersonation: the admin set needs no fixed point."""
    admins = _Admins()
    for finding in findings:
        if finding.superuser:
            admins.add(finding.subject)
    for finding in findings:
        if finding.superuser:
            finding.raise_to("critical", "holds every verb on every resource (cluster-admin)")
            continue  # everything below is implied
        legacy = finding.reach.get(LEGACY, {})
        reached = admins.reached(legacy, masters=True)
        if reached:
            more = f" (+{len(reached) - 3} more)" if len(reached) > 3 else ""
            finding.raise_to(
                "critical",
                f"legacy impersonation of {', '.join(reached[:3])}{more} makes it cluster-admin",
            )
        broad = [k for k in ("users", "serviceaccounts", "groups") if k in legacy and legacy[k].any]
        namespaces = sorted(legacy["serviceaccounts"].any_in) if "serviceaccounts" in legacy else []
        if broad:
            finding.raise_to(
                "high", f"legacy impersonation of any {'/'.join(broad)}: no action limit"
            )
        if namespaces:
            finding.raise_to(
                "high",
                f"legacy impersonation of every service account in {', '.join(namespaces)}: "
                "no action limit",
            )
        if legacy and not broad and not namespaces:
            finding.raise_to("medium", "legacy impersonation of named identities: no action limit")
        for mode in CONSTRAINED_MODES:
            kinds = finding.reach.get(mode, {})
            if not kinds:
                if finding.actions.get(mode):
                    finding.raise_to("info", f"{mode}: action grants without a target grant")
                continue
            actions = "; ".join(finding.actions.get(mode, [])) or "no action grants"
            reached = admins.reached(kinds, masters=False)
            wide = [k for k, r in kinds.items() if r.any or r.any_in]
            if reached:
                finding.raise_to(
                    "high", f"{mode} reaches {', '.join(reached[:3])}, limited to: {actions}"
                )
            elif mode == "associated-node":
                finding.raise_to("low", f"associated-node (own node only), limited to: {actions}")
            elif wide:
                finding.raise_to("medium", f"{mode} on any {'/'.join(wide)}, limited to: {actions}")
            else:
                finding.raise_to("low", f"{mode} on named targets, limited to: {actions}")


def scan(rbac: RbacSet, *, include_superusers: bool = True) -> list[Finding]:
    """Every subject holding impersonation grants, most dangerous first."""
    findings = [
        f
        for subject, holdings in rbac.by_subject().items()
        if (f := _analyse(subject, holdings)) is not None
    ]
    _rank(findings)
    if not include_superusers:
        findings = [f for f in findings if not f.superuser]
    # Within a risk, impersonators before plain admins: they are what the scan is for.
    findings.sort(
        key=lambda f: (-f.score, f.superuser, f.subject.kind, f.subject.namespace, f.subject.name)
    )
    return findings
