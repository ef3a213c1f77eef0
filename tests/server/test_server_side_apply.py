"""Server-side apply and metadata.managedFields, on both backends.

Every expectation here is what kube-apiserver v1.37.2 answers (``--apiserver=kube``): the
FieldsV1 of each manager (``time`` aside, which only has to be an RFC 3339 second), the 409
that names each conflicting manager and field, ``force``, pruning of what a manager stopped
applying, list semantics from the schema (``map`` by keys, ``set`` by value, ``atomic``),
Update entries from ``fieldManager`` or the User-Agent, and the option checks. kube lists
the causes of a multi-manager conflict in Go map order, so causes are compared as sets.
"""

from __future__ import annotations

import json
import re
import subprocess
from typing import Any

import pytest
from kubernetes import client as k

from constrained_impersonation.testing import APIServer

APPLY = {"Content-Type": "application/apply-patch+yaml"}
MERGE = {"Content-Type": "application/merge-patch+json"}
CMS = "/api/v1/namespaces/default/configmaps"
ROLES = "/apis/rbac.authorization.k8s.io/v1/namespaces/default/roles"
PODS = "/api/v1/namespaces/default/pods"
_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


def configmap(name: str, **fields: Any) -> dict[str, Any]:
    meta = {"name": name, **fields.pop("meta", {})}
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, **fields}


def entry(
    manager: str,
    fields: dict[str, Any],
    operation: str = "Apply",
    api_version: str = "v1",
    *,
    timed: bool = True,
    subresource: str = "",
) -> dict[str, Any]:
    out: dict[str, Any] = {"manager": manager, "operation": operation, "apiVersion": api_version}
    if timed:
        out["time"] = "<time>"
    out["fieldsType"] = "FieldsV1"
    out["fieldsV1"] = fields
    if subresource:
        out["subresource"] = subresource
    return out


def managed(obj: dict[str, Any]) -> list[dict[str, Any]]:
    """The object's managedFields in order, each time checked and replaced by ``<time>``."""
    out = []
    for e in obj["metadata"].get("managedFields", []):
        e = dict(e)
        if "time" in e:
            assert _TIME.fullmatch(e["time"]), e["time"]
            e["time"] = "<time>"
        out.append(e)
    return out


def apply(
    server: APIServer,
    path: str,
    body: dict[str, Any],
    manager: str,
    *,
    force: bool = False,
    query: str = "",
) -> tuple[int, Any]:
    params = f"?fieldManager={manager}" + ("&force=true" if force else "") + query
    return server.request("PATCH", path + params, body, headers=APPLY)


def ok(result: tuple[int, Any], code: int = 200) -> dict[str, Any]:
    status, body = result
    assert status == code, body
    assert isinstance(body, dict)
    return body


def causes(status: dict[str, Any]) -> set[tuple[str, str, str]]:
    return {(c["reason"], c["message"], c["field"]) for c in status["details"]["causes"]}


# --------------------------------------------------------------------------- ownership


