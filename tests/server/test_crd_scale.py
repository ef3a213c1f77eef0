"""The ``scale`` subresource of custom resources, pinned to kube-apiserver's answers.

apiextensions-apiserver serves it with an ``autoscaling/v1`` Scale read from the version's
replicas paths, writes only the spec replicas through the custom resource's own write path,
and tracks field ownership through ``ScaleHandler`` (the owners of the replicas path become
owners of ``.spec.replicas`` and back). Its codec and field manager have quirks the tests pin
as kube answers them: any undecodable ``PUT`` body is ``no kind is registered for the type
v1.Scale``, a patched Scale that does not decode is a 422 naming the patched JSON, and a
server-side apply only succeeds when an owner exists and the replicas do not change.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from constrained_impersonation.testing import APIServer

from .test_crd_resources import CRDS, V1, V1BETA1, raw, wait_for, widget, widgets_crd

SCALERS = "/apis/scale.example.com/v1/namespaces/default/scalers"
MERGE = {"Content-Type": "application/merge-patch+json"}
JSON_PATCH = {"Content-Type": "application/json-patch+json"}
APPLY = {"Content-Type": "application/apply-patch+yaml"}
NO_KIND = 'no kind is registered for the type v1.Scale in scheme "pkg/runtime/scheme.go:111"'
CONVERT = "request to convert CR to an invalid group/version: autoscaling/v1"

SCALERS_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "scalers.scale.example.com"},
    "spec": {
        "group": "scale.example.com",
        "scope": "Namespaced",
        "names": {"plural": "scalers", "kind": "Scaler"},
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "subresources": {
                    "scale": {
                        "specReplicasPath": ".spec.replicas",
                        "statusReplicasPath": ".status.replicas",
                        "labelSelectorPath": ".status.sel",
                    }
                },
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "spec": {
                                "type": "object",
                                "x-kubernetes-preserve-unknown-fields": True,
                            },
                            "status": {
                                "type": "object",
                                "x-kubernetes-preserve-unknown-fields": True,
                            },
                        },
                    }
                },
            }
        ],
    },
}


@pytest.fixture(scope="module")
def server(apiserver_class: Callable[..., Any]) -> Iterator[APIServer]:
    with apiserver_class() as s:
        for body, path in ((widgets_crd(), V1), (SCALERS_CRD, SCALERS)):
            status, answer = s.request("POST", CRDS, body)
            assert status == 201, answer
            wait_for(lambda path=path: s.request("GET", path)[0] == 200, f"{path} served")
        time.sleep(2.1)  # kube's hold after establishing
        yield s


def scale(name: str, replicas: Any, **meta: Any) -> dict[str, Any]:
    return {
        "apiVersion": "autoscaling/v1",
        "kind": "Scale",
        "metadata": {"name": name, **meta},
        "spec": {"replicas": replicas},
    }


def owners(server: APIServer, path: str) -> list[tuple[Any, ...]]:
    """(manager, operation, apiVersion, subresource, fields, has a time) of each entry."""
    status, obj = server.request("GET", path)
    assert status == 200, obj
    return [
        (
            m["manager"],
            m["operation"],
            m["apiVersion"],
            m.get("subresource"),
            m["fieldsV1"],
            "time" in m,
        )
        for m in obj["metadata"].get("managedFields", [])
    ]


def message(answer: dict[str, Any]) -> tuple[int, str]:
    return answer["code"], answer["message"]


SIZE = {"f:spec": {"f:size": {}}}
CREATED = {"f:spec": {".": {}, "f:color": {}, "f:defaulted": {".": {}, "f:inner": {}}}}


def test_get_reads_the_replicas_paths(server: APIServer) -> None:
    status, created = server.request("POST", V1, widget("get", {"size": 3}))
    assert status == 201, created
    status, got = server.request("GET", V1 + "/get/scale")
    meta = created["metadata"]
    assert (status, got) == (
        200,
        {
            "kind": "Scale",
            "apiVersion": "autoscaling/v1",
            "metadata": {
                "name": "get",
                "namespace": "default",
                "uid": meta["uid"],
                "resourceVersion": meta["resourceVersion"],
                "creationTimestamp": meta["creationTimestamp"],
            },
            "spec": {"replicas": 3},
            "status": {"replicas": 0},
        },
    )
    status, got = server.request("GET", V1 + "/nope/scale")
    assert message(got) == (404, 'widgets.example.com "nope" not found')


def test_updates_own_the_replicas_under_the_scale_subresource(server: APIServer) -> None:
    server.request("POST", V1, widget("own", {"size": 3}))
    created = ("unknown", "Update", "example.com/v1", None)
    assert owners(server, V1 + "/own") == [
        (*created, {"f:spec": {**CREATED["f:spec"], "f:size": {}}}, True)
    ]
    status, got = server.request("PUT", V1 + "/own/scale?fieldManager=m", scale("own", 4))
    assert status == 200 and got["spec"] == {"replicas": 4}
    assert owners(server, V1 + "/own") == [
        ("m", "Update", "example.com/v1", "scale", SIZE, False),
        (*created, CREATED, True),
    ]
    # A body without apiVersion or kind is written, but its field manager cannot type it.
    status, got = server.request(
        "PUT", V1 + "/own/scale", {"metadata": {"name": "own"}, "spec": {"replicas": 2}}
    )
    assert status == 200 and got["spec"] == {"replicas": 2}
    assert owners(server, V1 + "/own")[0][0] == "m"
    status, got = server.request(
        "PATCH", V1BETA1 + "/own/scale?fieldManager=beta", {"spec": {"replicas": 6}}, headers=MERGE
    )
    assert status == 200 and got["spec"] == {"replicas": 6}
    assert owners(server, V1 + "/own") == [
        ("beta", "Update", "example.com/v1beta1", "scale", SIZE, False),
        (*created, CREATED, True),
    ]
    status, got = server.request(
        "PATCH",
        V1 + "/own?fieldManager=mainssa",
        {**widget("own", {"size": 2})},
        headers=APPLY,
    )
    assert message(got) == (
        409,
        'Apply failed with 1 conflict: conflict with "beta" with subresource "scale" using '
        "example.com/v1beta1: .spec.size",
    )


def test_put_bodies_are_decoded_as_the_scale_scheme_decodes_them(server: APIServer) -> None:
    server.request("POST", V1, widget("put", {"size": 3}))
    path = V1 + "/put/scale"
    for body in (
        {**scale("put", 2), "apiVersion": "autoscaling/v2"},
        {**scale("put", 2), "kind": "Foo"},
        scale("put", 2.5),
        scale("put", "x"),
        [],
    ):
        status, got = server.request("PUT", path, body)
        assert message(got) == (400, NO_KIND), body
    status, got = server.request(
        "PUT", path + "?fieldValidation=Strict", {**scale("put", 2), "x": 1}
    )
    assert message(got) == (400, NO_KIND)
    status, got, warnings = raw(server, "PUT", path, {**scale("put", 2), "x": 1})
    assert status == 200 and warnings == ['299 - "unknown field \\"x\\""']
    for body, text in (
        (
            {**scale("put", 2), "metadata": {}},
            "the name of the object (put based on URL) was undeterminable: name must be provided",
        ),
        (
            scale("other", 2),
            "the name of the object (other) does not match the name on the URL (put)",
        ),
        (
            scale("put", 2, namespace="elsewhere"),
            "the namespace of the provided object does not match the namespace sent on the request",
        ),
        (scale("put", 2, resourceVersion="abc"), None),
    ):
        status, got = server.request("PUT", path, body)
        if text is None:
            assert (got["code"], got.get("reason"), got["message"]) == (
                500,
                None,
                'strconv.ParseUint: parsing "abc": invalid syntax',
            )
        else:
            assert message(got) == (400, text)
    status, got = server.request("PUT", path, scale("put", 2, resourceVersion="1"))
    assert message(got) == (
        409,
        'Operation cannot be fulfilled on widgets.example.com "put": the object has been '
        "modified; please apply your changes to the latest version and try again",
    )
    status, got = server.request("PUT", path, scale("put", 50))
    assert message(got) == (
        422,
        'Widget.example.com "put" is invalid: spec.size: Invalid value: 50: spec.size in body '
        "should be less than or equal to 10",
    )
    status, got = server.request("PUT", path + "?dryRun=All", scale("put", 7))
    assert status == 200 and got["spec"] == {"replicas": 7}
    assert server.request("GET", V1 + "/put")[1]["spec"]["size"] == 2


def test_patched_scales_that_do_not_decode_name_the_patched_json(server: APIServer) -> None:
    server.request("POST", V1, widget("patched", {"size": 3}))
    server.request("PUT", V1 + "/patched/scale?fieldManager=m", scale("patched", 4))
    meta = server.request("GET", V1 + "/patched")[1]["metadata"]
    entry = {
        "manager": "m",
        "operation": "Update",
        "apiVersion": "autoscaling/v1",
        "fieldsType": "FieldsV1",
        "fieldsV1": {"f:spec": {"f:replicas": {}}},
        "subresource": "scale",
    }
    patched = {
        "apiVersion": "autoscaling/v1",
        "kind": "Foo",
        "metadata": {
            "name": "patched",
            "namespace": "default",
            "uid": meta["uid"],
            "resourceVersion": meta["resourceVersion"],
            "creationTimestamp": meta["creationTimestamp"],
            "managedFields": [entry],
        },
        "spec": {"replicas": 4},
        "status": {"replicas": 0},
    }
    why = 'no kind "Foo" is registered for version "autoscaling/v1" in scheme "pkg/runtime/scheme.go:111"'  # fmt: skip
    detail = f"Invalid value: {json.dumps(json.dumps(patched, separators=(',', ':')))}: {why}"
    status, got = server.request("PATCH", V1 + "/patched/scale", {"kind": "Foo"}, headers=MERGE)
    assert (status, got["reason"], got["message"], got["details"]) == (
        422,
        "Invalid",
        f' "" is invalid: patch: {detail}',
        {"causes": [{"reason": "FieldValueInvalid", "message": detail, "field": "patch"}]},
    )
    for patch, headers, tail in (
        (
            {"spec": {"replicas": "x"}},
            MERGE,
            "json: cannot unmarshal string into Go struct field ScaleSpec.spec.replicas of type "
            "int32",
        ),
        (
            [{"op": "replace", "path": "/spec/replicas", "value": 2.5}],
            JSON_PATCH,
            "json: cannot unmarshal number 2.5 into Go struct field ScaleSpec.spec.replicas of "
            "type int32",
        ),
        ({"x": 1}, MERGE, None),
    ):
        query = "?fieldValidation=Strict" if tail is None else ""
        status, got = server.request("PATCH", V1 + "/patched/scale" + query, patch, headers=headers)
        assert got["message"].startswith(' "" is invalid: patch: Invalid value: "{'), patch
        assert got["message"].endswith(tail or 'strict decoding error: unknown field "x"'), patch
    status, got = server.request(
        "PATCH",
        V1 + "/patched/scale",
        [{"op": "remove", "path": "/spec/nothing"}],
        headers=JSON_PATCH,
    )
    assert (status, got["message"], got["details"]) == (
        422,
        "the server rejected our request due to an error in our request",
        {},
    )
    status, got = server.request(
        "PATCH",
        V1 + "/patched/scale",
        {"spec": {"replicas": 2}},
        headers={"Content-Type": "text/x"},
    )
    assert message(got) == (
        415,
        "the body of the request was in an unknown format - accepted media types include: "
        "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml",
    )
    status, got = server.request(
        "PATCH", V1 + "/patched/scale", {"metadata": {"name": "b"}}, headers=MERGE
    )
    assert message(got) == (
        400,
        "the name of the object (b) does not match the name on the URL (patched)",
    )


def test_server_side_apply_succeeds_only_without_a_change(server: APIServer) -> None:
    server.request("POST", V1, widget("ssa", {"size": 3}))
    path = V1 + "/ssa/scale?fieldManager="
    applied = {"apiVersion": "autoscaling/v1", "kind": "Scale", "spec": {"replicas": 3}}
    server.request("PUT", V1 + "/ssa/scale?fieldManager=m", scale("ssa", 4))
    status, got = server.request("PATCH", path + "a", {**applied, "kind": "Foo"}, headers=APPLY)
    assert message(got) == (400, "invalid object type: autoscaling/v1, Kind=Foo")
    status, got = server.request(
        "PATCH", path + "a", {**applied, "spec": {"replicas": 4}}, headers=APPLY
    )
    assert status == 200 and got["spec"] == {"replicas": 4}
    assert owners(server, V1 + "/ssa")[0] == ("a", "Apply", "example.com/v1", "scale", SIZE, False)
    status, got = server.request("PATCH", path + "b", applied, headers=APPLY)
    assert message(got) == (
        409,
        'Apply failed with 2 conflicts: conflicts with "a" with subresource "scale":\n'
        "- .spec.replicas\n"
        'conflicts with "m" with subresource "scale" using autoscaling/v1:\n'
        "- .spec.replicas",
    )
    status, got = server.request("PATCH", path + "b&force=true", applied, headers=APPLY)
    assert (got["code"], got.get("reason"), got["message"]) == (
        500,
        None,
        "failed to convert new object (/; autoscaling/v1, Kind=Scale) to proper version: "
        + CONVERT,
    )
    server.request("PATCH", V1 + "/ssa?fieldManager=x", {"spec": {"size": 5}}, headers=MERGE)
    status, got = server.request("PATCH", path + "a", applied, headers=APPLY)
    assert message(got) == (
        409,
        'Apply failed with 1 conflict: conflict with "x" using autoscaling/v1: .spec.replicas',
    )


def test_methods_and_missing_replicas(server: APIServer) -> None:
    server.request("POST", V1, widget("methods", {"size": 3}))
    for method, action in (("POST", "create"), ("DELETE", "delete")):
        status, got = server.request(method, V1 + "/methods/scale", scale("methods", 1))
        assert (status, got["reason"], got["message"], got["details"]) == (
            405,
            "MethodNotAllowed",
            f'{action} is not supported on resources of kind "widgets.example.com"',
            {"group": "example.com", "kind": "widgets"},
        )
    status, created = server.request(
        "POST",
        SCALERS,
        {"apiVersion": "scale.example.com/v1", "kind": "Scaler", "metadata": {"name": "n"}},
    )
    assert status == 201, created
    status, got = server.request("GET", SCALERS + "/n/scale")
    assert (status, got["reason"], got["message"], got["details"]) == (
        500,
        "InternalError",
        'Internal error occurred: the spec replicas field ".spec.replicas" does not exist',
        {"causes": [{"message": 'the spec replicas field ".spec.replicas" does not exist'}]},
    )
    status, got = server.request(
        "PATCH", SCALERS + "/n/scale", {"metadata": {"labels": {"a": "b"}}}, headers=MERGE
    )
    assert message(got) == (400, 'the spec replicas field ".spec.replicas" cannot be empty')
    status, got = server.request(
        "PATCH", SCALERS + "/n/scale", {"spec": {"replicas": 0}}, headers=MERGE
    )
    assert status == 200 and got["spec"] == {} and got["status"] == {"replicas": 0}
    assert server.request("GET", SCALERS + "/n")[1]["spec"] == {"replicas": 0}
    # Nobody owns the replicas (the scale write was not tracked): apply has no owner to start from.
    status, got = server.request(
        "PATCH",
        SCALERS + "/n/scale?fieldManager=a",
        {"apiVersion": "autoscaling/v1", "kind": "Scale", "spec": {"replicas": 0}},
        headers=APPLY,
    )
    assert (got["code"], got.get("reason"), got["message"]) == (
        500,
        None,
        "failed to create manager for existing fields: failed to convert live object "
        f"(/; autoscaling/v1, Kind=Scale) to proper version: {CONVERT}",
    )
    status, got = server.request(
        "PATCH",
        SCALERS + "/n",
        {"status": {"replicas": 2, "sel": "app=x"}},
        headers=MERGE,
    )
    assert status == 200, got
    assert server.request("GET", SCALERS + "/n/scale")[1]["status"] == {
        "replicas": 2,
        "selector": "app=x",
    }
