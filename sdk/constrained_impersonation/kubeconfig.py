"""Credentials for sessions: in-cluster service-account files, and kubeconfig impersonation.

In-cluster: the kubelet rotates projected service-account tokens (hourly by default, the
file is swapped atomically). Like client-go, the token file is read again when its mtime
changes, and at least every ``CIMP_TOKEN_REFRESH_INTERVAL`` seconds, through the client's
own ``refresh_api_key_hook``, so every request carries a current token.

Kubeconfig: ``kubernetes.config.new_client_from_config`` ignores the user fields ``as``,
``as-uid``, ``as-groups`` and ``as-user-extra`` that kubectl honours; :func:`read_impersonation`
reads them so that :func:`session_from_kubeconfig` can impersonate what kubectl would.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from .errors import ConfigurationError
from .identity import Identity
from .settings import Settings

if TYPE_CHECKING:
    from .retry import RetryPolicy
    from .scope import Scope
    from .session import Session
    from .telemetry import Telemetry

__all__ = [
    "KubeconfigImpersonation",
    "RotatingTokenFile",
    "default_kubeconfig_path",
    "incluster_configuration",
    "read_impersonation",
    "session_from_kubeconfig",
]

SERVICE_HOST_ENV = "KUBERNETES_SERVICE_HOST"
SERVICE_PORT_ENV = "KUBERNETES_SERVICE_PORT"


class RotatingTokenFile:
    """A bearer token file read again when it changes (mtime) or every ``interval`` seconds."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        interval: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = Path(path)
        self.interval = interval
        self._clock = clock
        self._lock = threading.Lock()
        self._token = ""
        self._mtime_ns = -1
        self._read_at = float("-inf")
        self.token()  # fail now, with the path, rather than at the first request

    def token(self) -> str:
        try:
            mtime_ns = self.path.stat().st_mtime_ns
        except OSError as exc:
            if self._token:
                return self._token  # keep the last good token through a rotation hiccup
            raise ConfigurationError(
                f"cannot read service-account token {str(self.path)!r}: {exc.strerror}"
            ) from None
        now = self._clock()
        if mtime_ns == self._mtime_ns and now - self._read_at < self.interval:
            return self._token
        with self._lock:
            try:
                text = self.path.read_text(encoding="utf-8").strip()
            except OSError as exc:
                if self._token:
                    return self._token
                raise ConfigurationError(
                    f"cannot read service-account token {str(self.path)!r}: {exc.strerror}"
                ) from None
            if not text:
                if self._token:
                    return self._token
                raise ConfigurationError(
                    f"service-account token {str(self.path)!r} is empty; is the "
                    "projected volume mounted?"
                )
            if any(c in text for c in "\r\n\0"):
                raise ConfigurationError(
                    f"service-account token {str(self.path)!r} contains line breaks; "
                    "it is not a bearer token"
                )
            self._token = text
            self._mtime_ns = mtime_ns
            self._read_at = now
            return text

    def install(self, configuration: Any) -> None:
        """Make ``configuration`` (sync or ``kubernetes.aio``) send the current token."""
        configuration.api_key["BearerToken"] = self.token()
        configuration.api_key_prefix["BearerToken"] = "Bearer"

        def refresh(config: Any) -> None:
            config.api_key["BearerToken"] = self.token()

        configuration.refresh_api_key_hook = refresh


def incluster_configuration(
    configuration_class: Callable[[], Any], settings: Settings, *, environ: Mapping[str, str]
) -> Any:
    """A client ``Configuration`` for the pod's service account, with token rotation."""
    host = environ.get(SERVICE_HOST_ENV, "")
    port = environ.get(SERVICE_PORT_ENV, "")
    if not host or not port:
        raise ConfigurationError(
            f"not running in a pod: {SERVICE_HOST_ENV}={host!r} and {SERVICE_PORT_ENV}={port!r}; "
            "pass api_client= to use other credentials"
        )
    directory = Path(settings.serviceaccount_dir)
    ca_file = directory / "ca.crt"
    try:
        ca_text = ca_file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError(
            f"cannot read cluster CA {str(ca_file)!r}: {exc.strerror}; set "
            "CIMP_SERVICEACCOUNT_DIR if the service-account volume is mounted elsewhere"
        ) from None
    if not ca_text.strip():
        raise ConfigurationError(f"cluster CA {str(ca_file)!r} is empty")
    tokens = RotatingTokenFile(directory / "token", interval=settings.token_refresh_interval)
    configuration = configuration_class()
    bracketed = f"[{host}]" if ":" in host else host
    configuration.host = f"https://{bracketed}:{port}"
    configuration.ssl_ca_cert = str(ca_file)
    tokens.install(configuration)
    return configuration


# --------------------------------------------------------------------------- kubeconfig