def test_updates_record_their_manager_and_applies_conflict_with_them(apiserver: APIServer) -> None:
    created = ok(
        apiserver.request(
            "POST",
            CMS,
            configmap("c1", meta={"labels": {"x": "1"}}, data={"a": "1"}),
            headers={"User-Agent": "my-tool/1.2 (linux)"},
        ),
        201,
    )
    creator = entry(
        "my-tool",
        {"f:data": {".": {}, "f:a": {}}, "f:metadata": {"f:labels": {".": {}, "f:x": {}}}},
        "Update",
    )
    assert managed(created) == [creator]

    applied = ok(apply(apiserver, CMS + "/c1", configmap("c1", data={"a": "1", "b": "2"}), "A"))
    assert applied["data"] == {"a": "1", "b": "2"}
    assert managed(applied) == [entry("A", {"f:data": {"f:a": {}, "f:b": {}}}), creator]

    status, conflict = apply(
        apiserver,
        CMS + "/c1",
        configmap("c1", meta={"labels": {"x": "2"}}, data={"a": "9", "b": "8"}),
        "B",
    )
    assert status == 409
    assert conflict["reason"] == "Conflict" and conflict["code"] == 409
    assert conflict["message"] == (
        'Apply failed with 4 conflicts: conflicts with "A":\n- .data.a\n- .data.b\n'
        'conflicts with "my-tool" using v1:\n- .data.a\n- .metadata.labels.x'
    )
    assert causes(conflict) == {
        ("FieldManagerConflict", 'conflict with "A"', ".data.a"),
        ("FieldManagerConflict", 'conflict with "A"', ".data.b"),
        ("FieldManagerConflict", 'conflict with "my-tool" using v1', ".data.a"),
        ("FieldManagerConflict", 'conflict with "my-tool" using v1', ".metadata.labels.x"),
    }
    assert set(conflict["details"]) == {"causes"}

    # force hands the applied fields over; A stopping to apply "b" then removes nothing of B's,
    # and A's "a" stays (my-tool still owns it).
    forced = ok(apply(apiserver, CMS + "/c1", configmap("c1", data={"b": "8"}), "B", force=True))
    assert forced["data"] == {"a": "1", "b": "8"}
    assert managed(forced) == [
        entry("A", {"f:data": {"f:a": {}}}),
        entry("B", {"f:data": {"f:b": {}}}),
        creator,
    ]
    pruned = ok(apply(apiserver, CMS + "/c1", configmap("c1", data={"c": "3"}), "A"))
    assert pruned["data"] == {"a": "1", "b": "8", "c": "3"}
    assert managed(pruned)[0] == entry("A", {"f:data": {"f:c": {}}})

    # Applying the same configuration again changes nothing: no new resourceVersion.
    again = ok(apply(apiserver, CMS + "/c1", configmap("c1", data={"c": "3"}), "A"))
    assert again["metadata"]["resourceVersion"] == pruned["metadata"]["resourceVersion"]
    assert again["metadata"]["managedFields"] == pruned["metadata"]["managedFields"]

    # Any other write takes ownership of what it changed: A loses "c" and its entry.
    patched = ok(
        apiserver.request("PATCH", CMS + "/c1?fieldManager=M", {"data": {"c": "4"}}, headers=MERGE)
    )
    # Update entries sort by time, then manager: M (now) and my-tool (at the start) trade
    # places when the test crosses a second boundary, on kube as here.
    updates = managed(patched)[1:]
    assert managed(patched)[0] == entry("B", {"f:data": {"f:b": {}}})
    assert sorted(updates, key=lambda e: str(e["manager"])) == [
        entry("M", {"f:data": {"f:c": {}}}, "Update"),
        creator,
    ]


def test_a_manager_stopping_to_apply_a_field_removes_it_unless_someone_else_owns_it(
    apiserver: APIServer,
) -> None:
    path = CMS + "/x1"
    first = configmap(
        "x1",
        meta={"finalizers": ["a.io/x", "b.io/y"], "annotations": {"k": "v"}},
        data={"k": "v"},
    )
    created = ok(apply(apiserver, path, first, "A"), 201)
    owned_by_a = {
        "f:data": {"f:k": {}},
        "f:metadata": {
            "f:annotations": {"f:k": {}},
            "f:finalizers": {'v:"a.io/x"': {}, 'v:"b.io/y"': {}},
        },
    }
    assert managed(created) == [entry("A", owned_by_a)]

    # Applying the value a field already has shares it (no conflict); nothing changed, so B's
    # entry has no time (and sorts first).
    shared = ok(apply(apiserver, path, configmap("x1", data={"k": "v"}), "B"))
    assert managed(shared) == [
        entry("B", {"f:data": {"f:k": {}}}, timed=False),
        entry("A", owned_by_a),
    ]

    replaced = ok(
        apiserver.request(
            "PUT",
            path + "?fieldManager=U",
            configmap(
                "x1",
                meta={
                    "finalizers": ["a.io/x"],
                    "annotations": {"k": "v"},
                    "resourceVersion": shared["metadata"]["resourceVersion"],
                },
                data={"k": "w"},
            ),
        )
    )
    assert managed(replaced) == [
        entry(
            "A",
            {"f:metadata": {"f:annotations": {"f:k": {}}, "f:finalizers": {'v:"a.io/x"': {}}}},
        ),
        entry("U", {"f:data": {"f:k": {}}}, "Update"),
    ]

    emptied = ok(apply(apiserver, path, configmap("x1"), "A"))
    assert "annotations" not in emptied["metadata"] and "finalizers" not in emptied["metadata"]
    assert emptied["data"] == {"k": "w"}
    assert managed(emptied) == [entry("U", {"f:data": {"f:k": {}}}, "Update")]


