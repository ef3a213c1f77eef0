"""The front proxy of API aggregation: its PKI, and how an extension server trusts it.

kube-apiserver proxies a request for an aggregated API (an ``APIService`` with a service) to
the extension server over TLS, presenting a *proxy client certificate*
(``--proxy-client-cert-file``) signed by the *requestheader CA*
(``--requestheader-client-ca-file``), and says who the user is in headers: ``X-Remote-User``,
``X-Remote-Uid``, one ``X-Remote-Group`` per group, ``X-Remote-Extra-<key>`` per extra value
(the key %-escaped). An extension server believes those headers only on a connection whose
client certificate chains to that CA and, when ``--requestheader-allowed-names`` is set,
whose common name is on that list; kube-apiserver publishes all of it in the ConfigMap
``kube-system/extension-apiserver-authentication``.

:func:`create_front_proxy` makes such a CA and client certificate (EC P-256, as
:mod:`..certs`); :class:`RequestHeaderAuth` is the extension server's side.
"""

from __future__ import annotations

import json
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from multidict import CIMultiDictProxy

from constrained_impersonation._private_files import private_dir, write_private
from constrained_impersonation.identity import Identity

from ..certs import issue, new_ca, pem, pem_key

__all__ = [
    "CONFIGMAP",
    "FRONT_PROXY_CLIENT",
    "FrontProxyPKI",
    "RequestHeaderAuth",
    "RequestHeaderRefused",
    "create_front_proxy",
    "load_or_create_front_proxy",
]

FRONT_PROXY_CLIENT = "front-proxy-client"
CONFIGMAP = ("kube-system", "extension-apiserver-authentication")


_CA_NAME = "cimp-front-proxy-ca"


@dataclass(frozen=True)
class FrontProxyPKI:
    """The requestheader CA (with its key) and the proxy client certificate it signed (PEM)."""

    ca_pem: bytes
    ca_key_pem: bytes
    client_cert_pem: bytes
    client_key_pem: bytes

    def issue(self, common_name: str) -> tuple[bytes, bytes]:
        """Another client certificate of this CA: ``(certificate, key)`` PEM."""
        ca_key = serialization.load_pem_private_key(self.ca_key_pem, password=None)
        assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
        return _client_certificate(ca_key, common_name)


def _client_certificate(
    ca_key: ec.EllipticCurvePrivateKey, common_name: str
) -> tuple[bytes, bytes]:
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, _CA_NAME)])
    cert, key = issue(ca_key, ca_name, common_name, ExtendedKeyUsageOID.CLIENT_AUTH)
    return pem(cert), pem_key(key)


def create_front_proxy(common_name: str = FRONT_PROXY_CLIENT) -> FrontProxyPKI:
    """A fresh front-proxy CA and a client certificate ``CN=<common_name>`` (clientAuth)."""
    ca_key, ca_cert = new_ca(_CA_NAME)
    cert, key = _client_certificate(ca_key, common_name)
    return FrontProxyPKI(pem(ca_cert), pem_key(ca_key), cert, key)


_FILES = ("front-proxy-ca.pem", "front-proxy-ca-key.pem", "front-proxy-client.pem")
_CLIENT_KEY = "front-proxy-client-key.pem"


def load_or_create_front_proxy(directory: Path) -> FrontProxyPKI:
    """Reuse the front-proxy CA, its key, the client certificate and its key kept in
    ``directory`` (a restarted server keeps trusting the same extension servers), or create
    them."""
    private_dir(directory)
    paths = [directory / name for name in (*_FILES, _CLIENT_KEY)]
    if all(path.exists() for path in paths):
        return FrontProxyPKI(*(path.read_bytes() for path in paths))
    pki = create_front_proxy()
    for path, content in zip(
        paths, (pki.ca_pem, pki.ca_key_pem, pki.client_cert_pem, pki.client_key_pem), strict=True
    ):
        write_private(path, content)
    return pki


class RequestHeaderRefused(Exception):
    """The connection is not the front proxy's (no, or the wrong, client certificate)."""


def _json_list(value: str | None) -> tuple[str, ...]:
    if not value:
        return ()
    parsed = json.loads(value)
    if not isinstance(parsed, list) or not all(isinstance(v, str) for v in parsed):
        raise ValueError(f"expected a JSON list of strings, got {value!r}")
    return tuple(parsed)


