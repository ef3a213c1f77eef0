"""What the sync and asyncio sessions share: identities, validation, constructors; no I/O.

A session class is an identity kind (node, service account, user) crossed with a flavour
(``session.Session`` over ``kubernetes.client``, ``aio.AsyncSession`` over
``kubernetes.aio``). The kinds live here once, generic over the flavour's ``ApiClient``; a
flavour adds only what differs between the two clients: which ``ApiClient`` it accepts, the
transport it installs (:meth:`SessionBase._wrap`), how it closes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, ClassVar, Generic, Self, TypeVar

from . import headers as _headers
from ._core import Target, shared_limiter
from .errors import ConfigurationError, InvalidIdentityError
from .identity import (
    Identity,
    is_dns1123_label,
    is_dns1123_subdomain,
    node_name_of,
    node_user,
    service_account_of,
    service_account_user,
)
from .kubeconfig import KubeconfigImpersonation, read_impersonation
from .retry import RetryPolicy
from .scope import Scope
from .settings import Settings
from .telemetry import DISABLED, GLOBAL, Telemetry

__all__ = [
    "NodeBase",
    "ServiceAccountBase",
    "SessionBase",
    "UserBase",
    "kubeconfig_identity",
    "node_identity",
    "service_account_identity",
    "session_arguments",
    "user_identity",
]

# The flavour's client class (kubernetes.client.ApiClient or kubernetes.aio.client.ApiClient);
# named so that the sessions' signatures read as they mean in either flavour's reference.
ApiClient = TypeVar("ApiClient")

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


def kubeconfig_identity(path: str | None, context: str | None) -> KubeconfigImpersonation:
    """The kubeconfig's ``as*`` fields, refused (with the field) before credentials load."""
    wanted = read_impersonation(path, context)
    if not wanted.user:
        raise ConfigurationError(
            f"kubeconfig user {wanted.user_entry!r} of context {wanted.context!r} has no 'as' "
            "field: there is nobody to impersonate"
        )
    session_arguments(wanted.identity())
    return wanted


# --------------------------------------------------------------------------- checks


def check_scope(scope: object) -> Scope:
    if not isinstance(scope, Scope):
        raise TypeError(
            f"scope must be a constrained_impersonation.Scope, got {scope!r}; declare what the "
            "session may do, e.g. Scope(Rule(verbs=['list'], resources=['pods']))"
        )
    return scope


def checked_settings(settings: Settings | None) -> Settings:
    if settings is None:
        return Settings()
    if not isinstance(settings, Settings):
        raise TypeError(f"settings must be a constrained_impersonation.Settings, got {settings!r}")
    return settings


def _telemetry(telemetry: Telemetry | None, settings: Settings) -> Telemetry:
    if not settings.otel_enabled:
        return DISABLED
    return telemetry if telemetry is not None else GLOBAL


def downward_node(settings: Settings) -> str:
    """The node from env ``NODE_NAME`` (downward API ``spec.nodeName``), validated."""
    node = settings.node_name
    if node is None or node == "":
        raise ConfigurationError(
            "NODE_NAME is not set; expose the node with the downward API "
            "(env NODE_NAME from fieldRef spec.nodeName) or pass node= explicitly"
        )
    node_identity(node, field="NODE_NAME")
    return node


# --------------------------------------------------------------------------- sessions


