"""Custom resources, on both backends: validation, pruning, defaults, subresources, versions.

One CRD with a structural schema of every kind of constraint (types, required, enum,
pattern, bounds, int-or-string, embedded resources, defaults), the ``status`` and ``scale``
subresources, printer columns, a selectable field and two versions (``v1`` stored,
``v1beta1`` with one more field), and one cluster-scoped CRD that keeps unknown fields. Every
message is kube-apiserver v1.37.2's. kube lists several errors of one object in Go map order,
so cases with more than one error in different fields are left out or compared as sets.
"""

from __future__ import annotations

import copy
import http.client
import json
import re
import ssl
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from constrained_impersonation.testing import APIServer

CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
V1 = "/apis/example.com/v1/namespaces/default/widgets"
V1BETA1 = "/apis/example.com/v1beta1/namespaces/default/widgets"
GADGETS = "/apis/other.io/v1alpha1/gadgets"
MERGE = {"Content-Type": "application/merge-patch+json"}
TABLE = {"Accept": "application/json;as=Table;g=meta.k8s.io;v=v1"}

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "required": ["size"],
            "properties": {
                "size": {"type": "integer", "minimum": 1, "maximum": 10},
                "ratio": {
                    "type": "number",
                    "exclusiveMinimum": True,
                    "minimum": 0,
                    "multipleOf": 0.5,
                },
                "color": {"type": "string", "enum": ["red", "blue"], "default": "red"},
                "name": {"type": "string", "pattern": "^[a-z]+$", "maxLength": 5, "minLength": 2},
                "tags": {
                    "type": "array",
                    "maxItems": 2,
                    "minItems": 1,
                    "items": {"type": "string"},
                },
                "labels": {
                    "type": "object",
                    "additionalProperties": {"type": "string"},
                    "maxProperties": 1,
                },
                "port": {
                    "x-kubernetes-int-or-string": True,
                    "anyOf": [{"type": "integer"}, {"type": "string"}],
                },
                "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                "template": {
                    "type": "object",
                    "x-kubernetes-embedded-resource": True,
                    "x-kubernetes-preserve-unknown-fields": True,
                },
                "flag": {"type": "boolean"},
                "nullable": {"type": "string", "nullable": True},
                "when": {"type": "string", "format": "date-time"},
                "defaulted": {
                    "type": "object",
                    "default": {},
                    "properties": {"inner": {"type": "integer", "default": 3}},
                },
                "list": {
                    "type": "array",
                    "items": {"type": "object", "properties": {"k": {"type": "string"}}},
                },
            },
        },
        "status": {
            "type": "object",
            "properties": {"replicas": {"type": "integer"}, "selector": {"type": "string"}},
        },
    },
}


def widgets_crd() -> dict[str, Any]:
    v1: dict[str, Any] = {
        "name": "v1",
        "served": True,
        "storage": True,
        "schema": {"openAPIV3Schema": SCHEMA},
        "subresources": {
            "status": {},
            "scale": {
                "specReplicasPath": ".spec.size",
                "statusReplicasPath": ".status.replicas",
                "labelSelectorPath": ".status.selector",
            },
        },
        "additionalPrinterColumns": [
            {"name": "Size", "type": "integer", "jsonPath": ".spec.size"},
            {"name": "Color", "type": "string", "jsonPath": ".spec.color", "priority": 1},
            {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
        ],
        "selectableFields": [{"jsonPath": ".spec.color"}],
    }
    v1beta1 = copy.deepcopy(v1)
    v1beta1.update(name="v1beta1", storage=False)
    del v1beta1["selectableFields"]
    spec = v1beta1["schema"]["openAPIV3Schema"]["properties"]["spec"]
    spec["properties"]["old"] = {"type": "string", "default": "x"}
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "scope": "Namespaced",
            "names": {
                "plural": "widgets",
                "kind": "Widget",
                "shortNames": ["wd"],
                "categories": ["all", "stuff"],
            },
            "versions": [v1, v1beta1],
        },
    }


def gadgets_crd() -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "gadgets.other.io"},
        "spec": {
            "group": "other.io",
            "scope": "Cluster",
            "names": {"plural": "gadgets", "kind": "Gadget"},
            "versions": [
                {
                    "name": "v1alpha1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "x-kubernetes-preserve-unknown-fields": True,
                        }
                    },
                }
            ],
        },
    }


def wait_for(check: Callable[[], Any], what: str, timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (result := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)
    return result


@pytest.fixture(scope="module")
def server(apiserver_class: Callable[..., Any]) -> Iterator[APIServer]:
    with apiserver_class() as s:
        for body, path in ((widgets_crd(), V1), (gadgets_crd(), GADGETS)):
            status, answer = s.request("POST", CRDS, body)
            assert status == 201, answer
            wait_for(lambda path=path: s.request("GET", path)[0] == 200, f"{path} served")
        # kube holds a create for 2 s after a CRD is established (for HA API servers).
        time.sleep(2.1)
        yield s


def widget(name: str, spec: Any, **top: Any) -> dict[str, Any]:
    return {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": name},
        "spec": spec,
        **top,
    }


def raw(
    server: APIServer,
    method: str,
    path: str,
    body: Any = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, Any], list[str]]:
    """One request with the response's Warning headers."""
    parts = urlsplit(server.url)
    context = ssl.create_default_context(cafile=server.ca_file)
    conn = http.client.HTTPSConnection(
        parts.hostname or "", parts.port, context=context, timeout=30
    )
    try:
        sent = {"Authorization": f"Bearer {server.admin_token}", "Accept": "application/json"}
        payload = None
        if body is not None:
            payload = body.encode() if isinstance(body, str) else json.dumps(body).encode()
            sent["Content-Type"] = "application/json"
        sent.update(headers or {})
        conn.request(method, path, body=payload, headers=sent)
        resp = conn.getresponse()
        data = resp.read()
        return resp.status, json.loads(data) if data else {}, resp.headers.get_all("Warning") or []
    finally:
        conn.close()


