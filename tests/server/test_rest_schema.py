"""Typed decoding of request bodies: the field types of every built-in kind of kube v1.37.2.

The types come from the data ``hack/gen-resources.py`` captured from the pinned kube-apiserver
(OpenAPI v3) and the k8s.io/api sources (Go types, named in kube's ``cannot unmarshal`` errors).
"""

from __future__ import annotations

from cimp_apiserver import data, resources, schema
from cimp_apiserver.schema import SchemaError, check


def test_the_data_is_the_pinned_versions_and_types_every_builtin_kind() -> None:
    assert data.ARCHIVE.name == f"kube-{data.KUBE_VERSION}.zip"
    assert data.load("resources.json")["version"] == data.KUBE_VERSION
    for rt in resources.BUILTIN:
        if rt.verbs:
            assert schema.model(rt.api_version, rt.kind), rt
    assert schema.model("apps/v1", "Deployment") == "io.k8s.api.apps.v1.Deployment"
    spec = schema.fields("io.k8s.api.apps.v1.DeploymentSpec")
    assert spec is not None
    assert spec["replicas"] == ("integer", "int32", "po", {})
    containers = schema.fields("io.k8s.api.core.v1.PodSpec")["containers"]  # type: ignore[index]
    assert containers.markers["patch-merge-key"] == "name"
    assert containers.markers["list-map-keys"] == ["name"]


def test_check_prunes_unknown_fields_and_nulls_and_normalises_quantities() -> None:
    pod = {
        "metadata": {"name": "p", "labels": None, "bogus": 1},
        "spec": {
            "containers": [
                {"name": "c", "image": "i", "resources": {"limits": {"cpu": 0.5, "memory": 1}}}
            ],
            "nodeSelector": {"a": "b"},
        },
    }
    assert check("v1", "Pod", pod) == ["metadata.bogus"]
    assert pod["metadata"] == {"name": "p"}
    limits = pod["spec"]["containers"][0]["resources"]["limits"]  # type: ignore[index]
    assert limits == {"cpu": "500m", "memory": "1"}


def test_check_reports_go_style_type_errors() -> None:
    for obj, message in [
        (
            {"metadata": {"name": 5}},
            "cannot unmarshal number into Go struct field ObjectMeta.metadata.name of type string",
        ),
        (
            {"spec": {"containers": {}}},
            "cannot unmarshal object into Go struct field PodSpec.spec.containers of type []v1.Container",
        ),
        ({"metadata": {"creationTimestamp": "yesterday"}}, 'parsing time "yesterday"'),
    ]:
        try:
            check("v1", "Pod", obj)
        except SchemaError as exc:
            assert message in str(exc)
        else:
            raise AssertionError(f"{obj} passed")
    try:
        check("v1", "Secret", {"data": {"k": "not base64!"}})
    except SchemaError as exc:
        assert "illegal base64 data at input byte 3" in str(exc)
    assert check("kubevirt.io/v1", "VirtualMachineInstance", {"spec": {"any": 1}, "zz": 1}) == [
        "zz"
    ]
