"""Impersonating sessions on top of the official ``kubernetes`` client.

A session pairs an identity to impersonate with a declared :class:`~.scope.Scope`. Its
``api_client`` is a real ``kubernetes.client.ApiClient``: pass it to ``CoreV1Api``,
``DynamicClient`` or ``watch.Watch`` unchanged. Every request through it carries the
impersonation headers, and anything outside the scope raises ``OutOfScopeError`` before a
byte is sent.

Each class targets one constrained-impersonation mode (SPEC section 3.3). The server picks
the mode from the headers, so the classes refuse identities that would land in another mode
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
from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import Any, ClassVar, Self

from kubernetes.client import ApiClient, Configuration

from . import headers as _headers
from ._transport import ImpersonatingREST, SessionApiClient, Target, shared_limiter
from .errors import ConfigurationError, ImpersonationError, InvalidIdentityError
from .identity import (
    Identity,
    is_dns1123_label,
    is_dns1123_subdomain,
    node_name_of,
    node_user,
    service_account_of,
    service_account_user,
)
from .retry import RetryPolicy
from .scope import Scope
from .settings import Settings
from .telemetry import DISABLED, GLOBAL, Telemetry

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


# --------------------------------------------------------------------------- identities


def node_identity(node: str, *, field: str = "node") -> Identity:
    """``system:node:<node>``; ``node`` must be a DNS-1123 subdomain (a valid Node name)."""
    if not isinstance(node, str) or not is_dns1123_subdomain(node):
        raise InvalidIdentityError(
            field,
            node,
            "is not a valid node name (a lower-case DNS-1123 subdomain such as "
            "'worker-1.example'); the server would treat it as an ordinary user",
        )
    identity = Identity(node_user(node))
    _headers.check_constrained(identity)
    return identity


def service_account_identity(namespace: str, name: str) -> Identity:
    """``system:serviceaccount:<namespace>:<name>`` with both parts validated."""
    if not isinstance(namespace, str) or not is_dns1123_label(namespace):
        raise InvalidIdentityError(
            "namespace", namespace, "is not a valid namespace name (a DNS-1123 label)"
        )
    if not isinstance(name, str) or not is_dns1123_subdomain(name):
        raise InvalidIdentityError(
            "name", name, "is not a valid service-account name (a DNS-1123 subdomain)"
        )
    identity = Identity(service_account_user(namespace, name))
    _headers.check_constrained(identity)
    return identity


def user_identity(
    user: str,
    uid: str | None = None,
    groups: Iterable[str] = (),
    extra: Mapping[str, Iterable[str]] | None = None,
) -> Identity:
    """An ordinary user (mode ``user-info``); node and service-account names are refused."""
    if isinstance(user, str) and node_name_of(user) is not None:
        raise InvalidIdentityError(
            "user",
            user,
            "is a node user: the server would use a node mode, not user-info; use "
            "NodeSession(node=...) or ArbitraryNodeSession(node=...)",
        )
    if isinstance(user, str) and service_account_of(user) is not None:
        raise InvalidIdentityError(
            "user",
            user,
            "is a service-account user: the server would use the serviceaccount mode; use "
            "ServiceAccountSession(namespace=..., name=...)",
        )
    if isinstance(groups, str):
        raise InvalidIdentityError(
            "groups", groups, "must be a list of group names, not one string"
        )
    frozen_extra = {
        key: (values,) if isinstance(values, str) else tuple(values)
        for key, values in (extra or {}).items()
    }
    identity = Identity(user, uid, tuple(groups), frozen_extra)
    _headers.check_constrained(identity)
    return identity


# --------------------------------------------------------------------------- sessions


def _check_scope(scope: object) -> Scope:
    if not isinstance(scope, Scope):
        raise TypeError(
            f"scope must be a constrained_impersonation.Scope, got {scope!r}; declare what the "
            "session may do, e.g. Scope(Rule(verbs=['list'], resources=['pods']))"
        )
    return scope


def _settings(settings: Settings | None) -> Settings:
    if settings is None:
        return Settings()
    if not isinstance(settings, Settings):
        raise TypeError(f"settings must be a constrained_impersonation.Settings, got {settings!r}")
    return settings


def _target(
    api_client: Any,
    identity: Identity,
    mode: str,
    scope: Scope,
    settings: Settings,
    telemetry: Telemetry | None,
    retry: RetryPolicy | None,
) -> Target:
    """What a session's transport needs, shared by the sync and the asyncio sessions."""
    return Target(
        identity=identity,
        mode=mode,
        scope=_check_scope(scope),
        settings=settings,
        telemetry=_telemetry(telemetry, settings),
        policy=retry if retry is not None else RetryPolicy.from_settings(settings),
        limiter=shared_limiter(api_client, settings),
        host=str(api_client.configuration.host or ""),
    )