def test_atomic_lists_conflict_as_a_whole(apiserver: APIServer) -> None:
    role: dict[str, Any] = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {"name": "r1"},
        "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}],
    }
    created = ok(apiserver.request("POST", ROLES, role, headers={"User-Agent": ""}), 201)
    rbac = "rbac.authorization.k8s.io/v1"
    unknown = entry("unknown", {"f:rules": {}}, "Update", rbac)
    assert managed(created) == [unknown]
    same = ok(apply(apiserver, ROLES + "/r1", role, "A"))
    assert managed(same) == [entry("A", {"f:rules": {}}, api_version=rbac, timed=False), unknown]
    role["rules"][0]["verbs"] = ["list"]
    status, conflict = apply(apiserver, ROLES + "/r1", role, "B")
    assert status == 409
    assert conflict["message"] == (
        'Apply failed with 2 conflicts: conflicts with "A":\n- .rules\n'
        f'conflicts with "unknown" using {rbac}:\n- .rules'
    )
    assert causes(conflict) == {
        ("FieldManagerConflict", 'conflict with "A"', ".rules"),
        ("FieldManagerConflict", f'conflict with "unknown" using {rbac}', ".rules"),
    }


def test_list_items_are_owned_by_their_keys(apiserver: APIServer) -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p1"},
        "spec": {
            "containers": [
                {
                    "name": "a",
                    "image": "nginx",
                    "ports": [{"containerPort": 80}],
                    "env": [{"name": "E", "value": "1"}],
                }
            ]
        },
    }
    created = ok(apply(apiserver, PODS + "/p1", pod, "A"), 201)
    container: dict[str, Any] = {
        ".": {},
        "f:env": {'k:{"name":"E"}': {".": {}, "f:name": {}, "f:value": {}}},
        "f:image": {},
        "f:name": {},
        # The key of a port includes the protocol's schema default.
        "f:ports": {'k:{"containerPort":80,"protocol":"TCP"}': {".": {}, "f:containerPort": {}}},
    }
    assert managed(created) == [
        entry("A", {"f:spec": {"f:containers": {'k:{"name":"a"}': container}}})
    ]


def test_associative_lists_merge_by_key_and_keep_the_live_order(apiserver: APIServer) -> None:
    def owner(uid: str, name: str) -> dict[str, Any]:
        return {"apiVersion": "v1", "kind": "ConfigMap", "name": name, "uid": uid}

    path = CMS + "/owned"
    ok(
        apply(
            apiserver, path, configmap("owned", meta={"ownerReferences": [owner("u2", "b")]}), "A"
        ),
        201,
    )
    both = ok(
        apply(
            apiserver,
            path,
            configmap("owned", meta={"ownerReferences": [owner("u1", "a"), owner("u2", "b")]}),
            "B",
        )
    )
    assert [o["uid"] for o in both["metadata"]["ownerReferences"]] == ["u1", "u2"]
    reference: dict[str, Any] = {}  # an owner reference is an atomic struct: owned whole
    assert managed(both) == [
        entry("A", {"f:metadata": {"f:ownerReferences": {'k:{"uid":"u2"}': reference}}}),
        entry(
            "B",
            {
                "f:metadata": {
                    "f:ownerReferences": {'k:{"uid":"u1"}': reference, 'k:{"uid":"u2"}': reference}
                }
            },
        ),
    ]
    # B stops applying u2: A still owns it, so it stays.
    kept = ok(
        apply(
            apiserver, path, configmap("owned", meta={"ownerReferences": [owner("u1", "a")]}), "B"
        )
    )
    assert [o["uid"] for o in kept["metadata"]["ownerReferences"]] == ["u1", "u2"]
    # A stops applying it: nobody owns it any more, it goes.
    gone = ok(apply(apiserver, path, configmap("owned"), "A"))
    assert [o["uid"] for o in gone["metadata"]["ownerReferences"]] == ["u1"]
    assert [e["manager"] for e in managed(gone)] == ["B"]


def test_duplicate_keys_and_wrong_types_are_refused(apiserver: APIServer) -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p2"},
        "spec": {"containers": [{"name": "a", "image": "x"}, {"name": "a", "image": "y"}]},
    }
    status, body = apply(apiserver, PODS + "/p2", pod, "A")
    assert status == 500
    assert body["message"] == (
        "failed to create typed patch object (/p2; /v1, Kind=Pod): .spec.containers: duplicate "
        'entries for key [name="a"]'
    )
    assert "reason" not in body and "details" not in body
    status, body = apply(apiserver, CMS + "/t1", configmap("t1", data={"z": 5}), "A")
    assert status == 500
    assert body["message"] == (
        "failed to create typed patch object (/t1; /v1, Kind=ConfigMap): .data.z: expected "
        "string, got &value.valueUnstructured{Value:5}"
    )


