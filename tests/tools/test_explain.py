"""``explain``: real 403s and 400s from the embedded server, as Status, audit event or text."""

from __future__ import annotations

import json

import pytest

from constrained_impersonation.identity import Identity
from constrained_impersonation.rbac.explain import explain, explain_text, parse_inputs

from ._offline import impersonate
from ._scenario import CONFIGMAPS, CONSOLE, DEPUTY
from .conftest import Live

ALICE = Identity("alice", "uid-alice", ("developers",))


def _status(live: Live, target: Identity | None, method: str, uri: str, code: int) -> dict:
    status, body = live.sender.send(DEPUTY, target, method, uri)
    assert status == code, body
    return body


def _apply(explained, objects: list[dict], requestor: Identity, target: Identity, uri: str) -> str:
    return impersonate(objects + explained.manifests, requestor, target, "GET", uri)[0]


def test_action_check_denial_gives_a_role_in_the_namespace(live: Live) -> None:
    body = _status(live, ALICE, "GET", CONFIGMAPS, 403)
    result = explain(body)
    assert result is not None and result.kind == "impersonation"
    assert (result.mode, result.check) == ("user-info", "action")
    assert result.verb == "impersonate-on:user-info:list"
    assert (result.role_kind, result.role_namespace) == ("Role", "team-a")
    assert result.rule == {
        "apiGroups": [""],
        "resources": ["configmaps"],
        "verbs": ["impersonate-on:user-info:list"],
    }
    assert [m["kind"] for m in result.manifests] == ["Role", "RoleBinding"]
    assert result.manifests[1]["subjects"] == [
        {"kind": "ServiceAccount", "name": "deputy", "namespace": "deputy-ns"}
    ]


def test_target_check_denial_and_the_grant_fixes_it(live: Live) -> None:
    from constrained_impersonation.rbac.render import render

    from .conftest import DEPUTY_SCOPE

    # Render the deputy's RBAC without uids: impersonating alice (with a uid) fails its target.
    objects = render(DEPUTY_SCOPE, "user-info", "deputy-ns/deputy", groups=True)
    outcome, message = impersonate(objects, DEPUTY, ALICE, "GET", CONSOLE)
    assert outcome == "denied"
    status = {"kind": "Status", "code": 403, "reason": "Forbidden", "message": message}
    result = explain(status)
    assert result is not None
    assert (result.check, result.resource, result.name) == ("target", "uids", "uid-alice")
    assert result.role_kind == "ClusterRole"
    assert _apply(result, objects, DEPUTY, ALICE, CONSOLE) == "ok"


def test_system_masters_cannot_be_granted(live: Live) -> None:
    masters = Identity("alice", None, ("system:masters",))
    body = _status(live, masters, "GET", CONSOLE, 403)
    result = explain(body)
    assert result is not None and result.kind == "validation"
    assert result.rule is None and not result.manifests
    assert "No RBAC grant" in result.summary


def test_downstream_denial_names_the_impersonated_user(live: Live) -> None:
    eve = Identity("eve")
    body = _status(live, eve, "GET", CONSOLE, 403)
    result = explain(body)
    assert result is not None and result.kind == "downstream"
    assert result.grantee == "eve" and result.role_kind == "Role"
    assert result.rule == {
        "apiGroups": ["subresources.kubevirt.io"],
        "resources": ["virtualmachineinstances/console"],
        "resourceNames": ["vm1"],
        "verbs": ["get"],
    }


def test_audit_events_and_bad_request(live: Live) -> None:
    _status(live, ALICE, "GET", CONFIGMAPS, 403)
    live.sender.send(DEPUTY, None, "GET", "/api/v1/namespaces")  # a plain request
    token = live.sender.tokens[DEPUTY]
    import urllib3

    headers = urllib3.HTTPHeaderDict({"Authorization": f"Bearer {token}"})
    headers.add("Impersonate-Group", "developers")
    response = live.sender.pool.request("GET", live.server.url + "/api/v1/pods", headers=headers)
    assert response.status == 400
    live.server.audit_events()  # a real server writes an event just after its response
    lines = live.audit.read_text().splitlines()
    results = explain_text("\n".join(lines), "audit.log")
    kinds = {r.kind for r in results}
    assert {"impersonation", "bad-request"} <= kinds
    from_event = next(r for r in results if r.verb == "impersonate-on:user-info:list")
    assert any(n.startswith("request: list configmaps") for n in from_event.notes)


def test_kubectl_and_api_exception_text() -> None:
    line = (
        'Error from server (Forbidden): nodes.authentication.k8s.io "n1" is forbidden: User '
        '"system:serviceaccount:a:b" cannot impersonate:arbitrary-node resource "nodes" in API '
        'group "authentication.k8s.io" at the cluster scope'
    )
    [result] = explain_text(line)
    assert (result.mode, result.check, result.name) == ("arbitrary-node", "target", "n1")
    assert any("associated-node" in n for n in result.notes)
    status = json.dumps({"kind": "Status", "code": 403, "message": line.split(": ", 1)[1]})
    exc_text = f"(403)\nReason: Forbidden\nHTTP response body: {status}\n"
    [again] = explain_text(exc_text)
    assert again.rule == result.rule


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "empty input"),
        ("{not json", "malformed JSON"),
        ('{"a": 1}\n{broken', "line 2: malformed JSON"),
        ("hello world", "not a Status"),
    ],
)
def test_bad_input_is_one_line(text: str, fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        parse_inputs(text, "in")


def test_nothing_to_explain() -> None:
    assert explain({"kind": "Status", "code": 404, "message": "not found"}) is None