def _telemetry(telemetry: Telemetry | None, settings: Settings) -> Telemetry:
    if not settings.otel_enabled:
        return DISABLED
    return telemetry if telemetry is not None else GLOBAL


class Session:
    """Base of the synchronous sessions: ``api_client``, ``identity``, ``mode``, ``scope``.

    Use as a context manager or call :meth:`close`; closing never closes the caller's base
    client, only stops this session's ``api_client`` from sending.
    """

    mode: ClassVar[str] = ""

    _api_client: Any
    _base: Any
    _owns_base: bool
    identity: Identity
    scope: Scope
    settings: Settings

    def _setup(
        self,
        api_client: Any,
        identity: Identity,
        scope: Scope,
        settings: Settings | None,
        telemetry: Telemetry | None,
        retry: RetryPolicy | None,
    ) -> None:
        if isinstance(api_client, SessionApiClient):
            raise ConfigurationError(
                "api_client is already a session's api_client; impersonation does not chain, "
                "pass the base kubernetes.client.ApiClient instead"
            )
        if not isinstance(api_client, ApiClient):
            raise TypeError(
                f"api_client must be a kubernetes.client.ApiClient, got {type(api_client)!r} "
                "(for kubernetes.aio clients use constrained_impersonation.aio)"
            )
        self.settings = _settings(settings)
        target = _target(api_client, identity, self.mode, scope, self.settings, telemetry, retry)
        self.scope, self.identity = target.scope, identity
        self._base = api_client
        self._owns_base = getattr(self, "_owns_base", False)
        self._rest = ImpersonatingREST(api_client.rest_client, target)
        self._api_client = SessionApiClient(api_client, self._rest)

    @property
    def api_client(self) -> ApiClient:
        """The ``kubernetes.client.ApiClient`` to hand to API classes, ``DynamicClient``..."""
        return self._api_client

    @property
    def closed(self) -> bool:
        return bool(self._rest.closed)

    def prepare_request(self, method: str, url: str) -> list[tuple[str, str]]:
        """Scope-check one request and return the impersonation header lines to send with it.

        For transports ``api_client`` cannot carry (WebSockets through aiohttp or
        ``kubernetes.stream``): the same check as every ``api_client`` request
        (``OutOfScopeError`` before anything is sent) and the exact lines, one per group and
        per extra value, values as text to be sent as UTF-8. ``url`` is the full URL on the
        session's API server, sent unchanged: one that an HTTP library or the server would
        read as another request (dot segments, ``//``, ``%2F``, a fragment ...) is refused
        with ``OutOfScopeError.reason``.
        """
        if self.closed:
            raise ImpersonationError(
                "this session was closed; create a new session to send more requests"
            )
        target = self._rest.target
        target.plan(method.upper(), url)
        return list(target.lines_text)

    def close(self) -> None:
        """Stop sending; closes the base client only if this session created it."""
        self._rest.close()
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

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.identity!r}, mode={self.mode!r}, scope={self.scope})"


def _downward_node(settings: Settings) -> str:
    node = settings.node_name
    if node is None or node == "":
        raise ConfigurationError(
            "NODE_NAME is not set; expose the node with the downward API "
            "(env NODE_NAME from fieldRef spec.nodeName) or pass node= explicitly"
        )
    return node


def _incluster_client(settings: Settings) -> ApiClient:
    from .kubeconfig import incluster_configuration

    configuration = incluster_configuration(Configuration, settings, environ=os.environ)
    return ApiClient(configuration)


