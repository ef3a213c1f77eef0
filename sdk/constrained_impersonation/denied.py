"""Turn a 403 into :class:`ImpersonationDenied` when the server refused the impersonation.

Two kinds of 403 come back through an impersonating client (docs/semantics.md#errors):

* impersonation refusals name the **requestor** and a verb starting with ``impersonate``:
  ``impersonate`` (legacy), ``impersonate:<mode>`` (the target check) or
  ``impersonate-on:<mode>:<verb>`` (the action check);
* downstream refusals name the **impersonated** user and the plain request verb; they stay
  ``kubernetes.client.ApiException`` (the impersonated user lacks RBAC, not the requestor).

Messages are parsed by shape, never by full text: which check the server reports depends on
its per-requestor mode memory, and authorizers may append reasons.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from .errors import ImpersonationDenied
from .identity import Identity
from .resolver import RequestInfo

__all__ = ["AUTHENTICATION_GROUP", "CONSTRAINED_MODES", "explain_forbidden", "parse_forbidden"]

AUTHENTICATION_GROUP = "authentication.k8s.io"
CONSTRAINED_MODES = ("associated-node", "arbitrary-node", "serviceaccount", "user-info")
LEGACY = "legacy"

_Q = r'"(?:[^"\\]|\\.)*"'
_MESSAGE = re.compile(
    rf"^(?:(?P<qualified>[^\s\"]+)(?: (?P<name>{_Q}))? is )?forbidden: "
    rf"User (?P<user>{_Q}) cannot (?P<verb>\S+) "
    rf"(?:resource (?P<resource>{_Q}) in API group (?P<group>{_Q}) "
    rf"(?:in the namespace (?P<namespace>{_Q})|at the cluster scope)"
    rf"|path (?P<path>{_Q}))"
    r"(?:: (?P<reason>.*))?$",
    re.DOTALL,
)
# Reasons the constrained modes give for identities no RBAC grant can make acceptable.
_VALIDATION_PREFIXES = ("impersonating ", "when impersonating ")


def _unquote(quoted: str | None) -> str:
    """Go ``%q`` / JSON string literal to text; the raw inside if it is not valid JSON."""
    if quoted is None:
        return ""
    try:
        value = json.loads(quoted)
    except ValueError:
        return quoted[1:-1]
    return value if isinstance(value, str) else quoted[1:-1]


class ParsedForbidden:
    """The fields of a kube-apiserver forbidden message."""

    __slots__ = ("group", "name", "namespace", "path", "reason", "requestor", "resource", "verb")

    def __init__(self, match: re.Match[str]) -> None:
        self.requestor = _unquote(match.group("user"))
        self.verb = match.group("verb")
        self.resource = _unquote(match.group("resource"))
        self.group = _unquote(match.group("group"))
        self.namespace = _unquote(match.group("namespace"))
        self.name = _unquote(match.group("name"))
        self.path = _unquote(match.group("path"))
        self.reason = match.group("reason") or ""

    @property
    def mode(self) -> str | None:
        """The impersonation mode of the check, or None for a downstream 403."""
        verb = self.verb
        if verb == "impersonate":
            return LEGACY
        if verb.startswith("impersonate:"):
            return verb.split(":", 1)[1]
        if verb.startswith("impersonate-on:"):
            parts = verb.split(":", 2)
            return parts[1] if len(parts) == 3 else None
        return None

    @property
    def is_action_check(self) -> bool:
        return self.verb.startswith("impersonate-on:")


def _status_dict(status: Mapping[str, Any] | str | bytes) -> Mapping[str, Any] | None:
    if isinstance(status, bytes | bytearray):
        status = status.decode("utf-8", "replace")
    if isinstance(status, str):
        try:
            loaded = json.loads(status)
        except ValueError:
            return None
        return loaded if isinstance(loaded, Mapping) else None
    return status


def parse_forbidden(status: Mapping[str, Any] | str | bytes) -> ParsedForbidden | None:
    """Parse any 403 Status (impersonation or not); None if it is not a forbidden message."""
    body = _status_dict(status)
    if body is None:
        return None
    if body.get("code") not in (403, None) and body.get("reason") != "Forbidden":
        return None
    message = body.get("message")
    if not isinstance(message, str):
        return None
    match = _MESSAGE.match(message)
    return ParsedForbidden(match) if match else None


def explain_forbidden(status: Mapping[str, Any] | str | bytes) -> ImpersonationDenied | None:
    """:class:`ImpersonationDenied` for an impersonation refusal; None for any other 403.

    ``status`` is the Status body of the 403 (a dict, or its JSON text as found in
    ``ApiException.body``).
    """
    body = _status_dict(status)
    parsed = parse_forbidden(body) if body is not None else None
    if parsed is None or parsed.mode is None or body is None:
        return None
    return _build(parsed, body, ImpersonationDenied)


# --------------------------------------------------------------------------- rules


def _split_resource(resource: str) -> tuple[str, str]:
    base, _, sub = resource.partition("/")
    return base, sub


def _rule_for(parsed: ParsedForbidden) -> tuple[dict[str, Any] | None, str, str]:
    """(RBAC rule, "Role"/"ClusterRole", namespace of the Role) granting the failed check."""
    if parsed.reason.startswith(_VALIDATION_PREFIXES):
        return None, "ClusterRole", ""
    if not parsed.resource and parsed.path:
        return {"nonResourceURLs": [parsed.path], "verbs": [parsed.verb]}, "ClusterRole", ""
    rule: dict[str, Any] = {
        "apiGroups": [parsed.group],
        "resources": [parsed.resource],
        "verbs": [parsed.verb],
    }
    base, _ = _split_resource(parsed.resource)
    mode = parsed.mode
    wildcard = parsed.name == "*"
    if parsed.name and not wildcard and mode != "associated-node":
        rule["resourceNames"] = [parsed.name]
    if parsed.is_action_check:
        # The action check carries the request's namespace: a Role there is enough.
        if parsed.namespace:
            return rule, "Role", parsed.namespace
        return rule, "ClusterRole", ""
    if base == "serviceaccounts" and parsed.namespace:
        return rule, "Role", parsed.namespace
    return rule, "ClusterRole", ""


def _what(parsed: ParsedForbidden) -> str:
    if not parsed.resource:
        return f"path {parsed.path!r}"
    group = f" in API group {parsed.group!r}" if parsed.group else " in the core API group"
    named = f" named {parsed.name!r}" if parsed.name else ""
    where = f" in namespace {parsed.namespace!r}" if parsed.namespace else ""
    return f"{parsed.resource!r}{group}{named}{where}"


def _message(parsed: ParsedForbidden, rule: Mapping[str, Any] | None, kind: str, ns: str) -> str:
    mode = parsed.mode or "?"
    head = (
        f"impersonation denied (mode {mode}): the API server refused to let "
        f"{parsed.requestor!r} impersonate; "
    )
    if rule is None:
        return (
            head + f"no RBAC grant can allow this identity in constrained impersonation: "
            f"{parsed.reason}. Change the identity (server said: {parsed.verb} on {_what(parsed)})"
        )
    if kind == "Role":
        where = f"a Role in namespace {ns!r} (or a ClusterRole) with a RoleBinding there"
    else:
        where = "a ClusterRole with a ClusterRoleBinding"
    check = "action" if parsed.is_action_check else "target"
    text = (
        head + f"it lacks {parsed.verb!r} on {_what(parsed)} (the {check} check). "
        f"Grant it through {where} to {parsed.requestor!r}: {json.dumps(rule)}"
    )
    if mode in CONSTRAINED_MODES:
        text += (
            f". Constrained impersonation needs both the target grant (impersonate:{mode}) "
            f"and an action grant (impersonate-on:{mode}:<verb>) for every request"
        )
    if parsed.reason:
        text += f" (authorizer: {parsed.reason})"
    return text


def _build(
    parsed: ParsedForbidden,
    body: Mapping[str, Any],
    cls: type[ImpersonationDenied],
    *,
    message: str | None = None,
    rule_override: tuple[dict[str, Any] | None, str, str] | None = None,
) -> ImpersonationDenied:
    rule, kind, ns = rule_override if rule_override is not None else _rule_for(parsed)
    return cls(
        message if message is not None else _message(parsed, rule, kind, ns),
        mode=parsed.mode or "",
        verb=parsed.verb,
        requestor=parsed.requestor,
        resource=parsed.resource or parsed.path,
        api_group=parsed.group,
        namespace=parsed.namespace,
        name=parsed.name,
        rule=rule,
        status=body,
        role_kind=kind,
        role_namespace=ns,
    )


# --------------------------------------------------------------------------- sessions


def _target_rule(identity: Identity, mode: str) -> dict[str, Any]:
    verb = f"impersonate:{mode}"
    if mode == "associated-node":
        return {"apiGroups": [AUTHENTICATION_GROUP], "resources": ["nodes"], "verbs": [verb]}
    if mode == "arbitrary-node":
        names = [identity.node or identity.user]
        resource = "nodes"
    elif mode == "serviceaccount" and identity.service_account is not None:
        names = [identity.service_account[1]]
        resource = "serviceaccounts"
    else:
        names = [identity.user]
        resource = "users"
    return {
        "apiGroups": [AUTHENTICATION_GROUP],
        "resources": [resource],
        "verbs": [verb],
        "resourceNames": names,
    }


def _action_rule(info: RequestInfo, mode: str) -> tuple[dict[str, Any], str, str]:
    verb = f"impersonate-on:{mode}:{info.verb}"
    if not info.is_resource_request:
        return {"nonResourceURLs": [info.path], "verbs": [verb]}, "ClusterRole", ""
    resource = info.resource + (f"/{info.subresource}" if info.subresource else "")
    rule: dict[str, Any] = {"apiGroups": [info.api_group], "resources": [resource], "verbs": [verb]}
    if info.name:
        rule["resourceNames"] = [info.name]
    if info.namespace:
        return rule, "Role", info.namespace
    return rule, "ClusterRole", ""


def denial_for_session(
    body: Mapping[str, Any] | str | bytes,
    *,
    identity: Identity,
    mode: str,
    info: RequestInfo,
) -> ImpersonationDenied | None:
    """Like :func:`explain_forbidden`, with what the session knows added to the message.

    A refusal naming the impersonated user is a downstream 403 and gives None, whatever its
    verb. When the server reports a different mode than the session's (mode memory, or a
    requestor whose token is not bound to the node), the hint names the grants the session's
    own mode needs instead of suggesting a wider legacy grant.
    """
    status = _status_dict(body)
    if status is None:
        return None
    parsed = parse_forbidden(status)
    if parsed is None or parsed.mode is None or parsed.requestor == identity.user:
        return None
    reported = parsed.mode
    if reported == mode or mode not in CONSTRAINED_MODES:
        return _build(parsed, status, ImpersonationDenied)
    target = _target_rule(identity, mode)
    action, kind, ns = _action_rule(info, mode)
    if reported == "arbitrary-node" and mode == "associated-node":
        why = (
            "associated-node did not apply: the requestor's token is not bound to node "
            f"{identity.node!r} (it must be a pod-bound service-account token of a pod on that "
            "node), so the server fell back to arbitrary-node"
        )
    elif reported == LEGACY:
        why = (
            "the server reported its legacy check, which happens when it remembers that legacy "
            "impersonation last worked for this requestor; a constrained session never relies "
            "on legacy grants"
        )
    else:
        why = f"the server reported mode {reported}"
    message = (
        f"impersonation denied (session mode {mode}, reported {reported}): the API server "
        f"refused to let {parsed.requestor!r} impersonate {identity.user!r} for "
        f"{info.verb} {_describe_info(info)}; {why}. Grant {json.dumps(target)} with a "
        f"ClusterRole and {json.dumps(action)} with a "
        f"{'Role in namespace ' + repr(ns) if kind == 'Role' else 'ClusterRole'} to "
        f"{parsed.requestor!r} (server said: {status.get('message')})"
    )
    return _build(
        parsed, status, ImpersonationDenied, message=message, rule_override=(action, kind, ns)
    )


def _describe_info(info: RequestInfo) -> str:
    if not info.is_resource_request:
        return f"path {info.path!r}"
    return info.group_resource + (f" in namespace {info.namespace!r}" if info.namespace else "")
