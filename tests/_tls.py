"""Serving certificates for the tests' own stand-in servers, from the server's one PKI builder.

Capture servers, the deputy's TLS Secret and wire tests need a certificate a client verifies;
``cimp_apiserver.certs`` already builds a CA and a serving certificate signed by it, so the
tests use that instead of writing X.509 builders of their own.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from cimp_apiserver.certs import load_or_create


def serving_files(directory: Path, *hosts: str) -> tuple[Path, Path]:
    """``(certificate, key)`` files for ``hosts`` (default 127.0.0.1) in ``directory``.

    The certificate file holds the serving certificate followed by its CA, so the same file
    serves as a server's chain and as the client's trust bundle.
    """
    certs = load_or_create(directory / "pki", hosts=hosts or ("127.0.0.1",))
    cert_path, key_path = directory / "tls.crt", directory / "tls.key"
    cert_path.write_bytes(certs.cert_pem + certs.ca_pem)
    key_path.write_bytes(certs.key_pem)
    key_path.chmod(0o600)
    return cert_path, key_path


def tls_secret_data(*hosts: str) -> dict[str, bytes]:
    """A ``kubernetes.io/tls`` Secret's ``data`` (raw bytes) for ``hosts``."""
    with tempfile.TemporaryDirectory() as scratch:
        cert_path, key_path = serving_files(Path(scratch), *hosts)
        return {"tls.crt": cert_path.read_bytes(), "tls.key": key_path.read_bytes()}
