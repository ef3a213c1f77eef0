"""CRD ``x-kubernetes-validations`` (CEL) rules on custom resources, answered as
kube-apiserver v1.37.2 answers: ``self`` at every kind of schema node, transition rules with
``oldSelf``, ``message``/``messageExpression``/``reason``/``fieldPath``, the status
subresource, and the Kubernetes CEL library functions rules commonly use. Every test runs on
both backends (``--apiserver=kube`` for the real server)."""

from __future__ import annotations

import time
from typing import Any

import pytest

from constrained_impersonation.testing import APIServer

CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
THINGS = "/apis/example.com/v1/namespaces/default/things"
MERGE = {"Content-Type": "application/merge-patch+json"}

# Bounded (maxItems, maxLength, maxProperties) as kube requires for the rules' estimated cost.
SCHEMA: dict[str, Any] = {
    "type": "object",
    "x-kubernetes-validations": [
        {
            "rule": "self.metadata.name != 'forbidden'",
            "message": "root sees metadata.name and generateName only",
        },
        {
            "rule": "!has(self.status) || !has(self.status.phase) || self.status.phase != 'B' "
            "|| self.spec.owner == 'bob'",
            "message": "phase B is bob's",
        },
    ],
    "properties": {
        "spec": {
            "type": "object",
            "x-kubernetes-validations": [
                {"rule": "self.owner == oldSelf.owner", "message": "owner is immutable"},
                {
                    "rule": "!has(self.tags) || self.tags.all(t, t.startsWith('t-'))",
                    "messageExpression": "'bad tags: ' + self.tags.join(',')",
                },
                {
                    "rule": "self.owner.lowerAscii() != 'root'",
                    "reason": "FieldValueForbidden",
                    "fieldPath": ".owner",
                    "message": "root is reserved",
                },
                {
                    "rule": "!has(self.ports) || self.ports.isSorted()",
                    "reason": "FieldValueDuplicate",
                    "message": "ports unsorted",
                },
            ],
            "properties": {
                "owner": {"type": "string", "maxLength": 20},
                "tags": {
                    "type": "array",
                    "maxItems": 5,
                    "items": {
                        "type": "string",
                        "maxLength": 20,
                        "x-kubernetes-validations": [{"rule": "size(self) <= 5"}],
                    },
                },
                "ports": {"type": "array", "maxItems": 5, "items": {"type": "integer"}},
                "frozen": {
                    "type": "string",
                    "maxLength": 10,
                    "x-kubernetes-validations": [
                        {
                            "rule": "oldSelf.hasValue() ? self == oldSelf.value() : self != 'x'",
                            "optionalOldSelf": True,
                            "message": "frozen",
                        }
                    ],
                },
                "ratio": {
                    "type": "number",
                    "x-kubernetes-validations": [
                        {"rule": "self > 0.5 && self + 0.5 <= 2.5", "message": "bad ratio"}
                    ],
                },
                "replicas": {
                    "type": "integer",
                    "x-kubernetes-validations": [
                        {"rule": "self >= 0 && self < 10", "message": "replicas out of range"},
                        {
                            "rule": "self >= oldSelf",
                            "message": "no scale down",
                            "reason": "FieldValueForbidden",
                        },
                    ],
                },
                "labels": {
                    "type": "object",
                    "maxProperties": 5,
                    "additionalProperties": {"type": "string", "maxLength": 20},
                    "x-kubernetes-validations": [
                        {"rule": "self.all(k, k.matches('^[a-z]+$'))", "message": "lowercase keys"}
                    ],
                },
                "port": {
                    "x-kubernetes-int-or-string": True,
                    "x-kubernetes-validations": [
                        {
                            "rule": "type(self) == int ? self > 0 : self.endsWith('%')",
                            "message": "bad port",
                        }
                    ],
                },
                "code": {
                    "type": "string",
                    "maxLength": 20,
                    "x-kubernetes-validations": [{"rule": "self.find('[0-9]+') == '42'"}],
                },
                "nested": {
                    "type": "object",
                    "properties": {"a": {"type": "string"}},
                    "x-kubernetes-validations": [{"rule": "self.a == 'x'"}],
                },
                "words": {
                    "type": "string",
                    "maxLength": 40,
                    "x-kubernetes-validations": [
                        {
                            "rule": "self.split(',').size() == 3 && self.indexOf('b') == 2 && "
                            "self.replace(',', '') == 'abc' && self.upperAscii() == 'A,B,C' && "
                            "[3, 1, 2].sum() == 6 && [3, 1, 2].min() == 1 && [3, 1, 2].max() == 3 "
                            "&& [1, 2, 3].indexOf(2) == 1 && self.findAll('[a-z]').size() == 3 "
                            "&& ['a', 'b'].exists_one(x, x == 'a') && "
                            "['a', 'b'].map(x, x + x).filter(x, x != 'aa') == ['bb']",
                            "message": "library",
                        }
                    ],
                },
            },
        },
        "status": {
            "type": "object",
            "properties": {
                "phase": {
                    "type": "string",
                    "x-kubernetes-validations": [
                        {"rule": "self in ['A', 'B']", "message": "bad phase"}
                    ],
                }
            },
        },
    },
}