# --------------------------------------------------------------------------- validation

_INVALID = 'Widget.example.com "{name}" is invalid: '
CASES = [
    (
        "wrong-type",
        {"size": "three"},
        '[spec.size: Invalid value: "string": spec.size in body must be of type integer: '
        '"string", .spec.size: Invalid value: 0: .spec.size accessor error: three is of the type '
        "string, expected int64]",
    ),
    (
        "float-for-integer",
        {"size": 1.5},
        '[spec.size: Invalid value: "number": spec.size in body must be of type integer: '
        '"number", <nil>: Invalid value: "": Checked value must be of type integer (default '
        "format) in spec.size, .spec.size: Invalid value: 0: .spec.size accessor error: 1.5 is "
        "of the type float64, expected int64]",
    ),
    ("missing-required", {}, "spec.size: Required value"),
    (
        "enum",
        {"size": 1, "color": "pink"},
        'spec.color: Unsupported value: "pink": supported values: "red", "blue"',
    ),
    (
        "pattern",
        {"size": 1, "name": "ABC"},
        "spec.name: Invalid value: \"ABC\": spec.name in body should match '^[a-z]+$'",
    ),
    (
        "max-length",
        {"size": 1, "name": "abcdefg"},
        "spec.name: Too long: may not be more than 5 bytes",
    ),
    (
        "min-length",
        {"size": 1, "name": "a"},
        'spec.name: Invalid value: "a": spec.name in body should be at least 2 chars long',
    ),
    (
        "maximum",
        {"size": 11},
        "spec.size: Invalid value: 11: spec.size in body should be less than or equal to 10",
    ),
    (
        "minimum",
        {"size": 0},
        "spec.size: Invalid value: 0: spec.size in body should be greater than or equal to 1",
    ),
    (
        "exclusive-minimum",
        {"size": 1, "ratio": 0},
        "[spec.ratio: Invalid value: 0: factor MultipleOf declared for spec.ratio must be "
        "positive: 0, spec.ratio: Invalid value: 0: spec.ratio in body should be greater than 0]",
    ),
    (
        "multiple-of",
        {"size": 1, "ratio": 0.7},
        "spec.ratio: Invalid value: 0.7: spec.ratio in body should be a multiple of 0.5",
    ),
    (
        "max-items",
        {"size": 1, "tags": ["a", "b", "c"]},
        "spec.tags: Too many: 3: must have at most 2 items",
    ),
    (
        "min-items",
        {"size": 1, "tags": []},
        "spec.tags: Invalid value: 0: spec.tags in body should have at least 1 items",
    ),
    (
        "item-type",
        {"size": 1, "tags": [1]},
        'spec.tags[0]: Invalid value: "integer": spec.tags[0] in body must be of type string: '
        '"integer"',
    ),
    (
        "max-properties",
        {"size": 1, "labels": {"a": "b", "c": "d"}},
        "spec.labels: Too many: 2: must have at most 1 item",
    ),
    (
        "additional-properties-type",
        {"size": 1, "labels": {"a": 1}},
        'spec.labels.a: Invalid value: "integer": spec.labels.a in body must be of type string: '
        '"integer"',
    ),
    (
        "int-or-string",
        {"size": 1, "port": True},
        '[spec.port: Invalid value: "boolean": spec.port in body must be of type integer,string: '
        '"boolean", <nil>: Invalid value: "": "spec.port" must validate at least one schema '
        '(anyOf), spec.port: Invalid value: "boolean": spec.port in body must be of type '
        'integer: "boolean"]',
    ),
    (
        "embedded-resource",
        {"size": 1, "template": {}},
        "[spec.template.apiVersion: Required value, spec.template.kind: Required value]",
    ),
    (
        "boolean",
        {"size": 1, "flag": "yes"},
        'spec.flag: Invalid value: "string": spec.flag in body must be of type boolean: "string"',
    ),
    (
        "date-time",
        {"size": 1, "when": "yesterday"},
        'spec.when: Invalid value: "yesterday": spec.when in body must be of type date-time: '
        '"yesterday"',
    ),
    (
        "spec-not-an-object",
        "hello",
        '[spec: Invalid value: "string": spec in body must be of type object: "string", '
        ".spec.size: Invalid value: 0: .spec.size accessor error: hello is of the type string, "
        "expected map[string]interface{}]",
    ),
    (
        "scale-replicas",
        {"size": -1},
        "[spec.size: Invalid value: -1: spec.size in body should be greater than or equal to 1, "
        ".spec.size: Invalid value: -1: should be a non-negative integer]",
    ),
]


