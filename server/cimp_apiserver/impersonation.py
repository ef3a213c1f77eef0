"""Legacy and constrained (KEP-5284) impersonation, as kube-apiserver 1.36 decides it.

Pure logic, independent of HTTP: :meth:`Impersonator.impersonate` takes the authenticated
requestor, the parsed headers and the request's own attributes, and returns the identity the
rest of the chain must see, or raises the :class:`StatusError` the client gets.

Modes are tried in a fixed order (associated-node, arbitrary-node, serviceaccount, user-info,
legacy), except that the mode that last succeeded for a requestor name is tried first. The
first mode that succeeds wins; if all fail, the first error produced is returned. Constrained
modes check the action (``impersonate-on:<mode>:<verb>`` on the request itself) and then the
target (``impersonate:<mode>`` on users/uids/groups/userextras/serviceaccounts/nodes), and
cache their successes for 10 seconds.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from constrained_impersonation.headers import DOMAIN_PATH_CHARS, ParsedHeaders
from constrained_impersonation.identity import (
    ALL_AUTHENTICATED,
    ALL_UNAUTHENTICATED,
    ANONYMOUS,
    DNS1123_SUBDOMAIN,
    NODES_GROUP,
    SERVICE_ACCOUNTS_GROUP,
    SYSTEM_MASTERS,
    Identity,
    node_name_of,
    service_account_of,
)
from constrained_impersonation.resolver import Attributes
from constrained_impersonation.selectors import (
    SelectorError,
    parse_field_selector,
    parse_label_selector,
)

from .metrics import Registry, exponential_buckets
from .status import StatusError, forbidden, quote

__all__ = [
    "ASSOCIATED_NODE_KEYS",
    "MODES",
    "AuthorizeFn",
    "ImpersonationResult",
    "Impersonator",
]

MODES = ("associated-node", "arbitrary-node", "serviceaccount", "user-info", "legacy")
CACHE_TTL_SECONDS = 10.0
MODE_MEMORY_SIZE = 10_000
CACHE_SIZE = 10_000
MANY_CHECKS = 4
AUTHENTICATION_GROUP = "authentication.k8s.io"
NODE_NAME_EXTRA = "authentication.kubernetes.io/node-name"
ASSOCIATED_NODE_KEYS = "authentication.kubernetes.io/associated-node-keys"
_DNS1123_SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' "
    "or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex "
    r"used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
_ASSOCIATED_TARGET = Identity("system:node:*")
_PATH_MSG = "Invalid path (regex used for validation is '[A-Za-z0-9/\\-._~%!$&'()*+,;=:]+')"


class _Decision(Protocol):
    @property
    def value(self) -> str: ...


AuthorizeFn = Callable[[Attributes], "tuple[_Decision | str, str]"]


@dataclass(frozen=True)
class ImpersonationResult:
    """Who the request now acts as, and the constraint verb that allowed it ("" for legacy)."""

    identity: Identity
    constraint: str
    mode: str


class _Denied(Exception):
    def __init__(self, error: StatusError) -> None:
        self.error = error


class _TTLCache:
    """A bounded map whose entries expire ``ttl`` seconds after they were set."""

    def __init__(self, ttl: float, size: int, clock: Callable[[], float]) -> None:
        self._ttl = ttl
        self._size = size
        self._clock = clock
        self._data: OrderedDict[object, tuple[float, Identity]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: object) -> Identity | None:
        with self._lock:
            entry = self._data.get(key)
            if entry is None:
                return None
            if entry[0] <= self._clock():
                del self._data[key]
                return None
            return entry[1]

    def set(self, key: object, value: Identity) -> None:
        with self._lock:
            self._data[key] = (self._clock() + self._ttl, value)
            self._data.move_to_end(key)
            while len(self._data) > self._size:
                self._data.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()


def _ensure_group(groups: tuple[str, ...], group: str) -> tuple[str, ...]:
    return groups if group in groups else (*groups, group)


def _finish_groups(name: str, groups: tuple[str, ...]) -> tuple[str, ...]:
    if name == ANONYMOUS:
        return _ensure_group(groups, ALL_UNAUTHENTICATED)
    if ALL_UNAUTHENTICATED not in groups:
        return _ensure_group(groups, ALL_AUTHENTICATED)
    return groups


def _user_key(user: Identity) -> tuple[Any, ...]:
    return (
        user.user,
        user.uid,
        user.groups,
        tuple((k, v) for k, v in sorted(user.extra.items())),
    )


def _selector_key(attrs: Attributes) -> tuple[Any, ...] | None:
    if not attrs.field_selector and not attrs.label_selector:
        return ((), ())
    try:
        fields = tuple(
            sorted(
                (r.field, r.operator, r.value) for r in parse_field_selector(attrs.field_selector)
            )
        )
        labels = tuple(
            sorted(
                (r.key, r.operator, r.values) for r in parse_label_selector(attrs.label_selector)
            )
        )
    except SelectorError:
        return None
    return fields, labels


def _request_key(attrs: Attributes) -> tuple[Any, ...] | None:
    selectors = _selector_key(attrs)
    if selectors is None:
        return None
    return (
        attrs.verb,
        attrs.read_only,
        attrs.namespace,
        attrs.resource,
        attrs.subresource,
        attrs.name,
        attrs.api_group,
        attrs.api_version,
        attrs.resource_request,
        attrs.path,
        selectors,
    )


def _target_attrs(
    requestor: Identity, group: str, version: str, verb: str, resource: str, name: str
) -> Attributes:
    return Attributes(
        user=requestor,
        verb=verb,
        resource_request=True,
        api_group=group,
        api_version=version,
        resource=resource,
        name=name,
    )


def _extra_key_error(key: str) -> str | None:
    """kube's validateExtra wording for one key (None when the key is acceptable)."""
    if key == "":
        return "impersonating the empty string key in extra is not allowed"
    host, sep, path = key.partition("/")
    if not sep or not host or not path:
        return (
            "impersonating an invalid key in extra is not allowed: extra.key: Invalid value: "
            f'{quote(key)}: must be a domain-prefixed path (such as "acme.io/foo")'
        )
    errors: list[str] = []
    if len(host) > 253:
        errors.append(
            f"extra.key: Invalid value: {quote(host)}: must be no more than 253 characters"
        )
    if DNS1123_SUBDOMAIN.fullmatch(host) is None:
        errors.append(f"extra.key: Invalid value: {quote(host)}: {_DNS1123_SUBDOMAIN_MSG}")
    if not set(path) <= DOMAIN_PATH_CHARS:
        errors.append(f"extra.key: Invalid value: {quote(path)}: {_PATH_MSG}")
    if errors:
        joined = errors[0] if len(errors) == 1 else "[" + ", ".join(errors) + "]"
        return f"impersonating an invalid key in extra is not allowed: {joined}"
    if key != key.lower():
        return f"impersonating a non-lowercase key in extra is not allowed: {quote(key)}"
    return None


