"""Extension points of the REST layer: what other server modules plug into ``build_app``.

Reviews (TokenReview, SubjectAccessReview, ...) are answered, not stored; subresources such
as ``serviceaccounts/token`` produce a response object from a request object; connectors
(``virtualmachineinstances/console``) take over the HTTP exchange; admission hooks see every
write after defaulting and before validation, like kube's admission chain.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from constrained_impersonation._authz.base import Decision
from constrained_impersonation.resolver import Attributes

from .context import RequestContext
from .resources import ResourceType

__all__ = [
    "Admission",
    "AdmissionHook",
    "AuthorizeFn",
    "ConnectHandler",
    "Extensions",
    "ReviewHandler",
    "SubresourceHandler",
]

# async (request, ctx, body) -> response object; answered with 201.
ReviewHandler = Callable[[web.Request, RequestContext, dict[str, Any]], Awaitable[dict[str, Any]]]
# async (request, ctx, namespace, name, body) -> response object; answered with 201.
SubresourceHandler = Callable[
    [web.Request, RequestContext, str, str, dict[str, Any]], Awaitable[dict[str, Any]]
]
# async (request, ctx, namespace, name) -> the response (websocket, stream, ...).
ConnectHandler = Callable[[web.Request, RequestContext, str, str], Awaitable[web.StreamResponse]]


@dataclass
class Admission:
    """One write as admission sees it. ``obj`` may be changed in place (mutating admission);
    raise a :class:`~.status.StatusError` to refuse the write."""

    request: web.Request
    ctx: RequestContext
    operation: str  # CREATE, UPDATE, DELETE
    resource: ResourceType
    subresource: str
    namespace: str
    name: str
    obj: dict[str, Any] | None
    old: dict[str, Any] | None
    dry_run: bool


AdmissionHook = Callable[[Admission], Awaitable[None]]
AuthorizeFn = Callable[[Attributes], tuple[Decision, str]]


@dataclass
class Extensions:
    """Registered extensions; mutable until the app starts serving."""

    # (group, resource) of a review resource → handler
    reviews: dict[tuple[str, str], ReviewHandler] = field(default_factory=dict)
    # (group, resource, subresource) → handler for POST
    subresources: dict[tuple[str, str, str], SubresourceHandler] = field(default_factory=dict)
    # (group, resource, subresource) → handler for any method
    connectors: dict[tuple[str, str, str], ConnectHandler] = field(default_factory=dict)
    admission: list[AdmissionHook] = field(default_factory=list)
    # The authorizer, for what a handler authorizes itself: a PATCH (apply) or PUT that
    # creates also needs ``create``, as in kube. None: no such check (the REST layer alone).
    authorize: AuthorizeFn | None = None
