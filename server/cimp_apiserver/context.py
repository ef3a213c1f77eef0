"""Per-request state carried down the filter chain (``request[CONTEXT]``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from constrained_impersonation.identity import Identity
from constrained_impersonation.resolver import Attributes, RequestInfo

__all__ = ["CONTEXT", "RequestContext", "get_context"]


@dataclass
class RequestContext:
    """What the chain learned about a request.

    ``requestor`` is the authenticated user (the audit event's ``user``); ``user`` is who the
    request acts as after impersonation (what authorization, admission and handlers see).
    """

    info: RequestInfo
    requestor: Identity | None = None
    user: Identity | None = None
    impersonated: bool = False
    impersonation_constraint: str = ""
    # Time spent deciding impersonation (for the audit latency annotation of slow requests).
    impersonation_seconds: float | None = None
    # Filled by the authorization filter, read by the audit filter.
    decision: str = ""
    decision_reason: str = ""
    # The audit event under construction (None when audit is off).
    audit: dict[str, Any] | None = None
    annotations: dict[str, str] = field(default_factory=dict)

    def attributes(self) -> Attributes:
        """Authorization attributes of the request as the effective user."""
        assert self.user is not None, "authentication runs before anything asks for attributes"
        return Attributes.from_request(self.user, self.info)


CONTEXT: web.RequestKey[RequestContext] = web.RequestKey("cimp.context", RequestContext)


def get_context(request: web.Request) -> RequestContext:
    ctx: RequestContext = request[CONTEXT]
    return ctx
