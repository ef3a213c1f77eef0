"""The vocabulary every RBAC tool shares: subjects, single grants, exact checks, manifests.

A :class:`Grant` is one permission (one verb on one resource name in one namespace). Tools
compute grants (from a declared scope, from observed audit events, from a 403) and only then
merge them into the fewest readable rules and the fewest Roles/ClusterRoles, so every tool
renders RBAC the same deterministic way. A :class:`Check` is one authorization question with
exactly the attributes kube-apiserver asks (docs/semantics.md#attributes); preflight sends them as
access reviews, migrate and scan answer them offline with the embedded server's RBAC matcher.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..identity import (
    SERVICE_ACCOUNT_USER_PREFIX,
    Identity,
    is_dns1123_label,
    node_name_of,
    service_account_of,
)
from ..resolver import Attributes

__all__ = [
    "AUTHENTICATION_GROUP",
    "CONSTRAINED_MODES",
    "LEGACY",
    "MANAGED_BY",
    "MODES",
    "RBAC_API_VERSION",
    "RBAC_GROUP",
    "Check",
    "Grant",
    "Subject",
    "action_verb",
    "manifests",
    "merge_rules",
    "target_checks",
    "target_verb",
]

AUTHENTICATION_GROUP = "authentication.k8s.io"
RBAC_GROUP = "rbac.authorization.k8s.io"
RBAC_API_VERSION = f"{RBAC_GROUP}/v1"
CONSTRAINED_MODES = ("associated-node", "arbitrary-node", "serviceaccount", "user-info")
LEGACY = "legacy"
MODES = (*CONSTRAINED_MODES, LEGACY)
MANAGED_BY = {"app.kubernetes.io/managed-by": "cimp"}
# Past this many groups or extra keys/values the server first asks one wildcard check
# (docs/semantics.md#checks).
MANY_CHECKS = 4

_VERB_ORDER = {
    v: i
    for i, v in enumerate(
        ("get", "list", "watch", "create", "update", "patch", "delete", "deletecollection")
    )
}
_NAME_UNSAFE = re.compile(r"[/%\s]+")


def _verb_key(verb: str) -> tuple[int, str]:
    """Sort verbs as people read them (get, list, watch, ...) with the mode prefix ignored."""
    base = verb.rsplit(":", 1)[-1]
    return (_VERB_ORDER.get(base, len(_VERB_ORDER)), verb)


def check_mode(mode: str, *, legacy: bool = False) -> str:
    """Validate a mode name; the error lists the choices, as a CLI user needs."""
    allowed = MODES if legacy else CONSTRAINED_MODES
    if mode not in allowed:
        raise ValueError(f"unknown mode {mode!r}; use one of {', '.join(allowed)}")
    return mode


def target_verb(mode: str) -> str:
    """``impersonate:<mode>`` (or ``impersonate`` for legacy): the verb of the target checks."""
    return "impersonate" if mode == LEGACY else f"impersonate:{mode}"


def action_verb(mode: str, verb: str) -> str:
    """``impersonate-on:<mode>:<verb>``: the verb of the action check of a constrained mode."""
    return f"impersonate-on:{mode}:{verb}"


# --------------------------------------------------------------------------- subjects


@dataclass(frozen=True, order=True)
class Subject:
    """Who holds a grant: an RBAC binding subject (``ServiceAccount``, ``User`` or ``Group``)."""

    kind: str
    name: str
    namespace: str = ""

    def __post_init__(self) -> None:
        if self.kind not in ("ServiceAccount", "User", "Group"):
            raise ValueError(f"subject kind {self.kind!r}: use ServiceAccount, User or Group")
        if not self.name:
            raise ValueError("a subject needs a name")
        if self.kind == "ServiceAccount" and not is_dns1123_label(self.namespace):
            raise ValueError(
                f"service account {self.name!r} needs a valid namespace, got {self.namespace!r}"
            )

    @classmethod
    def parse(cls, text: str) -> Subject:
        """``ns/name`` or ``serviceaccount:ns/name`` (or ``system:serviceaccount:ns:name``),
        ``user:NAME``, ``group:NAME``; any other text is a user name."""
        text = text.strip()
        kind, sep, rest = text.partition(":")
        if sep and kind.lower() in ("serviceaccount", "sa"):
            namespace, slash, name = rest.partition("/")
            if not slash:
                raise ValueError(f"service account {text!r}: expected serviceaccount:NS/NAME")
            return cls("ServiceAccount", name, namespace)
        if sep and kind.lower() == "user":
            return cls("User", rest)
        if sep and kind.lower() == "group":
            return cls("Group", rest)
        if "/" in text and ":" not in text:
            namespace, _, name = text.partition("/")
            return cls("ServiceAccount", name, namespace)
        return cls.from_user(text)

    @classmethod
    def from_user(cls, user: str) -> Subject:
        """The binding subject that matches an authenticated user name."""
        sa = service_account_of(user)
        if sa is not None:
            return cls("ServiceAccount", sa[1], sa[0])
        return cls("User", user)

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any], binding_namespace: str = "") -> Subject:
        kind = str(raw.get("kind") or "")
        namespace = str(raw.get("namespace") or "") or binding_namespace
        return cls(kind, str(raw.get("name") or ""), namespace if kind == "ServiceAccount" else "")

    @property
    def user(self) -> str | None:
        """The user name this subject authenticates as (None for a group)."""
        if self.kind == "ServiceAccount":
            return f"{SERVICE_ACCOUNT_USER_PREFIX}{self.namespace}:{self.name}"
        if self.kind == "User":
            return self.name
        return None

    def identity(self, groups: Sequence[str] = ()) -> Identity:
        """The identity an access review asks about (service accounts get their groups)."""
        if self.kind == "ServiceAccount":
            groups = (
                "system:serviceaccounts",
                f"system:serviceaccounts:{self.namespace}",
                "system:authenticated",
                *groups,
            )
            return Identity(self.user or "", None, tuple(dict.fromkeys(groups)))
        if self.kind == "Group":
            return Identity("cimp:member-of:" + self.name, None, (self.name, *groups))
        return Identity(self.name, None, tuple(groups))

    def matches(self, identity: Identity) -> bool:
        """Does a binding to this subject apply to ``identity``?"""
        if self.kind == "Group":
            return self.name in identity.groups
        return self.user == identity.user

    def to_dict(self) -> dict[str, str]:
        """The subject as written in a RoleBinding or ClusterRoleBinding."""
        if self.kind == "ServiceAccount":
            return {"kind": "ServiceAccount", "name": self.name, "namespace": self.namespace}
        return {"kind": self.kind, "apiGroup": RBAC_GROUP, "name": self.name}

    def slug(self) -> str:
        """A stable piece of an object name (``/`` and ``%`` are not allowed in names)."""
        raw = f"{self.namespace}:{self.name}" if self.kind == "ServiceAccount" else self.name
        prefix = {"ServiceAccount": "sa", "User": "user", "Group": "group"}[self.kind]
        return f"{prefix}:{_NAME_UNSAFE.sub('-', raw)}"

    def __str__(self) -> str:
        if self.kind == "ServiceAccount":
            return f"serviceaccount:{self.namespace}/{self.name}"
        return f"{self.kind.lower()}:{self.name}"


# --------------------------------------------------------------------------- grants


@dataclass(frozen=True, order=True)
class Grant:
    """One permission: ``verb`` on ``resource`` (``pods``, ``pods/log``, ``userextras/<key>``)
    in API ``group``, object ``name`` (``""``: any), ``namespace`` (``""``: cluster-wide, so a
    ClusterRole), or on a non-resource ``path``."""

    verb: str
    group: str = ""
    resource: str = ""
    name: str = ""
    namespace: str = ""
    path: str = ""

    def __post_init__(self) -> None:
        if bool(self.resource) == bool(self.path):
            raise ValueError("a grant names either a resource or a non-resource path")
        if self.path and self.namespace:
            raise ValueError("non-resource paths are cluster-wide (ClusterRole only)")


def _rule_order(
    item: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], list[str]],
) -> tuple[bool, str, list[str], tuple[str, ...], tuple[str, ...]]:
    """Target grants (``impersonate``, ``impersonate:<mode>``) before action grants."""
    (group, verbs, names), resources = item
    target = any(v == "impersonate" or v.startswith("impersonate:") for v in verbs)
    return (not target, group, sorted(resources), verbs, names)


def merge_rules(grants: Iterable[Grant]) -> list[dict[str, Any]]:
    """The fewest readable RBAC rules granting exactly ``grants`` (namespace ignored).

    Names never widen: a grant for any name absorbs named grants of the same verb and
    resource, and rules are only merged when verbs and names are identical.
    """
    names: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    paths: dict[str, set[str]] = defaultdict(set)
    for grant in grants:
        if grant.path:
            paths[grant.path].add(grant.verb)
        else:
            names[(grant.group, grant.resource, grant.verb)].add(grant.name)
    # (group, resource, names) -> verbs
    verbs: dict[tuple[str, str, tuple[str, ...]], set[str]] = defaultdict(set)
    for (group, resource, verb), found in names.items():
        key = () if "" in found else tuple(sorted(found))
        verbs[(group, resource, key)].add(verb)
    # (group, verbs, names) -> resources
    resources: dict[tuple[str, tuple[str, ...], tuple[str, ...]], list[str]] = defaultdict(list)
    for (group, resource, key), vs in verbs.items():
        resources[(group, tuple(sorted(vs, key=_verb_key)), key)].append(resource)
    rules: list[dict[str, Any]] = []
    for (group, ordered, key), res in sorted(resources.items(), key=_rule_order):
        rule: dict[str, Any] = {"apiGroups": [group], "resources": sorted(res)}
        if key:
            rule["resourceNames"] = list(key)
        rule["verbs"] = list(ordered)
        rules.append(rule)
    by_verbs: dict[tuple[str, ...], list[str]] = defaultdict(list)
    for path, path_verbs in paths.items():
        by_verbs[tuple(sorted(path_verbs, key=_verb_key))].append(path)
    for ordered, urls in sorted(by_verbs.items(), key=lambda item: sorted(item[1])):
        rules.append({"nonResourceURLs": sorted(urls), "verbs": list(ordered)})
    return rules


def _binding(kind: str, name: str, namespace: str, subject: Subject) -> dict[str, Any]:
    role_kind = "ClusterRole" if kind == "ClusterRoleBinding" else "Role"
    metadata: dict[str, Any] = {"name": name}
    if namespace:
        metadata["namespace"] = namespace
    metadata["labels"] = dict(MANAGED_BY)
    return {
        "apiVersion": RBAC_API_VERSION,
        "kind": kind,
        "metadata": metadata,
        "roleRef": {"apiGroup": RBAC_GROUP, "kind": role_kind, "name": name},
        "subjects": [subject.to_dict()],
    }


def manifests(subject: Subject, name: str, grants: Iterable[Grant]) -> list[dict[str, Any]]:
    """ClusterRole + ClusterRoleBinding for cluster-wide grants, Role + RoleBinding in each
    namespace for namespaced ones, all named ``name``, bound to ``subject``; in a stable
    order (cluster objects first, then namespaces alphabetically)."""
    by_namespace: dict[str, list[Grant]] = defaultdict(list)
    for grant in grants:
        by_namespace[grant.namespace].append(grant)
    out: list[dict[str, Any]] = []
    for namespace in sorted(by_namespace):
        rules = merge_rules(by_namespace[namespace])
        if not rules:
            continue
        metadata: dict[str, Any] = {"name": name}
        if namespace:
            metadata["namespace"] = namespace
        metadata["labels"] = dict(MANAGED_BY)
        role_kind = "Role" if namespace else "ClusterRole"
        out.append(
            {
                "apiVersion": RBAC_API_VERSION,
                "kind": role_kind,
                "metadata": metadata,
                "rules": rules,
            }
        )
        out.append(_binding(f"{role_kind}Binding", name, namespace, subject))
    return out


# --------------------------------------------------------------------------- exact checks


@dataclass(frozen=True, order=True)
class Check:
    """One authorization question, with the attributes kube-apiserver asks exactly.

    ``kind`` says what the check is for: ``action``, ``user``, ``uid``, ``group``, ``extra``
    (target checks), ``groups*`` / ``extras*`` (the wildcard shortcut asked first when 4 or
    more groups or extras are sent).
    """

    kind: str
    verb: str
    group: str = ""
    version: str = ""
    resource: str = ""
    subresource: str = ""
    namespace: str = ""
    name: str = ""
    path: str = ""

    @property
    def resource_request(self) -> bool:
        return not self.path

    def attributes(self, user: Identity) -> Attributes:
        """The same question as the server's authorizer sees it, for offline evaluation."""
        return Attributes(
            user=user,
            verb=self.verb,
            resource_request=self.resource_request,
            api_group=self.group,
            api_version=self.version,
            resource=self.resource,
            subresource=self.subresource,
            namespace=self.namespace,
            name=self.name,
            path=self.path,
        )

    def review_attributes(self) -> dict[str, Any]:
        """``spec.resourceAttributes`` / ``spec.nonResourceAttributes`` of an access review."""
        if self.path:
            return {"nonResourceAttributes": {"path": self.path, "verb": self.verb}}
        attrs = {
            "verb": self.verb,
            "group": self.group,
            "version": self.version,
            "resource": self.resource,
            "subresource": self.subresource,
            "namespace": self.namespace,
            "name": self.name,
        }
        return {"resourceAttributes": {k: v for k, v in attrs.items() if v}}

    def grant(self) -> Grant:
        """The single grant that satisfies this check. A check of the literal name ``*``
        (associated-node, the wildcard shortcuts) is granted without resourceNames, as
        docs/semantics.md#rbac recommends, rather than with ``resourceNames: ["*"]``."""
        if self.path:
            return Grant(self.verb, path=self.path)
        resource = f"{self.resource}/{self.subresource}" if self.subresource else self.resource
        name = "" if self.name == "*" else self.name
        return Grant(self.verb, self.group, resource, name, self.namespace)

    def describe(self) -> str:
        """``verb resource[/sub][.group] "name" in ns`` for tables and messages."""
        if self.path:
            return f"{self.verb} {self.path}"
        res = f"{self.resource}/{self.subresource}" if self.subresource else self.resource
        what = f"{res}.{self.group}" if self.group else res
        text = f"{self.verb} {what}"
        if self.name:
            text += f" {self.name!r}"
        if self.namespace:
            text += f" in {self.namespace}"
        return text


