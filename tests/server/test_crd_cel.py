"""CRD ``x-kubernetes-validations`` (CEL) rules on custom resources, answered as
kube-apiserver v1.37.2 answers: ``self`` at every kind of schema node, transition rules with
``oldSelf``, ``message``/``messageExpression``/``reason``/``fieldPath``, the status
subresource, and the Kubernetes CEL library functions rules commonly use. Every test runs on
both backends (``--apiserver=kube`` for the real server)."""

from __future__ import annotations

import json
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


def _crd(
    schema: dict[str, Any], plural: str = "things", kind: str = "Thing", status: bool = True
) -> dict[str, Any]:
    """The one CRD manifest builder of this file: group example.com, version v1."""
    version: dict[str, Any] = {
        "name": "v1",
        "served": True,
        "storage": True,
        "schema": {"openAPIV3Schema": schema},
    }
    if status:
        version["subresources"] = {"status": {}}
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.example.com"},
        "spec": {
            "group": "example.com",
            "scope": "Namespaced",
            "names": {"plural": plural, "singular": plural[:-1], "kind": kind},
            "versions": [version],
        },
    }


def _spec_schema(properties: dict[str, Any], *rules: dict[str, Any]) -> dict[str, Any]:
    """A root whose ``spec`` has ``properties`` and carries ``rules``."""
    spec: dict[str, Any] = {"type": "object", "properties": properties}
    if rules:
        spec["x-kubernetes-validations"] = list(rules)
    return {"type": "object", "properties": {"spec": spec}}


def _thing(name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "example.com/v1",
        "kind": "Thing",
        "metadata": {"name": name},
        "spec": {"owner": "alice", **spec},
    }


@pytest.fixture
def server(apiserver: APIServer) -> APIServer:
    status, body = apiserver.request("POST", CRDS, _crd(SCHEMA))
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


def test_rules_do_not_run_after_a_blocking_schema_error(server: APIServer) -> None:
    """A too long, missing or mistyped value stops the rules: one error says so."""
    _, causes = _refused(server, "POST", THINGS, _thing("long", owner="x" * 21, replicas=50))
    assert causes == [
        ("spec.owner", "FieldValueTooLong", "Too long: may not be more than 20 bytes"),
        (
            "<nil>",
            "FieldValueInvalid",
            "Invalid value: null: some validation rules were not checked because the object was "
            "invalid; correct the existing errors to complete validation",
        ),
    ]


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
    schema = _spec_schema({"a": {"type": "string", "maxLength": 10}}, {"rule": "self.a =="})
    status, body = apiserver.request("POST", CRDS, _crd(schema, "gadgets", "Gadget"))
    assert status == 422, body
    [cause] = body["details"]["causes"]
    assert cause["field"] == (
        "spec.validation.openAPIV3Schema.properties[spec].x-kubernetes-validations[0].rule"
    )
    assert cause["reason"] == "FieldValueInvalid"
    assert cause["message"] == (
        'Invalid value: {"Rule":"self.a ==","Message":"","MessageExpression":"","Reason":null,'
        '"FieldPath":"","OptionalOldSelf":null}: compilation failed: ERROR: <input>:1:10: Syntax '
        "error: mismatched input '<EOF>' expecting {'[', '{', '(', '.', '-', '!', 'true', "
        "'false', 'null', NUM_FLOAT, NUM_INT, NUM_UINT, STRING, BYTES, IDENTIFIER}\n"
        " | self.a ==\n | .........^"
    )


def test_an_optional_old_self_rule_runs_on_create_too(server: APIServer) -> None:
    message, _ = _refused(server, "POST", THINGS, _thing("x", frozen="x"))
    assert message == 'Thing.example.com "x" is invalid: spec.frozen: Invalid value: "x": frozen'
    status, body = server.request("POST", THINGS, _thing("ok", frozen="a"))
    assert status == 201, body
    message, _ = _refused(server, "PATCH", f"{THINGS}/ok", {"spec": {"frozen": "b"}})
    assert message == 'Thing.example.com "ok" is invalid: spec.frozen: Invalid value: "b": frozen'


# ------------------------------------------------------------------ rules checked at CRD write

