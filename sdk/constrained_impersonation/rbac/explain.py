"""Explain a 403 (or a 400) from impersonation: which check failed, in which mode, and the
RBAC that would grant it.

Parsing is by shape (docs/semantics.md#errors) and shared with the SDK: ``denied.parse_forbidden``
reads the message, ``denied.explain_forbidden`` builds the rule. This module adds what an operator
holding a whole audit event or a kubectl error line needs: the other grant of the pair, a
kubectl-applicable manifest, and the downstream case (the impersonated user lacks RBAC,
impersonation itself succeeded).

Accepted input: a ``Status`` object, an audit ``Event`` (or ``EventList``, or JSON lines of
events), the text of a ``kubernetes.client.ApiException`` (``HTTP response body: {...}``),
or kubectl's ``Error from server (Forbidden): <message>`` line.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..auditlog import request_text
from ..denied import ParsedForbidden, explain_forbidden, parse_forbidden
from .policy import CONSTRAINED_MODES, LEGACY, Grant, Subject, manifests, merge_rules

__all__ = ["Explanation", "explain", "explain_text", "parse_inputs"]

_KUBECTL = re.compile(r"^Error from server \((\w+)\): (.*)$")
_BAD_REQUEST_FRAGMENT = "without impersonating a user"


@dataclass
class Explanation:
    """What went wrong and how to grant it (``rule`` None: no grant can fix it)."""

    kind: str  # impersonation | downstream | validation | bad-request
    summary: str
    requestor: str = ""
    mode: str = ""
    check: str = ""  # action | target | legacy | ""
    verb: str = ""
    resource: str = ""
    api_group: str = ""
    namespace: str = ""
    name: str = ""
    path: str = ""
    rule: dict[str, Any] | None = None
    role_kind: str = ""
    role_namespace: str = ""
    grantee: str = ""
    notes: list[str] = field(default_factory=list)
    manifests: list[dict[str, Any]] = field(default_factory=list)
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "summary": self.summary}
        for key in (
            "requestor",
            "mode",
            "check",
            "verb",
            "resource",
            "api_group",
            "namespace",
            "name",
            "path",
            "role_kind",
            "role_namespace",
            "grantee",
        ):
            value = getattr(self, key)
            if value:
                parts = key.split("_")
                out[parts[0] + "".join(p.title() for p in parts[1:])] = value
        if self.rule is not None:
            out["rule"] = self.rule
        if self.notes:
            out["notes"] = list(self.notes)
        if self.manifests:
            out["manifests"] = self.manifests
        out["message"] = self.message
        return out


# --------------------------------------------------------------------------- input


def _from_text_line(line: str) -> dict[str, Any] | None:
    match = _KUBECTL.match(line.strip())
    if match:
        reason, message = match.groups()
        code = {"Forbidden": 403, "BadRequest": 400}.get(reason, 0)
        return {"kind": "Status", "reason": reason, "code": code, "message": message}
    if " is forbidden: User " in line or line.startswith("forbidden: User "):
        return {"kind": "Status", "reason": "Forbidden", "code": 403, "message": line.strip()}
    return None


def parse_inputs(text: str, source: str = "input") -> list[dict[str, Any]]:
    """Status objects and audit events found in ``text`` (errors name ``source``)."""
    stripped = text.strip()
    if not stripped:
        raise ValueError(f"{source}: empty input; pass a 403 Status, an audit event or a log")
    marker = "HTTP response body: "
    if marker in stripped:  # str(ApiException)
        body = stripped.split(marker, 1)[1].strip().splitlines()[0]
        return parse_inputs(body, source)
    if stripped[0] in "{[":
        try:
            doc = json.loads(stripped)
        except ValueError:
            doc = None
        if isinstance(doc, list):
            return [d for d in doc if isinstance(d, dict)]
        if isinstance(doc, dict):
            if doc.get("kind") == "EventList":
                return [d for d in doc.get("items") or () if isinstance(d, dict)]
            return [doc]
        if stripped[0] == "{":  # JSON lines (an audit log excerpt)
            items = []
            for number, line in enumerate(stripped.splitlines(), 1):
                if not line.strip():
                    continue
                try:
                    item = json.loads(line)
                except ValueError as exc:
                    raise ValueError(f"{source}: line {number}: malformed JSON: {exc}") from None
                if isinstance(item, dict):
                    items.append(item)
            return items
        raise ValueError(f"{source}: malformed JSON")
    found = [s for s in map(_from_text_line, stripped.splitlines()) if s is not None]
    if not found:
        raise ValueError(
            f"{source}: not a Status, an audit event or a kubectl 'Error from server' line"
        )
    return found


# --------------------------------------------------------------------------- explaining


def _status_of(item: Mapping[str, Any]) -> tuple[Mapping[str, Any], Mapping[str, Any] | None]:
    """(Status, audit event or None)."""
    if item.get("kind") == "Event" or "responseStatus" in item:
        status = item.get("responseStatus")
        return (status if isinstance(status, Mapping) else {}), item
    return item, None


def _grant(parsed: ParsedForbidden, rule: Mapping[str, Any], role_kind: str, ns: str) -> Grant:
    names = rule.get("resourceNames") or [""]
    if parsed.path and not parsed.resource:
        return Grant(parsed.verb, path=parsed.path)
    return Grant(
        parsed.verb,
        parsed.group,
        parsed.resource,
        str(names[0]),
        ns if role_kind == "Role" else "",
    )


def _check_kind(parsed: ParsedForbidden) -> str:
    if parsed.mode == LEGACY:
        return "legacy"
    return "action" if parsed.is_action_check else "target"


def _what(parsed: ParsedForbidden) -> str:
    if parsed.path and not parsed.resource:
        return f"path {parsed.path}"
    res = f"{parsed.resource}.{parsed.group}" if parsed.group else parsed.resource
    named = f" {parsed.name!r}" if parsed.name else ""
    where = f" in namespace {parsed.namespace}" if parsed.namespace else " (cluster scope)"
    return f"{res}{named}{where}"


def _impersonation(
    parsed: ParsedForbidden, status: Mapping[str, Any], event: Mapping[str, Any] | None
) -> Explanation:
    denied = explain_forbidden(dict(status))
    assert denied is not None
    mode = parsed.mode or ""
    check = _check_kind(parsed)
    out = Explanation(
        kind="impersonation",
        summary="",
        requestor=parsed.requestor,
        mode=mode,
        check=check,
        verb=parsed.verb,
        resource=parsed.resource,
        api_group=parsed.group,
        namespace=parsed.namespace,
        name=parsed.name,
        path=parsed.path,
        rule=denied.rule,
        role_kind=denied.role_kind,
        role_namespace=denied.role_namespace,
        grantee=parsed.requestor,
        message=str(status.get("message") or ""),
    )
    if denied.rule is None:
        out.kind = "validation"
        out.summary = (
            f"{parsed.requestor} was refused impersonation in mode {mode}: {parsed.reason}. "
            "No RBAC grant can allow this identity in constrained impersonation; change the "
            "identity (only legacy impersonation accepts it)"
        )
        return out
    where = (
        f"a Role in namespace {denied.role_namespace} (or a ClusterRole) bound by a RoleBinding "
        "there"
        if denied.role_kind == "Role"
        else "a ClusterRole bound by a ClusterRoleBinding"
    )
    label = {"action": "action check", "target": "target check", "legacy": "legacy check"}[check]
    out.summary = (
        f"the {label} failed in mode {mode}: {parsed.requestor} lacks {parsed.verb} on "
        f"{_what(parsed)}; grant it with {where}"
    )
    if check == "action":
        out.notes.append(
            f"the target check (impersonate:{mode} on whom it impersonates) comes next and "
            "must pass too; `cimp check` lists both"
        )
    elif check == "target" and mode in CONSTRAINED_MODES:
        out.notes.append(
            f"the action check (impersonate-on:{mode}:<verb>) of this request passed: "
            "only the target grant is missing"
        )
    if mode == "arbitrary-node":
        out.notes.append(
            "a node target reports arbitrary-node when associated-node did not apply: for "
            "a DaemonSet impersonating its own node, use a pod-bound service-account token "
            "and grant impersonate:associated-node (no resourceNames) instead"
        )
    if mode == LEGACY:
        out.notes.append(
            "the server reported the legacy check: either the target can only be "
            "impersonated through legacy (a node or service account with uid/group/extra "
            "headers), or the server remembers that legacy last worked for this requestor. "
            "Prefer a constrained grant (`cimp migrate`) over legacy impersonate"
        )
    if parsed.reason:
        out.notes.append(f"authorizer said: {parsed.reason}")
    if event is not None:
        out.notes.append(f"request: {request_text(event, named=True)}")
    if denied.rule is not None:
        subject = Subject.from_user(parsed.requestor)
        out.manifests = manifests(
            subject,
            f"cimp:fix:{mode}:{subject.slug()}",
            [_grant(parsed, denied.rule, denied.role_kind, denied.role_namespace)],
        )
    return out


def _downstream(
    parsed: ParsedForbidden, status: Mapping[str, Any], event: Mapping[str, Any] | None
) -> Explanation:
    check_grant = (
        Grant(parsed.verb, path=parsed.path)
        if parsed.path and not parsed.resource
        else Grant(parsed.verb, parsed.group, parsed.resource, parsed.name, parsed.namespace)
    )
    subject = Subject.from_user(parsed.requestor) if parsed.requestor else None
    out = Explanation(
        kind="downstream",
        summary="",
        requestor=str(((event or {}).get("user") or {}).get("username") or ""),
        verb=parsed.verb,
        resource=parsed.resource,
        api_group=parsed.group,
        namespace=parsed.namespace,
        name=parsed.name,
        path=parsed.path,
        role_kind="Role" if parsed.namespace else "ClusterRole",
        role_namespace=parsed.namespace,
        grantee=parsed.requestor,
        message=str(status.get("message") or ""),
    )
    impersonated = (event or {}).get("impersonatedUser")
    prefix = "not an impersonation refusal: "
    if isinstance(impersonated, Mapping) and event is not None:
        prefix = f"impersonation succeeded (as {impersonated.get('username')}), but "
    out.summary = (
        f"{prefix}{parsed.requestor} itself lacks {parsed.verb} on {_what(parsed)}. The "
        "impersonated identity needs this permission; impersonation grants do not add it"
    )
    out.rule = merge_rules([check_grant])[0]
    if subject is not None:
        out.manifests = manifests(subject, f"cimp:fix:{subject.slug()}", [check_grant])
    if parsed.reason:
        out.notes.append(f"authorizer said: {parsed.reason}")
    return out


def explain(item: Mapping[str, Any]) -> Explanation | None:
    """Explain one Status or audit event; None when it is not a 403/400 worth explaining."""
    status, event = _status_of(item)
    message = str(status.get("message") or "")
    code = status.get("code")
    if code == 400 and _BAD_REQUEST_FRAGMENT in message:
        return Explanation(
            kind="bad-request",
            summary=(
                "400: impersonation headers (Impersonate-Uid, -Group or -Extra-*) were sent "
                "without Impersonate-User; every impersonation must name a user "
                "(docs/semantics.md#headers)"
            ),
            message=message,
        )
    parsed = parse_forbidden(dict(status))
    if parsed is None:
        return None
    if parsed.mode is not None:
        return _impersonation(parsed, status, event)
    return _downstream(parsed, status, event)


def explain_text(text: str, source: str = "input") -> list[Explanation]:
    """Explain every 403/400 in ``text`` (see :func:`parse_inputs` for the accepted shapes)."""
    return [e for item in parse_inputs(text, source) if (e := explain(item)) is not None]