def _crd() -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "things.example.com"},
        "spec": {
            "group": "example.com",
            "scope": "Namespaced",
            "names": {"plural": "things", "singular": "thing", "kind": "Thing"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": SCHEMA},
                    "subresources": {"status": {}},
                }
            ],
        },
    }


def _thing(name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "example.com/v1",
        "kind": "Thing",
        "metadata": {"name": name},
        "spec": {"owner": "alice", **spec},
    }


@pytest.fixture
def server(apiserver: APIServer) -> APIServer:
    status, body = apiserver.request("POST", CRDS, _crd())
    assert status == 201, body
    deadline = time.monotonic() + 20
    while apiserver.request("GET", THINGS)[0] != 200:
        assert time.monotonic() < deadline, "the CRD was never served"
        time.sleep(0.1)
    return apiserver


def _refused(server: APIServer, method: str, path: str, body: Any) -> tuple[str, list[Any]]:
    status, answer = server.request(
        method, path, body, headers=MERGE if method == "PATCH" else None
    )
    assert status == 422, answer
    assert answer["reason"] == "Invalid"
    causes = [(c["field"], c["reason"], c["message"]) for c in answer["details"]["causes"]]
    return answer["message"], causes


def test_a_resource_that_keeps_every_rule_is_created(server: APIServer) -> None:
    thing = _thing(
        "ok",
        tags=["t-a"],
        replicas=1,
        port=3,
        ports=[1, 2],
        labels={"a": "b"},
        words="a,b,c",
        ratio=2,
    )
    thing["metadata"]["labels"] = {"a": "b"}
    thing["metadata"]["annotations"] = {"a": "b"}
    status, body = server.request("POST", THINGS, thing)
    assert status == 201, body
    status, body = server.request("POST", THINGS, _thing("pct", port="10%", code="x42y"))
    assert status == 201, body


@pytest.mark.parametrize(
    ("spec", "message", "causes"),
    [
        pytest.param(
            {"owner": "ROOT"},
            "spec.owner: Forbidden: root is reserved",
            [("spec.owner", "FieldValueForbidden", "Forbidden: root is reserved")],
            id="reason-and-field-path",
        ),
        pytest.param(
            {"tags": ["x", "t-abcdef"]},
            "[spec: Invalid value: bad tags: x,t-abcdef, spec.tags[1]: Invalid value: "
            '"t-abcdef": failed rule: size(self) <= 5]',
            [
                ("spec", "FieldValueInvalid", "Invalid value: bad tags: x,t-abcdef"),
                (
                    "spec.tags[1]",
                    "FieldValueInvalid",
                    'Invalid value: "t-abcdef": failed rule: size(self) <= 5',
                ),
            ],
            id="message-expression-and-list-items",
        ),
        pytest.param(
            {"ports": [2, 1]},
            "spec: Duplicate value",
            [("spec", "FieldValueDuplicate", "Duplicate value")],
            id="duplicate-omits-object-value",
        ),
        pytest.param(
            {"replicas": 20},
            "spec.replicas: Invalid value: 20: replicas out of range",
            [("spec.replicas", "FieldValueInvalid", "Invalid value: 20: replicas out of range")],
            id="integer",
        ),
        pytest.param(
            {"labels": {"A": "b"}},
            "spec.labels: Invalid value: lowercase keys",
            [("spec.labels", "FieldValueInvalid", "Invalid value: lowercase keys")],
            id="map",
        ),
        pytest.param(
            {"port": "10"},
            'spec.port: Invalid value: "10": bad port',
            [("spec.port", "FieldValueInvalid", 'Invalid value: "10": bad port')],
            id="int-or-string-string",
        ),
        pytest.param(
            {"port": 0},
            "spec.port: Invalid value: 0: bad port",
            [("spec.port", "FieldValueInvalid", "Invalid value: 0: bad port")],
            id="int-or-string-int",
        ),
        pytest.param(
            {"code": "a7b"},
            "spec.code: Invalid value: \"a7b\": failed rule: self.find('[0-9]+') == '42'",
            [
                (
                    "spec.code",
                    "FieldValueInvalid",
                    "Invalid value: \"a7b\": failed rule: self.find('[0-9]+') == '42'",
                )
            ],
            id="regex-find",
        ),
        pytest.param(
            {"nested": {}},
            "spec.nested: Invalid value: \"object\": no such key: a evaluating rule: self.a == 'x'",
            [
                (
                    "spec.nested",
                    "FieldValueInvalid",
                    "Invalid value: \"object\": no such key: a evaluating rule: self.a == 'x'",
                )
            ],
            id="runtime-error",
        ),
        pytest.param(
            {"words": "a,c,b"},
            'spec.words: Invalid value: "a,c,b": library',
            [("spec.words", "FieldValueInvalid", 'Invalid value: "a,c,b": library')],
            id="library-functions",
        ),
    ],
)
def test_a_create_breaking_a_rule_is_refused(
    server: APIServer, spec: dict[str, Any], message: str, causes: list[Any]
) -> None:
    got_message, got_causes = _refused(server, "POST", THINGS, _thing("bad", **spec))
    assert got_message == f'Thing.example.com "bad" is invalid: {message}'
    assert got_causes == causes


