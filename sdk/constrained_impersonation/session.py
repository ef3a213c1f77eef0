"""Impersonating sessions on top of the official ``kubernetes`` client.

A session pairs an identity to impersonate with a declared :class:`~.scope.Scope`. Its
``api_client`` is a real ``kubernetes.client.ApiClient``: pass it to ``CoreV1Api``,
``DynamicClient`` or ``watch.Watch`` unchanged. Every request through it carries the
impersonation headers, and anything outside the scope raises ``OutOfScopeError`` before a
byte is sent.

Each class targets one constrained-impersonation mode (docs/semantics.md#which-mode). The server
picks the mode from the headers, so the classes refuse identities that would land in another mode
or fall back to legacy impersonation (``InvalidIdentityError``), rather than letting a
legacy grant silently widen what the session may do.

=========================  ========================  =====================================
class                      impersonates              mode the server uses
=========================  ========================  =====================================
``NodeSession``            ``system:node:<node>``    ``associated-node`` (pod-bound token)
``ArbitraryNodeSession``   ``system:node:<node>``    ``arbitrary-node``
``ServiceAccountSession``  ``system:serviceaccount``  ``serviceaccount``
``UserSession``            any other user            ``user-info``
=========================  ========================  =====================================

Sessions made from the same base ``ApiClient`` share its connection pool, its credentials
and, when ``CIMP_QPS`` is set, one client-side rate limiter.
"""

from __future__ import annotations

import os
from types import TracebackType
from typing import Any, ClassVar, Self

from kubernetes.client import ApiClient, Configuration

from ._core import Target
from ._sessions import (
    ArbitraryNodeBase,
    AssociatedNodeBase,
    ServiceAccountBase,
    SessionBase,
    UserBase,
    for_identity,
    node_identity,
    service_account_identity,
    session_arguments,
    user_identity,
)
from ._transport import ImpersonatingREST, SessionApiClient, Urllib3Target
from .identity import Identity
from .retry import RetryPolicy
from .scope import Scope
from .settings import Settings
from .telemetry import Telemetry

__all__ = [
    "ArbitraryNodeSession",
    "NodeSession",
    "ServiceAccountSession",
    "Session",
    "UserSession",
    "node_identity",
    "service_account_identity",
    "session_arguments",
    "session_for_identity",
    "user_identity",
]


class Session(SessionBase[ApiClient]):
    """Base of the synchronous sessions: ``api_client``, ``identity``, ``mode``, ``scope``.

    Use as a context manager or call :meth:`close`; closing never closes the caller's base
    client, only stops this session's ``api_client`` from sending.
    """

    _client_type: ClassVar[type[Any]] = ApiClient
    _client_name: ClassVar[str] = "kubernetes.client.ApiClient"
    _other_flavour: ClassVar[str] = "for kubernetes.aio clients use constrained_impersonation.aio"
    _session_client_type: ClassVar[type[Any]] = SessionApiClient
    _target_type: ClassVar[type[Target]] = Urllib3Target

    def _wrap(self, api_client: ApiClient, target: Target) -> ApiClient:
        assert isinstance(target, Urllib3Target)
        return SessionApiClient(api_client, ImpersonatingREST(api_client.rest_client, target))

    def close(self) -> None:
        """Stop sending; closes the base client only if this session created it."""
        self._target.closed = True
        if self._owns_base:
            self._owns_base = False
            self._base.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class NodeSession(AssociatedNodeBase[ApiClient], Session):
    """Impersonate the node this process runs on (KEP-5284 story 1, ``associated-node``).

    The server applies ``associated-node`` only when the requestor's service-account token
    is bound to a pod on ``node`` (or to the node itself); with any other token it tries
    ``arbitrary-node``. Targets are node-only: the server fixes the groups
    (``system:nodes``, ``system:authenticated``).
    """

    @classmethod
    def _incluster_client(cls, settings: Settings) -> ApiClient:
        from .kubeconfig import incluster_configuration

        return ApiClient(incluster_configuration(Configuration, settings, environ=os.environ))

    @classmethod
    def _abandon(cls, base: ApiClient) -> None:
        base.close()


class ArbitraryNodeSession(ArbitraryNodeBase[ApiClient], Session):
    """Impersonate any node by name (``arbitrary-node``; needs a grant per node name)."""


class ServiceAccountSession(ServiceAccountBase[ApiClient], Session):
    """Impersonate a service account (``serviceaccount``; grantable per namespace)."""


class UserSession(UserBase[ApiClient], Session):
    """Act as an end user with their groups, UID and extras (``user-info``; story 2).

    Groups and extras are sent one header line per value; a deputy forwarding them needs an
    ``impersonate:user-info`` grant for each (``groups``, ``uids``, ``userextras/<key>``).
    """


_CLASSES: dict[str, type[Session]] = {
    "node": NodeSession,
    "serviceaccount": ServiceAccountSession,
    "user": UserSession,
}


def session_for_identity(
    api_client: ApiClient,
    identity: Identity,
    *,
    scope: Scope,
    settings: Settings | None = None,
    telemetry: Telemetry | None = None,
    retry: RetryPolicy | None = None,
) -> Session:
    """The session class matching ``identity``'s target (node, service account, user)."""
    return for_identity(_CLASSES, api_client, identity, scope, settings, telemetry, retry)
