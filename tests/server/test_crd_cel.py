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
    assert _serve(apiserver, SCHEMA, "things", "Thing") == THINGS
    return apiserver


def _refused(server: APIServer, method: str, path: str, body: Any) -> tuple[str, list[Any]]:
    status, answer = server.request(
        method, path, body, headers=MERGE if method == "PATCH" else None
    )
    assert status == 422, answer
    assert answer["reason"] == "Invalid"
    causes = [(c["field"], c["reason"], c["message"]) for c in answer["details"]["causes"]]
    return answer["message"], causes


def _crd_causes(apiserver: APIServer, schema: dict[str, Any]) -> list[tuple[str, str, str]]:
    """Create a CRD kube refuses: its causes (field, reason, message)."""
    status, body = apiserver.request("POST", CRDS, _crd(schema, "gadgets", "Gadget"))
    assert status == 422, body
    assert body["reason"] == "Invalid"
    return [(c["field"], c["reason"], c["message"]) for c in body["details"]["causes"]]


def _serve(apiserver: APIServer, schema: dict[str, Any], plural: str, kind: str) -> str:
    """Create a CRD and wait until its resource is served: the resource's path."""
    status, body = apiserver.request("POST", CRDS, _crd(schema, plural, kind))
    assert status == 201, body
    path = f"/apis/example.com/v1/namespaces/default/{plural}"
    deadline = time.monotonic() + 20
    while apiserver.request("GET", path)[0] != 200:
        assert time.monotonic() < deadline, "the CRD was never served"
        time.sleep(0.1)
    return path


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


def _case(rule: dict[str, Any] | str, where: str, detail: str, name: str) -> Any:
    """One refused rule: the rule (or its text), the rule's field kube names, and what kube
    says after ``Invalid value: <the rule or field path>:``."""
    spec = rule if isinstance(rule, dict) else {"rule": rule}
    return pytest.param(spec, where, detail, id=name)


def _compile(rule: str, detail: str) -> str:
    """``compilation failed: ERROR: <input>:L:C: message`` with cel-go's caret lines."""
    at, _, message = detail.partition(": ")
    column = int(at.split(":")[1])
    return f"compilation failed: ERROR: <input>:{at}: {message}{_caret(rule, column)}"


