"""Review endpoints: response shapes, decisions as the acting user, validation wording."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from datetime import datetime
from typing import Any, TypeVar

import pytest

from cimp_apiserver.authz import (
    Decision,
    RulesReview,
    bootstrap_objects,
    new_authorizer,
)
from cimp_apiserver.authz.union import UnionAuthorizer
from cimp_apiserver.reviews import (
    REVIEW_HANDLERS,
    local_subject_access_review,
    self_subject_access_review,
    self_subject_review,
    self_subject_rules_review,
    subject_access_review,
)
from cimp_apiserver.status import StatusError
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
    assert out["metadata"] == {}
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
        "spec: Invalid value: null: exactly one of nonResourceAttributes or "
        "resourceAttributes must be specified, "
        'spec.user: Invalid value: "": at least one of user or group must be specified]'
    )
    assert body["details"]["group"] == "authorization.k8s.io"
    assert [c["field"] for c in body["details"]["causes"]] == ["spec", "spec.user"]
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
        '.authorization.k8s.io "" is invalid: spec: Invalid value: '
        '{"Path":"/healthz","Verb":"get"}: exactly one of nonResourceAttributes or '
        "resourceAttributes must be specified"
    )


SELECTOR_CASES: list[tuple[dict[str, Any], str, str]] = [
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
]


@pytest.mark.parametrize(("selector", "field", "expected"), SELECTOR_CASES)
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
        '.authorization.k8s.io "" is invalid: spec: Invalid value: null: '
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
    assert out["metadata"] == {"namespace": "team"}
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
        '{"Path":"/x","Verb":"get"}: disallowed on this kind of request'
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


# --------------------------------------------------------------------------- over HTTP
#
# The same reviews sent to the server ``--apiserver`` picks (embedded or a real kube-apiserver):
# what a client reads back, status codes and messages as kube-apiserver 1.37 writes them.

SAR_PATH = "/apis/authorization.k8s.io/v1/subjectaccessreviews"
SSAR_PATH = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"
LSAR_PATH = "/apis/authorization.k8s.io/v1/namespaces/team/localsubjectaccessreviews"
SSRR_PATH = "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews"
SSR_PATH = "/apis/authentication.k8s.io/v1/selfsubjectreviews"
INVALID = '.authorization.k8s.io "" is invalid: '


def _rbac(kind: str, name: str, namespace: str = "", **body: Any) -> dict[str, Any]:
    meta = {"name": name, **({"namespace": namespace} if namespace else {})}
    return {"apiVersion": f"{RBAC}/v1", "kind": kind, "metadata": meta, **body}


def _bound(kind: str, name: str, role: str, subject: dict[str, str], ns: str = "") -> Any:
    role_kind = "Role" if kind == "RoleBinding" else "ClusterRole"
    return _rbac(
        kind,
        name,
        ns,
        roleRef={"apiGroup": RBAC, "kind": role_kind, "name": role},
        subjects=[{"apiGroup": RBAC, **subject}],
    )


@pytest.fixture(scope="module")
def live(apiserver_class: Callable[..., Any]) -> Iterator[Any]:
    """One server for the module: alice lists pods everywhere and may do anything to
    configmap ``c`` in ``team``, group ``ops`` reads /metrics, carol reads secrets in
    ``team``, the deputy may ``impersonate-on:user-info:get`` pods in ``default``; dora's and
    erin's bindings point at roles that do not exist."""
    with apiserver_class() as server:
        user = lambda name: {"kind": "User", "name": name}  # noqa: E731
        server.apply(
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}},
            _rbac("ClusterRole", "review-pods", rules=[_rule(["get", "list"], "pods")]),
            _bound("ClusterRoleBinding", "review-alice", "review-pods", user("alice")),
            _rbac(
                "ClusterRole",
                "review-metrics",
                rules=[{"verbs": ["get"], "nonResourceURLs": ["/metrics"]}],
            ),
            _bound(
                "ClusterRoleBinding",
                "review-ops",
                "review-metrics",
                {"kind": "Group", "name": "ops"},
            ),
            _rbac("Role", "secrets", "team", rules=[_rule(["get"], "secrets")]),
            _bound("RoleBinding", "secrets", "secrets", user("carol"), "team"),
            _rbac("Role", "c", "team", rules=[_rule(["*"], "configmaps", names=["c"])]),
            _bound("RoleBinding", "c", "c", user("alice"), "team"),
            _rbac(
                "Role", "deputy", "default", rules=[_rule(["impersonate-on:user-info:get"], "pods")]
            ),
            _bound("RoleBinding", "deputy", "deputy", user("deputy"), "default"),
            _bound("ClusterRoleBinding", "dangling", "missing", user("dora")),
            _bound("RoleBinding", "gone", "gone", user("erin"), "team"),
        )
        server.tokens = {
            "alice": server.add_user("alice"),
            "bob": server.add_user(
                "bob", groups=["devs"], uid="u-1", extra={"example.com/k": ["v"]}
            ),
            "deputy": server.add_user("deputy"),
            "node": server.add_user("system:node:n1", groups=["system:nodes"]),
            "erin": server.add_user("erin"),
        }
        yield server


