"""The committed field schemas match the kubernetes client they are generated from."""

from __future__ import annotations

import json

from cimp_apiserver import schema_gen
from cimp_apiserver.schema import SchemaError, check


def test_schemas_json_is_up_to_date() -> None:
    committed = json.loads(schema_gen.OUTPUT.read_text())
    assert committed == schema_gen.generate(), "run: python -m cimp_apiserver.schema_gen"


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
            "cannot unmarshal object into Go struct field PodSpec.spec.containers of type []Container",
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