def target_checks(target: Identity, mode: str) -> list[Check]:
    """Every target check the server makes to impersonate ``target`` through ``mode``, in the
    server's order, with the wildcard shortcuts (``groups*``, ``extras*``) first where the
    server asks them (docs/semantics.md#checks, #legacy)."""
    verb = target_verb(mode)
    constrained = mode != LEGACY
    auth, v1 = AUTHENTICATION_GROUP, "v1"
    core = (auth, v1) if constrained else ("", v1)
    checks: list[Check] = []
    node = node_name_of(target.user) if constrained else None
    sa = service_account_of(target.user)
    if mode == "associated-node":
        checks.append(Check("user", verb, auth, v1, "nodes", name="*"))
    elif node is not None:
        checks.append(Check("user", verb, auth, v1, "nodes", name=node))
    elif sa is not None:
        checks.append(Check("user", verb, *core, "serviceaccounts", namespace=sa[0], name=sa[1]))
    else:
        checks.append(Check("user", verb, *core, "users", name=target.user))
    if target.uid is not None:
        checks.append(Check("uid", verb, auth, v1, "uids", name=target.uid))
    if target.groups:
        if constrained and len(target.groups) >= MANY_CHECKS:
            checks.append(Check("groups*", verb, *core, "groups", name="*"))
        checks.extend(Check("group", verb, *core, "groups", name=g) for g in target.groups)
    if target.extra:
        total = sum(len(v) for v in target.extra.values())
        if constrained and (len(target.extra) >= MANY_CHECKS or total >= MANY_CHECKS):
            checks.append(Check("extras*", verb, auth, v1, "userextras", "*", name="*"))
        for key in sorted(target.extra):
            checks.extend(
                Check("extra", verb, auth, v1, "userextras", key, name=value)
                for value in target.extra[key]
            )
    return checks