def _rule(verbs: list[str], resource: str, names: list[str] | None = None) -> dict[str, Any]:
    rule: dict[str, Any] = {"verbs": verbs, "apiGroups": [""], "resources": [resource]}
    if names:
        rule["resourceNames"] = names
    return rule


def post(live: Any, path: str, body: dict[str, Any], who: str | None = None) -> tuple[int, Any]:
    """POST a review as ``who`` (a user of the fixture) or the admin."""
    token = live.tokens[who] if who else None
    status, answer = live.request("POST", path, body, token=token)
    return status, answer


def reviewed(live: Any, path: str, body: dict[str, Any], who: str | None = None) -> Any:
    status, answer = post(live, path, body, who)
    assert status == 201, answer
    # kube's field manager also records managedFields on the answer's metadata; the
    # embedded server keeps none for reviews (see the divergence notes).
    answer["metadata"].pop("managedFields", None)
    return answer


def rejected(live: Any, path: str, body: dict[str, Any], who: str | None = None) -> Any:
    status, answer = post(live, path, body, who)
    assert status == 422, answer
    assert answer["reason"] == "Invalid"
    assert answer["details"]["group"] == "authorization.k8s.io"
    return answer


def test_http_sar_allowed_shape_and_reason(live: Any) -> None:
    body = sar({"user": "alice", "resourceAttributes": pods()})
    out = reviewed(live, SAR_PATH, body)
    assert (out["kind"], out["apiVersion"], out["metadata"]) == ("SubjectAccessReview", AUTHZ, {})
    assert out["spec"] == body["spec"]
    assert out["status"] == {
        "allowed": True,
        "reason": 'RBAC: allowed by ClusterRoleBinding "review-alice" of ClusterRole '
        '"review-pods" to User "alice"',
    }


def test_http_sar_evaluates_the_spec_subject_and_groups(live: Any) -> None:
    bob = sar({"user": "bob", "groups": ["devs"], "resourceAttributes": pods()})
    assert reviewed(live, SAR_PATH, bob)["status"] == {"allowed": False}
    ops = sar({"groups": ["ops"], "nonResourceAttributes": {"path": "/metrics", "verb": "get"}})
    assert reviewed(live, SAR_PATH, ops)["status"] == {
        "allowed": True,
        "reason": 'RBAC: allowed by ClusterRoleBinding "review-ops" of ClusterRole '
        '"review-metrics" to Group "ops"',
    }


def test_http_sar_reports_a_missing_role_as_the_reason(live: Any) -> None:
    out = reviewed(live, SAR_PATH, sar({"user": "dora", "resourceAttributes": pods()}))
    assert out["status"] == {
        "allowed": False,
        "reason": 'rbac: RBAC: clusterrole.rbac.authorization.k8s.io "missing" not found',
    }


def test_http_sar_node_selectors_and_the_echoed_spec(live: Any) -> None:
    node = {"user": "system:node:n1", "groups": ["system:nodes"]}
    raw = pods(ns="", fieldSelector={"rawSelector": "spec.nodeName=n1"})
    out = reviewed(live, SAR_PATH, sar({**node, "resourceAttributes": raw}))
    assert out["status"] == {"allowed": True}
    # Written back as decoded: the empty namespace is left out.
    assert out["spec"]["resourceAttributes"] == {
        "verb": "list",
        "resource": "pods",
        "fieldSelector": {"rawSelector": "spec.nodeName=n1"},
    }
    required = pods(
        ns="",
        fieldSelector={
            "requirements": [{"key": "spec.nodeName", "operator": "In", "values": ["n1"]}]
        },
    )
    out = reviewed(live, SAR_PATH, sar({**node, "resourceAttributes": required}))
    assert out["status"] == {"allowed": True}
    out = reviewed(live, SAR_PATH, sar({**node, "resourceAttributes": pods(ns="")}))
    assert out["status"] == {
        "allowed": False,
        "reason": "node: can only list/watch pods with spec.nodeName field selector",
    }


