"""The API server's certificates pass Python 3.13's default X.509 checks, on every Python.

From 3.13 on, ``ssl.create_default_context()`` sets ``VERIFY_X509_STRICT``, which refuses a
certificate without an Authority Key Identifier (and a CA without a Subject Key Identifier).
Certificates made by Go's x509 (kubeadm) carry both; the harness makes its own for both
backends, and its ``request()`` and the deputy's API client verify with a default context. Setting the flag here shows on 3.11 what
3.13 would refuse.
"""

from __future__ import annotations

import socket
import ssl
from typing import Any
from urllib.parse import urlsplit


def test_the_serving_certificate_verifies_with_strict_x509_checks(apiserver: Any) -> None:
    context = ssl.create_default_context(cafile=apiserver.ca_file)
    context.verify_flags |= ssl.VERIFY_X509_STRICT
    parts = urlsplit(apiserver.url)
    host = parts.hostname or "127.0.0.1"
    with (
        socket.create_connection((host, parts.port or 443), timeout=30) as raw,
        context.wrap_socket(raw, server_hostname=host) as tls,
    ):
        assert tls.getpeercert() is not None