@pytest.mark.parametrize(("name", "spec", "message"), CASES, ids=[c[0] for c in CASES])
def test_invalid_resource_is_refused_with_kubes_message(
    server: APIServer, name: str, spec: Any, message: str
) -> None:
    status, answer = server.request("POST", V1, widget(name, spec))
    assert status == 422, answer
    assert answer["message"] == _INVALID.format(name=name) + message
    assert answer["details"]["kind"] == "Widget"
    assert answer["details"]["group"] == "example.com"


def test_errors_in_several_fields_are_all_reported(server: APIServer) -> None:
    status, answer = server.request("POST", V1, widget("multi", {"size": "x", "color": "pink"}))
    assert status == 422
    assert {(c["field"], c["reason"]) for c in answer["details"]["causes"]} == {
        ("spec.size", "FieldValueTypeInvalid"),
        ("spec.color", "FieldValueNotSupported"),
        (".spec.size", "FieldValueInvalid"),
    }


def test_kind_and_metadata_are_validated(server: APIServer) -> None:
    body = widget("q", {"size": 1})
    body["kind"] = "Gadget"
    status, answer = server.request("POST", V1, body)
    assert status == 422
    assert (
        answer["message"]
        == 'Gadget.example.com "q" is invalid: kind: Invalid value: "Gadget": must be Widget'
    )
    status, answer = server.request("POST", V1, widget("A_B", {"size": 1}))
    assert status == 422
    assert answer["message"] == (
        'Widget.example.com "A_B" is invalid: metadata.name: Invalid value: "A_B": a lowercase '
        "RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and "
        "must start and end with an alphanumeric character (e.g. 'example.com', regex used for "
        "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
    )


def test_type_meta_and_metadata_types_are_decoding_errors(server: APIServer) -> None:
    body = widget("tm", {"size": 1})
    status, answer = server.request("POST", V1, {**body, "apiVersion": "example.com/v1beta1"})
    assert (status, answer["message"]) == (
        400,
        "the API version in the data (example.com/v1beta1) does not match the expected API "
        "version (example.com/v1)",
    )
    no_kind = {"metadata": {"name": "n1"}, "spec": {"size": 1}}
    status, answer = server.request("POST", V1, no_kind)
    assert (status, answer["message"]) == (
        400,
        "the object provided is unrecognized (must be of type Widget): Object 'Kind' is "
        'missing in \'{"metadata": {"name": "n1"}, "spec": {"size": 1}}\' '
        '({"metadata": {"name": "n1"}, " ...)',
    )
    status, answer = server.request("POST", V1, {**body, "metadata": {"name": "tm", "labels": "x"}})
    assert (status, answer["message"]) == (
        400,
        'Widget in version "v1" cannot be handled as a Widget: json: cannot unmarshal string '
        "into Go struct field ObjectMeta.labels of type map[string]string",
    )


# --------------------------------------------------------------------------- decoding


def test_unknown_fields_are_pruned_and_defaults_filled(server: APIServer) -> None:
    body = widget(
        "pruned",
        {
            "size": 3,
            "extra": 1,
            "free": {"x": {"y": 1}},
            "port": "http",
            "list": [{"k": "a", "z": 1}],
            "nullable": None,
            "name": None,
        },
        status={"replicas": 1},
        bogus=1,
    )
    status, created, warnings = raw(server, "POST", V1, body)
    assert status == 201
    assert created["spec"] == {
        "color": "red",
        "defaulted": {"inner": 3},
        "free": {"x": {"y": 1}},
        "list": [{"k": "a"}],
        "nullable": None,
        "port": "http",
        "size": 3,
    }
    assert "status" not in created  # the status subresource owns it
    assert "bogus" not in created
    assert created["metadata"]["generation"] == 1
    assert warnings == [
        '299 - "unknown field \\"bogus\\""',
        '299 - "unknown field \\"spec.extra\\""',
        '299 - "unknown field \\"spec.list[0].z\\""',
    ]


def test_strict_field_validation_refuses_unknown_fields(server: APIServer) -> None:
    body = widget("strict", {"size": 2, "extra": 1}, bogus=1)
    body["metadata"]["bogus"] = 1
    status, answer, _ = raw(server, "POST", V1 + "?fieldValidation=Strict", body)
    assert status == 400
    assert answer["message"] == (
        'Widget in version "v1" cannot be handled as a Widget: strict decoding error: unknown '
        'field "metadata.bogus", unknown field "bogus", unknown field "spec.extra"'
    )


def test_embedded_resource_metadata_is_coerced(server: APIServer) -> None:
    template = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "x", "junk": 1, "labels": {}},
    }
    status, created, warnings = raw(
        server, "POST", V1, widget("embedded", {"size": 1, "template": template})
    )
    assert status == 201
    assert created["spec"]["template"] == {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "x"},
    }
    assert any('unknown field \\"spec.template.metadata.junk\\"' in w for w in warnings)


# --------------------------------------------------------------------------- subresources