@pytest.mark.parametrize(
    ("attributes", "error"),
    [
        (
            pods(fieldSelector={"rawSelector": "key in value"}, labelSelector={"rawSelector": "&"}),
            "spec.resourceAttributes.fieldSelector ignored due to parse error; "
            "spec.resourceAttributes.labelSelector ignored due to parse error",
        ),
        (
            pods(
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
            "spec.resourceAttributes.fieldSelector partially ignored due to parse error; "
            "spec.resourceAttributes.labelSelector partially ignored due to parse error",
        ),
        (
            pods(
                fieldSelector={
                    "requirements": [{"key": "a", "operator": "Future", "values": ["1"]}]
                }
            ),
            "spec.resourceAttributes.fieldSelector ignored due to parse error",
        ),
    ],
    ids=["unparsable", "partially", "unknown-operator"],
)
def test_http_sar_selector_evaluation_errors(
    live: Any, attributes: dict[str, Any], error: str
) -> None:
    out = reviewed(live, SAR_PATH, sar({"user": "x", "resourceAttributes": attributes}))
    assert out["status"] == {"allowed": False, "evaluationError": error}


def test_http_sar_without_attributes_or_subject(live: Any) -> None:
    out = rejected(live, SAR_PATH, sar({}))
    assert out["message"] == (
        f"{INVALID}[spec: Invalid value: null: exactly one of nonResourceAttributes or "
        "resourceAttributes must be specified, "
        'spec.user: Invalid value: "": at least one of user or group must be specified]'
    )
    assert out["details"]["causes"] == [
        {
            "reason": "FieldValueInvalid",
            "message": "Invalid value: null: exactly one of nonResourceAttributes or "
            "resourceAttributes must be specified",
            "field": "spec",
        },
        {
            "reason": "FieldValueInvalid",
            "message": 'Invalid value: "": at least one of user or group must be specified',
            "field": "spec.user",
        },
    ]


def test_http_sar_with_both_attribute_kinds(live: Any) -> None:
    both = {
        "resourceAttributes": pods(),
        "nonResourceAttributes": {"path": "/healthz", "verb": "get"},
    }
    out = rejected(live, SAR_PATH, sar({"user": "x", **both}))
    assert out["message"] == (
        f'{INVALID}spec: Invalid value: {{"Path":"/healthz","Verb":"get"}}: exactly one of '
        "nonResourceAttributes or resourceAttributes must be specified"
    )
    out = rejected(live, SSAR_PATH, sar(both, kind="SelfSubjectAccessReview"), "alice")
    assert out["details"]["causes"][0]["field"] == "spec"


@pytest.mark.parametrize(
    ("selector", "field", "expected"),
    SELECTOR_CASES,
)
def test_http_sar_selector_validation(
    live: Any, selector: dict[str, Any], field: str, expected: str
) -> None:
    body = sar({"user": "x", "resourceAttributes": {**pods(), field: selector}})
    assert rejected(live, SAR_PATH, body)["message"] == INVALID + expected


def test_http_label_selector_key_validation(live: Any) -> None:
    requirement = {"key": "Bad_Prefix/-x", "operator": "Exists"}
    body = sar(
        {"user": "x", "resourceAttributes": pods(labelSelector={"requirements": [requirement]})}
    )
    causes = rejected(live, SAR_PATH, body)["details"]["causes"]
    assert [c["field"] for c in causes] == [
        "spec.resourceAttributes.labelSelector.requirements[0].key"
    ] * 2
    assert causes[0]["message"].startswith(
        'Invalid value: "Bad_Prefix/-x": prefix part a lowercase'
    )
    assert causes[1]["message"].startswith('Invalid value: "Bad_Prefix/-x": name part must consist')


def test_http_sar_metadata_must_be_empty(live: Any) -> None:
    body = sar({"user": "x", "resourceAttributes": pods()}, metadata={"name": "n"})
    message = rejected(live, SAR_PATH, body)["message"]
    # kube goes on with the managedFields its field manager added (not kept by the embedded one).
    assert message.startswith(f'{INVALID}metadata: Invalid value: {{"name":"n"')
    assert message.endswith("}: must be empty")
    fine = sar({"user": "x", "resourceAttributes": pods()}, metadata={"creationTimestamp": None})
    out = reviewed(live, SAR_PATH, fine)
    assert (out["metadata"], out["status"]) == ({}, {"allowed": False})


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [
        (
            {"user": 3},
            "number into Go struct field SubjectAccessReviewSpec.spec.user of type string",
        ),
        (
            {"groups": "devs"},
            "string into Go struct field SubjectAccessReviewSpec.spec.groups of type []string",
        ),
        (
            {"user": "x", "resourceAttributes": []},
            "array into Go struct field SubjectAccessReviewSpec.spec.resourceAttributes of type ",
        ),
        (
            {"user": "x", "extra": {"k": "v"}},
            "string into Go struct field SubjectAccessReviewSpec.spec.extra of type ",
        ),
        ("x", "string into Go struct field SubjectAccessReview.spec of type "),
    ],
    ids=["user", "groups", "resourceAttributes", "extra", "spec"],
)
def test_http_sar_wrong_json_types_are_bad_requests(live: Any, spec: Any, fragment: str) -> None:
    status, out = post(
        live, SAR_PATH, {"apiVersion": AUTHZ, "kind": "SubjectAccessReview", "spec": spec}
    )
    assert (status, out["reason"]) == (400, "BadRequest")
    assert out["message"].startswith(
        'SubjectAccessReview in version "v1" cannot be handled as a SubjectAccessReview: '
        "json: cannot unmarshal " + fragment
    )


