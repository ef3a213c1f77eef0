"""Authentication: static bearer tokens and service-account JWTs the server signs itself.

Service-account tokens are ES256 JWTs with kube's claims (``kubernetes.io`` private claims for
the bound pod / node / service account) and authenticate with kube's extras
(``authentication.kubernetes.io/pod-name``, ``pod-uid``, ``node-name``, ``node-uid``,
``credential-id``). A token stops working when it expires (with kube's 60 s leeway) or when the
service account or the object it is bound to is gone.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from constrained_impersonation.identity import (
    ALL_AUTHENTICATED,
    ALL_UNAUTHENTICATED,
    ANONYMOUS,
    SERVICE_ACCOUNTS_GROUP,
    Identity,
    service_account_user,
)

from .status import quote

__all__ = [
    "DEFAULT_ISSUER",
    "EXTRA_CREDENTIAL_ID",
    "EXTRA_NODE_NAME",
    "EXTRA_NODE_UID",
    "EXTRA_POD_NAME",
    "EXTRA_POD_UID",
    "AuthResult",
    "Authenticator",
    "ServiceAccountTokens",
    "StaticTokens",
    "TokenFileError",
]

DEFAULT_ISSUER = "https://kubernetes.default.svc.cluster.local"
EXTRA_POD_NAME = "authentication.kubernetes.io/pod-name"
EXTRA_POD_UID = "authentication.kubernetes.io/pod-uid"
EXTRA_NODE_NAME = "authentication.kubernetes.io/node-name"
EXTRA_NODE_UID = "authentication.kubernetes.io/node-uid"
EXTRA_CREDENTIAL_ID = "authentication.kubernetes.io/credential-id"
LEEWAY_SECONDS = 60
INVALID_BEARER_TOKEN = "invalid bearer token"

GetObject = Callable[[str, str, str, str], "dict[str, Any] | None"]


class TokenFileError(ValueError):
    """A token-auth file that does not parse; names the line."""


@dataclass(frozen=True)
class AuthResult:
    """A successful authentication: who, and for which audiences."""

    identity: Identity
    audiences: tuple[str, ...]


def add_authenticated_group(identity: Identity) -> Identity:
    """kube's AuthenticatedGroupAdder: authenticated users are in ``system:authenticated``."""
    if ALL_AUTHENTICATED in identity.groups or ALL_UNAUTHENTICATED in identity.groups:
        return identity
    return Identity(
        identity.user, identity.uid, (*identity.groups, ALL_AUTHENTICATED), identity.extra
    )


class StaticTokens:
    """Bearer tokens from a kube token-auth CSV (``token,user,uid,"g1,g2"``) and ``add_user``."""

    def __init__(self) -> None:
        self._tokens: dict[str, Identity] = {}
        self._lock = threading.Lock()

    def load_csv(self, path: Path) -> None:
        text = path.read_text(encoding="utf-8")
        for lineno, row in enumerate(csv.reader(io.StringIO(text)), start=1):
            if not row or (len(row) == 1 and not row[0].strip()):
                continue
            if row[0].lstrip().startswith("#"):
                continue
            if len(row) < 3:
                raise TokenFileError(
                    f'{path}:{lineno}: expected token,user,uid[,"group1,group2"], '
                    f"got {len(row)} column(s)"
                )
            token, user, uid = row[0].strip(), row[1].strip(), row[2].strip()
            if not token or not user:
                raise TokenFileError(f"{path}:{lineno}: token and user must not be empty")
            groups = (
                tuple(g.strip() for g in row[3].split(",") if g.strip()) if len(row) > 3 else ()
            )
            self.add(token, Identity(user, uid or None, groups))

    def add(self, token: str, identity: Identity) -> None:
        with self._lock:
            self._tokens[token] = identity

    def new_token(self, identity: Identity) -> str:
        token = secrets.token_urlsafe(32)
        self.add(token, identity)
        return token

    def authenticate(self, token: str) -> Identity | None:
        return self._tokens.get(token)

    def dump(self) -> list[dict[str, Any]]:
        with self._lock:
            return [{"token": t, "user": i.to_user_info()} for t, i in self._tokens.items()]

    def restore(self, entries: Iterable[Mapping[str, Any]]) -> None:
        for entry in entries:
            self.add(str(entry["token"]), Identity.from_user_info(entry["user"]))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(data: str) -> bytes:
    return base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))


