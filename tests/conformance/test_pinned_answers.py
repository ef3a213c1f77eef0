"""Answers the differential found wrong on the embedded server, pinned as kube-apiserver gives
them. Plain tests on the ``apiserver_class`` fixture, so they run on either backend (``make test``
runs both) and fail on the embedded server as it was before each fix.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from ._model import Step
from ._run import Side

AUTHN = "authentication.k8s.io"


class Wire:
    """Raw requests (repeated header lines, User-Agent) and the audit events they caused."""

    def __init__(self, server: Any, audit_log: Path) -> None:
        self.server = server
        self.side = Side("server", server, audit_log)
        self.count = 0

    def send(
        self,
        token: str,
        method: str,
        path: str,
        headers: tuple[tuple[str, str], ...] = (),
        body: Any = None,
        *,
        watch: bool = False,
    ) -> tuple[int, Any, str]:
        self.count += 1
        agent = f"cimp-conformance/pinned/{self.count}"
        step = Step("pinned", "x", method, path, headers, body, watch=watch)
        answer = self.side.send(step, token, body, agent)
        return answer.status, answer.body, agent

    def events(self, agent: str, stages: int = 1) -> list[dict[str, Any]]:
        deadline = time.monotonic() + 3
        got: list[dict[str, Any]] = []
        while True:
            self.side.audit.poll()
            got.extend(self.side.audit.take(agent))
            if len(got) >= stages or time.monotonic() > deadline:
                return sorted(got, key=lambda e: e["stage"] != "ResponseStarted")
            time.sleep(0.02)


@pytest.fixture(scope="module")
def wire(
    apiserver_class: Callable[..., Any], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Wire]:
    log = tmp_path_factory.mktemp("pinned") / "audit.log"
    with apiserver_class(audit_log_path=log) as server:
        server.apply(
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "pinned"}},
            {
                "apiVersion": "v1",
                "kind": "ServiceAccount",
                "metadata": {"name": "sa", "namespace": "pinned"},
            },
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "ClusterRole",
                "metadata": {"name": "pinned-writer"},
                "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["create"]}],
            },
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "ClusterRoleBinding",
                "metadata": {"name": "pinned-writer"},
                "roleRef": {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "ClusterRole",
                    "name": "pinned-writer",
                },
                "subjects": [
                    {
                        "apiGroup": "rbac.authorization.k8s.io",
                        "kind": "User",
                        "name": "pinned-writer",
                    }
                ],
            },
        )
        w = Wire(server, log)
        yield w
        w.side.close()


def test_authorization_403_is_html_sanitized_with_empty_details(wire: Wire) -> None:
    token = wire.server.add_user("a&<b>")
    status, body, agent = wire.send(token, "GET", "/x%3Cy%3E")
    assert status == 403
    assert body["message"] == 'forbidden: User "a&amp;&lt;b&gt;" cannot get path "/x&lt;y&gt;"'
    assert body["details"] == {}
    (event,) = wire.events(agent)
    assert event["responseStatus"] == {
        k: v for k, v in body.items() if k not in ("kind", "apiVersion")
    }


def test_a_refused_watch_is_audited_when_it_starts_and_completes(wire: Wire) -> None:
    token = wire.server.add_user("pinned-watcher")
    status, body, agent = wire.send(token, "GET", "/api/v1/namespaces/pinned/pods?watch=true")
    assert status == 403, body
    events = wire.events(agent, stages=2)
    assert [e["stage"] for e in events] == ["ResponseStarted", "ResponseComplete"]
    assert all(e["responseStatus"]["message"] == body["message"] for e in events)
    # Core resources carry no apiGroup in the objectRef.
    assert events[0]["objectRef"] == {"resource": "pods", "namespace": "pinned", "apiVersion": "v1"}


def test_a_create_names_its_object_in_the_audit_event(wire: Wire) -> None:
    token = wire.server.add_user("pinned-writer")
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "named-by-body"}}
    status, body, agent = wire.send(token, "POST", "/api/v1/namespaces/pinned/configmaps", body=cm)
    assert status == 201, body
    (event,) = wire.events(agent)
    ref = event["objectRef"]
    assert (ref["name"], ref["namespace"], ref["resource"]) == (
        "named-by-body",
        "pinned",
        "configmaps",
    )


def test_headers_without_a_user_gate_off(apiserver_class: Callable[..., Any]) -> None:
    """The legacy filter prints its requests as Go prints []v1.ObjectReference."""
    with apiserver_class(feature_gates="ConstrainedImpersonation=false") as server:
        headers = {"Impersonate-Group": "dev", "Impersonate-Uid": "u-1"}
        status, body = server.request("GET", "/api/v1/pods", headers=headers)
    assert status == 400
    assert body["message"] == (
        "requested [{Group  dev    } {UID  u-1  authentication.k8s.io/v1  }] "
        "without impersonating a user"
    )


def test_api_watch_without_a_resource_is_kubes_500(wire: Wire) -> None:
    status, body, agent = wire.send(wire.server.admin_token, "GET", "/api/v1/watch")
    assert status == 500
    assert body == (
        'Internal Server Error: "/api/v1/watch": failed to create RequestInfo: unable to '
        "determine kind and namespace from url, /api/v1/watch\n"
    )
    assert wire.events(agent) == []  # refused before audit


def _review(wire: Wire, token: str, audiences: list[str] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"token": token}
    if audiences:
        spec["audiences"] = audiences
    status, body = wire.server.request(
        "POST",
        f"/apis/{AUTHN}/v1/tokenreviews",
        {"apiVersion": f"{AUTHN}/v1", "kind": "TokenReview", "spec": spec},
    )
    assert status == 201, body
    return dict(body["status"])


def test_token_review_errors_are_kubes(wire: Wire) -> None:
    token = wire.server.token_for("pinned", "sa", audiences=["api"])
    assert _review(wire, "not-a-token") == {"user": {}, "error": "invalid bearer token"}
    assert _review(wire, token) == {
        "user": {},
        "error": '[invalid bearer token, token audiences ["api"] is invalid for the target '
        'audiences ["https://kubernetes.default.svc.cluster.local"]]',
    }
    tampered = token[:-6] + ("AAAAAA" if not token.endswith("AAAAAA") else "BBBBBB")
    assert _review(wire, tampered, ["api"]) == {
        "user": {},
        "error": "[invalid bearer token, go-jose/go-jose: error in cryptographic primitive]",
    }


def test_token_request_answer_and_audit(wire: Wire) -> None:
    body = {"apiVersion": f"{AUTHN}/v1", "kind": "TokenRequest", "spec": {}}
    status, answer, agent = wire.send(
        wire.server.admin_token,
        "POST",
        "/api/v1/namespaces/pinned/serviceaccounts/sa/token",
        body=body,
    )
    assert status == 201, answer
    _, sa = wire.server.request("GET", "/api/v1/namespaces/pinned/serviceaccounts/sa")
    assert answer["metadata"]["uid"] == sa["metadata"]["uid"]
    assert answer["spec"]["boundObjectRef"] is None
    header = json.loads(_b64(answer["status"]["token"].split(".")[0]))
    assert "typ" not in header
    claims = json.loads(_b64(answer["status"]["token"].split(".")[1]))
    (event,) = wire.events(agent)
    assert (
        event["annotations"]["authentication.kubernetes.io/issued-credential-id"]
        == f"JTI={claims['jti']}"
    )


@pytest.mark.parametrize(
    ("ref", "code", "message"),
    [
        (
            {"kind": "ConfigMap", "apiVersion": "v1", "name": "x"},
            400,
            "cannot bind token to object of type /v1, Kind=ConfigMap",
        ),
        ({"kind": "Pod", "apiVersion": "v1"}, 400, "Name parameter required."),
        (
            {
                "kind": "Secret",
                "apiVersion": "v1",
                "name": "sec",
                "uid": "00000000-0000-0000-0000-000000000000",
            },
            409,
            'Operation cannot be fulfilled on Secret "sec": the UID in the bound object reference '
            "(00000000-0000-0000-0000-000000000000) does not match the UID in record. The object "
            "might have been deleted and then recreated",
        ),
    ],
)
def test_token_request_bound_object_errors(
    wire: Wire, ref: dict[str, Any], code: int, message: str
) -> None:
    wire.server.apply(
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "sec", "namespace": "pinned"}}
    )
    body = {"apiVersion": f"{AUTHN}/v1", "kind": "TokenRequest", "spec": {"boundObjectRef": ref}}
    status, answer = wire.server.request(
        "POST", "/api/v1/namespaces/pinned/serviceaccounts/sa/token", body
    )
    assert (status, answer["message"]) == (code, message)


def _b64(segment: str) -> bytes:
    import base64

    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


@pytest.mark.parametrize(
    ("selector", "message"),
    [
        ("app=a b", "found 'b', expected: ',' or 'end of string'"),
        ("a=b,", "found '', expected: identifier after ','"),
        ("=b", "found '=', expected: !, identifier, or 'end of string'"),
        ("a b c", "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt"),
        (
            "x>",
            "unable to parse requirement: values[0]: Invalid value: \"\": for 'Gt', 'Lt' "
            "operators, the value must be an integer",
        ),
        ("a in (x", "unable to parse requirement: found '', expected: ',' or ')'"),
    ],
)
def test_label_selector_errors(wire: Wire, selector: str, message: str) -> None:
    """Only a requirement's own errors are prefixed "unable to parse requirement"."""
    status, body = wire.server.request(
        "GET", "/api/v1/namespaces/pinned/configmaps?labelSelector=" + quote(selector)
    )
    assert (status, body["message"]) == (400, message)


@pytest.mark.parametrize("path", ["/api/v2", "/api/v1/widgets", "/version/x"])
def test_a_path_under_an_api_without_a_route_is_a_404_status(wire: Wire, path: str) -> None:
    status, body = wire.server.request("GET", path)
    assert status == 404
    assert body == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": "the server could not find the requested resource",
        "reason": "NotFound",
        "details": {},
        "code": 404,
    }


def test_field_errors_print_a_list_value_as_go_json(wire: Wire) -> None:
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {"name": "urls", "namespace": "pinned"},
        "rules": [{"nonResourceURLs": ["/healthz", "/x<y>"], "verbs": ["get"]}],
    }
    status, body = wire.server.request(
        "POST", "/apis/rbac.authorization.k8s.io/v1/namespaces/pinned/roles", role
    )
    assert status == 422
    assert body["message"] == (
        'Role.rbac.authorization.k8s.io "urls" is invalid: rules[0].nonResourceURLs: Invalid '
        'value: ["/healthz","/x\\u003cy\\u003e"]: namespaced rules cannot apply to non-resource URLs'
    )