def test_a_root_rule_sees_the_resource(server: APIServer) -> None:
    message, _ = _refused(server, "POST", THINGS, _thing("forbidden"))
    assert message == (
        'Thing.example.com "forbidden" is invalid: <nil>: Invalid value: '
        "root sees metadata.name and generateName only"
    )
    message, _ = _refused(server, "POST", THINGS, _thing("low", ratio=0))
    assert message == 'Thing.example.com "low" is invalid: spec.ratio: Invalid value: 0: bad ratio'


def test_transition_rules_run_on_update_only(server: APIServer) -> None:
    # On create there is no oldSelf: "self >= oldSelf" and the immutable owner do not run.
    status, body = server.request("POST", THINGS, _thing("ok", replicas=3))
    assert status == 201, body
    message, causes = _refused(server, "PATCH", f"{THINGS}/ok", {"spec": {"replicas": 0}})
    assert message == 'Thing.example.com "ok" is invalid: spec.replicas: Forbidden: no scale down'
    assert causes == [("spec.replicas", "FieldValueForbidden", "Forbidden: no scale down")]
    message, causes = _refused(server, "PATCH", f"{THINGS}/ok", {"spec": {"owner": "bob"}})
    assert message == 'Thing.example.com "ok" is invalid: spec: Invalid value: owner is immutable'
    status, body = server.request("PATCH", f"{THINGS}/ok", {"spec": {"replicas": 5}}, headers=MERGE)
    assert status == 200, body


def test_status_rules_run_on_the_status_subresource(server: APIServer) -> None:
    status, body = server.request("POST", THINGS, _thing("ok"))
    assert status == 201, body
    message, causes = _refused(server, "PATCH", f"{THINGS}/ok/status", {"status": {"phase": "C"}})
    assert (
        message == 'Thing.example.com "ok" is invalid: status.phase: Invalid value: "C": bad phase'
    )
    assert causes == [("status.phase", "FieldValueInvalid", 'Invalid value: "C": bad phase')]
    # The main resource ignores status (status subresource), so its rules do not run there.
    status, body = server.request(
        "PATCH", f"{THINGS}/ok", {"status": {"phase": "C"}}, headers=MERGE
    )
    assert status == 200, body
    status, body = server.request(
        "PATCH", f"{THINGS}/ok/status", {"status": {"phase": "A"}}, headers=MERGE
    )
    assert status == 200, body
    # A rule on the resource's root runs on a status update too.
    message, _ = _refused(server, "PATCH", f"{THINGS}/ok/status", {"status": {"phase": "B"}})
    assert message == 'Thing.example.com "ok" is invalid: <nil>: Invalid value: phase B is bob\'s'


def test_a_crd_whose_rule_does_not_parse_is_refused(apiserver: APIServer) -> None:
    manifest = _crd()
    manifest["metadata"]["name"] = "gadgets.example.com"
    manifest["spec"]["names"] = {"plural": "gadgets", "kind": "Gadget"}
    schema = {
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "properties": {"a": {"type": "string", "maxLength": 10}},
                "x-kubernetes-validations": [{"rule": "self.a =="}],
            }
        },
    }
    manifest["spec"]["versions"][0]["schema"] = {"openAPIV3Schema": schema}
    status, body = apiserver.request("POST", CRDS, manifest)
    assert status == 422, body
    [cause] = body["details"]["causes"]
    assert cause["field"] == (
        "spec.validation.openAPIV3Schema.properties[spec].x-kubernetes-validations[0].rule"
    )
    assert cause["reason"] == "FieldValueInvalid"
    # The syntax error's position and wording are the parser's (cel-go's ANTLR text differs).
    assert cause["message"].startswith(
        'Invalid value: {"Rule":"self.a ==","Message":"","MessageExpression":"","Reason":null,'
        '"FieldPath":"","OptionalOldSelf":null}: compilation failed: ERROR: <input>:1:'
    )
    assert "Syntax error: " in cause["message"]
    assert "\n | self.a ==\n | ." in cause["message"]


def test_an_optional_old_self_rule_runs_on_create_too(server: APIServer) -> None:
    message, _ = _refused(server, "POST", THINGS, _thing("x", frozen="x"))
    assert message == 'Thing.example.com "x" is invalid: spec.frozen: Invalid value: "x": frozen'
    status, body = server.request("POST", THINGS, _thing("ok", frozen="a"))
    assert status == 201, body
    message, _ = _refused(server, "PATCH", f"{THINGS}/ok", {"spec": {"frozen": "b"}})
    assert message == 'Thing.example.com "ok" is invalid: spec.frozen: Invalid value: "b": frozen'
