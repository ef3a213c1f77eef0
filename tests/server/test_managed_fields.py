"""The pieces of server-side apply on their own: FieldsV1, paths, merges, ownership.

The merge cases are structured-merge-diff v6's own (``typed/merge_test.go``: set and
associative list orders, duplicates in the live object); the rest pins encodings that
clients read byte for byte. End-to-end behaviour, compared with kube-apiserver, is in
``test_server_side_apply.py``.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from cimp_apiserver.fieldpath import FieldsError, FieldSet, field, index, key, path_string, value
from cimp_apiserver.managed_fields import (
    Managed,
    identifier,
    manager_from_user_agent,
    print_manager,
)
from cimp_apiserver.structured_merge import (
    ABSENT,
    Conflicts,
    Ref,
    Schema,
    TypedError,
    apply,
    compare,
    merge,
    to_field_set,
    update,
    validate,
)

_COMPONENTS: dict[str, Any] = {
    "Root": {
        "type": "object",
        "properties": {
            "setStr": {
                "type": "array",
                "items": {"type": "string"},
                "x-kubernetes-list-type": "set",
            },
            "setNumeric": {
                "type": "array",
                "items": {"type": "number"},
                "x-kubernetes-list-type": "set",
            },
            "setBool": {
                "type": "array",
                "items": {"type": "boolean"},
                "x-kubernetes-list-type": "set",
            },
            "list": {
                "type": "array",
                "items": {"$ref": "#/components/schemas/Element"},
                "x-kubernetes-list-type": "map",
                "x-kubernetes-list-map-keys": ["key", "id"],
            },
            "merged": {
                "type": "array",
                "items": {"$ref": "#/components/schemas/Element"},
                "x-kubernetes-patch-strategy": "merge",
                "x-kubernetes-patch-merge-key": "key",
            },
            "atomicList": {"type": "array", "items": {"type": "string"}},
            "labels": {"type": "object", "additionalProperties": {"type": "string"}},
            "atomicMap": {
                "type": "object",
                "properties": {"a": {"type": "string"}, "b": {"type": "string"}},
                "x-kubernetes-map-type": "atomic",
            },
            "ports": {
                "type": "array",
                "items": {"$ref": "#/components/schemas/Port"},
                "x-kubernetes-list-type": "map",
                "x-kubernetes-list-map-keys": ["port", "protocol"],
            },
        },
        "x-kubernetes-group-version-kind": [{"group": "", "version": "v1", "kind": "Root"}],
    },
    "Element": {
        "type": "object",
        "properties": {
            "key": {"type": "string"},
            "id": {"type": "number"},
            "value": {"type": "object", "additionalProperties": {"type": "string"}},
            "bv": {"type": "boolean"},
            "nv": {"type": "number"},
        },
    },
    "Port": {
        "type": "object",
        "properties": {
            "port": {"type": "integer"},
            "protocol": {"type": "string", "default": "TCP"},
        },
    },
}
SCHEMA = Schema(_COMPONENTS)
ROOT = Ref("Root")


def test_schema_finds_a_kind_by_its_group_version_kind() -> None:
    assert SCHEMA.type_for("", "v1", "Root") == ROOT
    assert SCHEMA.type_for("", "v1", "Other") is None


# structured-merge-diff's merge cases: (live, applied, merged).
_MERGES = [
    ({"setStr": ["a", "b", "c"]}, {"setStr": ["a", "b"]}, {"setStr": ["a", "b", "c"]}),
    (
        {"setStr": ["a", "b", "c", "g", "f"]},
        {"setStr": ["c", "d", "e", "f"]},
        {"setStr": ["a", "b", "c", "g", "d", "e", "f"]},
    ),
    ({"setStr": ["c", "d", "e", "f"]}, {"setStr": ["a", "c", "e"]}, {"setStr": list("acdef")}),
    ({"setStr": list("abcxyz")}, {"setStr": list("def")}, {"setStr": list("abcxyzdef")}),
    ({"setStr": list("abcxyz")}, {"setStr": list("defxyz")}, {"setStr": list("abcdefxyz")}),
    ({"setStr": list("cagf")}, {"setStr": list("cfag")}, {"setStr": list("cfag")}),
    ({"setStr": list("abcd")}, {"setStr": list("defa")}, {"setStr": list("bcdefa")}),
    (
        {"setStr": list("cdefghij")},
        {"setStr": list("2h3e4kl")},
        {"setStr": list("cdfg2hij3e4kl")},
    ),
    (
        {"setStr": list("abcdefghij")},
        {"setStr": list("1b2h3e4kl")},
        {"setStr": list("a1bcdfg2hij3e4kl")},
    ),
    ({"setStr": list("abb")}, {"setStr": ["c"]}, {"setStr": list("abbc")}),
    ({"setStr": list("abb")}, {"setStr": ["b"]}, {"setStr": list("ab")}),
    ({"setStr": list("abb")}, {"setStr": ["a"]}, {"setStr": list("abb")}),
    ({"setStr": list("abcdec")}, {"setStr": list("1b2ed")}, {"setStr": list("a1bc2ecd")}),
    ({"setStr": list("abcdec")}, {"setStr": list("1b2ced")}, {"setStr": list("a1b2ced")}),
    ({"setStr": list("aabb")}, {"setStr": list("bcd")}, {"setStr": list("aabcd")}),
    ({"setStr": list("aabb")}, {"setStr": []}, {"setStr": list("aabb")}),
    ({"setBool": [True]}, {"setBool": [False]}, {"setBool": [True, False]}),
    (
        {"setNumeric": [1, 2, 3.14159]},
        {"setNumeric": [1, 2, 3]},
        {"setNumeric": [1, 2, 3.14159, 3]},
    ),
    ({"setStr": list("cagfca")}, {"setStr": list("cfag")}, {"setStr": list("cfag")}),
    ({"setBool": [True, False, True]}, {"setBool": [False]}, {"setBool": [True, False, True]}),
    ({"setBool": [True, False, True]}, {"setBool": [True]}, {"setBool": [True, False]}),
    (
        {"list": [{"key": "a", "id": 1, "value": {"a": "a"}}]},
        {"list": [{"key": "a", "id": 2, "value": {"a": "a"}}]},
        {
            "list": [
                {"key": "a", "id": 1, "value": {"a": "a"}},
                {"key": "a", "id": 2, "value": {"a": "a"}},
            ]
        },
    ),
    (
        {"list": [{"key": "b", "id": 2}]},
        {"list": [{"key": "a", "id": 1}, {"key": "b", "id": 2}, {"key": "c", "id": 3}]},
        {"list": [{"key": "a", "id": 1}, {"key": "b", "id": 2}, {"key": "c", "id": 3}]},
    ),
    (
        {"list": [{"key": "a", "id": 1}, {"key": "b", "id": 2}, {"key": "c", "id": 3}]},
        {"list": [{"key": "c", "id": 3}, {"key": "a", "id": 1}]},
        {"list": [{"key": "b", "id": 2}, {"key": "c", "id": 3}, {"key": "a", "id": 1}]},
    ),
    ({"atomicList": ["a", "a", "a"]}, {"atomicList": None}, {"atomicList": None}),
    ({"atomicList": ["a", "b", "c"]}, {"atomicList": []}, {"atomicList": []}),
    (
        {
            "list": [
                {"key": "a", "id": 1, "bv": True},
                {"key": "b", "id": 2},
                {"key": "a", "id": 1, "bv": False, "nv": 2},
            ]
        },
        {"list": [{"key": "a", "id": 1, "nv": 3}, {"key": "c", "id": 3}, {"key": "b", "id": 2}]},
        {"list": [{"key": "a", "id": 1, "nv": 3}, {"key": "c", "id": 3}, {"key": "b", "id": 2}]},
    ),
    ({"atomicMap": {"a": "1", "b": "2"}}, {"atomicMap": {"a": "3"}}, {"atomicMap": {"a": "3"}}),
    ({"labels": {"a": "1", "b": "2"}}, {"labels": {"a": "3"}}, {"labels": {"a": "3", "b": "2"}}),
]


@pytest.mark.parametrize(("live", "applied", "merged"), _MERGES)
def test_merge_follows_structured_merge_diff(
    live: dict[str, Any], applied: dict[str, Any], merged: dict[str, Any]
) -> None:
    validate(SCHEMA, live, ROOT, allow_duplicates=True)
    validate(SCHEMA, applied, ROOT)
    assert merge(SCHEMA, live, applied, ROOT) == merged


def test_applied_configurations_are_validated() -> None:
    with pytest.raises(TypedError, match=r'^\.list: duplicate entries for key \[id=1,key="a"\]$'):
        validate(SCHEMA, {"list": [{"key": "a", "id": 1}, {"key": "a", "id": 1}]}, ROOT)
    with pytest.raises(TypedError, match=r"^\.setStr: duplicate entries for key \[=\"x\"\]$"):
        validate(SCHEMA, {"setStr": ["x", "x"]}, ROOT)
    with pytest.raises(TypedError, match=r"^\.nope: field not declared in schema$"):
        validate(SCHEMA, {"nope": 1}, ROOT)
    with pytest.raises(TypedError, match=r"^\.labels\.a: expected string, got "):
        validate(SCHEMA, {"labels": {"a": True}}, ROOT)
    with pytest.raises(TypedError, match=r"element 0: associative list with keys has an element"):
        validate(SCHEMA, {"list": [{"value": {}}]}, ROOT)


def test_field_sets_and_their_fieldsv1_encoding() -> None:
    obj = {
        "labels": {"a": "1"},
        "list": [{"key": "k", "id": 1, "value": {}}],
        "setStr": ["x"],
        "atomicList": ["a"],
        "ports": [{"port": 80}],
    }
    fields = to_field_set(SCHEMA, obj, ROOT)
    doc = fields.to_json()
    assert json.dumps(doc) == json.dumps(
        {
            "f:atomicList": {},
            "f:labels": {"f:a": {}},
            "f:list": {'k:{"id":1,"key":"k"}': {".": {}, "f:id": {}, "f:key": {}, "f:value": {}}},
            # A key field's schema default completes the key.
            "f:ports": {'k:{"port":80,"protocol":"TCP"}': {".": {}, "f:port": {}}},
            "f:setStr": {'v:"x"': {}},
        }
    )
    assert FieldSet.from_json(doc) == fields
    assert FieldSet.from_json({"f:a": {"x:unknown": {}}}) == FieldSet.of((field("a"),))
    with pytest.raises(FieldsError):
        FieldSet.from_json({"f:a": {"k:{not json": {}}})


def test_path_strings_are_those_of_conflict_messages() -> None:
    path = (field("spec"), field("containers"), key({"name": "a"}), field("ports"))
    assert path_string(path) == '.spec.containers[name="a"].ports'
    assert path_string((field("x"), key({"port": 80, "protocol": "TCP"}))) == (
        '.x[port=80,protocol="TCP"]'
    )
    assert path_string((field("f"), value("v\n"), index(3))) == '.f[="v\\n"][3]'
    assert (
        path_string((field("n"), value(1.5), value(1e21), value(True))) == ".n[=1.5][=1e+21][=true]"
    )


def test_path_elements_sort_fields_before_keys_before_values_before_indices() -> None:
    s = FieldSet.of((index(0),), (value("a"),), (key({"k": "v"}),), (field("z"),), (field("a"),))
    assert list(s.to_json()) == ["f:a", "f:z", 'k:{"k":"v"}', 'v:"a"', "i:0"]


def test_update_takes_what_it_changed_and_apply_conflicts_with_it() -> None:
    live = {"labels": {"a": "1"}}
    new = {"labels": {"a": "2", "b": "1"}}
    managers, touched = update(SCHEMA, ROOT, live, new, {}, "u", "v1")
    assert touched and managers["u"].fields.to_json() == {"f:labels": {"f:a": {}, "f:b": {}}}
    assert compare(SCHEMA, live, new, ROOT).modified.to_json() == {"f:labels": {"f:a": {}}}
    with pytest.raises(Conflicts) as err:
        apply(SCHEMA, ROOT, new, {"labels": {"a": "3"}}, managers, "x", "v1", False)
    assert [(c.manager, path_string(c.path)) for c in err.value.conflicts] == [("u", ".labels.a")]
    merged, after = apply(SCHEMA, ROOT, new, {"labels": {"a": "3"}}, managers, "x", "v1", True)
    assert merged == {"labels": {"a": "3", "b": "1"}}
    assert after["u"].fields.to_json() == {"f:labels": {"f:b": {}}}
    same, _ = apply(SCHEMA, ROOT, merged, {"labels": {"a": "3"}}, after, "x", "v1", False)
    assert same is ABSENT


def test_manager_identities_and_names() -> None:
    assert identifier("kubectl", "Apply", "v1", "") == '{"manager":"kubectl","operation":"Apply"}'
    ident = identifier("ctl<", "Update", "apps/v1", "status")
    assert ident == (
        '{"manager":"ctl\\u003c","operation":"Update","apiVersion":"apps/v1","subresource":"status"}'
    )
    assert print_manager(ident) == '"ctl<" with subresource "status" using apps/v1'
    assert manager_from_user_agent("kubectl/v1.37.2 (linux/amd64) kubernetes/abc") == "kubectl"
    assert manager_from_user_agent("a\tb/1") == "ab"
    assert manager_from_user_agent("é" * 100) == "é" * 64
    assert manager_from_user_agent(None) == ""


def test_managed_fields_decode_and_sort() -> None:
    entries = [
        {
            "manager": "b",
            "operation": "Update",
            "apiVersion": "v1",
            "time": "2024-01-01T00:00:02Z",
            "fieldsType": "FieldsV1",
            "fieldsV1": {"f:a": {}},
        },
        {
            "manager": "a",
            "operation": "Update",
            "apiVersion": "v1",
            "time": "2024-01-01T00:00:03Z",
            "fieldsType": "FieldsV1",
            "fieldsV1": {"f:b": {}},
        },
        {"manager": "z", "operation": "Apply", "apiVersion": "v1", "fieldsType": "FieldsV1"},
    ]
    managed = Managed.decode(entries)
    assert [e["manager"] for e in managed.encode() or []] == ["z", "b", "a"]
    for bad, message in (
        ({"operation": "Bogus"}, "operation must be `Apply` or `Update`"),
        ({"operation": "Apply"}, "apiVersion must not be empty"),
        (
            {"operation": "Apply", "apiVersion": "v1"},
            "missing fieldsType in managed fields entry 0",
        ),
        (
            {"operation": "Apply", "apiVersion": "v1", "fieldsType": "V2"},
            'invalid fieldsType "V2" in managed fields entry 0',
        ),
    ):
        with pytest.raises(ValueError, match=message):
            Managed.decode([bad])