class _ModeState:
    """Target checks of one mode (``impersonate:<mode>`` or legacy ``impersonate``)."""

    def __init__(self, owner: Impersonator, mode: str) -> None:
        self.owner = owner
        self.mode = mode
        self.constrained = mode != "legacy"
        self.verb = f"impersonate:{mode}" if self.constrained else "impersonate"
        self.constraint = self.verb if self.constrained else ""
        core_version = "" if (not self.constrained and not owner.constrained_filter) else "v1"
        self.user_group, self.user_version = (
            (AUTHENTICATION_GROUP, "v1") if self.constrained else ("", core_version)
        )
        self.cache = _TTLCache(CACHE_TTL_SECONDS, CACHE_SIZE, owner.clock)

    def check(
        self,
        requestor: Identity,
        wanted: Identity,
        key: object,
        authorize: Callable[[Attributes], None],
    ) -> Identity:
        if self.constrained:
            cached = self.cache.get(key)
            if cached is not None:
                return cached
        groups = wanted.groups
        checks: list[Callable[[], None]] = [
            lambda: self._authorize_user(requestor, wanted, authorize),
            lambda: self._authorize_uid(requestor, wanted.uid, authorize),
            lambda: self._authorize_groups(requestor, wanted.groups, authorize),
            lambda: self._authorize_extra(requestor, wanted.extra, authorize),
        ]
        if not self.owner.constrained_filter:
            # The original legacy filter checks the UID last.
            checks = [checks[0], checks[2], checks[3], checks[1]]
        for run in checks:
            run()
        if self.constrained and node_name_of(wanted.user) is not None:
            groups = (NODES_GROUP,)
        sa = service_account_of(wanted.user)
        if sa is not None and not wanted.groups:
            groups = (SERVICE_ACCOUNTS_GROUP, f"{SERVICE_ACCOUNTS_GROUP}:{sa[0]}")
        actual = Identity(
            wanted.user, wanted.uid, _finish_groups(wanted.user, groups), wanted.extra
        )
        if self.constrained:
            self.cache.set(key, actual)
        return actual

    def _authorize_user(
        self, requestor: Identity, wanted: Identity, authorize: Callable[[Attributes], None]
    ) -> None:
        attrs = _target_attrs(
            requestor, self.user_group, self.user_version, self.verb, "users", wanted.user
        )
        node = node_name_of(wanted.user) if self.constrained else None
        if node is not None:
            attrs = attrs.with_(resource="nodes", name=node)
            if wanted.groups:
                raise _Denied(
                    forbidden(
                        attrs,
                        f"when impersonating a node, cannot impersonate groups "
                        f"{_go_strings(wanted.groups)}",
                    )
                )
        sa = service_account_of(wanted.user)
        if sa is not None:
            attrs = attrs.with_(resource="serviceaccounts", namespace=sa[0], name=sa[1])
            if self.constrained and wanted.groups:
                raise _Denied(
                    forbidden(
                        attrs,
                        f"when impersonating a service account, cannot impersonate groups "
                        f"{_go_strings(wanted.groups)}",
                    )
                )
        authorize(attrs)

    def _authorize_uid(
        self, requestor: Identity, uid: str | None, authorize: Callable[[Attributes], None]
    ) -> None:
        if not uid:
            return
        authorize(_target_attrs(requestor, AUTHENTICATION_GROUP, "v1", self.verb, "uids", uid))

    def _authorize_groups(
        self,
        requestor: Identity,
        groups: tuple[str, ...],
        authorize: Callable[[Attributes], None],
    ) -> None:
        if not groups:
            return
        attrs = _target_attrs(
            requestor, self.user_group, self.user_version, self.verb, "groups", ""
        )
        if self.constrained:
            if "" in groups:
                raise _Denied(
                    forbidden(attrs, "impersonating the empty string group is not allowed")
                )
            if SYSTEM_MASTERS in groups:
                raise _Denied(
                    forbidden(
                        attrs.with_(name=SYSTEM_MASTERS),
                        "impersonating the system:masters group is not allowed",
                    )
                )
            if len(groups) >= MANY_CHECKS and self.owner.allowed(attrs.with_(name="*"), self.mode):
                return
        for group in groups:
            authorize(attrs.with_(name=group))

    def _authorize_extra(
        self,
        requestor: Identity,
        extra: Mapping[str, tuple[str, ...]],
        authorize: Callable[[Attributes], None],
    ) -> None:
        if not extra:
            return
        attrs = _target_attrs(requestor, AUTHENTICATION_GROUP, "v1", self.verb, "userextras", "")
        if self.constrained:
            for key, values in extra.items():
                problem = _extra_key_error(key)
                if problem is None and not values:
                    problem = "impersonating empty values in extra is not allowed"
                if problem is None and "" in values:
                    problem = "impersonating the empty string value in extra is not allowed"
                if problem is not None:
                    raise _Denied(forbidden(attrs, problem))
            total = sum(len(v) for v in extra.values())
            if (len(extra) >= MANY_CHECKS or total >= MANY_CHECKS) and self.owner.allowed(
                attrs.with_(subresource="*", name="*"), self.mode
            ):
                return
        for key, values in extra.items():
            for value in values:
                authorize(attrs.with_(subresource=key, name=value))