class SessionBase(Generic[ApiClient]):
    """What every session is, whichever client it wraps: ``api_client``, ``identity``,
    ``mode``, ``scope``, ``settings``, ``closed`` and :meth:`prepare_request`."""

    mode: ClassVar[str] = ""

    # Set by each flavour: the ApiClient class it wraps (and names in errors), the session
    # ApiClient class it makes (a session must not wrap another), the transport's Target.
    _client_type: ClassVar[type[Any]]
    _client_name: ClassVar[str]
    _other_flavour: ClassVar[str]
    _session_client_type: ClassVar[type[Any]]
    _target_type: ClassVar[type[Target]] = Target

    _api_client: ApiClient
    _base: ApiClient
    _owns_base: bool
    _target: Target
    identity: Identity
    scope: Scope
    settings: Settings

    def _setup(
        self,
        api_client: ApiClient,
        identity: Identity,
        scope: Scope,
        settings: Settings | None,
        telemetry: Telemetry | None,
        retry: RetryPolicy | None,
    ) -> None:
        if isinstance(api_client, self._session_client_type):
            raise ConfigurationError(
                "api_client is already a session's api_client; impersonation does not chain, "
                f"pass the base {self._client_name} instead"
            )
        if not isinstance(api_client, self._client_type):
            raise TypeError(
                f"api_client must be a {self._client_name}, got {type(api_client)!r} "
                f"({self._other_flavour})"
            )
        self.settings = checked_settings(settings)
        configuration: Any = getattr(api_client, "configuration", None)
        target = self._target_type(
            identity=identity,
            mode=self.mode,
            scope=check_scope(scope),
            settings=self.settings,
            telemetry=_telemetry(telemetry, self.settings),
            policy=retry if retry is not None else RetryPolicy.from_settings(self.settings),
            limiter=shared_limiter(api_client, self.settings),
            host=str(configuration.host or ""),
        )
        self.scope, self.identity, self._target = target.scope, identity, target
        self._base = api_client
        self._owns_base = getattr(self, "_owns_base", False)
        self._api_client = self._wrap(api_client, target)

    def _wrap(self, api_client: ApiClient, target: Target) -> ApiClient:
        """The flavour's session ``ApiClient``: the base's, with the transport installed."""
        raise NotImplementedError

    @property
    def api_client(self) -> ApiClient:
        """The client's ``ApiClient`` to hand to API classes, ``DynamicClient``, watches."""
        return self._api_client

    @property
    def closed(self) -> bool:
        """True once :meth:`close` ran: the session's ``api_client`` sends nothing more."""
        return self._target.closed

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
        self._target.admit(method.upper(), url)
        return list(self._target.lines_text)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.identity!r}, mode={self.mode!r}, scope={self.scope})"


class NodeBase(SessionBase[ApiClient]):
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


class AssociatedNodeBase(NodeBase[ApiClient]):
    """The node this process runs on (``associated-node``), typically from the downward API."""

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
    ) -> Self:
        """The node from env ``NODE_NAME`` and, unless given, in-cluster credentials.

        In-cluster credentials read ``KUBERNETES_SERVICE_HOST``/``_PORT`` and the pod's
        service-account ``token`` and ``ca.crt``; the token is re-read when the kubelet
        rotates it.
        """
        settings = checked_settings(settings)
        check_scope(scope)
        node = downward_node(settings)
        owns = api_client is None
        base = api_client if api_client is not None else cls._incluster_client(settings)
        try:
            session = cls(
                base, node=node, scope=scope, settings=settings, telemetry=telemetry, retry=retry
            )
        except BaseException:
            if owns:
                cls._abandon(base)
            raise
        session._owns_base = owns
        return session

    @classmethod
    def _incluster_client(cls, settings: Settings) -> ApiClient:
        """The flavour's ``ApiClient`` on in-cluster credentials (environment, token file)."""
        raise NotImplementedError

    @classmethod
    def _abandon(cls, base: ApiClient) -> None:
        """Free a base client made here for a session that could not be made."""
        raise NotImplementedError


class ArbitraryNodeBase(NodeBase[ApiClient]):
    """Any node by name (``arbitrary-node``; needs a grant per node name)."""

    mode: ClassVar[str] = "arbitrary-node"


class ServiceAccountBase(SessionBase[ApiClient]):
    """A service account (``serviceaccount``; grantable per namespace)."""

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


class UserBase(SessionBase[ApiClient]):
    """An end user with their groups, UID and extras (``user-info``)."""

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


S = TypeVar("S", bound=SessionBase[Any])


def for_identity(
    classes: Mapping[str, type[S]],
    api_client: Any,
    identity: Identity,
    scope: Scope,
    settings: Settings | None,
    telemetry: Telemetry | None,
    retry: RetryPolicy | None,
) -> S:
    """The session of ``classes`` (by kind: node, serviceaccount, user) for ``identity``."""
    kind, arguments = session_arguments(identity)
    session_class: Any = classes[kind]
    session: S = session_class(
        api_client, scope=scope, settings=settings, telemetry=telemetry, retry=retry, **arguments
    )
    return session


def kubeconfig_session(
    classes: Mapping[str, type[S]],
    base: Any,
    wanted: KubeconfigImpersonation,
    scope: Scope,
    settings: Settings | None,
    telemetry: Telemetry | None,
    retry: RetryPolicy | None,
) -> S:
    """The session a kubeconfig asks for, owning ``base`` (closed with the session)."""
    session = for_identity(classes, base, wanted.identity(), scope, settings, telemetry, retry)
    session._owns_base = True
    return session
