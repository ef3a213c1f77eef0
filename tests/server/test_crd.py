"""CustomResourceDefinitions themselves, on both backends: validation, status, deletion.

Every message here is what kube-apiserver v1.37.2 answers (``--apiserver=kube``): the 422s
of apiextensions' CRD validation (worded over its internal form, hence
``spec.validation.openAPIV3Schema...`` for a one-version CRD), the status a CRD is created
with and the conditions its controllers set, and the finalizing deletion that removes the
custom resources before the CRD. kube serves a new CRD's resource a few milliseconds after the
create returns (the embedded server before its next request), so tests wait for it.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from constrained_impersonation.testing import APIServer

CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
OPEN = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
MERGE = {"Content-Type": "application/merge-patch+json"}


def crd(
    plural: str = "widgets",
    kind: str = "Widget",
    group: str = "example.com",
    schema: dict[str, Any] | None = None,
    **spec: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{group}"},
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": {"plural": plural, "kind": kind},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": schema or OPEN},
                }
            ],
        },
    }
    body["spec"].update(spec)
    return body


def wait_for(check: Callable[[], Any], what: str, timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def established(server: APIServer, name: str) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        status, obj = server.request("GET", f"{CRDS}/{name}")
        conditions = (obj.get("status") or {}).get("conditions") or [] if status == 200 else []
        ok = any(c["type"] == "Established" and c["status"] == "True" for c in conditions)
        return obj if ok else None

    result: dict[str, Any] = wait_for(check, f"{name} to be established")
    return result


def served(server: APIServer, path: str) -> None:
    wait_for(lambda: server.request("GET", path)[0] == 200, f"{path} to be served")


def create(server: APIServer, body: dict[str, Any]) -> dict[str, Any]:
    status, obj = server.request("POST", CRDS, body)
    assert status == 201, obj
    established(server, body["metadata"]["name"])
    spec = body["spec"]
    version = spec["versions"][0]["name"]
    plural = spec["names"]["plural"]
    if spec.get("scope", "Namespaced") == "Namespaced":
        path = f"/apis/{spec['group']}/{version}/namespaces/default/{plural}"
    else:
        path = f"/apis/{spec['group']}/{version}/{plural}"
    served(server, path)
    result: dict[str, Any] = obj
    return result


@pytest.fixture(scope="module")
def server(apiserver_class: Callable[..., Any]) -> Iterator[APIServer]:
    with apiserver_class() as s:
        yield s


# --------------------------------------------------------------------------- validation


def _case(name: str, body: dict[str, Any], message: str) -> Any:
    return pytest.param(body, message, id=name)


def _with(body: dict[str, Any], change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    body = copy.deepcopy(body)
    change(body)
    return body


def _spec(schema: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": {"spec": schema}}


_PREFIX = 'CustomResourceDefinition.apiextensions.k8s.io "widgets.example.com" is invalid: '
_ROOT = "spec.validation.openAPIV3Schema"
_DNS1035 = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with "
    "an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or "
    "'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
)
_V1_NOT_STORED = (
    '[{"Name":"v1","Served":true,"Storage":false,"Deprecated":false,"DeprecationWarning":null,'
    '"Schema":null,"Subresources":null,"AdditionalPrinterColumns":null,"SelectableFields":null}]'
)

INVALID = [
    _case(
        "name-not-plural-dot-group",
        _with(crd(), lambda b: b["metadata"].update(name="foo.example.com")),
        'CustomResourceDefinition.apiextensions.k8s.io "foo.example.com" is invalid: '
        'metadata.name: Invalid value: "foo.example.com": must be spec.names.plural+"."+'
        "spec.group",
    ),
    _case(
        "no-storage-version",
        _with(crd(), lambda b: b["spec"]["versions"][0].update(storage=False)),
        _PREFIX + f"[spec.versions: Invalid value: {_V1_NOT_STORED}: must have exactly one "
        "version marked as storage version, status.storedVersions: Invalid value: null: must "
        "have at least one stored version]",
    ),
    _case(
        "no-versions",
        _with(crd(), lambda b: b["spec"].update(versions=[])),
        _PREFIX + "[spec.versions: Invalid value: []: must have exactly one version marked as "
        "storage version, status.storedVersions: Invalid value: null: must have at least one "
        "stored version]",
    ),
    _case(
        "no-schema",
        _with(crd(), lambda b: b["spec"]["versions"][0].pop("schema")),
        _PREFIX + "spec.versions[0].schema.openAPIV3Schema: Required value",
    ),
    _case(
        "group-without-dot",
        crd(group="example"),
        'CustomResourceDefinition.apiextensions.k8s.io "widgets.example" is invalid: '
        'spec.group: Invalid value: "example": should be a domain with at least one dot',
    ),
    _case(
        "field-without-type",
        crd(schema=_spec({"properties": {"a": {"type": "string"}}})),
        _PREFIX + f"{_ROOT}.properties[spec].type: Required value: must not be empty for "
        "specified object fields",
    ),
    _case(
        "unknown-type",
        crd(schema=_spec({"type": "object", "properties": {"a": {"type": "str"}}})),
        _PREFIX + f'{_ROOT}.properties[spec].properties[a].type: Unsupported value: "str": '
        'supported values: "array", "boolean", "integer", "number", "object", "string"',
    ),
    _case(
        "unknown-scope",
        _with(crd(), lambda b: b["spec"].update(scope="Global")),
        _PREFIX + 'spec.scope: Unsupported value: "Global": supported values: "Cluster", '
        '"Namespaced"',
    ),
    _case(
        "printer-column",
        _with(
            crd(),
            lambda b: b["spec"]["versions"][0].update(
                additionalPrinterColumns=[{"name": "Size", "type": "int", "jsonPath": "spec.size"}]
            ),
        ),
        _PREFIX + '[spec.additionalPrinterColumns[0].type: Invalid value: "int": must be one '
        "of boolean,date,integer,number,string, spec.additionalPrinterColumns[0].JSONPath: "
        'Invalid value: "spec.size": must be a simple json path starting with .]',
    ),
    _case(
        "default-of-wrong-type",
        crd(
            schema=_spec({"type": "object", "properties": {"a": {"type": "string", "default": 5}}})
        ),
        _PREFIX + f"{_ROOT}.properties[spec].properties[a].default: Invalid value: "
        '"integer":  in body must be of type string: "integer"',
    ),
    _case(
        "default-not-pruned",
        crd(
            schema=_spec(
                {"type": "object", "properties": {"a": {"type": "object", "default": {"x": 1}}}}
            )
        ),
        _PREFIX + f'{_ROOT}.properties[spec].properties[a].default: Invalid value: {{"x":1}}: '
        "must not have unknown fields",
    ),
    _case(
        "default-not-in-enum",
        crd(
            schema=_spec(
                {
                    "type": "object",
                    "properties": {"a": {"type": "string", "enum": ["a", "b"], "default": "c"}},
                }
            )
        ),
        _PREFIX + f'{_ROOT}.properties[spec].properties[a].default: Unsupported value: "c": '
        'supported values: "a", "b"',
    ),
    _case(
        "default-missing-required",
        crd(
            schema=_spec(
                {
                    "type": "object",
                    "required": ["a"],
                    "properties": {"a": {"type": "string"}},
                    "default": {},
                }
            )
        ),
        _PREFIX + f"{_ROOT}.properties[spec].default.a: Required value",
    ),
    _case(
        "metadata-constrained",
        crd(
            schema={
                "type": "object",
                "properties": {
                    "metadata": {"type": "object", "properties": {"labels": {"type": "object"}}}
                },
            }
        ),
        _PREFIX + f"{_ROOT}.properties[metadata]: Forbidden: must not specify anything other "
        "than name and generateName, but metadata is implicitly specified",
    ),
    _case(
        "array-without-items",
        crd(schema=_spec({"type": "array"})),
        _PREFIX + f"{_ROOT}.properties[spec].items: Required value: must be specified",
    ),
    _case(
        "pattern-go-cannot-compile",
        crd(schema=_spec({"type": "string", "pattern": "(?=a)"})),
        _PREFIX + f'{_ROOT}.properties[spec].pattern: Invalid value: "(?=a)": must be a valid '
        "regular expression, but isn't: error parsing regexp: invalid or unsupported Perl "
        "syntax: `(?=`",
    ),
    _case(
        "scale-path",
        _with(
            crd(),
            lambda b: b["spec"]["versions"][0].update(
                subresources={
                    "scale": {
                        "specReplicasPath": "spec.replicas",
                        "statusReplicasPath": ".status.replicas",
                    }
                }
            ),
        ),
        _PREFIX + 'spec.subresources.scale.specReplicasPath: Invalid value: "spec.replicas": '
        "must be a simple json path starting with .",
    ),
    _case(
        "version-name",
        _with(crd(), lambda b: b["spec"]["versions"][0].update(name="V1")),
        _PREFIX + f'[spec.versions[0].name: Invalid value: "V1": {_DNS1035}, spec.version: '
        f'Invalid value: "V1": {_DNS1035}]',
    ),
    _case(
        "no-kind",
        _with(crd(), lambda b: b["spec"]["names"].update(kind="")),
        _PREFIX + "[spec.names.singular: Required value, spec.names.kind: Required value, "
        "spec.names.listKind: Required value]",
    ),
    _case(
        "list-kind-is-kind",
        _with(crd(), lambda b: b["spec"]["names"].update(listKind="Widget")),
        _PREFIX + 'spec.names.listKind: Invalid value: "Widget": kind and listKind may not be '
        "the same",
    ),
    _case(
        "short-name-and-category",
        _with(crd(), lambda b: b["spec"]["names"].update(shortNames=["W_1"], categories=["All"])),
        _PREFIX + f'[spec.names.shortNames[0]: Invalid value: "W_1": {_DNS1035}, '
        f'spec.names.categories[0]: Invalid value: "All": {_DNS1035}]',
    ),
    _case(
        "preserve-unknown-false",
        crd(schema=_spec({"type": "object", "x-kubernetes-preserve-unknown-fields": False})),
        _PREFIX + f"{_ROOT}.properties[spec].x-kubernetes-preserve-unknown-fields: Invalid "
        "value: false: must be true or undefined",
    ),
    _case(
        "additional-properties-at-root",
        crd(schema={"type": "object", "additionalProperties": {"type": "string"}}),
        _PREFIX + f"{_ROOT}.additionalProperties: Forbidden: must not be used at the root",
    ),
    _case(
        "properties-and-additional-properties",
        crd(
            schema=_spec(
                {
                    "type": "object",
                    "properties": {"a": {"type": "string"}},
                    "additionalProperties": {"type": "string"},
                }
            )
        ),
        _PREFIX + f"{_ROOT}.properties[spec].additionalProperties: Forbidden: "
        "additionalProperties and properties are mutual exclusive",
    ),
    _case(
        "root-not-object",
        crd(schema={"type": "string"}),
        _PREFIX + f'{_ROOT}.type: Invalid value: "string": must be object at the root',
    ),
    _case(
        "any-of-int-or-string-without-the-marker",
        crd(
            schema=_spec(
                {
                    "type": "object",
                    "properties": {"a": {"anyOf": [{"type": "integer"}, {"type": "string"}]}},
                }
            )
        ),
        _PREFIX + f"{_ROOT}.properties[spec].properties[a].type: Required value: must not be "
        "empty for specified object fields",
    ),
    _case(
        "protected-group",
        crd(group="test.k8s.io"),
        'CustomResourceDefinition.apiextensions.k8s.io "widgets.test.k8s.io" is invalid: '
        "metadata.annotations[api-approved.kubernetes.io]: Required value: protected groups "
        'must have approval annotation "api-approved.kubernetes.io", see '
        "https://github.com/kubernetes/enhancements/pull/1111",
    ),
    _case(
        "preserve-unknown-fields-spec",
        crd(preserveUnknownFields=True),
        _PREFIX + "spec.preserveUnknownFields: Invalid value: true: cannot set to true, set "
        "x-kubernetes-preserve-unknown-fields to true in spec.versions[*].schema instead",
    ),
    _case(
        "webhook-conversion-without-webhook",
        crd(conversion={"strategy": "Webhook"}),
        _PREFIX + "[spec.conversion.webhookClientConfig: Required value: required when "
        "strategy is set to Webhook, spec.conversion.conversionReviewVersions: Required value]",
    ),
]


@pytest.mark.parametrize(("body", "message"), INVALID)
def test_invalid_crd_is_refused_with_kubes_message(
    server: APIServer, body: dict[str, Any], message: str
) -> None:
    status, answer = server.request("POST", CRDS, body)
    assert status == 422, answer
    assert answer["reason"] == "Invalid"
    assert answer["message"] == message
    assert answer["details"]["kind"] == "CustomResourceDefinition"
    assert answer["details"]["group"] == "apiextensions.k8s.io"


def test_invalid_crd_causes_name_each_field(server: APIServer) -> None:
    body = _with(crd(), lambda b: b["spec"]["names"].update(kind=""))
    status, answer = server.request("POST", CRDS, body)
    assert status == 422
    assert answer["details"]["causes"] == [
        {"reason": "FieldValueRequired", "message": "Required value", "field": f"spec.names.{f}"}
        for f in ("singular", "kind", "listKind")
    ]


def test_two_storage_versions_are_printed_as_go_prints_the_internal_type(
    server: APIServer,
) -> None:
    body = crd()
    second = copy.deepcopy(body["spec"]["versions"][0])
    second["name"] = "v2"
    second["schema"] = {"openAPIV3Schema": {"type": "object"}}
    body["spec"]["versions"].append(second)
    status, answer = server.request("POST", CRDS, body)
    assert status == 422
    cause = answer["details"]["causes"][0]
    assert cause["field"] == "spec.versions"
    assert cause["message"].startswith(
        'Invalid value: [{"Name":"v1","Served":true,"Storage":true,"Deprecated":false,'
        '"DeprecationWarning":null,"Schema":{"OpenAPIV3Schema":{"ID":"","Schema":"","Ref":null,'
        '"Description":"","Type":"object","Nullable":false,'
    )
    assert cause["message"].endswith(
        '"XPreserveUnknownFields":null,"XEmbeddedResource":false,"XIntOrString":false,'
        '"XListMapKeys":null,"XListType":null,"XMapType":null,"XValidations":null}},'
        '"Subresources":null,"AdditionalPrinterColumns":null,"SelectableFields":null}]: must '
        "have exactly one version marked as storage version"
    )


def test_selectable_fields_alike_in_versions_need_alike_schemas(server: APIServer) -> None:
    body = crd(plural="sels", kind="Sel")
    version = body["spec"]["versions"][0]
    version["schema"]["openAPIV3Schema"] = _spec(
        {"type": "object", "properties": {"color": {"type": "string"}}}
    )
    version["selectableFields"] = [{"jsonPath": ".spec.color"}]
    other = copy.deepcopy(version)
    other.update(name="v1beta1", storage=False)
    other["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["old"] = {
        "type": "string"
    }
    body["spec"]["versions"].append(other)
    status, answer = server.request("POST", CRDS, body)
    assert status == 422
    assert answer["message"] == (
        'CustomResourceDefinition.apiextensions.k8s.io "sels.example.com" is invalid: '
        'spec.selectableFields: Invalid value: "": may only be set when validations.schema is '
        "included"
    )


# --------------------------------------------------------------------------- status


def test_created_crd_has_a_fresh_status_then_is_established(server: APIServer) -> None:
    body = crd(plural="fresh", kind="Fresh", group="status.example.com")
    body["spec"]["names"]["shortNames"] = ["fr"]
    body["status"] = {"acceptedNames": {"plural": "other", "kind": "Other"}}
    status, created = server.request("POST", CRDS, body)
    assert status == 201
    assert created["status"] == {
        "conditions": None,
        "acceptedNames": {"plural": "", "kind": ""},
        "storedVersions": ["v1"],
    }
    assert created["metadata"]["generation"] == 1
    assert created["spec"]["names"] == {
        "plural": "fresh",
        "singular": "fresh",
        "shortNames": ["fr"],
        "kind": "Fresh",
        "listKind": "FreshList",
    }
    assert created["spec"]["conversion"] == {"strategy": "None"}
    obj = established(server, "fresh.status.example.com")
    assert obj["status"]["acceptedNames"] == created["spec"]["names"]
    conditions = [
        (c["type"], c["status"], c["reason"], c["message"]) for c in obj["status"]["conditions"]
    ]
    assert conditions == [
        ("NamesAccepted", "True", "NoConflicts", "no conflicts found"),
        ("Established", "True", "InitialNamesAccepted", "the initial names have been accepted"),
    ]


def test_resource_is_served_right_after_the_create(server: APIServer) -> None:
    body = crd(plural="quick", kind="Quick", group="quick.example.com")
    status, _ = server.request("POST", CRDS, body)
    assert status == 201
    started = time.monotonic()
    served(server, "/apis/quick.example.com/v1/namespaces/default/quick")
    assert time.monotonic() - started < 1.0  # kube: about 20 ms; embedded: at once


def test_kind_taken_in_the_group_is_not_accepted(server: APIServer) -> None:
    create(server, crd(plural="firsts", kind="Thing", group="names.example.com"))
    status, _ = server.request(
        "POST", CRDS, crd(plural="seconds", kind="Thing", group="names.example.com")
    )
    assert status == 201

    def accepted() -> dict[str, Any] | None:
        _, obj = server.request("GET", f"{CRDS}/seconds.names.example.com")
        conditions = {c["type"]: c for c in (obj.get("status") or {}).get("conditions") or []}
        return conditions if "NamesAccepted" in conditions else None

    conditions = wait_for(accepted, "the naming controller")
    assert conditions["NamesAccepted"]["status"] == "False"
    # The last conflict found names the condition (kind, then listKind).
    assert conditions["NamesAccepted"]["reason"] == "ListKindConflict"
    assert conditions["NamesAccepted"]["message"] == '"ThingList" is already in use'
    assert conditions["Established"]["status"] == "False"
    assert conditions["Established"]["reason"] == "NotAccepted"
    assert server.request("GET", "/apis/names.example.com/v1/namespaces/default/seconds")[0] == 404


def test_spec_change_bumps_generation_and_keeps_status(server: APIServer) -> None:
    create(server, crd(plural="gens", kind="Gen", group="gen.example.com"))
    name = "gens.gen.example.com"
    status, patched = server.request(
        "PATCH",
        f"{CRDS}/{name}",
        {"spec": {"names": {"shortNames": ["gn"]}}, "status": {"storedVersions": ["x"]}},
        headers=MERGE,
    )
    assert status == 200, patched
    assert patched["metadata"]["generation"] == 2
    assert patched["status"]["storedVersions"] == ["v1"]
    assert patched["spec"]["names"]["shortNames"] == ["gn"]


def test_group_and_plural_are_immutable(server: APIServer) -> None:
    create(server, crd(plural="fixeds", kind="Fixed", group="fixed.example.com"))
    status, answer = server.request(
        "PATCH",
        f"{CRDS}/fixeds.fixed.example.com",
        {"spec": {"group": "moved.example.com", "names": {"plural": "others"}}},
        headers=MERGE,
    )
    assert status == 422
    assert answer["message"] == (
        'CustomResourceDefinition.apiextensions.k8s.io "fixeds.fixed.example.com" is invalid: '
        '[spec.group: Invalid value: "moved.example.com": field is immutable, '
        'spec.names.plural: Invalid value: "others": field is immutable]'
    )


# --------------------------------------------------------------------------- deletion


def test_delete_marks_the_crd_then_removes_it_and_its_resources(server: APIServer) -> None:
    create(server, crd(plural="goners", kind="Goner", group="gone.example.com"))
    path = "/apis/gone.example.com/v1/namespaces/default/goners"
    status, _ = server.request(
        "POST",
        path,
        {"apiVersion": "gone.example.com/v1", "kind": "Goner", "metadata": {"name": "g1"}},
    )
    assert status == 201
    status, marked = server.request("DELETE", f"{CRDS}/goners.gone.example.com")
    assert status == 200
    assert marked["kind"] == "CustomResourceDefinition"
    assert marked["metadata"]["finalizers"] == ["customresourcecleanup.apiextensions.k8s.io"]
    assert marked["metadata"]["deletionTimestamp"]
    terminating = marked["status"]["conditions"][-1]
    assert (terminating["type"], terminating["status"], terminating["reason"]) == (
        "Terminating",
        "True",
        "InstanceDeletionPending",
    )
    assert terminating["message"] == (
        "CustomResourceDefinition marked for deletion; CustomResource deletion will begin soon"
    )
    wait_for(
        lambda: server.request("GET", f"{CRDS}/goners.gone.example.com")[0] == 404,
        "the CRD to go",
    )
    assert server.request("GET", path)[0] == 404
    status, groups = server.request("GET", "/apis")
    assert "gone.example.com" not in [g["name"] for g in groups["groups"]]


def test_deletion_waits_for_finalized_resources(server: APIServer) -> None:
    create(server, crd(plural="holds", kind="Hold", group="hold.example.com"))
    path = "/apis/hold.example.com/v1/namespaces/default/holds"
    body = {
        "apiVersion": "hold.example.com/v1",
        "kind": "Hold",
        "metadata": {"name": "held", "finalizers": ["example.com/hold"]},
    }
    assert server.request("POST", path, body)[0] == 201
    assert server.request("DELETE", f"{CRDS}/holds.hold.example.com")[0] == 200

    def in_progress() -> dict[str, Any] | None:
        _, obj = server.request("GET", f"{CRDS}/holds.hold.example.com")
        cond = {c["type"]: c for c in obj["status"]["conditions"]}["Terminating"]
        return cond if cond["reason"] == "InstanceDeletionInProgress" else None

    cond = wait_for(in_progress, "the finalizer controller")
    assert cond["message"] == "CustomResource deletion is in progress"
    status, answer = server.request("POST", path, {**body, "metadata": {"name": "late"}})
    assert status == 403
    assert answer["message"] == (
        'holds.hold.example.com "late" is forbidden: create not allowed while custom resource '
        "definition is terminating"
    )
    status, listed = server.request("GET", "/apis/hold.example.com/v1")
    assert status == 200
    assert listed["resources"][0]["verbs"] == ["delete", "deletecollection", "get", "list", "watch"]
    status, held = server.request("GET", f"{path}/held")
    assert status == 200 and held["metadata"]["deletionTimestamp"]
    status, _ = server.request(
        "PATCH", f"{path}/held", {"metadata": {"finalizers": None}}, headers=MERGE
    )
    assert status == 200
    wait_for(
        lambda: server.request("GET", f"{CRDS}/holds.hold.example.com")[0] == 404,
        "the CRD to go",
        timeout=15,
    )


# --------------------------------------------------------------------------- storage


def test_defaults_added_later_apply_on_read_and_survive_a_restart(
    apiserver_class: Callable[..., Any], tmp_path: Any
) -> None:
    schema = _spec(
        {"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "string"}}}
    )
    with apiserver_class(data_dir=tmp_path / "data") as s:
        create(s, crd(plural="defs", kind="Def", group="def.example.com", schema=schema))
        time.sleep(2.1)  # kube holds creates for 2 s after a CRD is established
        path = "/apis/def.example.com/v1/namespaces/default/defs"
        body = {"apiVersion": "def.example.com/v1", "kind": "Def", "metadata": {"name": "x"}}
        assert s.request("POST", path, {**body, "spec": {"a": "1"}})[0] == 201
        _, current = s.request("GET", f"{CRDS}/defs.def.example.com")
        spec = current["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
        spec["properties"]["b"]["default"] = "later"
        assert s.request("PUT", f"{CRDS}/defs.def.example.com", current)[0] == 200
        wanted = {"a": "1", "b": "later"}  # defaulted when read from storage
        wait_for(lambda: s.request("GET", f"{path}/x")[1]["spec"] == wanted, "the new default")
        assert [i["spec"] for i in s.request("GET", path)[1]["items"]] == [wanted]
        s.restart()
        served(s, path)
        assert s.request("GET", f"{path}/x")[1]["spec"] == wanted


def test_served_versions_get_local_api_services(server: APIServer) -> None:
    body = crd(plural="regs", kind="Reg", group="reg.example.com")
    second = copy.deepcopy(body["spec"]["versions"][0])
    second.update(name="v1beta1", storage=False)
    body["spec"]["versions"].append(second)
    create(server, body)
    path = "/apis/apiregistration.k8s.io/v1/apiservices"

    def registered() -> dict[str, Any] | None:
        status, obj = server.request("GET", f"{path}/v1beta1.reg.example.com")
        return obj if status == 200 else None

    service = wait_for(registered, "the APIService")
    assert service["metadata"]["labels"] == {"kube-aggregator.kubernetes.io/automanaged": "true"}
    assert service["spec"] == {
        "group": "reg.example.com",
        "version": "v1beta1",
        "groupPriorityMinimum": 1000,
        "versionPriority": 100,
    }
    (available,) = service["status"]["conditions"]
    assert (available["type"], available["status"], available["reason"]) == (
        "Available",
        "True",
        "Local",
    )
    assert server.request("GET", f"{path}/v1.reg.example.com")[0] == 200
    assert server.request("DELETE", f"{CRDS}/regs.reg.example.com")[0] == 200
    wait_for(
        lambda: server.request("GET", f"{path}/v1.reg.example.com")[0] == 404,
        "the APIService to go",
    )