def _unescape(key: str) -> str:
    """``url.PathUnescape``, keeping the raw key when it does not decode (as kube does)."""
    try:
        return unquote(key, errors="strict")
    except UnicodeDecodeError:
        return key


@dataclass(frozen=True)
class RequestHeaderAuth:
    """What an extension server needs to believe the front proxy's identity headers.

    ``ca_pem``: the requestheader CA, the only issuer whose client certificates are accepted
    (not the cluster's client CA); ``allowed_names``: the common names accepted (empty: any
    certificate of that CA). Headers as kube-apiserver's flags name them.
    """

    ca_pem: bytes
    allowed_names: tuple[str, ...] = (FRONT_PROXY_CLIENT,)
    username_headers: tuple[str, ...] = ("X-Remote-User",)
    uid_headers: tuple[str, ...] = ("X-Remote-Uid",)
    group_headers: tuple[str, ...] = ("X-Remote-Group",)
    extra_prefixes: tuple[str, ...] = ("X-Remote-Extra-",)

    @classmethod
    def from_configmap(cls, data: Mapping[str, str]) -> RequestHeaderAuth:
        """From the data of ``kube-system/extension-apiserver-authentication``, as every
        extension server built on k8s.io/apiserver reads it."""
        ca = data.get("requestheader-client-ca-file")
        if not ca:
            raise ValueError(
                "extension-apiserver-authentication has no requestheader-client-ca-file: "
                "kube-apiserver runs without --requestheader-client-ca-file"
            )
        return cls(
            ca_pem=ca.encode(),
            allowed_names=_json_list(data.get("requestheader-allowed-names")),
            username_headers=_json_list(data.get("requestheader-username-headers")),
            uid_headers=_json_list(data.get("requestheader-uid-headers")),
            group_headers=_json_list(data.get("requestheader-group-headers")),
            extra_prefixes=_json_list(data.get("requestheader-extra-headers-prefix")),
        )

    def server_context(self, cert_file: str | Path, key_file: str | Path) -> ssl.SSLContext:
        """A TLS server context that requires a client certificate of the requestheader CA
        (and trusts no other issuer)."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cadata=self.ca_pem.decode())
        context.load_cert_chain(str(cert_file), str(key_file))
        context.verify_mode = ssl.CERT_REQUIRED
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        return context

    def check_peer(self, peercert: Mapping[str, Any] | None) -> None:
        """Refuse a verified client certificate whose CN is not allowed (kube's x509
        request-header verifier); ``peercert`` is ``SSLSocket.getpeercert()``."""
        if not peercert:
            raise RequestHeaderRefused("no client certificate of the requestheader CA")
        names = [
            value
            for rdn in peercert.get("subject", ())
            for key, value in rdn
            if key == "commonName"
        ]
        common_name = names[0] if names else ""
        if self.allowed_names and common_name not in self.allowed_names:
            raise RequestHeaderRefused(
                f"x509: subject with cn={common_name} is not in the allowed list"
            )

    def identity(self, headers: CIMultiDictProxy[str] | Mapping[str, Any]) -> Identity | None:
        """The user the front proxy names (None without a user header), read as
        k8s.io/apiserver's request-header authenticator reads it."""
        getall = getattr(headers, "getall", None)

        def values(name: str) -> list[str]:
            if getall is not None:
                return [str(v) for v in getall(name, [])]
            value = headers.get(name)
            return [] if value is None else [str(value)]

        def first(names: Sequence[str]) -> str:
            for name in names:
                found = values(name)
                if found and found[0]:
                    return found[0]
            return ""

        user = first(self.username_headers)
        if not user:
            return None
        groups = [g for name in self.group_headers for g in values(name) if g]
        extra: dict[str, list[str]] = {}
        for prefix in self.extra_prefixes:
            seen: set[str] = set()
            for header in headers:
                lowered = str(header).lower()
                if not lowered.startswith(prefix.lower()) or lowered in seen:
                    continue
                seen.add(lowered)
                key = _unescape(lowered[len(prefix) :])
                extra.setdefault(key, []).extend(values(str(header)))
        frozen = {key: tuple(found) for key, found in extra.items()}
        return Identity(user, first(self.uid_headers) or None, tuple(groups), frozen)