def test_http_ssar_is_about_the_caller(live: Any) -> None:
    body = sar({"resourceAttributes": pods()}, kind="SelfSubjectAccessReview")
    out = reviewed(live, SSAR_PATH, body, "alice")
    assert (out["kind"], out["metadata"]) == ("SelfSubjectAccessReview", {})
    assert out["status"]["allowed"] is True
    # A spec user is not part of a self review: dropped, and bob is asked about.
    sneaky = sar({"user": "alice", "resourceAttributes": pods()}, kind="SelfSubjectAccessReview")
    out = reviewed(live, SSAR_PATH, sneaky, "bob")
    assert out["spec"] == {"resourceAttributes": pods()}
    assert out["status"] == {"allowed": False}
    empty = rejected(live, SSAR_PATH, sar({}, kind="SelfSubjectAccessReview"), "alice")
    assert empty["message"] == (
        f"{INVALID}spec: Invalid value: null: exactly one of nonResourceAttributes or "
        "resourceAttributes must be specified"
    )


def test_http_ssar_for_impersonation_actions(live: Any) -> None:
    ok = sar(
        {"resourceAttributes": pods("impersonate-on:user-info:get", name="p")},
        kind="SelfSubjectAccessReview",
    )
    assert reviewed(live, SSAR_PATH, ok, "deputy")["status"] == {
        "allowed": True,
        "reason": 'RBAC: allowed by RoleBinding "deputy/default" of Role "deputy" to User "deputy"',
    }
    elsewhere = sar(
        {"resourceAttributes": pods("impersonate-on:user-info:get", ns="kube-system")},
        kind="SelfSubjectAccessReview",
    )
    assert reviewed(live, SSAR_PATH, elsewhere, "deputy")["status"] == {"allowed": False}


def test_http_lsar_in_the_path_namespace(live: Any) -> None:
    secrets = {"namespace": "team", "verb": "get", "resource": "secrets"}
    body = sar({"user": "carol", "resourceAttributes": secrets}, kind="LocalSubjectAccessReview")
    out = reviewed(live, LSAR_PATH, body)
    assert (out["kind"], out["metadata"]) == ("LocalSubjectAccessReview", {"namespace": "team"})
    assert out["status"] == {
        "allowed": True,
        "reason": 'RBAC: allowed by RoleBinding "secrets/team" of Role "secrets" to User "carol"',
    }


@pytest.mark.parametrize(
    ("spec", "metadata", "expected"),
    [
        (
            {"user": "x", "resourceAttributes": {"namespace": "other", "verb": "get"}},
            None,
            'spec.resourceAttributes.namespace: Invalid value: "other": must match '
            "metadata.namespace",
        ),
        (
            {"user": "x", "resourceAttributes": {"verb": "get"}},
            None,
            'spec.resourceAttributes.namespace: Invalid value: "": must match metadata.namespace',
        ),
        (
            {"user": "x", "nonResourceAttributes": {"path": "/x", "verb": "get"}},
            None,
            'spec.nonResourceAttributes: Invalid value: {"Path":"/x","Verb":"get"}: disallowed '
            "on this kind of request",
        ),
    ],
    ids=["other-namespace", "no-namespace", "non-resource"],
)
def test_http_lsar_validation(
    live: Any, spec: dict[str, Any], metadata: dict[str, Any] | None, expected: str
) -> None:
    body = sar(spec, kind="LocalSubjectAccessReview")
    assert rejected(live, LSAR_PATH, body)["message"] == INVALID + expected