def test_status_and_spec_are_written_separately(server: APIServer) -> None:
    status, created = server.request("POST", V1, widget("split", {"size": 2}))
    assert status == 201
    created["status"] = {"replicas": 2, "selector": "app=x"}
    created["spec"]["size"] = 7
    status, updated = server.request("PUT", V1 + "/split/status", created)
    assert status == 200, updated
    assert updated["status"] == {"replicas": 2, "selector": "app=x"}
    assert updated["spec"]["size"] == 2  # a status write keeps the spec
    assert updated["metadata"]["generation"] == 1
    updated["spec"]["size"] = 4
    updated["status"] = {"replicas": 9}
    status, again = server.request("PUT", V1 + "/split", updated)
    assert status == 200, again
    assert again["spec"]["size"] == 4
    assert again["status"] == {"replicas": 2, "selector": "app=x"}  # the main write keeps status
    assert again["metadata"]["generation"] == 2
    del again["metadata"]["resourceVersion"]
    status, answer = server.request("PUT", V1 + "/split", again)
    assert (status, answer["message"]) == (
        422,
        'widgets.example.com "split" is invalid: metadata.resourceVersion: Invalid value: 0: '
        "must be specified for an update",
    )


def test_status_writes_are_validated_against_the_status_schema(server: APIServer) -> None:
    """``ValidateStatusUpdate``: only ``status``, with the status schema as the root of the
    messages; the spec (whatever it holds) and the scale's spec replicas are not checked."""
    server.request("POST", V1, widget("statusonly", {"size": 2}))
    path = V1 + "/statusonly/status"
    status, answer = server.request("PATCH", path, {"status": {"replicas": "x"}}, headers=MERGE)
    assert (status, answer["message"]) == (
        422,
        'Widget.example.com "statusonly" is invalid: [status.replicas: Invalid value: "string": '
        'replicas in body must be of type integer: "string", .status.replicas: Invalid value: '
        "0: .status.replicas accessor error: x is of the type string, expected int64]",
    )
    status, answer = server.request("PATCH", path, {"status": {"replicas": -1}}, headers=MERGE)
    assert (status, answer["message"]) == (
        422,
        'Widget.example.com "statusonly" is invalid: .status.replicas: Invalid value: -1: '
        "should be a non-negative integer",
    )
    for method in ("POST", "DELETE"):
        status, answer = server.request(method, path, {})
        action = "create" if method == "POST" else "delete"
        assert (status, answer["message"], answer["details"]) == (
            405,
            f'{action} is not supported on resources of kind "widgets.example.com"',
            {"group": "example.com", "kind": "widgets"},
        )


def test_patched_objects_that_do_not_decode_are_422s_naming_them(server: APIServer) -> None:
    """kube's patcher decodes the patched object: unknown fields under ``Strict`` (kubectl's
    default) and values of the wrong type in metadata are a 422 on the field ``patch``."""
    status, _ = server.request("POST", V1, widget("strictpatch", {"size": 2}))
    assert status == 201
    for path, patch, why in (
        ("", {"spec": {"junk": 1}}, 'strict decoding error: unknown field "spec.junk"'),
        (
            "",
            {"junk": 1, "metadata": {"junk2": 1}},
            'strict decoding error: unknown field "metadata.junk2", unknown field "junk"',
        ),
        ("/status", {"status": {"junk": 1}}, 'strict decoding error: unknown field "status.junk"'),
    ):
        current = server.request("GET", V1 + "/strictpatch")[1]
        patched = merge_patch_of(current, patch)
        detail = f"Invalid value: {go_quote(go_json(patched))}: {why}"
        status, answer = server.request(
            "PATCH", V1 + "/strictpatch" + path + "?fieldValidation=Strict", patch, headers=MERGE
        )
        assert (status, answer["reason"], answer["message"], answer["details"]) == (
            422,
            "Invalid",
            f' "" is invalid: patch: {detail}',
            {"causes": [{"reason": "FieldValueInvalid", "message": detail, "field": "patch"}]},
        ), patch
    status, answer = server.request(
        "PATCH", V1 + "/strictpatch", {"metadata": {"labels": 5}}, headers=MERGE
    )
    assert status == 422 and answer["message"].endswith(
        ": json: cannot unmarshal number into Go struct field ObjectMeta.labels of type "
        "map[string]string"
    )