def _go_strings(values: tuple[str, ...]) -> str:
    return "[" + " ".join(quote(v) for v in values) + "]"


class _Mode:
    """One constrained mode: mode filter, outer cache, action check, then target checks."""

    def __init__(self, owner: Impersonator, mode: str) -> None:
        self.owner = owner
        self.mode = mode
        self.state = _ModeState(owner, mode)
        self.cache = _TTLCache(CACHE_TTL_SECONDS, CACHE_SIZE, owner.clock)

    def applies(self, requestor: Identity, parsed: ParsedHeaders) -> bool:
        user = parsed.user
        if self.mode == "associated-node":
            node = node_name_of(user)
            if not parsed.only_user or node is None:
                return False
            if service_account_of(requestor.user) is None:
                return False
            values = requestor.extra.get(NODE_NAME_EXTRA, ())
            return len(values) == 1 and values[0] == node
        if self.mode == "arbitrary-node":
            return parsed.only_user and node_name_of(user) is not None
        if self.mode == "serviceaccount":
            return parsed.only_user and service_account_of(user) is not None
        if self.mode == "user-info":
            return node_name_of(user) is None and service_account_of(user) is None
        return True

    def run(
        self, requestor: Identity, wanted: Identity, request: Attributes, request_key: object
    ) -> Identity:
        associated = self.mode == "associated-node"
        checked_requestor = requestor
        if associated:
            checked_requestor = Identity(
                requestor.user,
                requestor.uid,
                requestor.groups,
                {ASSOCIATED_NODE_KEYS: tuple(sorted(requestor.extra))},
            )
        key_target = _ASSOCIATED_TARGET if associated else wanted
        inner_key = (_user_key(key_target), _user_key(checked_requestor))
        outer_key = None if request_key is None else (inner_key, request_key)
        if outer_key is not None:
            cached = self.cache.get(outer_key)
            if cached is not None:
                return self._rename(cached, wanted)

        def authorize(attrs: Attributes) -> None:
            if associated and attrs.verb == "impersonate:associated-node":
                attrs = attrs.with_(name="*")
            self.owner.check(attrs, self.mode)

        # Action check: the request itself, with the verb impersonate-on:<mode>:<verb>.
        authorize(
            request.with_(user=checked_requestor, verb=f"impersonate-on:{self.mode}:{request.verb}")
        )
        identity = self.state.check(checked_requestor, wanted, inner_key, authorize)
        if outer_key is not None:
            self.cache.set(outer_key, identity)
        return self._rename(identity, wanted)

    def _rename(self, identity: Identity, wanted: Identity) -> Identity:
        if identity.user == wanted.user:
            return identity
        return Identity(wanted.user, identity.uid, identity.groups, identity.extra)


