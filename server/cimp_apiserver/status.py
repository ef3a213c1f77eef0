"""Kubernetes ``Status`` errors with kube-apiserver's codes, reasons and message wording.

Every failure the server reports to a client goes through :class:`StatusError`, so no client
mistake can surface as a traceback or a bare 500.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from aiohttp import web

from constrained_impersonation._goquote import quote
from constrained_impersonation.resolver import Attributes

__all__ = [
    "StatusError",
    "already_exists",
    "bad_request",
    "conflict",
    "forbidden",
    "forbidden_message",
    "forbidden_object",
    "gone",
    "internal_error",
    "invalid",
    "method_not_supported",
    "not_acceptable",
    "not_found",
    "page_not_found",
    "page_not_found_text",
    "quote",
    "request_entity_too_large",
    "sanitize",
    "status_response",
    "too_many_requests",
    "unauthorized",
    "unsupported_media_type",
]


class StatusError(Exception):
    """An API error answered as a ``metav1.Status`` body."""

    def __init__(
        self,
        code: int,
        reason: str,
        message: str,
        details: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        # None: no ``details`` at all (NewBadRequest); ``{}``: kube's empty StatusDetails,
        # which it writes as ``"details": {}`` (NewForbidden for a non-resource path).
        self.details = dict(details) if details is not None else None
        self.headers = dict(headers) if headers else {}

    def body(self) -> dict[str, Any]:
        status: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
        }
        if not self.reason:
            del status["reason"]  # metav1.Status omits an empty reason (a plain 500)
        if self.details is not None:
            status["details"] = self.details
        status["code"] = self.code  # metav1.Status's field order, which clients may compare
        return status


def status_response(err: StatusError) -> web.Response:
    headers = {"Content-Type": "application/json", "X-Content-Type-Options": "nosniff"}
    headers.update(err.headers)
    # As Go's encoder writes it: compact, UTF-8, & < > escaped, a newline after.
    text = json.dumps(err.body(), separators=(",", ":"), ensure_ascii=False)
    for char, escaped in _GO_ESCAPES:
        text = text.replace(char, escaped)
    body = (text + "\n").encode("utf-8", "replace")
    return web.Response(status=err.code, body=body, headers=headers)


_GO_ESCAPES = (
    ("&", "\\u0026"),
    ("<", "\\u003c"),
    (">", "\\u003e"),
    ("\u2028", "\\u2028"),
    ("\u2029", "\\u2029"),
)


def _qualified(resource: str, group: str) -> str:
    return f"{resource}.{group}" if group else resource


def _details(resource: str, group: str, name: str) -> dict[str, Any]:
    details: dict[str, Any] = {}
    if name:
        details["name"] = name
    if group:
        details["group"] = group
    if resource:
        details["kind"] = resource
    return details


def not_found(resource: str, name: str, group: str = "") -> StatusError:
    qualified = _qualified(resource, group)
    message = f"{qualified} {quote(name)} not found" if name else f"{qualified} not found"
    return StatusError(404, "NotFound", message, _details(resource, group, name))


def page_not_found() -> StatusError:
    """go-restful's 404 for a path under an API it serves but no route of it (``/api/v2``)."""
    return StatusError(404, "NotFound", "the server could not find the requested resource", {})


def page_not_found_text() -> web.Response:
    """Go's ``http.NotFound``, kube's answer for a path no API and no handler serves (``/foo``,
    ``/apis/<unserved group>``): plain text, not a Status."""
    return web.Response(
        status=404,
        text="404 page not found\n",
        content_type="text/plain",
        charset="utf-8",
        headers={"X-Content-Type-Options": "nosniff"},
    )


def already_exists(resource: str, name: str, group: str = "") -> StatusError:
    return StatusError(
        409,
        "AlreadyExists",
        f"{_qualified(resource, group)} {quote(name)} already exists",
        _details(resource, group, name),
    )


def conflict(resource: str, name: str, group: str = "", why: str = "") -> StatusError:
    why = why or (
        "the object has been modified; please apply your changes to the latest version "
        "and try again"
    )
    return StatusError(
        409,
        "Conflict",
        f"Operation cannot be fulfilled on {_qualified(resource, group)} {quote(name)}: {why}",
        _details(resource, group, name),
    )


