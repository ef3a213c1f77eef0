"""Render the minimal RBAC for a constrained-impersonation session (docs/semantics.md#rbac).

A session needs two kinds of grant: the **target** grant (``impersonate:<mode>`` on whom it
impersonates, in ``authentication.k8s.io``) and the **action** grants
(``impersonate-on:<mode>:<verb>`` on exactly the requests its scope declares). Target grants
are cluster-wide except service-account targets, which a Role in the service account's
namespace can grant; action grants follow the scope's namespaces, so a scope confined to
namespaces renders Roles and RoleBindings there instead of a ClusterRole.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ..headers import extra_key_problem
from ..identity import (
    SYSTEM_MASTERS,
    is_dns1123_label,
    is_dns1123_subdomain,
    node_name_of,
    service_account_of,
)
from ..scope import NonResourceRule, Rule, Scope
from .policy import (
    AUTHENTICATION_GROUP,
    Grant,
    Subject,
    action_verb,
    check_mode,
    manifests,
    target_verb,
)

__all__ = ["ExtraSpec", "action_grants", "default_name", "render", "target_grants"]

# Forwarded extras: a list of keys (any value), or key -> values (None: any value).
ExtraSpec = Mapping[str, Sequence[str] | None] | Sequence[str] | None
# Forwarded UIDs or groups: False (not forwarded), True (any), or the exact names.
Forwarded = bool | Sequence[str]


def default_name(mode: str, requestor: Subject) -> str:
    """Deterministic object name: ``cimp:<mode>:<requestor>`` (re-rendering replaces it)."""
    return f"cimp:{mode}:{requestor.slug()}"


def _names(value: Forwarded, what: str) -> list[str] | None:
    """Exact names, ``[""]`` for any, or None when not forwarded."""
    if value is True:
        return [""]
    if value is False:
        return None
    if isinstance(value, str):
        value = [value]
    names = list(dict.fromkeys(value))
    if not names:
        return None
    if "" in names:
        raise ValueError(f"{what}: the empty string cannot be impersonated in constrained modes")
    return names


def _extra_names(extra: ExtraSpec) -> dict[str, list[str]]:
    if not extra:
        return {}
    if isinstance(extra, str):
        extra = [extra]
    pairs: Iterable[tuple[str, Sequence[str] | None]]
    if isinstance(extra, Mapping):
        pairs = extra.items()
    else:
        pairs = ((key, None) for key in extra)
    out: dict[str, list[str]] = {}
    for key, values in pairs:
        problem = extra_key_problem(key)
        if problem is not None:
            raise ValueError(f"extra key {key!r}: {problem}")
        if values is None:
            out[key] = [""]
        else:
            listed = [values] if isinstance(values, str) else list(values)
            if "" in listed:
                raise ValueError(f"extra key {key!r}: empty values are refused by the server")
            out[key] = list(dict.fromkeys(listed)) or [""]
    return out


def target_grants(
    mode: str,
    requestor: Subject,
    *,
    targets: Sequence[str] | None = None,
    uids: Forwarded = False,
    groups: Forwarded = False,
    extra: ExtraSpec = None,
) -> list[Grant]:
    """The ``impersonate:<mode>`` grants for the given targets (None: any target).

    ``targets`` are node names (``node-1`` or ``system:node:node-1``) for arbitrary-node,
    ``NS/NAME`` (or ``NS/*``) for serviceaccount, user names for user-info. Forwarding a UID,
    a group or an extra is only possible in user-info: the server sends node and
    service-account targets with those headers to legacy impersonation
    (docs/semantics.md#which-mode).
    """
    check_mode(mode)
    verb = target_verb(mode)
    auth = AUTHENTICATION_GROUP
    uid_names, group_names = _names(uids, "uids"), _names(groups, "groups")
    extras = _extra_names(extra)
    if targets is not None and isinstance(targets, str):
        targets = [targets]
    if mode != "user-info" and (uid_names or group_names or extras):
        raise ValueError(
            f"mode {mode} cannot forward a UID, groups or extras: the API server sends a node "
            "or service-account target with any of those headers to legacy impersonation"
        )
    grants: list[Grant] = []
    if mode == "associated-node":
        if requestor.kind != "ServiceAccount":
            raise ValueError(
                "associated-node needs a service-account requestor (a pod-bound token carries "
                f"the node name), not {requestor}"
            )
        if targets:
            raise ValueError(
                "associated-node takes no targets: the server checks the name '*' and ties "
                "the node to the requestor's token, so resourceNames would never match"
            )
        grants.append(Grant(verb, auth, "nodes"))
    elif mode == "arbitrary-node":
        for target in targets or [""]:
            node = node_name_of(target) or target
            if target and not is_dns1123_subdomain(node):
                raise ValueError(f"target {target!r}: a node name is a DNS-1123 subdomain")
            grants.append(Grant(verb, auth, "nodes", node))
    elif mode == "serviceaccount":
        if not targets:
            grants.append(Grant(verb, auth, "serviceaccounts"))
        for target in targets or ():
            sa = service_account_of(target)
            namespace, slash, name = (sa[0], "/", sa[1]) if sa else target.partition("/")
            if not slash or not is_dns1123_label(namespace) or not name:
                raise ValueError(
                    f"target {target!r}: expected NAMESPACE/NAME (or NAMESPACE/* for every "
                    "service account of a namespace)"
                )
            grants.append(
                Grant(verb, auth, "serviceaccounts", "" if name == "*" else name, namespace)
            )
    else:
        for target in targets or [""]:
            if target and (node_name_of(target) or service_account_of(target)):
                raise ValueError(
                    f"target {target!r} is a node or service-account user: use mode "
                    "arbitrary-node or serviceaccount (user-info never applies to it)"
                )
            grants.append(Grant(verb, auth, "users", target))
        for uid in uid_names or ():
            grants.append(Grant(verb, auth, "uids", uid))
        for group in group_names or ():
            if group == SYSTEM_MASTERS:
                raise ValueError(
                    "groups: system:masters can never be impersonated in constrained modes"
                )
            grants.append(Grant(verb, auth, "groups", group))
        for key, values in sorted(extras.items()):
            grants.extend(Grant(verb, auth, f"userextras/{key}", value) for value in values)
    return grants


def action_grants(scope: Scope, mode: str) -> list[Grant]:
    """``impersonate-on:<mode>:<verb>`` for every request the scope declares, confined to the
    scope's namespaces and object names."""
    check_mode(mode)
    if scope.unrestricted:
        raise ValueError(
            "an unrestricted scope has no minimal RBAC; declare the requests with Rule(...)"
        )
    grants: list[Grant] = []
    for rule in scope.rules:
        if isinstance(rule, NonResourceRule):
            grants.extend(
                Grant(action_verb(mode, verb), path=path)
                for verb in rule.verbs
                for path in rule.paths
            )
            continue
        assert isinstance(rule, Rule)
        grants.extend(
            Grant(action_verb(mode, verb), rule.group, resource, name, namespace)
            for verb in rule.verbs
            for resource in rule.resources
            for namespace in rule.namespaces or ("",)
            for name in rule.names or ("",)
        )
    return grants


def render(
    scope: Scope,
    mode: str,
    requestor: Subject | str,
    *,
    targets: Sequence[str] | None = None,
    uids: Forwarded = False,
    groups: Forwarded = False,
    extra: ExtraSpec = None,
    name: str | None = None,
) -> list[dict[str, Any]]:
    """Manifests (dicts, kubectl-applicable) granting ``requestor`` exactly what a session
    with ``scope`` in ``mode`` needs: Roles/ClusterRoles and their bindings, named ``name``
    (default ``cimp:<mode>:<requestor>``).

    ``requestor`` is a :class:`Subject` or text (``NS/NAME`` for a service account,
    ``user:NAME``, ``group:NAME``). ``targets`` restrict whom it may impersonate (see
    :func:`target_grants`); ``uids``/``groups`` are ``True`` for any, or exact names;
    ``extra`` lists forwarded extra keys (or maps keys to exact values).
    """
    subject = requestor if isinstance(requestor, Subject) else Subject.parse(requestor)
    grants = target_grants(
        mode, subject, targets=targets, uids=uids, groups=groups, extra=extra
    ) + action_grants(scope, mode)
    return manifests(subject, name or default_name(mode, subject), grants)