# --------------------------------------------------------------------------- requests


def test_option_and_configuration_errors(apiserver: APIServer) -> None:
    ok(apply(apiserver, CMS + "/o1", configmap("o1"), "A"), 201)

    def invalid(result: tuple[int, Any], kind: str, *items: tuple[str, str, str]) -> None:
        status, body = result
        assert status == 422, body
        assert body["reason"] == "Invalid"
        assert body["details"] == {
            "group": "meta.k8s.io",
            "kind": kind,
            "causes": [{"reason": r, "message": m, "field": f} for f, r, m in items],
        }
        messages = [f"{f}: {m}" for f, _, m in items]
        joined = messages[0] if len(messages) == 1 else "[" + ", ".join(messages) + "]"
        assert body["message"] == f'{kind}.meta.k8s.io "" is invalid: {joined}'

    required = ("fieldManager", "FieldValueRequired", "Required value: is required for apply patch")
    invalid(
        apiserver.request("PATCH", CMS + "/o1", configmap("o1"), headers=APPLY),
        "PatchOptions",
        required,
    )
    invalid(
        apiserver.request("PATCH", CMS + "/o1?fieldManager=a%0Ab", configmap("o1"), headers=APPLY),
        "PatchOptions",
        (
            "fieldManager",
            "FieldValueInvalid",
            'Invalid value: "a\\nb": invalid character U+000A (at position 1)',
        ),
    )
    too_long = ("fieldManager", "FieldValueTooLong", "Too long: may not be more than 128 bytes")
    invalid(
        apiserver.request(
            "POST", CMS + "?fieldManager=" + "x" * 129 + "&dryRun=x", configmap("o9")
        ),
        "CreateOptions",
        too_long,
        ("dryRun", "FieldValueNotSupported", 'Unsupported value: ["x"]: supported values: "All"'),
    )
    invalid(
        apiserver.request("PATCH", CMS + "/o1?force=true", {"data": {}}, headers=MERGE),
        "PatchOptions",
        ("force", "FieldValueForbidden", "Forbidden: may not be specified for non-apply patch"),
    )
    invalid(
        apiserver.request("PUT", CMS + "/o1?fieldValidation=Loose", configmap("o1")),
        "UpdateOptions",
        (
            "fieldValidation",
            "FieldValueNotSupported",
            'Unsupported value: "Loose": supported values: "", "Ignore", "Strict", "Warn"',
        ),
    )

    def bad_request(result: tuple[int, Any], message: str) -> None:
        status, body = result
        assert (status, body["reason"], body["message"]) == (400, "BadRequest", message), body

    bad_request(
        apply(
            apiserver, CMS + "/o1", configmap("o1", meta={"managedFields": [{"manager": "x"}]}), "A"
        ),
        "metadata.managedFields must be nil",
    )
    bad_request(
        apply(apiserver, CMS + "/o1", {**configmap("o1"), "kind": "Secret"}, "A"),
        "invalid object type: /v1, Kind=Secret",
    )
    bad_request(
        apply(
            apiserver,
            ROLES + "/r0",
            {"apiVersion": "rbac.authorization.k8s.io/v1beta1", "kind": "Role"},
            "A",
        ),
        "invalid object type: rbac.authorization.k8s.io/v1beta1, Kind=Role",
    )
    bad_request(
        apply(apiserver, CMS + "/o1", configmap("zz"), "A"),
        "the name of the object (zz) does not match the name on the URL (o1)",
    )
    bad_request(
        apply(apiserver, CMS + "/o2", {"apiVersion": "v1", "kind": "ConfigMap"}, "A"),
        "the name of the object (o2 based on URL) was undeterminable: name must be provided",
    )
    # Any value of force but "false" and "0" means true, as kube decodes query booleans.
    ok(apply(apiserver, CMS + "/o1", configmap("o1", data={"a": "1"}), "B", query="&force=yes"))