class Impersonator:
    """Decides impersonation for one API server (one set of caches and mode memory).

    ``constrained_filter`` is the ``ConstrainedImpersonation`` feature gate: on, the five modes
    run as above; off, only the original legacy filter runs (no caches, no constraint).
    """

    def __init__(
        self,
        authorize: AuthorizeFn,
        *,
        constrained_filter: bool = True,
        metrics: Registry | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._authorize = authorize
        self.constrained_filter = constrained_filter
        self.clock = clock
        self._modes = {m: _Mode(self, m) for m in MODES if m != "legacy"}
        self._legacy = _ModeState(self, "legacy")
        self._memory: OrderedDict[str, str] = OrderedDict()
        self._memory_lock = threading.Lock()
        registry = metrics or Registry()
        # k8s.io/apiserver's impersonation metrics (ALPHA), names, help and buckets as there.
        buckets = exponential_buckets(0.001, 2, 15)
        self.attempts = registry.counter(
            "apiserver_impersonation_attempts_total",
            "[ALPHA] Total number of impersonation attempts split by mode and decision.",
            ("mode", "decision"),
        )
        self.attempt_seconds = registry.histogram(
            "apiserver_impersonation_attempts_duration_seconds",
            "[ALPHA] Latency of impersonation attempts in seconds split by mode and decision.",
            ("mode", "decision"),
            buckets,
        )
        self.authz_attempts = registry.counter(
            "apiserver_impersonation_authorization_attempts_total",
            "[ALPHA] Total number of authorization checks made by the impersonation handler "
            "split by mode and decision.",
            ("mode", "decision"),
        )
        self.authz_seconds = registry.histogram(
            "apiserver_impersonation_authorization_attempts_duration_seconds",
            "[ALPHA] Latency of authorization checks made by the impersonation handler in "
            "seconds split by mode and decision.",
            ("mode", "decision"),
            buckets,
        )

    # ---------------------------------------------------------------- authorization

    def _decide(self, attrs: Attributes, mode: str) -> tuple[bool, str]:
        start = time.perf_counter()
        decision, reason = self._authorize(attrs)
        value = decision if isinstance(decision, str) else decision.value
        allowed = value == "allow"
        if self.constrained_filter:
            label = "allowed" if allowed else "denied"
            self.authz_attempts.inc(mode, label)
            self.authz_seconds.observe(time.perf_counter() - start, mode, label)
        return allowed, reason

    def check(self, attrs: Attributes, mode: str) -> None:
        """Authorize one impersonation check or raise the 403 kube would answer."""
        allowed, reason = self._decide(attrs, mode)
        if not allowed:
            raise _Denied(forbidden(attrs, reason))

    def allowed(self, attrs: Attributes, mode: str) -> bool:
        return self._decide(attrs, mode)[0]

    # ---------------------------------------------------------------- entry point

    def impersonate(
        self, requestor: Identity, parsed: ParsedHeaders, request: Attributes
    ) -> ImpersonationResult:
        """The identity ``requestor`` may act as for ``request``, or raise a 403 StatusError.

        ``request`` holds the request's own attributes (its user is ignored).
        """
        wanted = parsed.identity()
        if not self.constrained_filter:
            try:
                identity = self._legacy.check(requestor, wanted, None, self._legacy_authorize)
            except _Denied as denied:
                raise denied.error from None
            return ImpersonationResult(identity, "", "legacy")

        start = time.perf_counter()
        with self._memory_lock:
            remembered = self._memory.get(requestor.user)
            if remembered is not None:
                self._memory.move_to_end(requestor.user)
        order = list(MODES)
        if remembered is not None:
            order.remove(remembered)
            order.insert(0, remembered)
        first_error: StatusError | None = None
        request_key = _request_key(request)
        for mode in order:
            try:
                if mode == "legacy":
                    identity = self._legacy.check(requestor, wanted, None, self._legacy_authorize)
                    constraint = ""
                else:
                    handler = self._modes[mode]
                    if not handler.applies(requestor, parsed):
                        continue
                    identity = handler.run(requestor, wanted, request, request_key)
                    constraint = handler.state.constraint
            except _Denied as denied:
                if first_error is None:
                    first_error = denied.error
                continue
            self._remember(requestor.user, mode)
            elapsed = time.perf_counter() - start
            self.attempts.inc(mode, "allowed")
            self.attempt_seconds.observe(elapsed, mode, "allowed")
            return ImpersonationResult(identity, constraint, mode)
        elapsed = time.perf_counter() - start
        self.attempts.inc("", "denied")
        self.attempt_seconds.observe(elapsed, "", "denied")
        assert first_error is not None  # legacy always applies
        raise first_error

    def _legacy_authorize(self, attrs: Attributes) -> None:
        self.check(attrs, "legacy")

    def _remember(self, requestor: str, mode: str) -> None:
        with self._memory_lock:
            self._memory[requestor] = mode
            self._memory.move_to_end(requestor)
            while len(self._memory) > MODE_MEMORY_SIZE:
                self._memory.popitem(last=False)

    def clear_caches(self) -> None:
        """Forget cached successes and mode memory (tests, and a server restart)."""
        for handler in self._modes.values():
            handler.cache.clear()
            handler.state.cache.clear()
        with self._memory_lock:
            self._memory.clear()
