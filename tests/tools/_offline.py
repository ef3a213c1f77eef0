"""Decide impersonation offline: kube's impersonation engine over kube's RBAC authorizer,
both from the embedded API server, loaded with the objects a tool rendered."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from cimp_apiserver.impersonation import Impersonator
from cimp_apiserver.status import StatusError
from constrained_impersonation.headers import encode, parse
from constrained_impersonation.identity import Identity
from constrained_impersonation.rbac.objects import RbacSet
from constrained_impersonation.resolver import Attributes, resolve_url


def impersonate(
    objects: Iterable[Mapping[str, Any]],
    requestor: Identity,
    target: Identity,
    method: str,
    url: str,
) -> tuple[str, str]:
    """("ok", mode) or ("denied", message) for one request, on a fresh server state."""
    authorizer = RbacSet(objects).authorizer()
    engine = Impersonator(authorizer.authorize)
    parsed = parse(encode(target))
    assert parsed is not None
    info = resolve_url(method, url)
    try:
        result = engine.impersonate(requestor, parsed, Attributes.from_request(requestor, info))
    except StatusError as err:
        return "denied", err.message
    return "ok", result.mode
