"""The deputy end to end: who gets a console, who gets which refusal, what the server saw."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from .conftest import (
    CREDENTIAL_ID,
    DEPUTY_USER,
    OTHER,
    VMS,
    Cluster,
    Opened,
    Refused,
    RunningDeputy,
    expired_token,
    is_console_session,
    open_console,
)

CONSOLE_URI = "/apis/subresources.kubevirt.io/v1/namespaces/{}/virtualmachineinstances/{}/console"


def _console_events(
    events: list[dict[str, Any]], namespace: str, name: str, stage: str | None = None
) -> list[dict[str, Any]]:
    """Console requests; one that opened logs its ResponseComplete (code 101) when the
    websocket ends, a refused one when it is refused."""
    uri = CONSOLE_URI.format(namespace, name)
    return [e for e in events if e["requestURI"] == uri and stage in (None, e["stage"])]


def _wait_unauthenticated(cluster: Cluster, token: str) -> None:
    review = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview"}
    deadline = time.monotonic() + 15
    while True:
        status, body = cluster.server.request(
            "POST",
            "/apis/authentication.k8s.io/v1/tokenreviews",
            {**review, "spec": {"token": token}},
        )
        assert status == 201, body
        if not body["status"].get("authenticated"):
            return
        assert time.monotonic() < deadline, "the token still authenticates"
        time.sleep(0.02)


def _impersonations(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in events if "impersonatedUser" in e]


def test_user_with_console_rights_gets_the_console_as_themselves(
    cluster: Cluster, deputy: RunningDeputy
) -> None:
    mark = cluster.mark()
    opened = open_console(
        deputy.url, cluster.alice, cluster=cluster, send=("hello", b"\x00\x01binary", "bye")
    )
    assert isinstance(opened, Opened), opened
    # The banner is the API server's: it names whom the console request acted as.
    assert opened.greeting == (
        f'connected to {VMS}/vm1 as alice groups=["vm-operators", "system:authenticated"]'
    )
    assert opened.echoes == ["hello", b"\x00\x01binary", "bye"]
    assert opened.protocol == "plain.kubevirt.io"

    cluster.mark()  # its console has ended
    [event] = [
        e for e in _console_events(cluster.events_since(mark), VMS, "vm1") if is_console_session(e)
    ]
    assert event["user"]["username"] == DEPUTY_USER
    assert event["verb"] == "get"
    assert event["objectRef"]["subresource"] == "console"
    assert event["authenticationMetadata"] == {"impersonationConstraint": "impersonate:user-info"}
    assert event["impersonatedUser"] == {
        "username": "alice",
        "uid": "alice-uid",
        "groups": ["vm-operators", "system:authenticated"],
        # Only the allow-listed key: example.com/tenant and the invalid "scopes" are dropped.
        "extra": {CREDENTIAL_ID: ["X509SHA256=ab12"]},
    }


def test_user_without_console_rights_gets_the_servers_403_with_its_reason(
    cluster: Cluster, deputy: RunningDeputy
) -> None:
    mark = cluster.mark()
    refused = open_console(deputy.url, cluster.bob, cluster=cluster)
    assert isinstance(refused, Refused)
    assert refused.status == 403
    body = refused.body
    assert (body["kind"], body["reason"], body["code"]) == ("Status", "Forbidden", 403)
    # The refusal is about bob's own permission (downstream of impersonation), not the deputy's.
    assert body["message"].startswith(
        'virtualmachineinstances.subresources.kubevirt.io "vm1" is forbidden: User "bob" '
        'cannot get resource "virtualmachineinstances/console" in API group '
        f'"subresources.kubevirt.io" in the namespace "{VMS}"'
    )
    [event] = [
        e
        for e in _console_events(cluster.events_since(mark), VMS, "vm1", "ResponseComplete")
        if e["impersonatedUser"]["username"] == "bob"
    ]
    assert event["user"]["username"] == DEPUTY_USER
    assert event["responseStatus"]["code"] == 403


def test_missing_vmi_is_relayed_as_the_servers_404(cluster: Cluster, deputy: RunningDeputy) -> None:
    refused = open_console(deputy.url, cluster.alice, name="nope", cluster=cluster)
    assert isinstance(refused, Refused)
    assert refused.status == 404
    # virt-api's answer (KubeVirt names the resource in the singular), relayed by the server
    assert refused.body["message"] == 'virtualmachineinstance.kubevirt.io "nope" not found'
    assert refused.body["details"] == {
        "name": "nope",
        "group": "kubevirt.io",
        "kind": "virtualmachineinstance",
    }


@pytest.mark.parametrize("case", ["no token", "basic auth", "garbage", "expired", "deleted user"])
def test_unauthenticated_is_401_and_nothing_is_impersonated(
    cluster: Cluster, deputy: RunningDeputy, case: str, caplog: pytest.LogCaptureFixture
) -> None:
    token: str | None = None
    authorization: str | None = None
    if case == "basic auth":
        authorization = "Basic YWxpY2U6c2VjcmV0"
    elif case == "garbage":
        token = "not-a-token"
    elif case == "expired":
        token = expired_token(cluster.server, VMS, "ci-runner")
    elif case == "deleted user":
        # Genuinely signed and unexpired, but its service account is gone.
        cluster.server.apply(
            {
                "apiVersion": "v1",
                "kind": "ServiceAccount",
                "metadata": {"name": "gone", "namespace": VMS},
            }
        )
        token = cluster.server.token_for(VMS, "gone")
        from kubernetes import client

        client.CoreV1Api(cluster.server.api_client()).delete_namespaced_service_account("gone", VMS)
        _wait_unauthenticated(cluster, token)  # a real server's informer lags the delete
    mark = cluster.mark()
    refused = open_console(deputy.url, token, cluster=cluster, authorization=authorization)
    assert isinstance(refused, Refused)
    assert refused.status == 401
    assert refused.body["reason"] == "Unauthorized"
    events = cluster.events_since(mark)
    assert _impersonations(events) == []
    assert _console_events(events, VMS, "vm1") == []
    # At most the deputy's TokenReview reached the server; the token is in no record of it.
    assert {(e["user"]["username"], e["requestURI"]) for e in events} <= {
        (DEPUTY_USER, "/apis/authentication.k8s.io/v1/tokenreviews")
    }
    if token is not None:
        assert len(events) == 1
        assert token not in json.dumps(events)
        assert token not in caplog.text


def test_token_for_another_audience_is_refused(
    cluster: Cluster, deputy: RunningDeputy, start_deputy: Any
) -> None:
    """Issue 8 item 4: a token minted for another service is not replayable at the deputy."""
    elsewhere = cluster.server.token_for(VMS, "ci-runner", audiences=["https://vault.example"])
    mark = cluster.mark()
    refused = open_console(deputy.url, elsewhere, cluster=cluster)
    assert isinstance(refused, Refused) and refused.status == 401
    assert _impersonations(cluster.events_since(mark)) == []

    # A deputy that wants tokens minted for itself refuses the API server's audience...
    own = start_deputy(audiences=("cimp-deputy",))
    mark = cluster.mark()
    refused = open_console(own.url, cluster.alice, cluster=cluster)
    assert isinstance(refused, Refused) and refused.status == 401
    assert _impersonations(cluster.events_since(mark)) == []
    # ...and authenticates its own (this one is a service account, which it then declines).
    mine = cluster.server.token_for(VMS, "ci-runner", audiences=["cimp-deputy"])
    refused = open_console(own.url, mine, cluster=cluster)
    assert isinstance(refused, Refused) and refused.status == 403
    assert "service account" in refused.body["message"]


def test_identities_constrained_impersonation_cannot_carry_are_declined(
    cluster: Cluster, deputy: RunningDeputy
) -> None:
    admin = cluster.server.add_user("root", groups=["system:masters", "vm-operators"])
    robot = cluster.server.token_for(VMS, "ci-runner")
    node = cluster.server.add_user("system:node:worker-1", groups=["system:nodes"])
    mark = cluster.mark()
    for token, expected in (
        (admin, "members of system:masters cannot be impersonated"),
        (robot, "not for service account 'system:serviceaccount:vms:ci-runner'"),
        (node, "not for node 'system:node:worker-1'"),
    ):
        refused = open_console(deputy.url, token, cluster=cluster)
        assert isinstance(refused, Refused)
        assert refused.status == 403
        assert expected in refused.body["message"]
    assert _impersonations(cluster.events_since(mark)) == []


def test_a_deputy_serving_some_namespaces_declines_the_others(
    cluster: Cluster, start_deputy: Any
) -> None:
    cluster.server.apply(
        f"""
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {{name: vm-operators-console, namespace: {OTHER}}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: admin}}
subjects: [{{kind: Group, name: vm-operators, apiGroup: rbac.authorization.k8s.io}}]
"""
    )
    narrow = start_deputy(namespaces=(VMS,))
    assert isinstance(open_console(narrow.url, cluster.alice, cluster=cluster), Opened)
    mark = cluster.mark()
    refused = open_console(narrow.url, cluster.alice, OTHER, "vm1", cluster=cluster)
    assert isinstance(refused, Refused) and refused.status == 403
    assert refused.body["message"] == f"cimp-deputy does not serve consoles in namespace '{OTHER}'"
    assert _impersonations(cluster.events_since(mark)) == []


def test_plain_get_and_bad_names_are_400_after_authentication(
    cluster: Cluster, deputy: RunningDeputy
) -> None:
    import urllib.error
    import urllib.request

    def get(path: str, token: str | None) -> tuple[int, dict[str, Any]]:
        request = urllib.request.Request(deputy.url + path)
        if token is not None:
            request.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, context=cluster.tls.client_context()) as resp:
                return resp.status, {"text": resp.read().decode()}
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())

    assert get(f"/console/{VMS}/vm1", None)[0] == 401
    status, body = get(f"/console/{VMS}/vm1", cluster.alice)
    assert status == 400 and "websocket" in body["message"]
    assert get("/console/Bad_NS/vm1", cluster.alice)[0] == 400
    assert get("/healthz", None) == (200, {"text": "ok"})


def test_a_deputy_without_its_grants_says_so_to_users_and_operators(
    cluster: Cluster, start_deputy: Any, caplog: pytest.LogCaptureFixture
) -> None:
    # Credentials that cannot even review tokens: users get 503, never a 401 they would
    # blame on their own token.
    powerless = start_deputy(base=cluster.server.api_client(cluster.bob))
    refused = open_console(powerless.url, cluster.alice, cluster=cluster)
    assert isinstance(refused, Refused) and refused.status == 503
    assert "cannot authenticate users" in caplog.text

    # May review tokens but holds no impersonation grant: the server's 403 names the deputy,
    # is relayed as is, and the log tells the operator which rule is missing.
    cluster.server.apply(
        """
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: half-deputy-tokenreview}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "cimp-deputy:tokenreview"}
subjects: [{kind: User, name: half-deputy, apiGroup: rbac.authorization.k8s.io}]
"""
    )
    half = start_deputy(base=cluster.server.api_client(cluster.server.add_user("half-deputy")))
    caplog.clear()
    refused = open_console(half.url, cluster.alice, cluster=cluster)
    assert isinstance(refused, Refused) and refused.status == 403
    assert 'User "half-deputy" cannot impersonate-on:user-info:get' in refused.body["message"]
    (missing,) = [r for r in caplog.records if r.getMessage() == "deputy RBAC is missing a grant"]
    assert "impersonate-on:user-info:get" in missing.fields["missing"]  # type: ignore[attr-defined]


def test_stopping_the_deputy_closes_open_consoles_as_going_away(
    cluster: Cluster, start_deputy: Any
) -> None:
    import asyncio

    import aiohttp

    from deputy.kube import keep_refusal_body

    running = start_deputy()

    async def run() -> tuple[str, int | None]:
        async with (
            aiohttp.ClientSession(middlewares=(keep_refusal_body,)) as session,
            session.ws_connect(
                f"{running.url}/console/{VMS}/vm1",
                headers={"Authorization": f"Bearer {cluster.alice}"},
                ssl=cluster.tls.client_context(),
            ) as ws,
        ):
            cluster.opened += 1
            greeting = await ws.receive_str()
            await asyncio.to_thread(running.stop)
            message = await ws.receive()
            assert message.type == aiohttp.WSMsgType.CLOSE
            return greeting, message.data

    greeting, code = asyncio.run(run())
    assert greeting.startswith(f"connected to {VMS}/vm1 as alice")
    assert code == aiohttp.WSCloseCode.GOING_AWAY
    cluster.mark()  # and the API server saw its side of the console end


def test_impersonation_headers_sent_by_the_user_are_not_passed_on(
    cluster: Cluster, deputy: RunningDeputy
) -> None:
    mark = cluster.mark()
    opened = open_console(
        deputy.url,
        cluster.bob,
        cluster=cluster,
        extra_headers=[
            ("Impersonate-User", "alice"),
            ("Impersonate-Group", "vm-operators"),
            ("Impersonate-Group", "system:masters"),
        ],
    )
    # bob stays bob: no console for him, and the server saw only the deputy's own lines.
    assert isinstance(opened, Refused) and opened.status == 403
    assert 'User "bob" cannot get' in opened.body["message"]
    [event] = [
        e
        for e in _console_events(cluster.events_since(mark), VMS, "vm1", "ResponseComplete")
        if "impersonatedUser" in e
    ]
    assert event["impersonatedUser"] == {
        "username": "bob",
        "groups": ["developers", "system:authenticated"],
    }
