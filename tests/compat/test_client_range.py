"""The `kubernetes` client range: declared, tested, and the REST hook it rests on.

A session replaces the official client's REST object (``kubernetes.client.rest`` and its
``kubernetes.aio`` twin). A client release that adds another way to reach the network beside
``RESTClientObject.request`` would send such requests as the requestor, unchecked by the scope:
the tripwires below fail first, naming the new method, on whatever client is installed
(``hack/compat.sh`` runs them on the oldest and newest supported client). docs/compatibility.md
says why the range is where it is.
"""

from __future__ import annotations

import asyncio
import inspect
import re
import tomllib
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
from kubernetes.aio.client import ApiClient as AsyncApiClient
from kubernetes.aio.client import Configuration as AsyncConfiguration
from kubernetes.aio.client.rest import RESTClientObject as AsyncRESTClientObject
from kubernetes.client import ApiClient, Configuration
from kubernetes.client.rest import RESTClientObject
from packaging.specifiers import SpecifierSet
from packaging.version import Version

import constrained_impersonation as ci
from constrained_impersonation import aio

ROOT = Path(__file__).resolve().parents[2]
SCOPE = ci.Scope(ci.Rule(verbs=["list"], resources=["pods"]))
# What ``RESTClientObject.request`` takes in the generation the SDK hooks (kubernetes 37):
# the URL already carries its query, and nothing asks for an unread (``_preload_content``)
# response.
REQUEST_PARAMETERS = ["self", "method", "url", "headers", "body", "post_params", "_request_timeout"]


def declared_range() -> SpecifierSet:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    for line in pyproject["project"]["dependencies"]:
        match = re.fullmatch(r"kubernetes\s*([^;]*)", line.strip())
        if match:
            return SpecifierSet(match.group(1))
    raise AssertionError("pyproject.toml declares no kubernetes dependency")


def compat_oldest() -> Version:
    script = (ROOT / "hack" / "compat.sh").read_text()
    match = re.search(r"^OLDEST_CLIENT=(\S+)$", script, re.MULTILINE)
    assert match, "hack/compat.sh names no OLDEST_CLIENT"
    return Version(match.group(1))


def lock_pin() -> Version:
    match = re.search(r"^kubernetes==(\S+)", (ROOT / "requirements-dev.lock").read_text(), re.M)
    assert match, "requirements-dev.lock pins no kubernetes"
    return Version(match.group(1))


def skip_if_pinned_exactly(spec: SpecifierSet) -> None:
    if any(s.operator in ("==", "===") for s in spec):
        pytest.skip(f"pyproject.toml pins kubernetes{spec}; hack/compat.sh tests a range")


def test_the_declared_range_is_the_range_compat_tests() -> None:
    spec = declared_range()
    skip_if_pinned_exactly(spec)
    lower = [Version(s.version) for s in spec if s.operator == ">="]
    upper = [s for s in spec if s.operator == "<"]
    assert lower == [compat_oldest()], (
        f"the declared lower bound {spec} must be the oldest client hack/compat.sh tests "
        f"({compat_oldest()})"
    )
    assert upper, f"kubernetes{spec} has no upper bound: the next major regenerates the REST layer"
    assert lock_pin() in spec, f"the locked kubernetes=={lock_pin()} is outside {spec}"


def test_the_installed_client_is_in_the_declared_range() -> None:
    spec = declared_range()
    skip_if_pinned_exactly(spec)
    installed = version("kubernetes")
    assert installed in spec, f"kubernetes {installed} is installed, outside kubernetes{spec}"


def intercepted(stock: type, session_rest: object) -> list[str]:
    """Public methods of the stock REST class the session's REST object does not replace."""
    missed = []
    for name, member in vars(stock).items():
        if name.startswith("_") or not callable(member):
            continue
        replaced = getattr(type(session_rest), name, None)
        if replaced is member:
            missed.append(name)
    return missed


def test_the_rest_layer_is_the_shape_the_sessions_hook() -> None:
    for stock in (RESTClientObject, AsyncRESTClientObject):
        assert list(inspect.signature(stock.request).parameters) == REQUEST_PARAMETERS, (
            f"{stock.__module__}.RESTClientObject.request changed its parameters in kubernetes "
            f"{version('kubernetes')}: the sessions' REST hook does not know this shape"
        )


def test_every_public_method_of_the_sync_rest_object_is_the_sessions() -> None:
    base = ApiClient(Configuration(host="https://127.0.0.1:9"))
    with ci.UserSession(base, user="alice", scope=SCOPE) as session:
        missed = intercepted(RESTClientObject, session.api_client.rest_client)
    assert missed == [], (
        f"kubernetes {version('kubernetes')}: RESTClientObject.{', '.join(missed)} reaches the "
        "network without going through the session (no impersonation, no scope check)"
    )


def test_every_public_method_of_the_asyncio_rest_object_is_the_sessions() -> None:
    async def main() -> list[str]:
        configuration = AsyncConfiguration(host="https://127.0.0.1:9")
        base = AsyncApiClient(configuration)
        try:
            async with aio.UserSession(base, user="alice", scope=SCOPE) as session:
                return intercepted(AsyncRESTClientObject, session.api_client.rest_client)
        finally:
            await base.close()

    missed = asyncio.run(main())
    assert missed == [], (
        f"kubernetes {version('kubernetes')}: aio RESTClientObject.{', '.join(missed)} reaches "
        "the network without going through the session (no impersonation, no scope check)"
    )


@pytest.mark.parametrize("client_class", [ApiClient, AsyncApiClient], ids=["sync", "aio"])
def test_the_api_client_opens_no_connection_around_its_rest_object(client_class: Any) -> None:
    assert "pool_manager" not in inspect.getsource(client_class), (
        f"kubernetes {version('kubernetes')}: {client_class.__module__}.ApiClient uses the "
        "connection pool itself, around the session's REST object"
    )