class ServiceAccountTokens:
    """Issues and verifies service-account JWTs, checking the bound objects still exist."""

    def __init__(
        self,
        key: ec.EllipticCurvePrivateKey,
        get_object: GetObject,
        *,
        issuer: str = DEFAULT_ISSUER,
        audiences: Sequence[str] = (DEFAULT_ISSUER,),
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._key = key
        self._public = key.public_key()
        self._get = get_object
        self.issuer = issuer
        self.audiences = tuple(audiences)
        self._clock = clock
        der = self._public.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.key_id = _b64(hashlib.sha256(der).digest())

    # ------------------------------------------------------------------ issue

    def issue(
        self,
        namespace: str,
        service_account: Mapping[str, Any],
        *,
        audiences: Sequence[str] = (),
        expiration_seconds: int = 3600,
        pod: Mapping[str, Any] | None = None,
        node: Mapping[str, Any] | None = None,
        node_name: str = "",
        secret: Mapping[str, Any] | None = None,
    ) -> tuple[str, int]:
        """A signed token and its expiry (unix seconds).

        ``node_name`` without ``node`` embeds the name only, as kube does for a pod whose node
        object is missing.
        """
        now = int(self._clock())
        exp = now + expiration_seconds
        meta = service_account.get("metadata", {})
        private: dict[str, Any] = {
            "namespace": namespace,
            "serviceaccount": {"name": meta.get("name", ""), "uid": meta.get("uid", "")},
        }
        if pod is not None:
            pmeta = pod.get("metadata", {})
            private["pod"] = {"name": pmeta.get("name", ""), "uid": pmeta.get("uid", "")}
        if secret is not None:
            smeta = secret.get("metadata", {})
            private["secret"] = {"name": smeta.get("name", ""), "uid": smeta.get("uid", "")}
        if node is not None:
            nmeta = node.get("metadata", {})
            private["node"] = {"name": nmeta.get("name", ""), "uid": nmeta.get("uid", "")}
        elif node_name:
            private["node"] = {"name": node_name}
        claims = {
            "aud": list(audiences or self.audiences),
            "exp": exp,
            "iat": now,
            "nbf": now,
            "iss": self.issuer,
            "jti": str(uuid.uuid4()),
            "kubernetes.io": private,
            "sub": service_account_user(namespace, str(meta.get("name", ""))),
        }
        header = {"alg": "ES256", "kid": self.key_id}  # no "typ", as kube's signer
        signing_input = (
            _b64(json.dumps(header, separators=(",", ":")).encode())
            + "."
            + _b64(json.dumps(claims, separators=(",", ":")).encode())
        )
        der = self._key.sign(signing_input.encode("ascii"), ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)
        signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
        return f"{signing_input}.{_b64(signature)}", exp

    # ------------------------------------------------------------------ verify

    def _claims(self, token: str) -> tuple[dict[str, Any] | None, str]:
        """The verified claims of a token of this issuer; ``(None, "")`` for a token that is
        not ours, ``(None, why)`` for one of ours whose signature does not verify."""
        parts = token.split(".")
        if len(parts) != 3 or len(token) > 16384 or token.lstrip().startswith("{"):
            return None, ""
        try:
            unverified = json.loads(_unb64(parts[1]))
        except (ValueError, UnicodeError):
            return None, ""
        if not isinstance(unverified, dict) or unverified.get("iss") != self.issuer:
            return None, ""  # kube's hasCorrectIssuer: another authenticator's token
        try:
            header = json.loads(_unb64(parts[0]))
            if not isinstance(header, dict) or header.get("alg") != "ES256":
                return None, ""
            signature = _unb64(parts[2])
            if len(signature) != 64:
                return None, _BAD_SIGNATURE
            der = encode_dss_signature(
                int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
            )
            self._public.verify(
                der, f"{parts[0]}.{parts[1]}".encode("ascii"), ec.ECDSA(hashes.SHA256())
            )
        except InvalidSignature:
            return None, _BAD_SIGNATURE
        except (ValueError, UnicodeError):
            return None, ""
        return unverified, ""

    def authenticate(
        self, token: str, audiences: Sequence[str] = ()
    ) -> tuple[AuthResult | None, str]:
        """``(result, "")`` on success, ``(None, why)`` when the token is ours but unusable,
        ``(None, "")`` when it is not a token this server issued.

        Checks and words as kube's service-account authenticator: signature, audiences, then
        the time claims (60 s leeway), the service account, and the bound secret, pod or node.
        """
        claims, why = self._claims(token)
        if claims is None:
            return None, why
        token_aud = claims.get("aud") or []
        if isinstance(token_aud, str):
            token_aud = [token_aud]
        token_aud = [str(a) for a in token_aud] or list(self.audiences)
        wanted = tuple(audiences) or self.audiences
        matched = tuple(a for a in token_aud if a in wanted)
        if not matched:
            return None, (
                f"token audiences {_go_strings(token_aud)} is invalid for the target audiences "
                f"{_go_strings(wanted)}"
            )
        now = self._clock()
        try:
            exp = float(claims["exp"])
            nbf = float(claims.get("nbf", 0))
            iat = float(claims.get("iat", 0))
        except (KeyError, TypeError, ValueError):
            return None, _OPAQUE_CLAIMS
        if now > exp + LEEWAY_SECONDS:
            return None, "service account token has expired"
        if now < nbf - LEEWAY_SECONDS:
            return None, "service account token is not valid yet"
        if now < iat - LEEWAY_SECONDS:
            return None, "service account token is issued in the future"
        private = claims.get("kubernetes.io")
        if not isinstance(private, dict):
            return None, _OPAQUE_CLAIMS
        namespace = str(private.get("namespace", ""))
        sa_ref = private.get("serviceaccount") or {}
        sa_name = str(sa_ref.get("name", ""))
        sa = self._get("", "serviceaccounts", namespace, sa_name)
        if sa is None:
            return None, f'serviceaccounts "{sa_name}" not found'
        sa_uid = sa.get("metadata", {}).get("uid", "")
        if sa_uid != sa_ref.get("uid"):
            claim = sa_ref.get("uid")
            return None, f"service account UID ({sa_uid}) does not match claim ({claim})"
        if _deleted_before(sa, now - LEEWAY_SECONDS):
            return None, f"service account {namespace}/{sa_name} has been deleted"
        extra: dict[str, tuple[str, ...]] = {}
        for kind, resource, name_key, uid_key in (
            ("secret", "secrets", "", ""),
            ("pod", "pods", EXTRA_POD_NAME, EXTRA_POD_UID),
        ):
            ref = private.get(kind)
            if not isinstance(ref, dict):
                continue
            obj = self._get("", resource, namespace, str(ref.get("name", "")))
            if obj is None:
                return None, _INVALIDATED
            uid = obj.get("metadata", {}).get("uid", "")
            if uid != ref.get("uid"):
                return None, (
                    f"{kind} UID ({uid}) does not match service account {kind} ref claim "
                    f"({ref.get('uid')})"
                )
            if _deleted_before(obj, now - LEEWAY_SECONDS):
                return None, _INVALIDATED  # terminating for over the leeway
            if name_key:
                extra[name_key] = (str(ref.get("name", "")),)
                extra[uid_key] = (str(ref.get("uid", "")),)
        node_ref = private.get("node")
        if isinstance(node_ref, dict):
            if "pod" not in private:
                # Bound directly to a node: the node must still exist.
                node = self._get("", "nodes", "", str(node_ref.get("name", "")))
                if node is None:
                    return None, _INVALIDATED
                uid = node.get("metadata", {}).get("uid", "")
                if uid != node_ref.get("uid"):
                    return None, (
                        f"node UID ({uid}) does not match service account node ref claim "
                        f"({node_ref.get('uid')})"
                    )
                if _deleted_before(node, now - LEEWAY_SECONDS):
                    return None, _INVALIDATED
            extra[EXTRA_NODE_NAME] = (str(node_ref.get("name", "")),)
            if node_ref.get("uid"):
                extra[EXTRA_NODE_UID] = (str(node_ref["uid"]),)
        if claims.get("jti"):
            extra[EXTRA_CREDENTIAL_ID] = (f"JTI={claims['jti']}",)
        identity = Identity(
            str(claims.get("sub", "")),
            str(sa_ref.get("uid", "")) or None,
            (SERVICE_ACCOUNTS_GROUP, f"{SERVICE_ACCOUNTS_GROUP}:{namespace}", ALL_AUTHENTICATED),
            extra,
        )
        return AuthResult(identity, matched), ""


_BAD_SIGNATURE = "go-jose/go-jose: error in cryptographic primitive"
_OPAQUE_CLAIMS = (
    "service account token claims could not be validated due to unexpected validation error"
)
_INVALIDATED = "service account token has been invalidated"


def _deleted_before(obj: Mapping[str, Any], when: float) -> bool:
    """The object's ``deletionTimestamp`` lies before ``when`` (kube refuses a token whose
    bound object has been terminating for longer than the leeway)."""
    stamp = (obj.get("metadata") or {}).get("deletionTimestamp")
    if not stamp:
        return False
    try:
        deleted = datetime.strptime(str(stamp), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        return False
    return deleted.timestamp() < when


def _go_strings(values: Sequence[str]) -> str:
    """Go's ``%q`` of a ``[]string``: ``["a" "b"]``."""
    return "[" + " ".join(quote(v) for v in values) + "]"


class Authenticator:
    """Union of static tokens and service-account JWTs, anonymous for requests without one."""

    def __init__(
        self,
        static: StaticTokens,
        service_accounts: ServiceAccountTokens,
        *,
        anonymous: bool = True,
    ) -> None:
        self.static = static
        self.service_accounts = service_accounts
        self.anonymous = anonymous

    def authenticate_token(
        self, token: str, audiences: Sequence[str] = ()
    ) -> tuple[AuthResult | None, str]:
        """Authenticate a bearer token; ``(None, reason)`` when it is invalid."""
        if not token:
            return None, INVALID_BEARER_TOKEN
        identity = self.static.authenticate(token)
        if identity is not None:
            api_auds = self.service_accounts.audiences
            matched = tuple(a for a in audiences if a in api_auds) if audiences else api_auds
            if not matched:
                # Audience-agnostic authenticators only answer for the API's own audiences.
                return None, INVALID_BEARER_TOKEN
            return AuthResult(add_authenticated_group(identity), matched), ""
        result, why = self.service_accounts.authenticate(token, audiences)
        if result is not None:
            return result, ""
        # kube's union of authenticators: the bearer-token error, then the one that knew the
        # token (an aggregate, printed as Go does).
        return None, f"[{INVALID_BEARER_TOKEN}, {why}]" if why else INVALID_BEARER_TOKEN

    def authenticate_header(self, authorization: str | None) -> tuple[Identity | None, str]:
        """From an ``Authorization`` header: the identity, or ``(None, reason)`` for a 401."""
        if authorization is None:
            if self.anonymous:
                return Identity(ANONYMOUS, None, (ALL_UNAUTHENTICATED,)), ""
            return None, "no credentials"
        scheme, _, token = authorization.strip().partition(" ")
        if scheme.lower() != "bearer":
            if self.anonymous:
                return Identity(ANONYMOUS, None, (ALL_UNAUTHENTICATED,)), ""
            return None, "unsupported authorization scheme"
        result, why = self.authenticate_token(token.strip())
        if result is None:
            return None, why
        return result.identity, ""