# Every kind of schema node a rule can see (bounded, so that no rule exceeds its cost budget).
TYPED: dict[str, Any] = {
    "replicas": {"type": "integer"},
    "name": {"type": "string", "maxLength": 10},
    "tags": {"type": "array", "maxItems": 5, "items": {"type": "string", "maxLength": 10}},
    "labels": {
        "type": "object",
        "maxProperties": 5,
        "additionalProperties": {"type": "string", "maxLength": 10},
    },
    "ratio": {"type": "number"},
    "port": {"x-kubernetes-int-or-string": True},
    "flag": {"type": "boolean"},
    "obj": {"type": "object", "properties": {"a": {"type": "string", "maxLength": 5}}},
}
RULE_FIELD = "spec.validation.openAPIV3Schema.properties[spec].x-kubernetes-validations[0]"


def _go_rule(rule: dict[str, Any]) -> str:
    """The rule as Go's json.Marshal prints apiextensions' ValidationRule (HTML-escaped)."""
    fields = {
        "Rule": rule.get("rule", ""),
        "Message": rule.get("message", ""),
        "MessageExpression": rule.get("messageExpression", ""),
        "Reason": rule.get("reason"),
        "FieldPath": rule.get("fieldPath", ""),
        "OptionalOldSelf": rule.get("optionalOldSelf"),
    }
    text = json.dumps(fields, separators=(",", ":"), ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _caret(rule: str, column: int) -> str:
    return f"\n | {rule}\n | {'.' * (column - 1)}^"


@pytest.mark.parametrize(
    ("rule", "detail"),
    [
        pytest.param("self.foo == 1", "1:5: undefined field 'foo'", id="unknown-field"),
        pytest.param("self.obj.b == 'x'", "1:9: undefined field 'b'", id="unknown-nested-field"),
        pytest.param(
            "self.metadata.name == 'x'", "1:5: undefined field 'metadata'", id="no-meta-below-root"
        ),
        pytest.param(
            "self.replicas == 'x'",
            "1:15: found no matching overload for '_==_' applied to '(int, string)'",
            id="int-vs-string",
        ),
        pytest.param(
            "self.name > 3",
            "1:11: found no matching overload for '_>_' applied to '(string, int)'",
            id="string-vs-int",
        ),
        pytest.param(
            "self.replicas + self.ratio > 1.0",
            "1:15: found no matching overload for '_+_' applied to '(int, double)'",
            id="int-plus-double",
        ),
        pytest.param(
            "self.replicas == null",
            "1:15: found no matching overload for '_==_' applied to '(int, null)'",
            id="int-vs-null",
        ),
        pytest.param(
            "size(self.replicas) > 1",
            "1:5: found no matching overload for 'size' applied to '(int)'",
            id="size-of-int",
        ),
        pytest.param(
            "self.name.startsWith(1)",
            "1:21: found no matching overload for 'startsWith' applied to 'string.(int)'",
            id="member-overload",
        ),
        pytest.param(
            "self.tags.all(t, t > 1)",
            "1:20: found no matching overload for '_>_' applied to '(string, int)'",
            id="comprehension-variable",
        ),
        pytest.param(
            "self.labels['a'] == 1",
            "1:18: found no matching overload for '_==_' applied to '(string, int)'",
            id="map-value",
        ),
        pytest.param(
            "foo(self.name)", "1:4: undeclared reference to 'foo' (in container '')", id="function"
        ),
        pytest.param(
            "self.name.foo()",
            "1:14: undeclared reference to 'foo' (in container '')",
            id="member-function",
        ),
        pytest.param("x == 1", "1:1: undeclared reference to 'x' (in container '')", id="ident"),
        pytest.param(
            "self.name in ['a', 1]",
            "1:20: expected type 'string' but found 'int'",
            id="list-literal",
        ),
        pytest.param(
            "{'a': 1, 'b': 'x'}.size() == 2",
            "1:15: expected type 'int' but found 'string'",
            id="map-literal",
        ),
        pytest.param(
            "self.tags.exists(t, t)",
            "1:21: expected type 'bool' but found 'string'",
            id="predicate",
        ),
        pytest.param(
            "self.name.size() > 1 ? 1 : 'x'",
            "1:22: found no matching overload for '_?_:_' applied to '(bool, int, string)'",
            id="conditional",
        ),
        pytest.param("self.name.matches('[')", "1:19: invalid matches argument", id="regex"),
        pytest.param(
            "self.replicas == 99999999999999999999", "1:18: invalid int literal", id="int-literal"
        ),
        pytest.param("has(self)", "1:5: invalid argument to has() macro", id="has"),
        pytest.param(
            "self.tags.all(1, true)", "1:15: argument must be a simple name", id="macro-variable"
        ),
        pytest.param("var == 1", "1:1: reserved identifier: var", id="reserved"),
        pytest.param(
            "self.tags.all(i, v, i == v)",
            "1:23: found no matching overload for '_==_' applied to '(int, string)'",
            id="two-variable-index",
        ),
        pytest.param(
            "'abc'.reverse() == 'cba'",
            "1:14: found no matching overload for 'reverse' applied to 'string.()'",
            id="strings-v3-is-not-there",
        ),
        pytest.param(
            "self.name.path('x')",
            "1:15: found no matching overload for 'path' applied to 'string.(string)'",
            id="authorizer-function",
        ),
    ],
)
def test_a_rule_that_does_not_type_check_is_refused(
    apiserver: APIServer, rule: str, detail: str
) -> None:
    spec = {"rule": rule}
    status, body = apiserver.request("POST", CRDS, _crd(_spec_schema(TYPED, spec), "gadgets"))
    assert status == 422, body
    assert body["reason"] == "Invalid"
    where, _, message = detail.partition(": ")
    column = int(where.split(":")[1])
    assert [(c["field"], c["reason"], c["message"]) for c in body["details"]["causes"]] == [
        (
            f"{RULE_FIELD}.rule",
            "FieldValueInvalid",
            f"Invalid value: {_go_rule(spec)}: compilation failed: ERROR: <input>:{where}: "
            f"{message}{_caret(rule, column)}",
        )
    ]


@pytest.mark.parametrize(
    ("spec", "field", "message"),
    [
        pytest.param(
            {"rule": "self.replicas"},
            "rule",
            "cel expression must evaluate to a bool",
            id="rule-not-bool",
        ),
        pytest.param(
            {"rule": "self.port"}, "rule", "cel expression must evaluate to a bool", id="dyn-rule"
        ),
        pytest.param(
            {"rule": "true", "messageExpression": "self.replicas"},
            "messageExpression",
            "messageExpression must evaluate to a string",
            id="message-not-string",
        ),
        pytest.param(
            {"rule": "int('x') == 1"},
            "rule",
            "program instantiation failed: type conversion error from 'string' to 'int'",
            id="constant-conversion-fails",
        ),
        pytest.param(
            {"rule": "true", "messageExpression": "self.nope"},
            "messageExpression",
            "messageExpression compilation failed: ERROR: <input>:1:5: undefined field 'nope'"
            + _caret("self.nope", 5),
            id="message-does-not-compile",
        ),
    ],
)
def test_a_rule_of_the_wrong_type_is_refused(
    apiserver: APIServer, spec: dict[str, Any], field: str, message: str
) -> None:
    status, body = apiserver.request("POST", CRDS, _crd(_spec_schema(TYPED, spec), "gadgets"))
    assert status == 422, body
    assert [(c["field"], c["reason"], c["message"]) for c in body["details"]["causes"]] == [
        (
            f"{RULE_FIELD}.{field}",
            "FieldValueInvalid",
            f"Invalid value: {_go_rule(spec)}: {message}",
        )
    ]


@pytest.mark.parametrize("field_path", [".nope", "obj", ".obj.b", ".tags[0]", ".obj['a"])
def test_a_field_path_that_names_no_field_is_refused(apiserver: APIServer, field_path: str) -> None:
    spec = {"rule": "true", "fieldPath": field_path}
    status, body = apiserver.request("POST", CRDS, _crd(_spec_schema(TYPED, spec), "gadgets"))
    assert status == 422, body
    assert [(c["field"], c["reason"], c["message"]) for c in body["details"]["causes"]] == [
        (
            f"{RULE_FIELD}.fieldPath",
            "FieldValueInvalid",
            f"Invalid value: {json.dumps(field_path)}: must be a valid path",
        )
    ]


def test_old_self_is_refused_where_old_items_cannot_be_found(apiserver: APIServer) -> None:
    items = {
        "type": "object",
        "properties": {"n": {"type": "integer"}},
        "x-kubernetes-validations": [{"rule": "self.n >= oldSelf.n"}],
    }
    schema = _spec_schema(
        {
            "atomic": {"type": "array", "maxItems": 5, "items": items},
            "keyed": {
                "type": "array",
                "maxItems": 5,
                "x-kubernetes-list-type": "map",
                "x-kubernetes-list-map-keys": ["n"],
                "items": {**items, "required": ["n"]},
            },
            "plain": {
                "type": "integer",
                "x-kubernetes-validations": [{"rule": "self > 0", "optionalOldSelf": True}],
            },
        }
    )
    status, body = apiserver.request("POST", CRDS, _crd(schema, "gadgets"))
    assert status == 422, body
    spec = "spec.validation.openAPIV3Schema.properties[spec]"
    assert sorted((c["field"], c["message"]) for c in body["details"]["causes"]) == [
        (
            f"{spec}.properties[atomic].items.x-kubernetes-validations[0].rule",
            'Invalid value: "self.n >= oldSelf.n": oldSelf cannot be used on the uncorrelatable '
            f"portion of the schema within {spec}.properties[atomic]",
        ),
        (
            f"{spec}.properties[plain].x-kubernetes-validations[0].optionalOldSelf",
            "Invalid value: true: may not be set if oldSelf is not used in rule",
        ),
    ]


def test_rules_kube_accepts_are_accepted(apiserver: APIServer) -> None:
    """Rules a stricter checker might refuse: map fields by name, int-or-string as dyn, null
    objects, conversions, optional syntax, backquoted names and every library."""
    rules = [
        "self.labels.foo == 'x'",
        "has(self.labels.x)",
        "self.port == 1 || self.port == 'x'",
        "self.obj == null",
        "type(self.replicas) == int",
        "int(self.name) == 1",
        "self.tags.map(t, t.size()).sum() > 3",
        "self.`name` == 'a'",
        "self.?name.hasValue() && self.labels[?'a'].orValue('') == ''",
        "[?optional.of(1)] == [1] && {?'a': optional.of(1)} == {'a': 1}",
        "optional.of(1).optMap(x, x + 1).value() == 2 && optional.none().orValue(1) == 1",
        "self.labels.all(k, v, k == v) && self.tags.exists(i, v, i < 2 && v == 'a')",
        "self.tags.transformList(i, v, v + 'x') == self.tags",
        "self.labels.transformMap(k, v, v + 'x').size() == 1",
        "[1, 2].first().hasValue() && [[1], [2]].flatten().size() == 2",
        "[1, 2].slice(0, 1) == [1] && lists.range(3) == [0, 1, 2] && [2, 1].sort() == [1, 2]",
        "[1, 1].distinct() == [1] && [1, 2].reverse() == [2, 1]",
        "['a', 'b'].sortBy(x, x) == ['a', 'b'] && sets.contains([1, 2], [1])",
        "'%s'.format(['a']) == 'a' && strings.quote('a') == '\"a\"' && 'a'.charAt(0) == 'a'",
        "quantity('1Gi').isGreaterThan(quantity('1Mi')) && isQuantity('1Gi')",
        "url('https://a.b/c').getHost() == 'a.b' && ip('1.2.3.4').family() == 4",
        "cidr('10.0.0.0/8').containsIP(ip('10.1.1.1'))",
        "format.dns1123Label().validate('abc').hasValue() == false",
        "semver('1.2.3').major() == 1 && isSemver('1.2.3')",
        "'abc'.find('b') == 'b' && 'a'.matches('a') && matches('a', 'a')",
        "duration('1h') > duration('1m') && [1].indexOf(1) == 0",
        "timestamp('2020-01-01T00:00:00Z').getFullYear() == 2020",
        "self.replicas < 1.5 && 1u < 2",
    ]
    schema = _spec_schema(TYPED, *({"rule": r} for r in rules))
    status, body = apiserver.request("POST", CRDS, _crd(schema, "gadgets"))
    assert status == 201, body


# ------------------------------------------------------------------ Kubernetes' CEL libraries


def _string_rule(*rules: dict[str, Any]) -> dict[str, Any]:
    return {"type": "string", "maxLength": 64, "x-kubernetes-validations": list(rules)}


LIBRARIES = _spec_schema(
    {
        "memory": _string_rule(
            {
                "rule": "isQuantity(self) && quantity(self).isLessThan(quantity('1Gi'))",
                "message": "below 1Gi",
            }
        ),
        "cpu": _string_rule({"rule": "quantity(self).add(1).asInteger() <= 4"}),
        "endpoint": _string_rule(
            {"rule": "url(self).getScheme() == 'https' && url(self).getPort() != '8080'"}
        ),
        "address": _string_rule({"rule": "ip(self).family() == 4 && !ip(self).isLoopback()"}),
        "network": _string_rule(
            {"rule": "cidr(self).containsIP('10.0.0.1') && cidr(self).prefixLength() >= 8"}
        ),
        "host": _string_rule(
            {
                "rule": "!format.dns1123Label().validate(self).hasValue()",
                "messageExpression": "format.dns1123Label().validate(self).value()[0]",
            }
        ),
        "version": _string_rule(
            {
                "rule": "semver(self, true).isGreaterThan(semver('1.0.0'))",
                "messageExpression": "'%s is not above %s'.format([self, '1.0.0'])",
            }
        ),
        "pattern": _string_rule({"rule": "'abc'.matches(self)"}),
        "labels": {
            "type": "object",
            "maxProperties": 5,
            "additionalProperties": {"type": "string", "maxLength": 10},
            "x-kubernetes-validations": [
                {"rule": "self[?'tier'].orValue('') != 'forbidden'", "message": "tier"}
            ],
        },
    }
)


@pytest.mark.parametrize(
    ("spec", "cause"),
    [
        pytest.param({"memory": "512Mi", "cpu": "2", "version": "v1.2"}, None, id="accepted"),
        pytest.param(
            {"memory": "2Gi"}, ("spec.memory", 'Invalid value: "2Gi": below 1Gi'), id="quantity"
        ),
        pytest.param(
            {"cpu": "1.5"},
            (
                "spec.cpu",
                'Invalid value: "string": cannot convert value to integer evaluating rule: '
                "quantity(self).add(1).asInteger() <= 4",
            ),
            id="quantity-not-integer",
        ),
        pytest.param(
            {"endpoint": "example.com/x"},
            (
                "spec.endpoint",
                'Invalid value: "string": URL parse error during conversion from string: parse '
                '"example.com/x": invalid URI for request evaluating rule: '
                "url(self).getScheme() == 'https' && url(self).getPort() != '8080'",
            ),
            id="url-parse-error",
        ),
        pytest.param(
            {"endpoint": "https://example.com:8080/x"},
            (
                "spec.endpoint",
                'Invalid value: "https://example.com:8080/x": failed rule: '
                "url(self).getScheme() == 'https' && url(self).getPort() != '8080'",
            ),
            id="url-port",
        ),
        pytest.param(
            {"address": "01.2.3.4"},
            (
                "spec.address",
                'Invalid value: "string": IP Address "01.2.3.4" parse error during conversion '
                'from string: ParseAddr("01.2.3.4"): IPv4 field has octet with leading zero '
                "evaluating rule: ip(self).family() == 4 && !ip(self).isLoopback()",
            ),
            id="ip-leading-zero",
        ),
        pytest.param(
            {"address": "127.0.0.2"},
            (
                "spec.address",
                'Invalid value: "127.0.0.2": failed rule: ip(self).family() == 4 && '
                "!ip(self).isLoopback()",
            ),
            id="ip-loopback",
        ),
        pytest.param(
            {"network": "10.0.0.0/33"},
            (
                "spec.network",
                'Invalid value: "string": network address parse error during conversion from '
                "string: network address parse error during conversion from string: "
                'netip.ParsePrefix("10.0.0.0/33"): prefix length out of range evaluating rule: '
                "cidr(self).containsIP('10.0.0.1') && cidr(self).prefixLength() >= 8",
            ),
            id="cidr-parse-error",
        ),
        pytest.param(
            {"host": "Bad_Host"},
            (
                "spec.host",
                'Invalid value: "Bad_Host": a lowercase RFC 1123 label must consist of lower '
                "case alphanumeric characters or '-', and must start and end with an alphanumeric "
                "character (e.g. 'my-name',  or '123-abc', regex used for validation is "
                "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
            ),
            id="named-format",
        ),
        pytest.param(
            {"version": "0.9"},
            ("spec.version", 'Invalid value: "0.9": 0.9 is not above 1.0.0'),
            id="semver-and-format",
        ),
        pytest.param(
            {"pattern": "a("},
            (
                "spec.pattern",
                'Invalid value: "string": error parsing regexp: missing closing ): `a(` '
                "evaluating rule: 'abc'.matches(self)",
            ),
            id="re2-error",
        ),
        pytest.param(
            {"labels": {"tier": "forbidden"}},
            ("spec.labels", "Invalid value: tier"),
            id="optional-index",
        ),
    ],
)
def test_library_functions_answer_as_kube(
    apiserver: APIServer, spec: dict[str, Any], cause: tuple[str, str] | None
) -> None:
    status, body = apiserver.request("POST", CRDS, _crd(LIBRARIES, "gadgets", "Gadget"))
    assert status == 201, body
    path = "/apis/example.com/v1/namespaces/default/gadgets"
    deadline = time.monotonic() + 20
    while apiserver.request("GET", path)[0] != 200:
        assert time.monotonic() < deadline, "the CRD was never served"
        time.sleep(0.1)
    gadget = {"apiVersion": "example.com/v1", "kind": "Gadget", "metadata": {"name": "g"}}
    status, body = apiserver.request("POST", path, {**gadget, "spec": spec})
    if cause is None:
        assert status == 201, body
        return
    assert status == 422, body
    assert [(c["field"], c["message"]) for c in body["details"]["causes"]] == [cause]


# ------------------------------------------------------------------ estimated cost limits

_ADVICE = (
    " (try simplifying the rule, or adding maxItems, maxProperties, and maxLength where arrays, "
    "maps, and strings are declared)"
)


def _numbers(most: int | None) -> dict[str, Any]:
    bounded = {} if most is None else {"maxItems": most}
    return {"type": "array", **bounded, "items": {"type": "integer"}}


@pytest.mark.parametrize(
    ("properties", "rule", "field", "factor"),
    [
        pytest.param(
            {"l": _numbers(3000)},
            {"rule": "self.l.all(x, self.l.exists(y, x == y))"},
            "rule",
            "5.4x",
            id="quadratic",
        ),
        pytest.param(
            {"l": _numbers(1400)},
            {"rule": "self.l.all(x, self.l.exists(y, x == y))"},
            "rule",
            "1.176840x",
            id="just-above",
        ),
        pytest.param(
            {"l": {"type": "array", "items": {"type": "string"}}},
            {"rule": "self.l.all(x, x.matches('^a'))"},
            "rule",
            "more than 100x",
            id="unbounded",
        ),
        pytest.param(
            {"l": {"type": "array", "items": {"type": "string"}}},
            {"rule": "true", "messageExpression": "self.l.join(', ')"},
            "messageExpression",
            "more than 100x",
            id="message-expression",
        ),
    ],
)
def test_a_rule_over_its_cost_budget_is_refused(
    apiserver: APIServer, properties: dict[str, Any], rule: dict[str, Any], field: str, factor: str
) -> None:
    status, body = apiserver.request("POST", CRDS, _crd(_spec_schema(properties, rule), "gadgets"))
    assert status == 422, body
    what = "rule" if field == "rule" else "messageExpression"
    expected = [
        (
            f"{RULE_FIELD}.{field}",
            f"Forbidden: estimated {what} cost exceeds budget by factor of {factor}{_ADVICE}",
        )
    ]
    if factor == "more than 100x":  # then the whole schema is over its budget as well
        expected += [
            (
                f"{RULE_FIELD}.{field}",
                "Forbidden: contributed to estimated rule cost total exceeding cost limit for "
                "entire OpenAPIv3 schema",
            ),
            (
                "spec.validation.openAPIV3Schema",
                "Forbidden: x-kubernetes-validations estimated rule cost total for entire "
                f"OpenAPIv3 schema exceeds budget by factor of more than 100x{_ADVICE}",
            ),
        ]
    assert [(c["field"], c["message"]) for c in body["details"]["causes"]] == expected
    assert {c["reason"] for c in body["details"]["causes"]} == {"FieldValueForbidden"}


def test_a_rule_below_an_unbounded_list_costs_once_per_possible_item(
    apiserver: APIServer,
) -> None:
    items = {
        "type": "object",
        "required": ["name"],
        "properties": {"name": {"type": "string", "maxLength": 60}},
        "x-kubernetes-validations": [{"rule": "self.name.matches('^[a-z]+(-[a-z]+)*$')"}],
    }
    schema = _spec_schema({"l": {"type": "array", "items": items}})
    status, body = apiserver.request("POST", CRDS, _crd(schema, "gadgets"))
    assert status == 422, body
    [cause] = body["details"]["causes"]
    assert cause["field"] == (
        "spec.validation.openAPIV3Schema.properties[spec].properties[l].items."
        "x-kubernetes-validations[0].rule"
    )
    assert (
        cause["message"]
        == f"Forbidden: estimated rule cost exceeds budget by factor of 3.1x{_ADVICE}"
    )


def test_the_whole_schema_has_a_cost_budget_too(apiserver: APIServer) -> None:
    # Each rule is just below or above its own budget; together they exceed the schema's.
    properties = {
        f"l{i:02d}": {
            **_numbers(1200 + 10 * i),
            "x-kubernetes-validations": [{"rule": "self.all(x, self.exists(y, x == y))"}],
        }
        for i in range(14)
    }
    status, body = apiserver.request("POST", CRDS, _crd(_spec_schema(properties), "gadgets"))
    assert status == 422, body
    spec = "spec.validation.openAPIV3Schema.properties[spec].properties"
    over = {10: "1.014650x", 11: "1.030315x", 12: "1.046100x", 13: "1.062005x"}
    contributed = (
        "Forbidden: contributed to estimated rule cost total exceeding cost limit for entire "
        "OpenAPIv3 schema"
    )
    causes = [(c["field"], c["message"]) for c in body["details"]["causes"]]
    # kube lists the properties in Go map order: compare the rule errors as a set.
    assert sorted(causes[:4]) == [
        (
            f"{spec}[l{i}].x-kubernetes-validations[0].rule",
            f"Forbidden: estimated rule cost exceeds budget by factor of {f}{_ADVICE}",
        )
        for i, f in over.items()
    ]
    assert causes[4:] == [
        (f"{spec}[l{i}].x-kubernetes-validations[0].rule", contributed) for i in (13, 12, 11, 10)
    ] + [
        (
            "spec.validation.openAPIV3Schema",
            "Forbidden: x-kubernetes-validations estimated rule cost total for entire OpenAPIv3 "
            f"schema exceeds budget by factor of 1.346440x{_ADVICE}",
        )
    ]


def test_a_rule_past_its_runtime_cost_limit_stops_validation(apiserver: APIServer) -> None:
    """The estimate allows the rule (maxItems bounds it); a large list still passes the
    per-call limit while it runs, and kube stops validating there."""
    rule = "self.l.all(x, self.l.exists(y, x == y))"
    schema = _spec_schema({"l": _numbers(800)}, {"rule": rule})
    status, body = apiserver.request("POST", CRDS, _crd(schema, "gadgets", "Gadget"))
    assert status == 201, body
    path = "/apis/example.com/v1/namespaces/default/gadgets"
    deadline = time.monotonic() + 20
    while apiserver.request("GET", path)[0] != 200:
        assert time.monotonic() < deadline, "the CRD was never served"
        time.sleep(0.1)
    gadget = {"apiVersion": "example.com/v1", "kind": "Gadget", "metadata": {"name": "small"}}
    status, body = apiserver.request("POST", path, {**gadget, "spec": {"l": list(range(100))}})
    assert status == 201, body
    gadget["metadata"] = {"name": "large"}
    status, body = apiserver.request("POST", path, {**gadget, "spec": {"l": list(range(800))}})
    assert status == 422, body
    assert [(c["field"], c["message"]) for c in body["details"]["causes"]] == [
        (
            "spec",
            "Invalid value: \"object\": 'operation cancelled: actual cost limit exceeded': no "
            f"further validation rules will be run due to call cost exceeds limit for rule: {rule}",
        )
    ]