def merge_patch_of(doc: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return patch
    out = dict(doc) if isinstance(doc, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch_of(out.get(key), value)
    return out


def go_json(value: Any) -> str:
    """Go's json.Marshal of an unstructured object: sorted keys, compact."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def go_quote(text: str) -> str:
    return json.dumps(text)


def test_scale_subresource_reads_and_writes_the_replicas_paths(server: APIServer) -> None:
    status, created = server.request("POST", V1, widget("scaled", {"size": 3}))
    assert status == 201
    status, _ = server.request(
        "PATCH",
        V1 + "/scaled/status",
        {"status": {"replicas": 2, "selector": "app=x"}},
        headers=MERGE,
    )
    assert status == 200
    status, scale = server.request("GET", V1 + "/scaled/scale")
    assert status == 200
    assert scale["kind"] == "Scale" and scale["apiVersion"] == "autoscaling/v1"
    assert scale["spec"] == {"replicas": 3}
    assert scale["status"] == {"replicas": 2, "selector": "app=x"}
    assert scale["metadata"]["name"] == "scaled"
    assert scale["metadata"]["uid"] == created["metadata"]["uid"]
    scale["spec"]["replicas"] = 5
    status, scaled = server.request("PUT", V1 + "/scaled/scale", scale)
    assert status == 200 and scaled["spec"] == {"replicas": 5}
    status, scaled = server.request(
        "PATCH", V1 + "/scaled/scale", {"spec": {"replicas": 4}}, headers=MERGE
    )
    assert status == 200 and scaled["spec"] == {"replicas": 4}
    status, obj = server.request("GET", V1 + "/scaled")
    assert obj["spec"]["size"] == 4
    assert obj["metadata"]["generation"] == 3
    status, answer = server.request(
        "PATCH", V1 + "/scaled/scale", {"spec": {"replicas": 50}}, headers=MERGE
    )
    assert (status, answer["message"]) == (
        422,
        'Widget.example.com "scaled" is invalid: spec.size: Invalid value: 50: spec.size in '
        "body should be less than or equal to 10",
    )


def test_unknown_subresource_is_not_found(server: APIServer) -> None:
    status, answer = server.request("GET", V1 + "/anything/foo")
    assert (status, answer["message"]) == (404, 'widgets.example.com "anything" not found')
    status, answer = server.request("GET", GADGETS + "/g/status")
    assert (status, answer["message"]) == (404, 'gadgets.other.io "g" not found')


def test_strategic_merge_patch_is_not_for_custom_resources(server: APIServer) -> None:
    assert server.request("POST", V1, widget("smp", {"size": 1}))[0] == 201
    status, answer = server.request(
        "PATCH",
        V1 + "/smp",
        {"spec": {"size": 2}},
        headers={"Content-Type": "application/strategic-merge-patch+json"},
    )
    assert (status, answer["message"]) == (
        415,
        "the body of the request was in an unknown format - accepted media types include: "
        "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml",
    )


# --------------------------------------------------------------------------- versions


def test_versions_share_objects_with_the_api_version_rewritten(server: APIServer) -> None:
    body = widget("versioned", {"size": 2})
    body["apiVersion"] = "example.com/v1beta1"
    status, created = server.request("POST", V1BETA1, body)
    assert status == 201, created
    assert created["apiVersion"] == "example.com/v1beta1"
    # Stored as v1, whose schema has no "old": the v1beta1 default does not survive.
    assert created["spec"] == {"color": "red", "defaulted": {"inner": 3}, "size": 2}
    status, as_v1 = server.request("GET", V1 + "/versioned")
    assert status == 200 and as_v1["apiVersion"] == "example.com/v1"
    assert as_v1["spec"] == created["spec"]
    status, listed = server.request("GET", V1BETA1)
    assert listed["kind"] == "WidgetList" and listed["apiVersion"] == "example.com/v1beta1"
    assert {i["apiVersion"] for i in listed["items"]} == {"example.com/v1beta1"}
    as_v1["spec"]["size"] = 3
    status, updated = server.request("PUT", V1 + "/versioned", as_v1)
    assert status == 200 and updated["apiVersion"] == "example.com/v1"


def test_watch_sends_the_requested_version(server: APIServer) -> None:
    assert server.request("POST", V1, widget("watched", {"size": 1}))[0] == 201
    parts = urlsplit(server.url)
    conn = http.client.HTTPSConnection(
        parts.hostname or "", parts.port, context=ssl.create_default_context(cafile=server.ca_file)
    )
    try:
        conn.request(
            "GET",
            V1BETA1 + "?watch=1&timeoutSeconds=2&fieldSelector=metadata.name%3Dwatched",
            headers={"Authorization": f"Bearer {server.admin_token}"},
        )
        line = conn.getresponse().readline()
    finally:
        conn.close()
    event = json.loads(line)
    assert event["type"] == "ADDED"
    assert event["object"]["apiVersion"] == "example.com/v1beta1"
    assert event["object"]["metadata"]["name"] == "watched"


# --------------------------------------------------------------------------- reading


def test_table_has_the_printer_columns(server: APIServer) -> None:
    assert server.request("POST", V1, widget("tabled", {"size": 4, "color": "blue"}))[0] == 201
    status, table = server.request(
        "GET", V1 + "?fieldSelector=metadata.name%3Dtabled", headers=TABLE
    )
    assert status == 200
    assert [
        (c["name"], c["type"], c["format"], c["priority"]) for c in table["columnDefinitions"]
    ] == [
        ("Name", "string", "name", 0),
        ("Size", "integer", "", 0),
        ("Color", "string", "", 1),
        ("Age", "date", "", 0),
    ]
    assert table["columnDefinitions"][1]["description"] == (
        "Custom resource definition column (in JSONPath format): .spec.size"
    )
    (row,) = table["rows"]
    assert row["cells"][:3] == ["tabled", 4, "blue"]
    assert re.fullmatch(r"\d+s", row["cells"][3])
    assert row["object"]["kind"] == "PartialObjectMetadata"
    assert row["object"]["metadata"]["name"] == "tabled"


def test_table_without_columns_has_name_and_age(server: APIServer) -> None:
    status, _ = server.request(
        "POST",
        GADGETS,
        {
            "apiVersion": "other.io/v1alpha1",
            "kind": "Gadget",
            "metadata": {"name": "g1"},
            "anything": {"goes": 1},
        },
    )
    assert status == 201
    status, table = server.request("GET", GADGETS + "/g1", headers=TABLE)
    assert status == 200
    assert [(c["name"], c["type"]) for c in table["columnDefinitions"]] == [
        ("Name", "string"),
        ("Age", "date"),
    ]
    assert table["columnDefinitions"][1]["description"].startswith(
        "CreationTimestamp is a timestamp representing the server time"
    )
    assert table["rows"][0]["cells"][0] == "g1"


def test_unknown_fields_survive_where_the_schema_keeps_them(server: APIServer) -> None:
    body = {
        "apiVersion": "other.io/v1alpha1",
        "kind": "Gadget",
        "metadata": {"name": "g2"},
        "anything": {"goes": [1, {"deep": True}]},
    }
    status, created = server.request("POST", GADGETS, body)
    assert status == 201
    assert created["anything"] == {"goes": [1, {"deep": True}]}
    status, listed = server.request("GET", GADGETS)
    assert listed["kind"] == "GadgetList"
    assert "namespace" not in created["metadata"]


def test_selectable_fields_filter_lists(server: APIServer) -> None:
    for name, color in (("sel-red", "red"), ("sel-blue", "blue")):
        assert server.request("POST", V1, widget(name, {"size": 1, "color": color}))[0] == 201
    status, listed = server.request("GET", V1 + "?fieldSelector=spec.color%3Dblue")
    assert status == 200
    names = [i["metadata"]["name"] for i in listed["items"]]
    assert "sel-blue" in names and "sel-red" not in names
    status, answer = server.request("GET", V1 + "?fieldSelector=spec.size%3D3")
    assert (status, answer["message"]) == (400, "field label not supported: spec.size")
    status, answer = server.request("GET", GADGETS + "?fieldSelector=metadata.namespace%3Dx")
    assert (status, answer["message"]) == (400, "field label not supported: metadata.namespace")


def test_discovery_lists_the_resources_of_each_version(server: APIServer) -> None:
    status, group = server.request("GET", "/apis/example.com")
    assert status == 200
    assert group["versions"] == [
        {"groupVersion": "example.com/v1", "version": "v1"},
        {"groupVersion": "example.com/v1beta1", "version": "v1beta1"},
    ]
    assert group["preferredVersion"] == {"groupVersion": "example.com/v1", "version": "v1"}
    status, listed = server.request("GET", "/apis/example.com/v1")
    assert listed["resources"] == [
        {
            "name": "widgets",
            "singularName": "widget",
            "namespaced": True,
            "kind": "Widget",
            "verbs": [
                "delete",
                "deletecollection",
                "get",
                "list",
                "patch",
                "create",
                "update",
                "watch",
            ],
            "shortNames": ["wd"],
            "categories": ["all", "stuff"],
            "storageVersionHash": "gIwvi5rymmg=",
        },
        {
            "name": "widgets/status",
            "singularName": "",
            "namespaced": True,
            "kind": "Widget",
            "verbs": ["get", "patch", "update"],
        },
        {
            "name": "widgets/scale",
            "singularName": "",
            "namespaced": True,
            "group": "autoscaling",
            "version": "v1",
            "kind": "Scale",
            "verbs": ["get", "patch", "update"],
        },
    ]
    status, beta = server.request("GET", "/apis/example.com/v1beta1")
    assert beta["resources"][0]["storageVersionHash"] == "gIwvi5rymmg="  # the stored version's


def test_aggregated_discovery_has_the_custom_groups(server: APIServer) -> None:
    status, listed = server.request(
        "GET",
        "/apis",
        headers={"Accept": "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"},
    )
    assert status == 200
    groups = {g["metadata"]["name"]: g for g in listed["items"]}
    example = groups["example.com"]
    assert [v["version"] for v in example["versions"]] == ["v1", "v1beta1"]
    (resource,) = example["versions"][0]["resources"]
    assert resource["resource"] == "widgets"
    assert resource["scope"] == "Namespaced"
    assert resource["responseKind"] == {"group": "example.com", "version": "v1", "kind": "Widget"}
    assert resource["shortNames"] == ["wd"]
    assert resource["categories"] == ["all", "stuff"]
    assert resource["subresources"] == [
        {
            "subresource": "status",
            "responseKind": {"group": "example.com", "version": "v1", "kind": "Widget"},
            "verbs": ["get", "patch", "update"],
        },
        {
            "subresource": "scale",
            "responseKind": {"group": "autoscaling", "version": "v1", "kind": "Scale"},
            "verbs": ["get", "patch", "update"],
        },
    ]
    assert groups["other.io"]["versions"][0]["resources"][0]["scope"] == "Cluster"


def test_openapi_documents_describe_the_custom_resource(server: APIServer) -> None:
    def indexed() -> dict[str, Any] | None:
        _, index = server.request("GET", "/openapi/v3")
        return index if "apis/example.com/v1" in index["paths"] else None

    index = wait_for(indexed, "the OpenAPI v3 index")  # kube: about 250 ms after the CRD
    assert "apis/example.com/v1beta1" in index["paths"]
    status, document = server.request(
        "GET", index["paths"]["apis/example.com/v1"]["serverRelativeURL"]
    )
    assert status == 200
    component = document["components"]["schemas"]["com.example.v1.Widget"]
    assert component["x-kubernetes-group-version-kind"] == [
        {"group": "example.com", "kind": "Widget", "version": "v1"}
    ]
    assert component["properties"]["spec"]["properties"]["size"]["maximum"] == 10
    assert "/apis/example.com/v1/namespaces/{namespace}/widgets/{name}/scale" in document["paths"]
    patch = document["paths"]["/apis/example.com/v1/namespaces/{namespace}/widgets/{name}"]["patch"]
    assert "fieldValidation" in [p["name"] for p in patch["parameters"]]  # kubectl apply needs it

    def swagger() -> dict[str, Any] | None:
        _, v2 = server.request("GET", "/openapi/v2")
        return v2 if "com.example.v1beta1.Widget" in v2["definitions"] else None

    v2 = wait_for(swagger, "the OpenAPI v2 document")  # kube: about 1.3 s after the CRD
    assert v2["definitions"]["com.example.v1.Widget"]["x-kubernetes-group-version-kind"] == [
        {"group": "example.com", "kind": "Widget", "version": "v1"}
    ]


def test_openapi_schemas_are_kubes_for_every_schema_construct(server: APIServer) -> None:
    """apiextensions' builder: int-or-string unfolded, TypeMeta and ObjectMeta put in, embedded
    resources completed, nested clauses, CEL rules and selectable fields kept in v3; nullable,
    preserve-unknown-fields, clauses and defaults dropped in v2 (pinned from kube-apiserver)."""
    manifests = Path(__file__).resolve().parent / "manifests"
    crd = yaml.safe_load((manifests / "things-crd.yaml").read_text())
    expected = json.loads((manifests / "things-openapi.json").read_text())
    status, answer = server.request("POST", CRDS, crd)
    assert status == 201, answer
    try:
        versions = ("v1", "v2", "v3")

        def indexed() -> dict[str, Any] | None:
            _, index = server.request("GET", "/openapi/v3")
            paths = index["paths"]
            return index if all(f"apis/probe.io/{v}" in paths for v in versions) else None

        index = wait_for(indexed, "the OpenAPI v3 documents", 20)
        for v in versions:
            url = index["paths"][f"apis/probe.io/{v}"]["serverRelativeURL"]
            document = server.request("GET", url)[1]
            schemas = document["components"]["schemas"]
            assert {k: s for k, s in schemas.items() if "probe" in k} == expected[f"v3 {v}"], v
            assert document["info"] == expected[f"v3 {v} info"]

        def swagger() -> dict[str, Any] | None:
            _, v2 = server.request("GET", "/openapi/v2")
            return v2 if "io.probe.v3.ThingList" in v2["definitions"] else None

        definitions = wait_for(swagger, "the OpenAPI v2 document", 20)["definitions"]
        assert {k: s for k, s in definitions.items() if "probe" in k} == expected["v2"]
    finally:
        server.request("DELETE", f"{CRDS}/things.probe.io")


# --------------------------------------------------------------------------- server-side apply

PORTS_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "ports.ssa.example.com"},
    "spec": {
        "group": "ssa.example.com",
        "scope": "Namespaced",
        "names": {"plural": "ports", "singular": "port", "kind": "Port"},
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "spec": {
                                "type": "object",
                                "properties": {
                                    "ports": {
                                        "type": "array",
                                        "x-kubernetes-list-type": "map",
                                        "x-kubernetes-list-map-keys": ["name", "proto"],
                                        "items": {
                                            "type": "object",
                                            "required": ["name"],
                                            "properties": {
                                                "name": {"type": "string"},
                                                "proto": {"type": "string", "default": "TCP"},
                                                "n": {"type": "integer"},
                                            },
                                        },
                                    },
                                    "tags": {
                                        "type": "array",
                                        "x-kubernetes-list-type": "set",
                                        "items": {"type": "string"},
                                    },
                                    "atom": {
                                        "type": "object",
                                        "x-kubernetes-map-type": "atomic",
                                        "properties": {
                                            "a": {"type": "string"},
                                            "b": {"type": "string"},
                                        },
                                    },
                                    "free": {
                                        "type": "object",
                                        "x-kubernetes-preserve-unknown-fields": True,
                                    },
                                    "ios": {"x-kubernetes-int-or-string": True},
                                },
                            }
                        },
                    }
                },
            }
        ],
    },
}


def test_server_side_apply_merges_by_the_crd_schema(server: APIServer) -> None:
    """Apply on a custom resource uses the CRD's schema: map lists keyed (a key's default
    completes it), sets, atomic maps, conflicts between managers, pruning of what a manager no
    longer applies, and structured-merge-diff's errors for values that do not fit."""
    status, answer = server.request("POST", CRDS, PORTS_CRD)
    assert status == 201, answer
    path = "/apis/ssa.example.com/v1/namespaces/default/ports"
    try:
        wait_for(lambda: server.request("GET", path)[0] == 200, "ports served")
        time.sleep(2.1)  # kube's hold after establishing
        base = {"apiVersion": "ssa.example.com/v1", "kind": "Port", "metadata": {"name": "x"}}

        def apply(manager: str, spec: dict[str, Any], force: bool = False) -> tuple[int, Any]:
            query = f"?fieldManager={manager}" + ("&force=true" if force else "")
            return server.request(
                "PATCH",
                f"{path}/x{query}",
                {**base, "spec": spec},
                headers={"Content-Type": "application/apply-patch+yaml"},
            )

        status, got = apply(
            "a",
            {
                "ports": [{"name": "http", "n": 80}],
                "tags": ["t1"],
                "atom": {"a": "1"},
                "free": {"x": {"y": 1}},
                "ios": 3,
            },
        )
        assert status == 201, got
        assert got["spec"]["ports"] == [{"n": 80, "name": "http", "proto": "TCP"}]
        status, got = apply(
            "b", {"ports": [{"name": "https", "n": 443}], "tags": ["t2"], "free": {"x": {"z": 2}}}
        )
        assert status == 200, got
        assert got["spec"] == {
            "atom": {"a": "1"},
            "free": {"x": {"y": 1, "z": 2}},
            "ios": 3,
            "ports": [
                {"n": 80, "name": "http", "proto": "TCP"},
                {"n": 443, "name": "https", "proto": "TCP"},
            ],
            "tags": ["t1", "t2"],
        }
        status, got = apply("b", {"ports": [{"name": "http", "n": 81}]})
        assert (status, got["message"]) == (
            409,
            'Apply failed with 1 conflict: conflict with "a": .spec.ports[name="http",proto="TCP"].n',
        )
        status, got = apply("b", {"ports": [{"name": "http", "n": 81}], "atom": {"b": "2"}}, True)
        assert status == 200 and got["spec"]["atom"] == {"b": "2"}
        status, got = apply("a", {"tags": ["t1"]})
        assert status == 200
        assert got["spec"] == {
            "atom": {"b": "2"},
            "ports": [{"n": 81, "name": "http", "proto": "TCP"}],
            "tags": ["t1"],
        }
        keys = ("manager", "operation", "fieldsV1")
        managed = [{k: m[k] for k in keys} for m in got["metadata"]["managedFields"]]
        assert managed == [
            {
                "manager": "a",
                "operation": "Apply",
                "fieldsV1": {"f:spec": {"f:tags": {'v:"t1"': {}}}},
            },
            {
                "manager": "b",
                "operation": "Apply",
                "fieldsV1": {
                    "f:spec": {
                        "f:atom": {},
                        "f:ports": {
                            'k:{"name":"http","proto":"TCP"}': {".": {}, "f:n": {}, "f:name": {}}
                        },
                    }
                },
            },
        ]
        prefix = "failed to create typed patch object (/x; ssa.example.com/v1, Kind=Port): "
        for spec, message in [
            (
                {"ports": [{"name": "x", "proto": "UDP", "n": "bad"}]},
                '.spec.ports[name="x",proto="UDP"].n: expected numeric (int or float), got string',
            ),
            (
                {"ports": [{"name": "x"}, {"name": "x"}]},
                '.spec.ports: duplicate entries for key [name="x",proto="TCP"]',
            ),
            ({"tags": ["t", "t"]}, '.spec.tags: duplicate entries for key [="t"]'),
            ({"unknown": 1}, ".spec.unknown: field not declared in schema"),
        ]:
            status, got = apply("a", spec)
            assert (status, got["message"]) == (500, prefix + message), spec
    finally:
        server.request("DELETE", f"{CRDS}/ports.ssa.example.com")


def test_openapi_paths_are_apiextensions_builders(server: APIServer) -> None:
    """The paths of a CRD's documents as apiextensions' builder makes them (operation ids and
    tags, the options' parameters, shared parameters on the path, JSON/YAML bodies only, the
    responses), and in ``/openapi/v2`` with kube's shared ``#/parameters`` references; the
    summary in manifests/widgets-openapi-paths.json is kube-apiserver's."""
    expected = json.loads(
        (Path(__file__).resolve().parent / "manifests" / "widgets-openapi-paths.json").read_text()
    )
    gvs = ("apis/example.com/v1", "apis/other.io/v1alpha1")

    def indexed() -> dict[str, Any] | None:
        _, index = server.request("GET", "/openapi/v3")
        return index if all(gv in index["paths"] for gv in gvs) else None

    index = wait_for(indexed, "the OpenAPI v3 index")

    def swagger() -> dict[str, Any] | None:
        _, v2 = server.request("GET", "/openapi/v2")
        return v2 if "/apis/other.io/v1alpha1/gadgets" in v2["paths"] else None

    v2_paths = wait_for(swagger, "the OpenAPI v2 document")["paths"]
    for gv in gvs:
        document = server.request("GET", index["paths"][gv]["serverRelativeURL"])[1]
        assert document["info"] == {"title": "Kubernetes CRD Swagger", "version": "v0.1.0"}
        assert "security" not in document and "securitySchemes" not in document["components"]
        summary: dict[str, Any] = {}
        for path, item in sorted(document["paths"].items()):
            entry: dict[str, Any] = {"parameters": [p["name"] for p in item.get("parameters", [])]}
            for method, op in sorted(item.items()):
                if method == "parameters":
                    continue
                body = op.get("requestBody")
                entry[method] = {
                    "operationId": op["operationId"],
                    "description": op["description"],
                    "tags": op["tags"],
                    "action": op["x-kubernetes-action"],
                    "gvk": op["x-kubernetes-group-version-kind"],
                    "parameters": [p["name"] for p in op.get("parameters", [])],
                    "body": sorted(body["content"]) if body else None,
                    "bodyRequired": body.get("required") if body else None,
                    "responses": {
                        code: [r["description"], sorted(r.get("content", {}))]
                        for code, r in op["responses"].items()
                    },
                }
            entry["v2"] = {
                method: [
                    p.get("$ref", p.get("name"))
                    for p in (value if method == "parameters" else value.get("parameters", []))
                ]
                for method, value in sorted(v2_paths[path].items())
            }
            summary[path] = entry
        assert summary == expected[gv], gv