def test_managed_fields_sent_with_a_write(apiserver: APIServer) -> None:
    sent = [
        {
            "manager": "foo",
            "operation": "Apply",
            "apiVersion": "v1",
            "fieldsType": "FieldsV1",
            "fieldsV1": {"f:data": {"f:z": {}}},
        }
    ]
    created = ok(
        apiserver.request(
            "POST", CMS, configmap("m1", meta={"managedFields": sent}, data={"z": "1", "y": "2"})
        ),
        201,
    )
    # The create changed .data.z, so foo lost it (and with it its entry).
    assert managed(created) == [
        entry("unknown", {"f:data": {".": {}, "f:y": {}, "f:z": {}}}, "Update")
    ]
    undecodable = ok(
        apiserver.request(
            "POST",
            CMS,
            configmap("m2", meta={"managedFields": [{"manager": "foo", "operation": "Bogus"}]}),
        ),
        201,
    )
    assert "managedFields" not in undecodable["metadata"]
    cleared = ok(
        apiserver.request("PATCH", CMS + "/m1", {"metadata": {"managedFields": []}}, headers=MERGE)
    )
    assert "managedFields" not in cleared["metadata"]
    # An object nobody tracks stays untracked by updates, and an apply first gives what it
    # has to "before-first-apply".
    updated = ok(apiserver.request("PATCH", CMS + "/m1", {"data": {"x": "3"}}, headers=MERGE))
    assert "managedFields" not in updated["metadata"]
    applied = ok(apply(apiserver, CMS + "/m1", configmap("m1", data={"y": "9"}), "A", force=True))
    assert managed(applied) == [
        entry("A", {"f:data": {"f:y": {}}}),
        entry("before-first-apply", {"f:data": {".": {}, "f:x": {}, "f:z": {}}}, "Update"),
    ]


def test_status_writes_are_recorded_with_their_subresource(apiserver: APIServer) -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "s1"},
        "spec": {"containers": [{"name": "a", "image": "nginx"}]},
    }
    ok(apply(apiserver, PODS + "/s1", pod, "A"), 201)
    status_config = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "s1", "labels": {"b": "2"}},
        "spec": {"containers": [{"name": "a", "image": "other"}]},
        "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]},
    }
    applied = ok(apply(apiserver, PODS + "/s1/status", status_config, "kubelet"))
    assert applied["spec"]["containers"][0]["image"] == "nginx"
    kubelet = entry(
        "kubelet",
        {
            "f:metadata": {"f:labels": {"f:b": {}}},
            "f:status": {
                "f:conditions": {'k:{"type":"Ready"}': {".": {}, "f:status": {}, "f:type": {}}},
                "f:phase": {},
            },
        },
        subresource="status",
    )
    assert managed(applied)[1] == kubelet
    merged = ok(
        apiserver.request(
            "PATCH",
            PODS + "/s1/status",
            {"status": {"message": "hi"}},
            headers={**MERGE, "User-Agent": "kubelet/v1.37 (linux/amd64)"},
        )
    )
    assert managed(merged)[1:] == [
        kubelet,
        entry("kubelet", {"f:status": {"f:message": {}}}, "Update", subresource="status"),
    ]


def test_reviews_carry_the_managed_fields_of_their_request(apiserver: APIServer) -> None:
    review = ok(
        apiserver.request(
            "POST",
            "/apis/authorization.k8s.io/v1/subjectaccessreviews",
            {
                "apiVersion": "authorization.k8s.io/v1",
                "kind": "SubjectAccessReview",
                "spec": {"user": "u", "resourceAttributes": {"verb": "get", "resource": "pods"}},
            },
            headers={"User-Agent": "rev/1"},
        ),
        201,
    )
    spec: dict[str, Any] = {
        "f:resourceAttributes": {".": {}, "f:resource": {}, "f:verb": {}},
        "f:user": {},
    }
    assert managed(review) == [entry("rev", {"f:spec": spec}, "Update", "authorization.k8s.io/v1")]
    # A rules review answers a new object: no managedFields.
    rules = ok(
        apiserver.request(
            "POST",
            "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews",
            {
                "apiVersion": "authorization.k8s.io/v1",
                "kind": "SelfSubjectRulesReview",
                "spec": {"namespace": "default"},
            },
        ),
        201,
    )
    assert "managedFields" not in rules["metadata"]
    # A TokenRequest is recorded with its subresource.
    apiserver.apply({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "sa1"}})
    token = ok(
        apiserver.request(
            "POST",
            "/api/v1/namespaces/default/serviceaccounts/sa1/token",
            {
                "apiVersion": "authentication.k8s.io/v1",
                "kind": "TokenRequest",
                "spec": {"audiences": ["x"], "expirationSeconds": 3600},
            },
        ),
        201,
    )
    assert managed(token) == [
        entry(
            "unknown",
            {"f:spec": {"f:audiences": {}, "f:expirationSeconds": {}}},
            "Update",
            "authentication.k8s.io/v1",
            subresource="token",
        )
    ]


