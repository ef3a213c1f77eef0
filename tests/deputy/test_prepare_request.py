"""``Session.prepare_request``: the scope check and header lines for transports the session's
``api_client`` cannot carry (added to session.py for the deputy's console websocket)."""

from __future__ import annotations

import asyncio
import ssl

import aiohttp
import pytest
from multidict import CIMultiDict

import constrained_impersonation as ci
from constrained_impersonation import headers
from deputy.console import console_path, console_scope

from .conftest import CREDENTIAL_ID, VMS, Cluster


def test_lines_are_the_sessions_own_and_out_of_scope_requests_are_refused(
    cluster: Cluster,
) -> None:
    base = cluster.deputy_client()
    host = base.configuration.host
    session = ci.UserSession(
        base,
        user="alice",
        uid="alice-uid",
        groups=["vm-operators", "ops,qa"],
        extra={CREDENTIAL_ID: ["JTI=1", "JTI=2"]},
        scope=console_scope(VMS, "vm1"),
    )
    lines = session.prepare_request("get", host + console_path(VMS, "vm1"))
    assert lines == [
        ("Impersonate-User", "alice"),
        ("Impersonate-Uid", "alice-uid"),
        ("Impersonate-Group", "vm-operators"),
        ("Impersonate-Group", "ops,qa"),  # one line per group: never comma-joined
        ("Impersonate-Extra-Authentication.kubernetes.io%2fcredential-Id", "JTI=1"),
        ("Impersonate-Extra-Authentication.kubernetes.io%2fcredential-Id", "JTI=2"),
    ]
    assert lines == headers.encode(session.identity)
    lines.clear()  # a copy: callers cannot alter what the session sends
    assert session.prepare_request("GET", host + console_path(VMS, "vm1"))

    with pytest.raises(ci.OutOfScopeError) as refused:
        session.prepare_request("GET", host + console_path(VMS, "vm2"))
    assert (refused.value.verb, refused.value.resource, refused.value.name) == (
        "get",
        "virtualmachineinstances/console",
        "vm2",
    )
    session.close()
    with pytest.raises(ci.ImpersonationError, match="closed"):
        session.prepare_request("GET", host + console_path(VMS, "vm1"))


def test_the_lines_carry_the_identity_over_a_websocket(cluster: Cluster) -> None:
    """What the official client's websocket path cannot do: the server sees the user, with
    every group as sent."""
    base = cluster.deputy_client()
    url = base.configuration.host + console_path(VMS, "vm1")
    with ci.UserSession(
        base, user="alice", groups=["vm-operators", "ops,qa"], scope=console_scope(VMS, "vm1")
    ) as session:
        lines = session.prepare_request("GET", url)

    async def greeting() -> str:
        request_headers = CIMultiDict([("Authorization", f"Bearer {cluster.deputy_token}"), *lines])
        context = ssl.create_default_context(cafile=cluster.server.ca_file)
        async with (
            aiohttp.ClientSession() as client,
            client.ws_connect(url, headers=request_headers, ssl=context) as ws,
        ):
            cluster.opened += 1
            return await ws.receive_str()

    assert asyncio.run(greeting()) == (
        f'connected to {VMS}/vm1 as alice groups=["vm-operators", "ops,qa", "system:authenticated"]'
    )


def test_node_sessions_prepare_only_the_user_line(cluster: Cluster) -> None:
    base = cluster.deputy_client()
    scope = ci.Scope(ci.Rule(["list"], ["pods"]))
    with ci.ArbitraryNodeSession(base, node="worker-1", scope=scope) as session:
        assert session.prepare_request("GET", base.configuration.host + "/api/v1/pods") == [
            ("Impersonate-User", "system:node:worker-1")
        ]