@dataclass(frozen=True)
class KubeconfigImpersonation:
    """The impersonation fields of a kubeconfig user, as kubectl reads them."""

    context: str
    user_entry: str
    user: str = ""
    uid: str | None = None
    groups: tuple[str, ...] = ()
    extra: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def identity(self) -> Identity:
        return Identity(self.user, self.uid, self.groups, self.extra)


def default_kubeconfig_path() -> str:
    return os.environ.get("KUBECONFIG") or str(Path.home() / ".kube" / "config")


def _load_merged(path: str) -> dict[str, Any]:
    """Merge a ``KUBECONFIG``-style path list the way kubectl does: the first value wins."""
    merged: dict[str, Any] = {"contexts": {}, "users": {}, "current-context": ""}
    found = False
    for part in path.split(os.pathsep):
        if not part:
            continue
        try:
            with open(os.path.expanduser(part), encoding="utf-8") as handle:
                document = yaml.safe_load(handle)
        except FileNotFoundError:
            continue
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigurationError(f"cannot read kubeconfig {part!r}: {exc}") from None
        found = True
        if not isinstance(document, dict):
            raise ConfigurationError(f"kubeconfig {part!r} is not a mapping")
        if not merged["current-context"] and document.get("current-context"):
            merged["current-context"] = str(document["current-context"])
        for kind, key in (("contexts", "context"), ("users", "user")):
            for entry in document.get(kind) or ():
                if isinstance(entry, dict) and "name" in entry:
                    merged[kind].setdefault(str(entry["name"]), entry.get(key) or {})
    if not found:
        raise ConfigurationError(f"no kubeconfig found at {path!r}; set KUBECONFIG or pass path=")
    return merged


def _strings(value: Any, what: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str) or not isinstance(value, list):
        raise ConfigurationError(f"kubeconfig {what} must be a list of strings, got {value!r}")
    for item in value:
        if not isinstance(item, str):
            raise ConfigurationError(f"kubeconfig {what} must be strings, got {item!r}")
    return tuple(value)


def read_impersonation(
    path: str | None = None, context: str | None = None
) -> KubeconfigImpersonation:
    """The ``as*`` fields of the user of ``context`` (default: the current context)."""
    merged = _load_merged(path or default_kubeconfig_path())
    name = context or merged["current-context"]
    if not name:
        raise ConfigurationError("kubeconfig has no current-context; pass context=")
    ctx = merged["contexts"].get(name)
    if ctx is None:
        known = ", ".join(sorted(merged["contexts"])) or "none"
        raise ConfigurationError(f"kubeconfig has no context {name!r} (contexts: {known})")
    user_entry = str(ctx.get("user") or "")
    user = merged["users"].get(user_entry) or {}
    extra_raw = user.get("as-user-extra") or {}
    if not isinstance(extra_raw, dict):
        raise ConfigurationError(
            f"kubeconfig as-user-extra of user {user_entry!r} must be a mapping, got {extra_raw!r}"
        )
    extra = {
        str(key): _strings(values, f"as-user-extra[{key!r}]") for key, values in extra_raw.items()
    }
    uid = user.get("as-uid")
    return KubeconfigImpersonation(
        context=name,
        user_entry=user_entry,
        user=str(user.get("as") or ""),
        uid=str(uid) if uid else None,
        groups=_strings(user.get("as-groups"), "as-groups"),
        extra=extra,
    )


def session_from_kubeconfig(
    path: str | None = None,
    context: str | None = None,
    *,
    scope: Scope,
    settings: Settings | None = None,
    telemetry: Telemetry | None = None,
    retry: RetryPolicy | None = None,
) -> Session:
    """A session impersonating what the kubeconfig user's ``as*`` fields ask for.

    The credentials are the kubeconfig's (``new_client_from_config``); the class follows the
    target: ``system:node:<n>`` gives a :class:`NodeSession`,
    ``system:serviceaccount:<ns>:<n>`` a :class:`ServiceAccountSession`, any other user a
    :class:`UserSession`. A node or service-account target with ``as-groups``, ``as-uid`` or
    ``as-user-extra`` raises ``InvalidIdentityError``: the server would accept it only through
    legacy impersonation.
    """
    from kubernetes.config import new_client_from_config
    from kubernetes.config.config_exception import ConfigException

    from ._sessions import kubeconfig_identity
    from .session import session_for_identity

    wanted = kubeconfig_identity(path, context)  # a bad identity before loading credentials
    try:
        base = new_client_from_config(
            config_file=path or default_kubeconfig_path(), context=wanted.context
        )
    except ConfigException as exc:
        raise ConfigurationError(f"kubeconfig context {wanted.context!r}: {exc}") from None
    try:
        session = session_for_identity(
            base,
            wanted.identity(),
            scope=scope,
            settings=settings,
            telemetry=telemetry,
            retry=retry,
        )
    except BaseException:
        base.close()
        raise
    session._owns_base = True
    return session