# --------------------------------------------------------------------------- clients


def test_python_client_apply(apiserver: APIServer) -> None:
    core = k.CoreV1Api(apiserver.api_client())
    body = configmap("py", data={"a": "1"})
    first = core.patch_namespaced_config_map(
        "py", "default", body, field_manager="py-ctl", _content_type="application/apply-patch+yaml"
    )
    assert [(m.manager, m.operation, m.fields_v1) for m in first.metadata.managed_fields] == [
        ("py-ctl", "Apply", {"f:data": {"f:a": {}}})
    ]
    with pytest.raises(k.ApiException) as err:
        core.patch_namespaced_config_map(
            "py",
            "default",
            configmap("py", data={"a": "2"}),
            field_manager="other",
            _content_type="application/apply-patch+yaml",
        )
    assert err.value.status == 409
    assert json.loads(err.value.body)["message"] == (
        'Apply failed with 1 conflict: conflict with "py-ctl": .data.a'
    )
    taken = core.patch_namespaced_config_map(
        "py",
        "default",
        configmap("py", data={"a": "2"}),
        field_manager="other",
        force=True,
        _content_type="application/apply-patch+yaml",
    )
    assert taken.data == {"a": "2"}
    assert [m.manager for m in taken.metadata.managed_fields] == ["other"]


def _kubectl(server: APIServer) -> str:
    from constrained_impersonation.testing._assets import KubeBinariesNotFound, find_assets

    try:
        binary = find_assets().kubectl
    except KubeBinariesNotFound:
        binary = None
    if binary is None:
        pytest.skip("the kubectl of the pinned release was not built (make kube)")
    return str(binary)