@pytest.mark.parametrize(
    ("spec", "where", "detail"),
    [
        _case(
            "self.a ==",
            "rule",
            _compile(
                "self.a ==",
                "1:10: Syntax error: mismatched input '<EOF>' expecting {'[', '{', '(', '.', '-', "
                "'!', 'true', 'false', 'null', NUM_FLOAT, NUM_INT, NUM_UINT, STRING, BYTES, "
                "IDENTIFIER}",
            ),
            "syntax-error",
        ),
        _case(
            "self.foo == 1",
            "rule",
            _compile("self.foo == 1", "1:5: undefined field 'foo'"),
            "unknown-field",
        ),
        _case(
            "self.obj.b == 'x'",
            "rule",
            _compile("self.obj.b == 'x'", "1:9: undefined field 'b'"),
            "unknown-nested-field",
        ),
        _case(
            "self.metadata.name == 'x'",
            "rule",
            _compile("self.metadata.name == 'x'", "1:5: undefined field 'metadata'"),
            "no-meta-below-root",
        ),
        _case(
            "self.replicas == 'x'",
            "rule",
            _compile(
                "self.replicas == 'x'",
                "1:15: found no matching overload for '_==_' applied to '(int, string)'",
            ),
            "int-vs-string",
        ),
        _case(
            "self.name > 3",
            "rule",
            _compile(
                "self.name > 3",
                "1:11: found no matching overload for '_>_' applied to '(string, int)'",
            ),
            "string-vs-int",
        ),
        _case(
            "self.replicas + self.ratio > 1.0",
            "rule",
            _compile(
                "self.replicas + self.ratio > 1.0",
                "1:15: found no matching overload for '_+_' applied to '(int, double)'",
            ),
            "int-plus-double",
        ),
        _case(
            "self.replicas == null",
            "rule",
            _compile(
                "self.replicas == null",
                "1:15: found no matching overload for '_==_' applied to '(int, null)'",
            ),
            "int-vs-null",
        ),
        _case(
            "size(self.replicas) > 1",
            "rule",
            _compile(
                "size(self.replicas) > 1",
                "1:5: found no matching overload for 'size' applied to '(int)'",
            ),
            "size-of-int",
        ),
        _case(
            "self.name.startsWith(1)",
            "rule",
            _compile(
                "self.name.startsWith(1)",
                "1:21: found no matching overload for 'startsWith' applied to 'string.(int)'",
            ),
            "member-overload",
        ),
        _case(
            "self.tags.all(t, t > 1)",
            "rule",
            _compile(
                "self.tags.all(t, t > 1)",
                "1:20: found no matching overload for '_>_' applied to '(string, int)'",
            ),
            "comprehension-variable",
        ),
        _case(
            "self.labels['a'] == 1",
            "rule",
            _compile(
                "self.labels['a'] == 1",
                "1:18: found no matching overload for '_==_' applied to '(string, int)'",
            ),
            "map-value",
        ),
        _case(
            "foo(self.name)",
            "rule",
            _compile("foo(self.name)", "1:4: undeclared reference to 'foo' (in container '')"),
            "function",
        ),
        _case(
            "self.name.foo()",
            "rule",
            _compile("self.name.foo()", "1:14: undeclared reference to 'foo' (in container '')"),
            "member-function",
        ),
        _case(
            "x == 1",
            "rule",
            _compile("x == 1", "1:1: undeclared reference to 'x' (in container '')"),
            "ident",
        ),
        _case(
            "self.name in ['a', 1]",
            "rule",
            _compile("self.name in ['a', 1]", "1:20: expected type 'string' but found 'int'"),
            "list-literal",
        ),
        _case(
            "{'a': 1, 'b': 'x'}.size() == 2",
            "rule",
            _compile(
                "{'a': 1, 'b': 'x'}.size() == 2", "1:15: expected type 'int' but found 'string'"
            ),
            "map-literal",
        ),
        _case(
            "self.tags.exists(t, t)",
            "rule",
            _compile("self.tags.exists(t, t)", "1:21: expected type 'bool' but found 'string'"),
            "predicate",
        ),
        _case(
            "self.name.size() > 1 ? 1 : 'x'",
            "rule",
            _compile(
                "self.name.size() > 1 ? 1 : 'x'",
                "1:22: found no matching overload for '_?_:_' applied to '(bool, int, string)'",
            ),
            "conditional",
        ),
        _case(
            "self.name.matches('[')",
            "rule",
            _compile("self.name.matches('[')", "1:19: invalid matches argument"),
            "regex",
        ),
        _case(
            "self.replicas == 99999999999999999999",
            "rule",
            _compile("self.replicas == 99999999999999999999", "1:18: invalid int literal"),
            "int-literal",
        ),
        _case(
            "has(self)",
            "rule",
            _compile("has(self)", "1:5: invalid argument to has() macro"),
            "has",
        ),
        _case(
            "self.tags.all(1, true)",
            "rule",
            _compile("self.tags.all(1, true)", "1:15: argument must be a simple name"),
            "macro-variable",
        ),
        _case(
            "var == 1", "rule", _compile("var == 1", "1:1: reserved identifier: var"), "reserved"
        ),
        _case(
            "self.tags.all(i, v, i == v)",
            "rule",
            _compile(
                "self.tags.all(i, v, i == v)",
                "1:23: found no matching overload for '_==_' applied to '(int, string)'",
            ),
            "two-variable-index",
        ),
        _case(
            "'abc'.reverse() == 'cba'",
            "rule",
            _compile(
                "'abc'.reverse() == 'cba'",
                "1:14: found no matching overload for 'reverse' applied to 'string.()'",
            ),
            "strings-v3-is-not-there",
        ),
        _case(
            "self.name.path('x')",
            "rule",
            _compile(
                "self.name.path('x')",
                "1:15: found no matching overload for 'path' applied to 'string.(string)'",
            ),
            "authorizer-function",
        ),
        _case(
            {"rule": "self.replicas"},
            "rule",
            "cel expression must evaluate to a bool",
            "rule-not-bool",
        ),
        _case({"rule": "self.port"}, "rule", "cel expression must evaluate to a bool", "dyn-rule"),
        _case(
            {"rule": "true", "messageExpression": "self.replicas"},
            "messageExpression",
            "messageExpression must evaluate to a string",
            "message-not-string",
        ),
        _case(
            {"rule": "int('x') == 1"},
            "rule",
            "program instantiation failed: type conversion error from 'string' to 'int'",
            "constant-conversion-fails",
        ),
        _case(
            {"rule": "true", "messageExpression": "self.nope"},
            "messageExpression",
            "messageExpression compilation failed: ERROR: <input>:1:5: undefined field 'nope'"
            + _caret("self.nope", 5),
            "message-does-not-compile",
        ),
        _case(
            {"rule": "true", "fieldPath": ".nope"},
            "fieldPath",
            "must be a valid path",
            "field-path-0",
        ),
        _case(
            {"rule": "true", "fieldPath": "obj"},
            "fieldPath",
            "must be a valid path",
            "field-path-1",
        ),
        _case(
            {"rule": "true", "fieldPath": ".obj.b"},
            "fieldPath",
            "must be a valid path",
            "field-path-2",
        ),
        _case(
            {"rule": "true", "fieldPath": ".tags[0]"},
            "fieldPath",
            "must be a valid path",
            "field-path-3",
        ),
        _case(
            {"rule": "true", "fieldPath": ".obj['a"},
            "fieldPath",
            "must be a valid path",
            "field-path-4",
        ),
    ],
)
def test_a_crd_with_a_rule_kube_cannot_use_is_refused(
    apiserver: APIServer, spec: dict[str, Any], where: str, detail: str
) -> None:
    value = json.dumps(spec[where]) if where == "fieldPath" else _go_rule(spec)
    assert _crd_causes(apiserver, _spec_schema(TYPED, spec)) == [
        (f"{RULE_FIELD}.{where}", "FieldValueInvalid", f"Invalid value: {value}: {detail}")
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
    spec = "spec.validation.openAPIV3Schema.properties[spec]"
    assert sorted((f, m) for f, _, m in _crd_causes(apiserver, schema)) == [
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
    _serve(apiserver, _spec_schema(TYPED, *({"rule": r} for r in rules)), "gadgets", "Gadget")


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
    path = _serve(apiserver, LIBRARIES, "gadgets", "Gadget")
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
    causes = _crd_causes(apiserver, _spec_schema(properties, rule))
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
    assert [(f, m) for f, _, m in causes] == expected
    assert {r for _, r, _ in causes} == {"FieldValueForbidden"}


def test_a_rule_below_an_unbounded_list_costs_once_per_possible_item(
    apiserver: APIServer,
) -> None:
    items = {
        "type": "object",
        "required": ["name"],
        "properties": {"name": {"type": "string", "maxLength": 60}},
        "x-kubernetes-validations": [{"rule": "self.name.matches('^[a-z]+(-[a-z]+)*$')"}],
    }
    [(field, _, message)] = _crd_causes(
        apiserver, _spec_schema({"l": {"type": "array", "items": items}})
    )
    assert field == (
        "spec.validation.openAPIV3Schema.properties[spec].properties[l].items."
        "x-kubernetes-validations[0].rule"
    )
    assert message == f"Forbidden: estimated rule cost exceeds budget by factor of 3.1x{_ADVICE}"


def test_the_whole_schema_has_a_cost_budget_too(apiserver: APIServer) -> None:
    # Each rule is just below or above its own budget; together they exceed the schema's.
    properties = {
        f"l{i:02d}": {
            **_numbers(1200 + 10 * i),
            "x-kubernetes-validations": [{"rule": "self.all(x, self.exists(y, x == y))"}],
        }
        for i in range(14)
    }
    causes = [(f, m) for f, _, m in _crd_causes(apiserver, _spec_schema(properties))]
    spec = "spec.validation.openAPIV3Schema.properties[spec].properties"
    over = {10: "1.014650x", 11: "1.030315x", 12: "1.046100x", 13: "1.062005x"}
    contributed = (
        "Forbidden: contributed to estimated rule cost total exceeding cost limit for entire "
        "OpenAPIv3 schema"
    )
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
    path = _serve(apiserver, schema, "gadgets", "Gadget")
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
