"""The protobuf request decoder: kubectl's real bodies, every wire shape, and hostile input."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cimp_apiserver import proto_schemas, protobuf
from cimp_apiserver.status import StatusError

FIXTURES = Path(__file__).parent / "data" / "kubectl-1.33-protobuf.json"


def _fixtures() -> list[dict[str, Any]]:
    fixtures: list[dict[str, Any]] = json.loads(FIXTURES.read_text())
    return fixtures


# --- tiny wire builder for hand-made (and broken) messages --------------------------------------


def varint(value: int) -> bytes:
    value &= (1 << 64) - 1
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def tag(number: int, wire: int) -> bytes:
    return varint(number << 3 | wire)


def ld(number: int, payload: bytes) -> bytes:
    return tag(number, 2) + varint(len(payload)) + payload


def vi(number: int, value: int) -> bytes:
    return tag(number, 0) + varint(value)


def envelope(api_version: str, kind: str, raw: bytes, encoding: bytes = b"") -> bytes:
    type_meta = ld(1, api_version.encode()) + ld(2, kind.encode())
    return protobuf.MAGIC + ld(1, type_meta) + ld(2, raw) + ld(3, encoding) + ld(4, b"")


def meta(name: str = "x", **extra: bytes) -> bytes:
    return ld(1, ld(1, name.encode()) + b"".join(extra.values()))


def bad(body: bytes) -> StatusError:
    with pytest.raises(StatusError) as info:
        protobuf.decode(body)
    assert info.value.code == 400
    assert info.value.reason == "BadRequest"
    return info.value


# --- kubectl's own bodies ---------------------------------------------------------------------


@pytest.mark.parametrize("fixture", _fixtures(), ids=lambda f: f["name"])
def test_kubectl_bodies_decode_to_the_recorded_objects(fixture: dict[str, Any]) -> None:
    assert fixture["contentType"] == protobuf.MEDIA_TYPE
    assert protobuf.decode(bytes.fromhex(fixture["body"])) == fixture["decoded"]


def test_fixture_file_covers_the_typed_commands() -> None:
    names = {f["name"] for f in _fixtures()}
    for expected in (
        "create-namespace",
        "create-serviceaccount",
        "create-secret-generic",
        "create-configmap",
        "create-role",
        "create-clusterrole-aggregated",
        "create-rolebinding",
        "create-clusterrolebinding",
        "create-token",
        "auth-can-i",
        "auth-can-i-list",
        "auth-whoami",
    ):
        assert expected in names


def _decoded(name: str) -> dict[str, Any]:
    (fixture,) = [f for f in _fixtures() if f["name"] == name]
    return protobuf.decode(bytes.fromhex(fixture["body"]))


def test_namespace_is_what_kubectl_would_send_as_json() -> None:
    assert _decoded("create-namespace") == {
        "kind": "Namespace",
        "apiVersion": "v1",
        "metadata": {"name": "team-a"},
        "spec": {},
        "status": {},
    }


def test_secret_data_is_base64_and_type_kept() -> None:
    secret = _decoded("create-secret-generic")
    assert secret["data"] == {"user": "YWRtaW4=", "pw": "cEBzcw=="}
    docker = _decoded("create-secret-docker")
    assert docker["type"] == "kubernetes.io/dockerconfigjson"
    assert ".dockerconfigjson" in docker["data"]


def test_configmap_keeps_empty_values_in_maps() -> None:
    assert _decoded("create-configmap")["data"] == {"a": "b", "empty": ""}


def test_role_rules_and_aggregation_rule() -> None:
    role = _decoded("create-role")
    assert role["rules"][0] == {
        "verbs": ["get", "list", "watch"],
        "apiGroups": [""],
        "resources": ["pods", "pods/status"],
        "resourceNames": ["web"],
    }
    agg = _decoded("create-clusterrole-aggregated")
    assert agg["aggregationRule"] == {
        "clusterRoleSelectors": [{"matchLabels": {"rbac.example/aggregate": "true"}}]
    }
    assert "rules" not in agg


def test_rolebinding_subjects() -> None:
    binding = _decoded("create-rolebinding")
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": "pod-reader",
    }
    assert {"kind": "ServiceAccount", "name": "bob", "namespace": "team-a"} in binding["subjects"]


def test_token_request_pointer_field_and_bound_object_uid_json_name() -> None:
    assert _decoded("create-token")["spec"] == {
        "audiences": ["a1", "a2"],
        "expirationSeconds": 3600,
    }
    bound = _decoded("create-token-bound")["spec"]["boundObjectRef"]
    assert bound["uid"] == "0f1e2d3c-aaaa-bbbb-cccc-000000000001"  # proto name is "uID"


def test_access_reviews() -> None:
    assert _decoded("auth-can-i")["spec"] == {
        "resourceAttributes": {"namespace": "team-a", "verb": "get", "resource": "pods"}
    }
    assert _decoded("auth-can-i-subresource")["spec"]["resourceAttributes"] == {
        "namespace": "team-a",
        "verb": "create",
        "resource": "serviceaccounts",
        "subresource": "token",
        "name": "bob",
    }
    assert _decoded("auth-can-i-nonresource")["spec"] == {
        "nonResourceAttributes": {"path": "/healthz", "verb": "get"}
    }
    assert _decoded("auth-whoami") == {
        "kind": "SelfSubjectReview",
        "apiVersion": "authentication.k8s.io/v1",
        "metadata": {},
        "status": {"userInfo": {}},
    }


# --- wire shapes --------------------------------------------------------------------------------


def test_timestamps_are_rfc3339_and_zero_time_is_dropped() -> None:
    raw = ld(
        1,
        ld(1, b"p")
        + ld(8, b"")  # zero creationTimestamp: Go writes an empty message
        + ld(9, vi(1, 1_700_000_000) + vi(2, 5)),
    )
    pod = protobuf.decode(envelope("v1", "Pod", raw))
    assert pod["metadata"] == {"name": "p", "deletionTimestamp": "2023-11-14T22:13:20Z"}


def test_old_and_negative_timestamps() -> None:
    raw = ld(1, ld(1, b"p") + ld(9, vi(1, -86400)))
    assert protobuf.decode(envelope("v1", "Pod", raw))["metadata"]["deletionTimestamp"] == (
        "1969-12-31T00:00:00Z"
    )
    raw = ld(1, ld(1, b"p") + ld(9, vi(1, -62135596800)))
    assert protobuf.decode(envelope("v1", "Pod", raw))["metadata"]["deletionTimestamp"] == (
        "0001-01-01T00:00:00Z"
    )


def test_micro_time_keeps_microseconds() -> None:
    raw = meta("e") + ld(10, vi(1, 1_700_000_000) + vi(2, 123_456_789))
    event = protobuf.decode(envelope("v1", "Event", raw))
    assert event["eventTime"] == "2023-11-14T22:13:20.123456Z"


@pytest.mark.parametrize(
    ("seconds", "nanos"), [(253402300800, 0), (-62135596801, 0), (1, 1_000_000_000), (1, -1)]
)
def test_out_of_range_timestamps_are_rejected(seconds: int, nanos: int) -> None:
    raw = ld(1, ld(9, vi(1, seconds) + vi(2, nanos)))
    assert "timestamp" in bad(envelope("v1", "Pod", raw)).message


def test_non_pointer_zero_scalars_are_dropped_but_pointers_kept() -> None:
    sa = protobuf.decode(envelope("v1", "ServiceAccount", meta("sa") + vi(4, 0)))
    assert sa["automountServiceAccountToken"] is False  # *bool set to false on purpose
    ns = protobuf.decode(envelope("v1", "Namespace", ld(1, ld(1, b"n") + ld(3, b"") + vi(7, 0))))
    assert ns["metadata"] == {"name": "n"}  # namespace "" and generation 0 are omitempty


def test_int_or_string_and_quantity() -> None:
    strategy = ld(
        2,  # rollingUpdate
        ld(1, vi(1, 1) + ld(3, b"25%"))  # maxUnavailable as a string
        + ld(2, vi(1, 0) + vi(2, 2)),  # maxSurge as an int
    )
    spec = ld(3, ld(1, b"RollingUpdate") + strategy)
    ds = protobuf.decode(envelope("apps/v1", "DaemonSet", meta("d") + ld(2, spec)))
    assert ds["spec"]["updateStrategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": 2},
    }
    capacity = ld(1, ld(1, b"cpu") + ld(2, ld(1, b"4"))) + ld(1, ld(1, b"memory") + ld(2, b""))
    node = protobuf.decode(envelope("v1", "Node", meta("n") + ld(3, capacity)))
    assert node["status"]["capacity"] == {"cpu": "4", "memory": "0"}


def test_negative_int32_and_int64() -> None:
    probe = ld(1, ld(3, ld(1, vi(1, 1) + ld(3, b"http")))) + vi(2, -5)
    container = ld(1, b"c") + ld(10, probe)
    pod = protobuf.decode(envelope("v1", "Pod", meta("p") + ld(2, ld(2, container))))
    liveness = pod["spec"]["containers"][0]["livenessProbe"]
    assert liveness == {"tcpSocket": {"port": "http"}, "initialDelaySeconds": -5}
    opts = protobuf.decode(envelope("v1", "DeleteOptions", vi(1, -1)))
    assert opts == {"kind": "DeleteOptions", "apiVersion": "v1", "gracePeriodSeconds": -1}


def test_inline_fields_join_their_parent() -> None:
    volume = ld(1, b"cfg") + ld(2, ld(19, ld(1, ld(1, b"my-config")) + vi(3, 0o644)))
    pod = protobuf.decode(envelope("v1", "Pod", meta("p") + ld(2, ld(1, volume))))
    assert pod["spec"]["volumes"] == [
        {"name": "cfg", "configMap": {"name": "my-config", "defaultMode": 0o644}}
    ]


def test_extra_values_are_lists_and_packed_repeated_ints_decode() -> None:
    extra = ld(1, b"scopes") + ld(2, ld(1, b"a") + ld(1, b"b"))
    spec = ld(3, b"alice") + ld(5, extra) + ld(1, ld(2, b"get") + ld(5, b"pods"))
    sar = protobuf.decode(envelope("authorization.k8s.io/v1", "SubjectAccessReview", ld(2, spec)))
    assert sar["spec"] == {
        "user": "alice",
        "extra": {"scopes": ["a", "b"]},
        "resourceAttributes": {"verb": "get", "resource": "pods"},
    }
    groups = varint(1000) + varint(2000)
    ctx = ld(14, ld(4, groups) + tag(4, 0) + varint(3000))
    pod = protobuf.decode(envelope("v1", "Pod", meta("p") + ld(2, ctx)))
    assert pod["spec"]["securityContext"]["supplementalGroups"] == [1000, 2000, 3000]


def test_unknown_fields_of_every_wire_type_are_skipped() -> None:
    unknown = vi(900, 7) + ld(901, b"\xff\xfe") + tag(902, 1) + b"\0" * 8 + tag(903, 5) + b"\0" * 4
    cm = protobuf.decode(envelope("v1", "ConfigMap", unknown + meta("c") + unknown))
    assert cm == {"kind": "ConfigMap", "apiVersion": "v1", "metadata": {"name": "c"}}


def test_invalid_utf8_is_replaced_like_go_json() -> None:
    cm = protobuf.decode(
        envelope("v1", "ConfigMap", meta("c") + ld(2, ld(1, b"k") + ld(2, b"\xff")))
    )
    assert cm["data"] == {"k": "\ufffd"}


def test_managed_fields_json_is_embedded() -> None:
    entry = ld(1, b"kubectl") + ld(6, b"FieldsV1") + ld(7, ld(1, b'{"f:data":{}}'))
    cm = protobuf.decode(envelope("v1", "ConfigMap", ld(1, ld(1, b"c") + ld(17, entry))))
    assert cm["metadata"]["managedFields"] == [
        {"manager": "kubectl", "fieldsType": "FieldsV1", "fieldsV1": {"f:data": {}}}
    ]
    bad(envelope("v1", "ConfigMap", ld(1, ld(17, ld(7, ld(1, b"{nope"))))))
    deep = b"[" * 200_000 + b"]" * 200_000
    bad(envelope("v1", "ConfigMap", ld(1, ld(17, ld(7, ld(1, deep))))))


def test_delete_options_under_any_group_version() -> None:
    body = envelope("rbac.authorization.k8s.io/v1", "DeleteOptions", ld(4, b"Foreground"))
    assert protobuf.decode(body) == {
        "kind": "DeleteOptions",
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "propagationPolicy": "Foreground",
    }


def test_is_protobuf() -> None:
    assert protobuf.is_protobuf("application/vnd.kubernetes.protobuf")
    assert protobuf.is_protobuf("Application/VND.Kubernetes.Protobuf; charset=binary")
    assert not protobuf.is_protobuf("application/json")
    assert not protobuf.is_protobuf(None)


# --- round trips --------------------------------------------------------------------------------

POD: dict[str, Any] = {
    "kind": "Pod",
    "apiVersion": "v1",
    "metadata": {
        "name": "web-0",
        "namespace": "team-a",
        "uid": "8c1e",
        "labels": {"app": "web"},
        "annotations": {"note": "\u00e9t\u00e9"},
        "creationTimestamp": "2024-05-01T10:00:00Z",
        "ownerReferences": [
            {
                "apiVersion": "apps/v1",
                "kind": "DaemonSet",
                "name": "web",
                "uid": "1",
                "controller": True,
                "blockOwnerDeletion": False,
            }
        ],
        "finalizers": ["a/b"],
    },
    "spec": {
        "nodeName": "node-1",
        "serviceAccountName": "web",
        "automountServiceAccountToken": False,
        "terminationGracePeriodSeconds": 0,
        "nodeSelector": {"kubernetes.io/os": "linux"},
        "containers": [
            {
                "name": "app",
                "image": "nginx:1.27",
                "command": ["nginx", "-g", "daemon off;"],
                "ports": [{"containerPort": 80, "protocol": "TCP", "name": "http"}],
                "env": [
                    {"name": "A", "value": "1"},
                    {
                        "name": "B",
                        "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}},
                    },
                ],
                "resources": {"limits": {"cpu": "500m"}, "requests": {"memory": "64Mi"}},
                "readinessProbe": {
                    "httpGet": {"path": "/", "port": 80},
                    "periodSeconds": 5,
                },
                "securityContext": {"runAsNonRoot": True, "runAsUser": 1000},
                "volumeMounts": [{"name": "cfg", "mountPath": "/etc/cfg", "readOnly": True}],
            }
        ],
        "volumes": [
            {"name": "cfg", "configMap": {"name": "cfg", "items": [{"key": "a", "path": "a"}]}},
            {"name": "tmp", "emptyDir": {"sizeLimit": "1Gi"}},
            {
                "name": "tok",
                "projected": {
                    "sources": [
                        {"serviceAccountToken": {"path": "token", "expirationSeconds": 3600}}
                    ]
                },
            },
        ],
        "tolerations": [{"operator": "Exists", "effect": "NoSchedule"}],
        "affinity": {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [
                        {
                            "matchExpressions": [
                                {"key": "zone", "operator": "In", "values": ["a", "b"]}
                            ]
                        }
                    ]
                }
            }
        },
    },
    "status": {
        "phase": "Running",
        "podIP": "10.0.0.5",
        "podIPs": [{"ip": "10.0.0.5"}],
        "conditions": [
            {"type": "Ready", "status": "True", "lastTransitionTime": "2024-05-01T10:00:05Z"}
        ],
        "containerStatuses": [
            {
                "name": "app",
                "ready": True,
                "restartCount": 2,
                "image": "nginx:1.27",
                "imageID": "sha256:x",
                "state": {"running": {"startedAt": "2024-05-01T10:00:03Z"}},
            }
        ],
    },
}

OTHERS: list[dict[str, Any]] = [
    {
        "kind": "Secret",
        "apiVersion": "v1",
        "metadata": {"name": "s"},
        "data": {"bin": "AAEC/w==", "empty": ""},
        "immutable": True,
        "type": "Opaque",
    },
    {
        "kind": "SubjectAccessReview",
        "apiVersion": "authorization.k8s.io/v1",
        "metadata": {},
        "spec": {
            "user": "system:node:n1",
            "groups": ["system:nodes"],
            "uid": "u",
            "extra": {"k": ["v1", "v2"], "empty": []},
            "resourceAttributes": {
                "verb": "list",
                "resource": "pods",
                "fieldSelector": {
                    "requirements": [{"key": "spec.nodeName", "operator": "In", "values": ["n1"]}]
                },
            },
        },
        "status": {},
    },
    {
        "kind": "TokenReview",
        "apiVersion": "authentication.k8s.io/v1",
        "metadata": {},
        "spec": {"token": "abc", "audiences": ["api"]},
        "status": {"user": {"username": "u", "extra": {"x": ["y"]}}},
    },
    {
        "kind": "Event",
        "apiVersion": "v1",
        "metadata": {"name": "e", "namespace": "d"},
        "involvedObject": {"kind": "Pod", "name": "p", "namespace": "d"},
        "reason": "Started",
        "count": 3,
        "eventTime": "2024-05-01T10:00:00.250000Z",
        "series": {"count": 2, "lastObservedTime": "2024-05-01T10:00:01.000001Z"},
        "type": "Normal",
    },
    {
        "kind": "Binding",
        "apiVersion": "v1",
        "metadata": {"name": "p"},
        "target": {"kind": "Node", "name": "n1"},
    },
    {
        "kind": "Eviction",
        "apiVersion": "policy/v1",
        "metadata": {"name": "p", "namespace": "d"},
        "deleteOptions": {"gracePeriodSeconds": 0, "preconditions": {"uid": "1"}},
    },
    {
        "kind": "ClusterRole",
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "metadata": {"name": "c", "labels": {"a": "b"}},
        "rules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}],
        "aggregationRule": {
            "clusterRoleSelectors": [{"matchExpressions": [{"key": "a", "operator": "Exists"}]}]
        },
    },
]


@pytest.mark.parametrize("obj", [POD, *OTHERS], ids=lambda o: o["kind"])
def test_encode_then_decode_is_identity(obj: dict[str, Any]) -> None:
    assert protobuf.decode(protobuf.encode(obj)) == obj


def test_every_table_message_resolves() -> None:
    for name in proto_schemas.message_names():
        for field in proto_schemas.message(name).fields:
            if field.is_message and field.type not in proto_schemas.WELL_KNOWN:
                proto_schemas.message(field.type)
    for name in proto_schemas.TOP_LEVEL:
        group, version = proto_schemas.group_version_of(name)
        api_version = f"{group}/{version}" if group else version
        assert proto_schemas.top_level_message(api_version, name.rpartition(".")[2]) == name


def test_every_served_builtin_kind_has_a_message() -> None:
    from cimp_apiserver import resources

    for rt in resources.TABLE:
        if rt.group.endswith("kubevirt.io"):
            continue  # custom resources arrive as JSON
        assert proto_schemas.top_level_message(rt.api_version, rt.kind), rt


# --- malformed and hostile input ---------------------------------------------------------------


def test_missing_magic() -> None:
    assert "k8s" in bad(b'{"kind":"Namespace"}').message
    bad(b"")
    bad(b"k8s")


def test_unknown_kind_and_missing_type_meta() -> None:
    assert "DaemonSet" in bad(envelope("v1", "DaemonSet", b"")).message
    assert "Kind" in bad(envelope("v1", "", b"")).message
    assert "apiVersion" in bad(envelope("", "Pod", b"")).message
    bad(protobuf.MAGIC)


def test_content_encoding_is_refused() -> None:
    assert "gzip" in bad(envelope("v1", "Namespace", b"", b"gzip")).message


@pytest.mark.parametrize(
    "raw",
    [
        b"\x0a",  # tag then nothing
        b"\x0a\x05ab",  # length past the end
        b"\x0a\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01",  # 11-byte varint
        b"\x08",  # truncated varint value
        b"\x00\x00",  # field number 0
        b"\x0b",  # start group
        b"\x0c",  # end group
        b"\x0e",  # wire type 6
        b"\x09\x00\x00",  # truncated fixed64
        b"\x0d\x00",  # truncated fixed32
        b"\x08\x01",  # metadata as a varint
        b"\x0a\x02\x08\x01",  # metadata.name as a varint
        b"\x0a\x04\x5a\x02\x08\x01",  # labels entry with an int key
        b"\x0a\x03\x38\x80",  # generation: truncated varint inside metadata
    ],
)
def test_broken_wire_data(raw: bytes) -> None:
    bad(envelope("v1", "ConfigMap", raw))


def test_broken_envelope() -> None:
    bad(protobuf.MAGIC + b"\x0a\x10")
    bad(protobuf.MAGIC + b"\x08\x01")  # typeMeta as varint


def test_nesting_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(protobuf, "MAX_DEPTH", 2)
    deep = ld(2, ld(18, ld(1, ld(1, ld(1, ld(1, b"k"))))))  # spec.affinity.nodeAffinity...
    assert "deeper" in bad(envelope("v1", "Pod", deep)).message


def test_a_large_hostile_body_is_fast() -> None:
    # 1 MiB of unknown fields and 100k labels: linear time, no recursion.
    unknown = ld(999, b"x" * 1024) * 1024
    labels = b"".join(ld(11, ld(1, b"k%d" % i) + ld(2, b"v")) for i in range(100_000))
    start = time.perf_counter()
    protobuf.decode(envelope("v1", "ConfigMap", unknown))
    cm = protobuf.decode(envelope("v1", "ConfigMap", ld(1, labels)))
    assert len(cm["metadata"]["labels"]) == 100_000
    assert time.perf_counter() - start < 5


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=200), st.sampled_from(proto_schemas.TOP_LEVEL))
def test_random_bytes_never_escape_as_other_errors(raw: bytes, message: str) -> None:
    group, version = proto_schemas.group_version_of(message)
    body = envelope(f"{group}/{version}" if group else version, message.rpartition(".")[2], raw)
    try:
        result = protobuf.decode(body)
    except StatusError as err:
        assert err.code == 400
    else:
        assert isinstance(result, dict)
        json.dumps(result)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_mutated_kubectl_bodies_never_escape_as_other_errors(data: st.DataObject) -> None:
    fixture = data.draw(st.sampled_from(_fixtures()))
    body = bytearray(bytes.fromhex(fixture["body"]))
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(body) - 1))
        body[at] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(body)))
    for candidate in (bytes(body), bytes(body[:cut])):
        try:
            result = protobuf.decode(candidate)
        except StatusError as err:
            assert err.code == 400
        else:
            json.dumps(result)