def test_kubectl_apply_server_side(apiserver: APIServer) -> None:
    kubectl = _kubectl(apiserver)
    config = apiserver.kubeconfig()

    def run(manifest: dict[str, Any], *flags: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [kubectl, "--kubeconfig", config, "apply", "--server-side", *flags, "-f", "-"],
            input=json.dumps(manifest),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    manifest = configmap("kc", meta={"namespace": "default"}, data={"a": "1", "b": "2"})
    done = run(manifest)
    assert (done.returncode, done.stdout.strip()) == (0, "configmap/kc serverside-applied"), (
        done.stderr
    )
    manifest["data"] = {"a": "1"}
    assert run(manifest).returncode == 0
    stored = ok(apiserver.request("GET", CMS + "/kc"))
    assert stored["data"] == {"a": "1"}
    assert managed(stored) == [entry("kubectl", {"f:data": {"f:a": {}}})]

    manifest["data"] = {"a": "changed"}
    refused = run(manifest, "--field-manager=other")
    assert refused.returncode == 1
    assert refused.stderr.startswith(
        'error: Apply failed with 1 conflict: conflict with "kubectl": .data.a\n'
        "Please review the fields above"
    ), refused.stderr
    taken = run(manifest, "--field-manager=other", "--force-conflicts")
    assert taken.returncode == 0, taken.stderr
    stored = ok(apiserver.request("GET", CMS + "/kc"))
    assert stored["data"] == {"a": "changed"}
    assert managed(stored) == [entry("other", {"f:data": {"f:a": {}}})]


def test_more_than_ten_update_managers_are_merged_into_ancient_changes(
    apiserver: APIServer,
) -> None:
    ok(apiserver.request("POST", CMS, configmap("cap", data={"base": "v"})), 201)
    for i in range(12):
        last = ok(
            apiserver.request(
                "PATCH",
                f"{CMS}/cap?fieldManager=m{i:02d}",
                {"data": {f"k{i}": "v"}},
                headers=MERGE,
            )
        )
    entries = managed(last)
    assert len(entries) == 10 and all(e["operation"] == "Update" for e in entries)
    assert sorted(e["manager"] for e in entries).count("ancient-changes") == 1
    owned = [k for e in entries for k in e["fieldsV1"]["f:data"] if k != "."]
    assert sorted(owned) == sorted(["f:base"] + [f"f:k{i}" for i in range(12)])


def test_kubectl_moves_from_client_side_to_server_side_apply(apiserver: APIServer) -> None:
    kubectl = _kubectl(apiserver)
    config = apiserver.kubeconfig()

    def run(manifest: dict[str, Any], *flags: str) -> None:
        done = subprocess.run(
            [kubectl, "--kubeconfig", config, "apply", *flags, "-f", "-"],
            input=json.dumps(manifest),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr

    last_applied = "kubectl.kubernetes.io/last-applied-configuration"
    manifest = configmap("mig", meta={"namespace": "default"}, data={"a": "1", "b": "2"})
    run(manifest)
    stored = ok(apiserver.request("GET", CMS + "/mig"))
    assert managed(stored) == [
        entry(
            "kubectl-client-side-apply",
            {
                "f:data": {".": {}, "f:a": {}, "f:b": {}},
                "f:metadata": {"f:annotations": {".": {}, f"f:{last_applied}": {}}},
            },
            "Update",
        )
    ]
    # kubectl hands the client-side manager's fields to "kubectl" (a JSON patch of
    # managedFields), then applies; the annotation stays, kept by "kubectl-last-applied".
    manifest["data"] = {"a": "1", "b": "3"}
    run(manifest, "--server-side")
    stored = ok(apiserver.request("GET", CMS + "/mig"))
    assert stored["data"] == {"a": "1", "b": "3"}
    assert managed(stored) == [
        entry(
            "kubectl-last-applied",
            {"f:metadata": {"f:annotations": {f"f:{last_applied}": {}}}},
            timed=False,  # its apply changed nothing: the annotation had been set already
        ),
        entry("kubectl", {"f:data": {"f:a": {}, "f:b": {}}}),
    ]
    assert stored["metadata"]["annotations"][last_applied] == (
        '{"apiVersion":"v1","data":{"a":"1","b":"3"},"kind":"ConfigMap",'
        '"metadata":{"name":"mig","namespace":"default"}}\n'
    )
    manifest["data"] = {"a": "9"}
    run(manifest, "--server-side")
    stored = ok(apiserver.request("GET", CMS + "/mig"))
    assert stored["data"] == {"a": "9"}
    assert managed(stored)[1] == entry("kubectl", {"f:data": {"f:a": {}}})


def test_fields_the_server_sets_after_recording_belong_to_nobody(apiserver: APIServer) -> None:
    namespace = ok(
        apiserver.request(
            "POST",
            "/api/v1/namespaces",
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "fz"}},
        ),
        201,
    )
    labels: dict[str, Any] = {
        "f:metadata": {"f:labels": {".": {}, "f:kubernetes.io/metadata.name": {}}}
    }
    assert namespace["spec"] == {"finalizers": ["kubernetes"]}
    assert managed(namespace) == [entry("unknown", labels, "Update")]
    namespace["spec"]["finalizers"] = ["example.com/x"]
    finalized = ok(
        apiserver.request(
            "PUT", "/api/v1/namespaces/fz/finalize", namespace, headers={"User-Agent": "ns-ctl/1"}
        )
    )
    assert managed(finalized) == [
        entry("ns-ctl", {"f:spec": {"f:finalizers": {}}}, "Update", subresource="finalize"),
        entry("unknown", labels, "Update"),
    ]
    pod = ok(
        apiserver.request(
            "POST",
            PODS,
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": "plain"},
                "spec": {"containers": [{"name": "a", "image": "nginx"}]},
            },
        ),
        201,
    )
    # Defaults of the scheme are the creator's; the priority (admission) is nobody's.
    container: dict[str, Any] = {
        ".": {},
        "f:image": {},
        "f:imagePullPolicy": {},
        "f:name": {},
        "f:resources": {},
        "f:terminationMessagePath": {},
        "f:terminationMessagePolicy": {},
    }
    spec = {
        "f:containers": {'k:{"name":"a"}': container},
        "f:dnsPolicy": {},
        "f:enableServiceLinks": {},
        "f:restartPolicy": {},
        "f:schedulerName": {},
        "f:securityContext": {},
        "f:terminationGracePeriodSeconds": {},
    }
    assert managed(pod) == [entry("unknown", {"f:spec": spec}, "Update")]