def test_http_lsar_metadata(live: Any) -> None:
    attributes = {"namespace": "team", "verb": "get"}
    other = sar(
        {"user": "x", "resourceAttributes": attributes},
        kind="LocalSubjectAccessReview",
        metadata={"namespace": "other"},
    )
    status, out = post(live, LSAR_PATH, other)
    assert (status, out["reason"], out["message"]) == (
        400,
        "BadRequest",
        "the namespace of the provided object does not match the namespace sent on the request",
    )
    labelled = sar(
        {"user": "x", "resourceAttributes": attributes},
        kind="LocalSubjectAccessReview",
        metadata={"namespace": "team", "labels": {"a": "b"}},
    )
    message = rejected(live, LSAR_PATH, labelled)["message"]
    assert message.startswith(
        f'{INVALID}metadata: Invalid value: {{"namespace":"team","labels":{{"a":"b"}}'
    )
    assert message.endswith("}: must be empty except for namespace")


def _rules(live: Any, who: str, namespace: str) -> dict[str, Any]:
    body = {"apiVersion": AUTHZ, "kind": "SelfSubjectRulesReview", "spec": {"namespace": namespace}}
    out = reviewed(live, SSRR_PATH, body, who)
    assert (out["kind"], out["metadata"], out["spec"]) == ("SelfSubjectRulesReview", {}, {})
    status: dict[str, Any] = out["status"]
    return status


def test_http_ssrr_lists_the_callers_rules(live: Any) -> None:
    # Rule order follows the authorizer's binding caches: compare as sets.
    status = _rules(live, "alice", "default")
    assert (status["incomplete"], "evaluationError" in status) == (False, False)
    pods_rule = {"verbs": ["get", "list"], "apiGroups": [""], "resources": ["pods"]}
    reviews_rule = {
        "verbs": ["create"],
        "apiGroups": ["authorization.k8s.io"],
        "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"],
    }
    assert pods_rule in status["resourceRules"] and reviews_rule in status["resourceRules"]
    assert {
        "verbs": ["get"],
        "nonResourceURLs": ["/healthz", "/livez", "/readyz", "/version", "/version/"],
    } in status["nonResourceRules"]
    c_rule = {
        "verbs": ["*"],
        "apiGroups": [""],
        "resources": ["configmaps"],
        "resourceNames": ["c"],
    }
    assert c_rule not in status["resourceRules"]
    assert c_rule in _rules(live, "alice", "team")["resourceRules"]


def test_http_ssrr_node_and_missing_role(live: Any) -> None:
    node = _rules(live, "node", "default")
    assert node["incomplete"] is True
    assert node["evaluationError"] == "node authorizer does not support user rule resolution"
    erin = _rules(live, "erin", "team")
    assert erin["incomplete"] is False
    assert erin["evaluationError"] == 'role.rbac.authorization.k8s.io "gone" not found'


@pytest.mark.parametrize("spec", [None, {}, {"namespace": ""}], ids=["no-spec", "empty", "blank"])
def test_http_ssrr_needs_a_namespace(live: Any, spec: dict[str, Any] | None) -> None:
    body: dict[str, Any] = {"apiVersion": AUTHZ, "kind": "SelfSubjectRulesReview"}
    if spec is not None:
        body["spec"] = spec
    status, out = post(live, SSRR_PATH, body, "alice")
    assert (status, out["reason"], out["message"]) == (400, "BadRequest", "no namespace on request")


def test_http_self_subject_review(live: Any) -> None:
    body = {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}
    out = reviewed(live, SSR_PATH, body, "bob")
    assert (out["kind"], out["apiVersion"]) == ("SelfSubjectReview", "authentication.k8s.io/v1")
    datetime.strptime(out["metadata"]["creationTimestamp"], "%Y-%m-%dT%H:%M:%SZ")
    assert out["status"] == {
        "userInfo": {
            "username": "bob",
            "uid": "u-1",
            "groups": ["devs", "system:authenticated"],
            "extra": {"example.com/k": ["v"]},
        }
    }
    # v1beta1 is no longer served.
    beta = "/apis/authentication.k8s.io/v1beta1/selfsubjectreviews"
    status, out = post(live, beta, {**body, "apiVersion": "authentication.k8s.io/v1beta1"}, "bob")
    assert (status, out["reason"]) == (404, "NotFound")