class _NodeTarget(Session):
    """What both node sessions share: the target is ``system:node:<node>``, nothing else."""

    node: str

    def __init__(
        self,
        api_client: ApiClient,
        *,
        node: str,
        scope: Scope,
        settings: Settings | None = None,
        telemetry: Telemetry | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.node = node
        self._setup(api_client, node_identity(node), scope, settings, telemetry, retry)


class NodeSession(_NodeTarget):
    """Impersonate the node this process runs on (KEP-5284 story 1, ``associated-node``).

    The server applies ``associated-node`` only when the requestor's service-account token
    is bound to a pod on ``node`` (or to the node itself); with any other token it tries
    ``arbitrary-node``. Targets are node-only: the server fixes the groups
    (``system:nodes``, ``system:authenticated``).
    """

    mode: ClassVar[str] = "associated-node"

    @classmethod
    def from_downward_api(
        cls,
        scope: Scope,
        *,
        api_client: ApiClient | None = None,
        settings: Settings | None = None,
        telemetry: Telemetry | None = None,
        retry: RetryPolicy | None = None,
    ) -> NodeSession:
        """The node from env ``NODE_NAME`` and, unless given, in-cluster credentials.

        In-cluster credentials read ``KUBERNETES_SERVICE_HOST``/``_PORT`` and the pod's
        service-account ``token`` and ``ca.crt``; the token is re-read when the kubelet
        rotates it.
        """
        settings = _settings(settings)
        _check_scope(scope)
        node = _downward_node(settings)
        node_identity(node, field="NODE_NAME")
        owns = api_client is None
        base = api_client if api_client is not None else _incluster_client(settings)
        try:
            session = cls(
                base,
                node=node,
                scope=scope,
                settings=settings,
                telemetry=telemetry,
                retry=retry,
            )
        except BaseException:
            if owns:
                base.close()
            raise
        session._owns_base = owns
        return session


class ArbitraryNodeSession(_NodeTarget):
    """Impersonate any node by name (``arbitrary-node``; needs a grant per node name)."""

    mode: ClassVar[str] = "arbitrary-node"


class ServiceAccountSession(Session):
    """Impersonate a service account (``serviceaccount``; grantable per namespace)."""

    mode: ClassVar[str] = "serviceaccount"

    def __init__(
        self,
        api_client: ApiClient,
        *,
        namespace: str,
        name: str,
        scope: Scope,
        settings: Settings | None = None,
        telemetry: Telemetry | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.namespace = namespace
        self.name = name
        identity = service_account_identity(namespace, name)
        self._setup(api_client, identity, scope, settings, telemetry, retry)


class UserSession(Session):
    """Act as an end user with their groups, UID and extras (``user-info``; story 2).

    Groups and extras are sent one header line per value; a deputy forwarding them needs an
    ``impersonate:user-info`` grant for each (``groups``, ``uids``, ``userextras/<key>``).
    """

    mode: ClassVar[str] = "user-info"

    def __init__(
        self,
        api_client: ApiClient,
        *,
        user: str,
        uid: str | None = None,
        groups: Iterable[str] = (),
        extra: Mapping[str, Iterable[str]] | None = None,
        scope: Scope,
        settings: Settings | None = None,
        telemetry: Telemetry | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        identity = user_identity(user, uid, groups, extra)
        self._setup(api_client, identity, scope, settings, telemetry, retry)


def session_arguments(identity: Identity) -> tuple[str, dict[str, Any]]:
    """Validate ``identity`` and return (``"node"``/``"serviceaccount"``/``"user"``, kwargs).

    Shared by the sync and asyncio factories, so both refuse the same identities before any
    credentials are loaded.
    """
    node = identity.node
    account = identity.service_account
    if node is not None or account is not None:
        # Any uid/group/extra on these targets would force legacy: refuse with the field.
        _headers.check_constrained(identity)
    if node is not None:
        node_identity(node)
        return "node", {"node": node}
    if account is not None:
        service_account_identity(*account)
        return "serviceaccount", {"namespace": account[0], "name": account[1]}
    user_identity(identity.user, identity.uid, identity.groups, identity.extra)
    return "user", {
        "user": identity.user,
        "uid": identity.uid,
        "groups": identity.groups,
        "extra": identity.extra,
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
    kind, arguments = session_arguments(identity)
    classes: dict[str, type[Session]] = {
        "node": NodeSession,
        "serviceaccount": ServiceAccountSession,
        "user": UserSession,
    }
    session_class: Any = classes[kind]
    result: Session = session_class(
        api_client, scope=scope, settings=settings, telemetry=telemetry, retry=retry, **arguments
    )
    return result