def invalid(
    kind: str, name: str, group: str, causes: Sequence[tuple[str, str, str]]
) -> StatusError:
    """``causes`` are ``(field, reason_type, message)``, e.g. ``("metadata.name",
    "FieldValueRequired", "Required value: name or generateName is required")``."""
    # ``field.ErrorList.ToAggregate``: duplicates dropped, several errors shown as ``[a, b]``.
    messages: list[str] = []
    for field, _, msg in causes:
        text = f"{field}: {msg}"
        if text not in messages:
            messages.append(text)
    qualified = f"{kind}.{group}" if group else kind
    message = f"{qualified} {quote(name)} is invalid"
    if messages:
        message += ": " + (messages[0] if len(messages) == 1 else f"[{', '.join(messages)}]")
    details: dict[str, Any] = {}
    if name:
        details["name"] = name
    if group:
        details["group"] = group
    if kind:
        details["kind"] = kind
    details["causes"] = [{"reason": r, "message": m, "field": f} for f, r, m in causes]
    return StatusError(422, "Invalid", message, details)


def bad_request(message: str) -> StatusError:
    return StatusError(400, "BadRequest", message)


def unauthorized(message: str = "Unauthorized") -> StatusError:
    return StatusError(401, "Unauthorized", message)


def gone(message: str) -> StatusError:
    return StatusError(410, "Expired", message)


def method_not_supported(resource: str, group: str, action: str) -> StatusError:
    return StatusError(
        405,
        "MethodNotAllowed",
        f"{action} is not supported on resources of kind {_qualified(resource, group)!r}",
        _details(resource, group, ""),
    )


def not_acceptable(accepted: Sequence[str]) -> StatusError:
    return StatusError(
        406,
        "NotAcceptable",
        f"only the following media types are accepted: {', '.join(accepted)}",
    )


def unsupported_media_type(content_type: str, supported: Sequence[str]) -> StatusError:
    return StatusError(
        415,
        "UnsupportedMediaType",
        f"the body of the request was in an unknown format - accepted media types include: "
        f"{', '.join(supported)}",
    )


def request_entity_too_large(limit: int) -> StatusError:
    return StatusError(413, "RequestEntityTooLarge", f"limit is {limit}")


def too_many_requests(message: str, retry_after: int) -> StatusError:
    return StatusError(
        429,
        "TooManyRequests",
        message,
        {"retryAfterSeconds": retry_after},
        headers={"Retry-After": str(retry_after)},
    )


def internal_error(message: str) -> StatusError:
    return StatusError(
        500,
        "InternalError",
        f"Internal error occurred: {message}",
        {"causes": [{"message": message}]},
    )


# responsewriters.Forbidden keeps its message from reading as HTML (quotes stay).
_HTML_SANITIZER = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})


def sanitize(message: str) -> str:
    """kube's ``&``, ``<``, ``>`` replacement in authorization 403s and internal errors."""
    return message.translate(_HTML_SANITIZER)


def forbidden_object(resource: str, group: str, name: str, message: str) -> StatusError:
    """403 as kube's ``apierrors.NewForbidden``: ``<resource> "<name>" is forbidden: <why>``."""
    qualified = _qualified(resource, group)
    head = f"{qualified} {quote(name)}" if name else qualified
    return StatusError(
        403, "Forbidden", f"{head} is forbidden: {message}", _details(resource, group, name)
    )


def forbidden_message(attrs: Attributes) -> str:
    """kube-apiserver's wording for what ``attrs.user`` may not do (without the reason)."""
    user = quote(attrs.user.user)
    if not attrs.resource_request:
        return f"User {user} cannot {attrs.verb} path {quote(attrs.path)}"
    resource = attrs.resource + (f"/{attrs.subresource}" if attrs.subresource else "")
    scope = (
        f"in the namespace {quote(attrs.namespace)}" if attrs.namespace else "at the cluster scope"
    )
    return (
        f"User {user} cannot {attrs.verb} resource {quote(resource)} "
        f"in API group {quote(attrs.api_group)} {scope}"
    )


def forbidden(attrs: Attributes, reason: str = "") -> StatusError:
    """403 for ``attrs``, worded as kube-apiserver's ``responsewriters.Forbidden``."""
    msg = sanitize(forbidden_message(attrs))
    if reason:
        msg = f"{msg}: {reason}"
    if not attrs.resource_request:
        message = f"forbidden: {msg}"
        details: dict[str, Any] = {}
    else:
        qualified = _qualified(attrs.resource, attrs.api_group)
        if attrs.name:
            message = f"{qualified} {quote(attrs.name)} is forbidden: {msg}"
        else:
            message = f"{qualified} is forbidden: {msg}"
        details = _details(attrs.resource, attrs.api_group, attrs.name)
    return StatusError(403, "Forbidden", message, details)
