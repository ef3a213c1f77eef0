"""Review endpoints: response shapes, decisions as the acting user, validation wording."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from datetime import datetime
from typing import Any, TypeVar

import pytest

from constrained_impersonation._apiserver.authz import (
    Decision,
    RulesReview,
    bootstrap_objects,
    new_authorizer,
)
from constrained_impersonation._apiserver.authz.union import UnionAuthorizer
from constrained_impersonation._apiserver.reviews import (
    REVIEW_HANDLERS,
    local_subject_access_review,
    self_subject_access_review,
    self_subject_review,
    self_subject_rules_review,
    subject_access_review,
)
from constrained_impersonation._apiserver.status import StatusError
from constrained_impersonation.identity import Identity
from constrained_impersonation.resolver import Attributes

RBAC = "rbac.authorization.k8s.io"
AUTHZ = "authorization.k8s.io/v1"
T = TypeVar("T")


def run(coro: Awaitable[T]) -> T:
    return asyncio.run(coro)  # type: ignore[arg-type]


class Store:
    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.rev = 0
        for group, resource, obj in bootstrap_objects():
            self.add(group, resource, obj)

    def add(self, group: str, resource: str, obj: dict[str, Any]) -> None:
        self.objects.setdefault((group, resource), []).append(obj)
        self.rev += 1

    def list_objects(self, group: str, resource: str) -> list[dict[str, Any]]:
        return list(self.objects.get((group, resource), []))

    def revision(self) -> int:
        return self.rev

    def grant(self, kind: str, subject: str, rules: list[dict[str, Any]], ns: str = "") -> None:
        name = f"grant-{self.rev}"
        if ns:
            self.add(RBAC, "roles", {"metadata": {"name": name, "namespace": ns}, "rules": rules})
        else:
            self.add(RBAC, "clusterroles", {"metadata": {"name": name}, "rules": rules})
        binding = {
            "metadata": {"name": name, **({"namespace": ns} if ns else {})},
            "roleRef": {"apiGroup": RBAC, "kind": "Role" if ns else "ClusterRole", "name": name},
            "subjects": [{"kind": kind, "name": subject}],
        }
        self.add(RBAC, "rolebindings" if ns else "clusterrolebindings", binding)


class Recorder:
    """An authorizer that records what it is asked (to check the attributes built)."""

    def __init__(self, decision: Decision = Decision.NO_OPINION, reason: str = "") -> None:
        self.asked: list[Attributes] = []
        self.decision, self.reason = decision, reason

    def authorize(self, attrs: Attributes) -> tuple[Decision, str]:
        self.asked.append(attrs)
        return self.decision, self.reason

    def rules_for(self, user: Identity, namespace: str) -> RulesReview:
        return RulesReview()


@pytest.fixture
def store() -> Store:
    s = Store()
    s.grant("User", "alice", [{"verbs": ["get", "list"], "apiGroups": [""], "resources": ["pods"]}])
    return s


@pytest.fixture
def authorizer(store: Store) -> UnionAuthorizer:
    return new_authorizer(store.list_objects, store.revision)


ALICE = Identity("alice", groups=("system:authenticated",))
BOB = Identity(
    "bob", uid="u-1", groups=("devs", "system:authenticated"), extra={"example.com/k": ("v",)}
)


def sar(spec: dict[str, Any], kind: str = "SubjectAccessReview", **top: Any) -> dict[str, Any]:
    return {"apiVersion": AUTHZ, "kind": kind, "spec": spec, **top}


def pods(verb: str = "list", ns: str = "default", **extra: Any) -> dict[str, Any]:
    return {"namespace": ns, "verb": verb, "resource": "pods", **extra}


def invalid_message(coro: Awaitable[Any]) -> tuple[int, str, dict[str, Any]]:
    with pytest.raises(StatusError) as info:
        run(coro)
    err = info.value
    return err.code, err.message, err.body()


# --------------------------------------------------------------------------- SubjectAccessReview


def test_sar_allowed_shape_and_reason(authorizer: UnionAuthorizer) -> None:
    body = sar({"user": "alice", "resourceAttributes": pods()})
    out = run(subject_access_review(BOB, body, authorizer))
    assert out["kind"] == "SubjectAccessReview"
    assert out["apiVersion"] == AUTHZ
    assert out["metadata"] == {"creationTimestamp": None}
    assert out["spec"] == body["spec"]
    assert out["status"]["allowed"] is True
    assert "denied" not in out["status"]
    assert out["status"]["reason"].startswith('RBAC: allowed by ClusterRoleBinding "grant-')
    assert out["status"]["reason"].endswith('to User "alice"')


def test_sar_evaluates_the_spec_subject_not_the_caller(authorizer: UnionAuthorizer) -> None:
    body = sar({"user": "bob", "groups": ["devs"], "resourceAttributes": pods()})
    out = run(subject_access_review(ALICE, body, authorizer))
    assert out["status"] == {"allowed": False}


def test_sar_group_only_subject(store: Store) -> None:
    store.grant("Group", "ops", [{"verbs": ["get"], "nonResourceURLs": ["/metrics"]}])
    a = new_authorizer(store.list_objects, store.revision)
    body = sar({"groups": ["ops"], "nonResourceAttributes": {"path": "/metrics", "verb": "get"}})
    status = run(subject_access_review(ALICE, body, a))["status"]
    assert status["allowed"] is True
    assert status["reason"].endswith('to Group "ops"')


def test_sar_passes_every_attribute() -> None:
    recorder = Recorder()
    spec = {
        "user": "bob",
        "uid": "u-1",
        "groups": ["devs"],
        "extra": {"example.com/k": ["v"]},
        "resourceAttributes": {
            "namespace": "ns",
            "verb": "update",
            "group": "apps",
            "version": "v1",
            "resource": "daemonsets",
            "subresource": "status",
            "name": "d",
        },
    }
    run(subject_access_review(ALICE, sar(spec), recorder))
    (attrs,) = recorder.asked
    assert attrs.user == Identity(
        "bob", uid="u-1", groups=("devs",), extra={"example.com/k": ("v",)}
    )
    assert (attrs.verb, attrs.api_group, attrs.api_version, attrs.resource) == (
        "update",
        "apps",
        "v1",
        "daemonsets",
    )
    assert (attrs.subresource, attrs.namespace, attrs.name) == ("status", "ns", "d")
    assert attrs.resource_request
    run(subject_access_review(ALICE, sar({"user": "x", "resourceAttributes": {}}), recorder))
    assert recorder.asked[-1].api_version == "*"  # unspecified version means every version
    run(
        subject_access_review(
            ALICE,
            sar({"user": "x", "nonResourceAttributes": {"path": "/p", "verb": "get"}}),
            recorder,
        )
    )
    assert not recorder.asked[-1].resource_request
    assert recorder.asked[-1].path == "/p"


def test_sar_denied_only_on_explicit_deny() -> None:
    body = sar({"user": "x", "resourceAttributes": pods()})
    status = run(subject_access_review(ALICE, body, Recorder(Decision.DENY, "nope")))["status"]
    assert status == {"allowed": False, "denied": True, "reason": "nope"}
    status = run(subject_access_review(ALICE, body, Recorder(Decision.NO_OPINION, "meh")))["status"]
    assert status == {"allowed": False, "reason": "meh"}


def test_sar_reports_rbac_errors_as_reason(store: Store) -> None:
    store.add(
        RBAC,
        "clusterrolebindings",
        {
            "metadata": {"name": "dangling"},
            "roleRef": {"kind": "ClusterRole", "name": "missing"},
            "subjects": [{"kind": "User", "name": "carol"}],
        },
    )
    a = new_authorizer(store.list_objects, store.revision)
    status = run(
        subject_access_review(ALICE, sar({"user": "carol", "resourceAttributes": pods()}), a)
    )["status"]
    assert status == {
        "allowed": False,
        "reason": 'rbac: RBAC: clusterrole.rbac.authorization.k8s.io "missing" not found',
    }


def test_sar_node_selector_requirements_reach_the_node_authorizer(
    authorizer: UnionAuthorizer,
) -> None:
    node = {"user": "system:node:n1", "groups": ["system:nodes"]}
    by_raw = sar(
        {
            **node,
            "resourceAttributes": pods(ns="", fieldSelector={"rawSelector": "spec.nodeName=n1"}),
        }
    )
    assert run(subject_access_review(ALICE, by_raw, authorizer))["status"]["allowed"] is True
    by_req = sar(
        {
            **node,
            "resourceAttributes": pods(
                ns="",
                fieldSelector={
                    "requirements": [{"key": "spec.nodeName", "operator": "In", "values": ["n1"]}]
                },
            ),
        }
    )
    assert run(subject_access_review(ALICE, by_req, authorizer))["status"]["allowed"] is True
    without = sar({**node, "resourceAttributes": pods(ns="")})
    status = run(subject_access_review(ALICE, without, authorizer))["status"]
    assert status == {
        "allowed": False,
        "reason": "node: can only list/watch pods with spec.nodeName field selector",
    }


def test_sar_selector_parse_errors_are_evaluation_errors() -> None:
    recorder = Recorder()
    body = sar(
        {
            "user": "x",
            "resourceAttributes": pods(
                fieldSelector={"rawSelector": "key in value"},
                labelSelector={"rawSelector": "&"},
            ),
        }
    )
    status = run(subject_access_review(ALICE, body, recorder))["status"]
    assert status["evaluationError"] == (
        "spec.resourceAttributes.fieldSelector ignored due to parse error; "
        "spec.resourceAttributes.labelSelector ignored due to parse error"
    )
    assert recorder.asked[-1].field_selector == ""
    assert recorder.asked[-1].label_selector == ""


def test_sar_selector_requirements_partially_ignored() -> None:
    recorder = Recorder()
    body = sar(
        {
            "user": "x",
            "resourceAttributes": pods(
                fieldSelector={
                    "requirements": [
                        {"key": "spec.nodeName", "operator": "In", "values": ["a,b"]},
                        {"key": "x", "operator": "Exists"},
                        {"key": "y", "operator": "NotIn", "values": ["1"]},
                    ]
                },
                labelSelector={
                    "requirements": [
                        {"key": "app", "operator": "In", "values": ["web", "db"]},
                        {"key": "tier", "operator": "DoesNotExist"},
                        {"key": "z", "operator": "Weird", "values": ["q"]},
                    ]
                },
            ),
        }
    )
    status = run(subject_access_review(ALICE, body, recorder))["status"]
    assert status["evaluationError"] == (
        "spec.resourceAttributes.fieldSelector partially ignored due to parse error; "
        "spec.resourceAttributes.labelSelector partially ignored due to parse error"
    )
    attrs = recorder.asked[-1]
    assert attrs.field_selector == "spec.nodeName=a\\,b,y!=1"
    assert attrs.label_selector == "app in (web,db),!tier"


# --------------------------------------------------------------------------- validation


def test_sar_without_attributes_or_subject_is_invalid(authorizer: UnionAuthorizer) -> None:
    code, message, body = invalid_message(subject_access_review(ALICE, sar({}), authorizer))
    assert code == 422
    assert body["reason"] == "Invalid"
    assert message == (
        '.authorization.k8s.io "" is invalid: ['
        'spec.resourceAttributes: Invalid value: "null": exactly one of nonResourceAttributes or '
        "resourceAttributes must be specified, "
        'spec.user: Invalid value: "": at least one of user or group must be specified]'
    )
    assert body["details"]["group"] == "authorization.k8s.io"
    assert [c["field"] for c in body["details"]["causes"]] == [
        "spec.resourceAttributes",
        "spec.user",
    ]
    assert body["details"]["causes"][1] == {
        "reason": "FieldValueInvalid",
        "message": 'Invalid value: "": at least one of user or group must be specified',
        "field": "spec.user",
    }


def test_sar_with_both_attribute_kinds_is_invalid(authorizer: UnionAuthorizer) -> None:
    body = sar(
        {
            "user": "x",
            "resourceAttributes": pods(),
            "nonResourceAttributes": {"path": "/healthz", "verb": "get"},
        }
    )
    _, message, _ = invalid_message(subject_access_review(ALICE, body, authorizer))
    assert message == (
        '.authorization.k8s.io "" is invalid: spec.nonResourceAttributes: Invalid value: '
        'authorization.NonResourceAttributes{Path:"/healthz", Verb:"get"}: cannot be specified '
        "in combination with resourceAttributes"
    )


@pytest.mark.parametrize(
    ("selector", "field", "expected"),
    [
        (
            {
                "rawSelector": "a=b",
                "requirements": [{"key": "a", "operator": "In", "values": ["b"]}],
            },
            "fieldSelector",
            'spec.resourceAttributes.fieldSelector.rawSelector: Invalid value: "a=b": may not '
            "specified at the same time as requirements",
        ),
        (
            {},
            "labelSelector",
            "spec.resourceAttributes.labelSelector.requirements: Required value: when "
            "spec.resourceAttributes.labelSelector is specified, requirements or rawSelector is "
            "required",
        ),
        (
            {"requirements": [{"key": "", "operator": "In", "values": ["x"]}]},
            "fieldSelector",
            "spec.resourceAttributes.fieldSelector.requirements[0].key: Required value: must be "
            "specified",
        ),
        (
            {"requirements": [{"key": "a", "operator": "NotIn"}]},
            "fieldSelector",
            "spec.resourceAttributes.fieldSelector.requirements[0].values: Required value: must be "
            "specified when `operator` is 'In' or 'NotIn'",
        ),
        (
            {"requirements": [{"key": "a", "operator": "Exists", "values": ["x"]}]},
            "labelSelector",
            "spec.resourceAttributes.labelSelector.requirements[0].values: Forbidden: may not be "
            "specified when `operator` is 'Exists' or 'DoesNotExist'",
        ),
        (
            {"requirements": [{"key": "app", "operator": "In", "values": ["bad value"]}]},
            "labelSelector",
            'spec.resourceAttributes.labelSelector.requirements[0].values[0]: Invalid value: "bad '
            'value": a valid label must be an empty string or consist of alphanumeric characters, '
            "'-', '_' or '.', and must start and end with an alphanumeric character (e.g. "
            "'MyValue',  or 'my_value',  or '12345', regex used for validation is "
            "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
        ),
    ],
)
def test_sar_selector_validation(
    authorizer: UnionAuthorizer, selector: dict[str, Any], field: str, expected: str
) -> None:
    attributes = {**pods(), field: selector}
    body = sar({"user": "x", "resourceAttributes": attributes})
    _, message, _ = invalid_message(subject_access_review(ALICE, body, authorizer))
    assert message == f'.authorization.k8s.io "" is invalid: {expected}'


def test_label_selector_key_validation(authorizer: UnionAuthorizer) -> None:
    body = sar(
        {
            "user": "x",
            "resourceAttributes": pods(
                labelSelector={"requirements": [{"key": "Bad_Prefix/-x", "operator": "Exists"}]}
            ),
        }
    )
    _, _, body_out = invalid_message(subject_access_review(ALICE, body, authorizer))
    causes = body_out["details"]["causes"]
    assert [c["field"] for c in causes] == [
        "spec.resourceAttributes.labelSelector.requirements[0].key"
    ] * 2
    assert causes[0]["message"].startswith(
        'Invalid value: "Bad_Prefix/-x": prefix part a lowercase'
    )
    assert causes[1]["message"].startswith('Invalid value: "Bad_Prefix/-x": name part must consist')


def test_unknown_selector_operators_are_allowed_by_validation() -> None:
    body = sar(
        {
            "user": "x",
            "resourceAttributes": pods(
                fieldSelector={
                    "requirements": [{"key": "a", "operator": "Future", "values": ["1"]}]
                }
            ),
        }
    )
    status = run(subject_access_review(ALICE, body, Recorder()))["status"]
    assert (
        status["evaluationError"]
        == "spec.resourceAttributes.fieldSelector ignored due to parse error"
    )


def test_sar_metadata_must_be_empty(authorizer: UnionAuthorizer) -> None:
    body = sar({"user": "x", "resourceAttributes": pods()}, metadata={"name": "n"})
    _, message, _ = invalid_message(subject_access_review(ALICE, body, authorizer))
    assert message.startswith('.authorization.k8s.io "" is invalid: metadata: Invalid value: ')
    assert message.endswith(": must be empty")
    fine = sar({"user": "x", "resourceAttributes": pods()}, metadata={"creationTimestamp": None})
    assert run(subject_access_review(ALICE, fine, authorizer))["status"]["allowed"] is False


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [
        (
            {"user": 3},
            "cannot unmarshal number into Go struct field SubjectAccessReview.spec.user of type string",
        ),
        (
            {"groups": "devs"},
            "cannot unmarshal string into Go struct field SubjectAccessReview.spec.groups of type []string",
        ),
        ({"user": "x", "resourceAttributes": []}, "cannot unmarshal array into Go struct field"),
        ({"user": "x", "extra": {"k": "v"}}, "spec.extra.k of type []string"),
    ],
)
def test_sar_wrong_json_types_are_bad_requests(
    authorizer: UnionAuthorizer, spec: dict[str, Any], fragment: str
) -> None:
    with pytest.raises(StatusError) as info:
        run(subject_access_review(ALICE, sar(spec), authorizer))
    assert info.value.code == 400
    assert info.value.message.startswith(
        'SubjectAccessReview in version "v1" cannot be handled as a SubjectAccessReview: json: '
    )
    assert fragment in info.value.message


def test_body_spec_of_wrong_type(authorizer: UnionAuthorizer) -> None:
    with pytest.raises(StatusError) as info:
        run(subject_access_review(ALICE, {"spec": "x"}, authorizer))
    assert info.value.code == 400


# --------------------------------------------------------------------------- self and local


def test_ssar_uses_the_acting_user(authorizer: UnionAuthorizer) -> None:
    body = sar({"resourceAttributes": pods()}, kind="SelfSubjectAccessReview")
    out = run(self_subject_access_review(ALICE, body, authorizer))
    assert out["kind"] == "SelfSubjectAccessReview"
    assert out["status"]["allowed"] is True
    assert run(self_subject_access_review(BOB, body, authorizer))["status"] == {"allowed": False}
    # A spec user is ignored: a self review is always about the caller.
    sneaky = sar({"user": "alice", "resourceAttributes": pods()}, kind="SelfSubjectAccessReview")
    assert run(self_subject_access_review(BOB, sneaky, authorizer))["status"]["allowed"] is False


def test_ssar_passes_caller_uid_groups_and_extra() -> None:
    recorder = Recorder()
    body = sar({"nonResourceAttributes": {"path": "/x", "verb": "get"}})
    run(self_subject_access_review(BOB, body, recorder))
    assert recorder.asked[0].user == BOB


def test_ssar_needs_attributes_but_no_subject(authorizer: UnionAuthorizer) -> None:
    _, message, _ = invalid_message(
        self_subject_access_review(ALICE, sar({}, kind="SelfSubjectAccessReview"), authorizer)
    )
    assert message == (
        '.authorization.k8s.io "" is invalid: spec.resourceAttributes: Invalid value: "null": '
        "exactly one of nonResourceAttributes or resourceAttributes must be specified"
    )


def test_ssar_for_impersonation_actions(store: Store) -> None:
    """``kubectl auth can-i --as`` style questions answered for an impersonated identity."""
    store.grant(
        "User",
        "deputy",
        [{"verbs": ["impersonate-on:user-info:get"], "apiGroups": [""], "resources": ["pods"]}],
        ns="default",
    )
    a = new_authorizer(store.list_objects, store.revision)
    deputy = Identity("deputy", groups=("system:authenticated",))
    ok = sar({"resourceAttributes": pods("impersonate-on:user-info:get", name="p")})
    assert run(self_subject_access_review(deputy, ok, a))["status"]["reason"].startswith(
        'RBAC: allowed by RoleBinding "grant-'
    )
    other_ns = sar({"resourceAttributes": pods("impersonate-on:user-info:get", ns="kube-system")})
    assert run(self_subject_access_review(deputy, other_ns, a))["status"]["allowed"] is False


def test_lsar_namespace_comes_from_the_path(store: Store) -> None:
    store.grant(
        "User",
        "carol",
        [{"verbs": ["get"], "apiGroups": [""], "resources": ["secrets"]}],
        ns="team",
    )
    a = new_authorizer(store.list_objects, store.revision)
    body = sar(
        {
            "user": "carol",
            "resourceAttributes": {"namespace": "team", "verb": "get", "resource": "secrets"},
        },
        kind="LocalSubjectAccessReview",
    )
    out = run(local_subject_access_review(ALICE, body, a, "team"))
    assert out["kind"] == "LocalSubjectAccessReview"
    assert out["metadata"] == {"namespace": "team", "creationTimestamp": None}
    assert out["status"]["allowed"] is True
    assert out["status"]["reason"].startswith('RBAC: allowed by RoleBinding "grant-')


def test_lsar_spec_namespace_must_match(authorizer: UnionAuthorizer) -> None:
    body = sar(
        {
            "user": "x",
            "resourceAttributes": {"namespace": "other", "verb": "get", "resource": "pods"},
        },
        kind="LocalSubjectAccessReview",
    )
    _, message, _ = invalid_message(local_subject_access_review(ALICE, body, authorizer, "team"))
    assert message == (
        '.authorization.k8s.io "" is invalid: spec.resourceAttributes.namespace: Invalid value: '
        '"other": must match metadata.namespace'
    )
    empty = sar(
        {"user": "x", "resourceAttributes": {"verb": "get"}}, kind="LocalSubjectAccessReview"
    )
    _, message, _ = invalid_message(local_subject_access_review(ALICE, empty, authorizer, "team"))
    assert 'Invalid value: "": must match metadata.namespace' in message


def test_lsar_rejects_non_resource_attributes(authorizer: UnionAuthorizer) -> None:
    body = sar({"user": "x", "nonResourceAttributes": {"path": "/x", "verb": "get"}})
    _, message, _ = invalid_message(local_subject_access_review(ALICE, body, authorizer, "team"))
    assert message == (
        '.authorization.k8s.io "" is invalid: spec.nonResourceAttributes: Invalid value: '
        'authorization.NonResourceAttributes{Path:"/x", Verb:"get"}: disallowed on this kind of '
        "request"
    )


def test_lsar_metadata_namespace_conflict_and_missing_namespace(
    authorizer: UnionAuthorizer,
) -> None:
    body = sar(
        {"user": "x", "resourceAttributes": {"namespace": "team", "verb": "get"}},
        metadata={"namespace": "other"},
    )
    with pytest.raises(StatusError) as info:
        run(local_subject_access_review(ALICE, body, authorizer, "team"))
    assert info.value.code == 400
    assert info.value.message == (
        "the namespace of the provided object does not match the namespace sent on the request"
    )
    with pytest.raises(StatusError) as info:
        run(local_subject_access_review(ALICE, body, authorizer, ""))
    assert info.value.code == 400
    assert info.value.message == "namespace is required on this type: "
    labelled = sar(
        {"user": "x", "resourceAttributes": {"namespace": "team", "verb": "get"}},
        metadata={"namespace": "team", "labels": {"a": "b"}},
    )
    _, message, _ = invalid_message(
        local_subject_access_review(ALICE, labelled, authorizer, "team")
    )
    assert message.endswith(": must be empty except for namespace")


# --------------------------------------------------------------------------- rules review


def test_ssrr_shape(authorizer: UnionAuthorizer) -> None:
    body = {"apiVersion": AUTHZ, "kind": "SelfSubjectRulesReview", "spec": {"namespace": "default"}}
    out = run(self_subject_rules_review(ALICE, body, authorizer))
    assert out["kind"] == "SelfSubjectRulesReview"
    assert out["spec"] == {}
    status = out["status"]
    assert status["incomplete"] is False
    assert "evaluationError" not in status
    assert {"verbs": ["get", "list"], "apiGroups": [""], "resources": ["pods"]} in status[
        "resourceRules"
    ]
    assert {
        "verbs": ["create"],
        "apiGroups": ["authorization.k8s.io"],
        "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"],
    } in status["resourceRules"]
    assert {
        "verbs": ["get"],
        "nonResourceURLs": ["/healthz", "/livez", "/readyz", "/version", "/version/"],
    } in status["nonResourceRules"]


def test_ssrr_includes_namespace_rules_only_for_that_namespace(store: Store) -> None:
    store.grant(
        "User",
        "alice",
        [{"verbs": ["*"], "apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["c"]}],
        ns="team",
    )
    a = new_authorizer(store.list_objects, store.revision)
    rule = {"verbs": ["*"], "apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["c"]}
    team = run(self_subject_rules_review(ALICE, {"spec": {"namespace": "team"}}, a))
    other = run(self_subject_rules_review(ALICE, {"spec": {"namespace": "default"}}, a))
    assert rule in team["status"]["resourceRules"]
    assert rule not in other["status"]["resourceRules"]


def test_ssrr_for_a_node_is_incomplete(authorizer: UnionAuthorizer) -> None:
    node = Identity("system:node:n1", groups=("system:nodes", "system:authenticated"))
    status = run(self_subject_rules_review(node, {"spec": {"namespace": "default"}}, authorizer))[
        "status"
    ]
    assert status["incomplete"] is True
    assert status["evaluationError"] == "node authorizer does not support user rule resolution"


def test_ssrr_reports_rbac_errors(store: Store) -> None:
    store.add(
        RBAC,
        "rolebindings",
        {
            "metadata": {"name": "d", "namespace": "team"},
            "roleRef": {"kind": "Role", "name": "gone"},
            "subjects": [{"kind": "User", "name": "alice"}],
        },
    )
    a = new_authorizer(store.list_objects, store.revision)
    status = run(self_subject_rules_review(ALICE, {"spec": {"namespace": "team"}}, a))["status"]
    assert status["evaluationError"] == 'role.rbac.authorization.k8s.io "gone" not found'
    assert status["incomplete"] is False


def test_ssrr_needs_a_namespace(authorizer: UnionAuthorizer) -> None:
    bodies: list[dict[str, Any]] = [{}, {"spec": {}}, {"spec": {"namespace": ""}}]
    for body in bodies:
        with pytest.raises(StatusError) as info:
            run(self_subject_rules_review(ALICE, body, authorizer))
        assert (info.value.code, info.value.reason) == (400, "BadRequest")
        assert info.value.message == "no namespace on request"


# --------------------------------------------------------------------------- self subject review


def test_self_subject_review_reports_the_acting_user(authorizer: UnionAuthorizer) -> None:
    body = {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}
    out = run(self_subject_review(BOB, body, authorizer))
    assert out["kind"] == "SelfSubjectReview"
    assert out["apiVersion"] == "authentication.k8s.io/v1"
    datetime.strptime(out["metadata"]["creationTimestamp"], "%Y-%m-%dT%H:%M:%SZ")
    assert out["status"] == {
        "userInfo": {
            "username": "bob",
            "uid": "u-1",
            "groups": ["devs", "system:authenticated"],
            "extra": {"example.com/k": ["v"]},
        }
    }
    assert run(self_subject_review(ALICE, {}, authorizer))["status"]["userInfo"] == {
        "username": "alice",
        "groups": ["system:authenticated"],
    }


def test_self_subject_review_keeps_beta_api_version(authorizer: UnionAuthorizer) -> None:
    body = {"apiVersion": "authentication.k8s.io/v1beta1", "kind": "SelfSubjectReview"}
    assert run(self_subject_review(ALICE, body, authorizer))["apiVersion"] == (
        "authentication.k8s.io/v1beta1"
    )


def test_handler_table_routes_every_review_resource() -> None:
    assert set(REVIEW_HANDLERS) == {
        ("authorization.k8s.io", "subjectaccessreviews"),
        ("authorization.k8s.io", "localsubjectaccessreviews"),
        ("authorization.k8s.io", "selfsubjectaccessreviews"),
        ("authorization.k8s.io", "selfsubjectrulesreviews"),
        ("authentication.k8s.io", "selfsubjectreviews"),
    }
    handler = REVIEW_HANDLERS[("authorization.k8s.io", "localsubjectaccessreviews")]
    out = run(
        handler(
            ALICE,
            {"spec": {"user": "x", "resourceAttributes": {"namespace": "n", "verb": "get"}}},
            Recorder(Decision.ALLOW),
            "n",
        )
    )
    assert out["status"] == {"allowed": True}
