"""Certificates and keys the embedded server generates at start (or reloads from its data dir).

EC P-256 everywhere: generating it takes microseconds, so a server starts in milliseconds.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from constrained_impersonation._private_files import private_dir, write_private

__all__ = ["ServingCerts", "load_or_create"]


def new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


_TEN_YEARS = dt.timedelta(days=3650)


def _builder(subject: x509.Name, issuer: x509.Name, key: ec.EllipticCurvePrivateKey) -> Any:
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + _TEN_YEARS)
        # Key identifiers: Python 3.13's default verification (VERIFY_X509_STRICT) and Go's
        # chain building both expect them; without them 3.13 clients refuse the server.
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )


def _key_usage(*, ca: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        key_cert_sign=ca,
        crl_sign=ca,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        encipher_only=False,
        decipher_only=False,
    )


def new_ca(common_name: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """A self-signed CA (ten years, no intermediates below it) and its key."""
    key = new_key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    cert = (
        _builder(name, name, key)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(ca=True), critical=True)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def issue(
    ca_key: ec.EllipticCurvePrivateKey,
    ca_name: x509.Name,
    common_name: str,
    usage: x509.ObjectIdentifier,
    sans: Sequence[x509.GeneralName] = (),
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """A leaf certificate ``CN=<common_name>`` for ``usage`` (server or client auth)."""
    key = new_key()
    builder = (
        _builder(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]), ca_name, key)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(ca=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
    )
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return builder.sign(ca_key, hashes.SHA256()), key


@dataclass(frozen=True)
class ServingCerts:
    """The cluster CA, the serving certificate it signed, and the service-account signing key."""

    ca_pem: bytes
    cert_pem: bytes
    key_pem: bytes
    sa_key_pem: bytes

    def ssl_context(self, directory: Path) -> ssl.SSLContext:
        cert_file = directory / "serving.crt"
        key_file = directory / "serving.key"
        if not cert_file.exists():
            write_private(cert_file, self.cert_pem + self.ca_pem)
            write_private(key_file, self.key_pem)
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(str(cert_file), str(key_file))
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        return ctx

    def sa_private_key(self) -> ec.EllipticCurvePrivateKey:
        key = serialization.load_pem_private_key(self.sa_key_pem, password=None)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        return key


def _create(hosts: tuple[str, ...]) -> ServingCerts:
    ca_key, ca_cert = new_ca("cimp-embedded-ca")
    sans: list[x509.GeneralName] = []
    for host in hosts:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            sans.append(x509.DNSName(host))
    cert, key = issue(
        ca_key, ca_cert.subject, "kube-apiserver", ExtendedKeyUsageOID.SERVER_AUTH, sans
    )
    return ServingCerts(
        ca_pem=pem(ca_cert), cert_pem=pem(cert), key_pem=pem_key(key), sa_key_pem=pem_key(new_key())
    )


DEFAULT_HOSTS = (
    "127.0.0.1",
    "::1",
    "localhost",
    "kubernetes",
    "kubernetes.default",
    "kubernetes.default.svc",
    "kubernetes.default.svc.cluster.local",
)


def load_or_create(directory: Path, hosts: tuple[str, ...] = DEFAULT_HOSTS) -> ServingCerts:
    """Reuse the PKI in ``directory`` (so a restarted server keeps its CA and tokens stay valid)."""
    private_dir(directory)
    files = {name: directory / f"{name}.pem" for name in ("ca", "cert", "key", "sa")}
    if all(path.exists() for path in files.values()):
        return ServingCerts(
            ca_pem=files["ca"].read_bytes(),
            cert_pem=files["cert"].read_bytes(),
            key_pem=files["key"].read_bytes(),
            sa_key_pem=files["sa"].read_bytes(),
        )
    certs = _create(hosts)
    write_private(files["ca"], certs.ca_pem)
    write_private(files["cert"], certs.cert_pem)
    write_private(files["key"], certs.key_pem)
    write_private(files["sa"], certs.sa_key_pem)
    return certs
