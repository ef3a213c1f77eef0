"""kubectl 1.33 against the recording server: its protobuf bodies, discovery and OpenAPI use.

These pin down what kubectl sends and needs, independently of the REST layer; the full
end-to-end runs against ``testing.APIServer`` are in ``test_kubectl.py``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cimp_apiserver import protobuf

from ._capture import PROTOBUF_COMMANDS, CaptureServer, find_kubectl

KUBECTL = find_kubectl("1.33")
pytestmark = [
    pytest.mark.kubectl,
    pytest.mark.skipif(KUBECTL is None, reason="kubectl 1.33 not installed"),
]
FIXTURES = Path(__file__).parent / "data" / "kubectl-1.33-protobuf.json"
AGGREGATED = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"


@pytest.fixture(scope="module")
def server() -> Iterator[CaptureServer]:
    with CaptureServer() as capture:
        yield capture


def kubectl(server: CaptureServer, *args: str) -> str:
    assert KUBECTL is not None
    result = server.run(KUBECTL, *args)
    assert result.returncode == 0, result.stderr
    assert "warning" not in result.stderr.lower(), result.stderr
    return result.stdout


@pytest.mark.parametrize(("name", "args"), PROTOBUF_COMMANDS, ids=[c[0] for c in PROTOBUF_COMMANDS])
def test_typed_commands_send_protobuf_the_decoder_reads(
    server: CaptureServer, name: str, args: tuple[str, ...]
) -> None:
    kubectl(server, *args)
    (write,) = server.writes()
    assert write.method == "POST"
    assert write.content_type == protobuf.MEDIA_TYPE
    assert write.accept == "application/vnd.kubernetes.protobuf,application/json"
    recorded = [f for f in json.loads(FIXTURES.read_text()) if f["name"] == name]
    assert recorded, f"fixture {name} missing: rerun tests/server/_capture.py"
    assert protobuf.decode(write.body) == recorded[0]["decoded"]
    assert write.path == recorded[0]["path"]


def test_discovery_is_asked_aggregated_first(server: CaptureServer) -> None:
    out = kubectl(server, "api-resources")
    for name in ("pods", "daemonsets", "virtualmachineinstances", "selfsubjectreviews"):
        assert name in out
    accepts = [r.accept for r in server.requests if r.path.startswith(("/api?", "/apis?"))]
    assert accepts
    assert all(a.startswith(AGGREGATED) for a in accepts)
    # Aggregated discovery answered everything: no per-group-version requests.
    assert not [r for r in server.requests if r.path.startswith("/apis/")]


def test_short_names_and_categories_resolve(server: CaptureServer) -> None:
    assert KUBECTL is not None
    for resource, path in (
        ("po", "/api/v1/namespaces/default/pods"),
        ("ds", "/apis/apps/v1/namespaces/default/daemonsets"),
        ("vmis", "/apis/kubevirt.io/v1/namespaces/default/virtualmachineinstances"),
    ):
        server.run(KUBECTL, "get", resource)
        assert any(r.path.startswith(path) for r in server.requests), resource
    server.run(KUBECTL, "get", "all")
    listed = {r.path.split("?")[0] for r in server.requests if "limit=" in r.path}
    assert listed == {  # kube's category "all", and the KubeVirt stand-in's VMIs
        "/api/v1/namespaces/default/pods",
        "/api/v1/namespaces/default/replicationcontrollers",
        "/api/v1/namespaces/default/services",
        "/apis/apps/v1/namespaces/default/daemonsets",
        "/apis/apps/v1/namespaces/default/deployments",
        "/apis/apps/v1/namespaces/default/replicasets",
        "/apis/apps/v1/namespaces/default/statefulsets",
        "/apis/autoscaling/v2/namespaces/default/horizontalpodautoscalers",
        "/apis/batch/v1/namespaces/default/cronjobs",
        "/apis/batch/v1/namespaces/default/jobs",
        "/apis/kubevirt.io/v1/namespaces/default/virtualmachineinstances",
    }


MANIFESTS: list[dict[str, Any]] = [
    {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c1"}, "data": {"a": "b"}},
    {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": "ds1"},
        "spec": {
            "selector": {"matchLabels": {"app": "x"}},
            "template": {
                "metadata": {"labels": {"app": "x"}},
                "spec": {
                    "containers": [
                        {
                            "name": "c",
                            "image": "nginx",
                            "ports": [{"containerPort": 80}],
                            "resources": {"limits": {"cpu": "100m"}},
                        }
                    ],
                    "tolerations": [{"operator": "Exists"}],
                },
            },
        },
    },
    {
        "apiVersion": "kubevirt.io/v1",
        "kind": "VirtualMachineInstance",
        "metadata": {"name": "vm1"},
        "spec": {"domain": {"devices": {}}},
    },
]


def _write_manifests(directory: Path) -> Path:
    path = directory / "manifests.yaml"
    path.write_text("\n---\n".join(json.dumps(m) for m in MANIFESTS))
    return path


def test_list_files_are_validated_with_the_v2_protobuf_document(
    server: CaptureServer, tmp_path: Path
) -> None:
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": MANIFESTS}))
    out = kubectl(server, "apply", "-f", str(good))
    assert "daemonset.apps/ds1 created" in out
    v2 = [r for r in server.requests if r.path.startswith("/openapi/v2")]
    assert [r.accept for r in v2] == ["application/com.github.proto-openapi.spec.v2@v1.0+protobuf"]
    broken = json.loads(good.read_text())
    broken["items"][1]["spec"]["template"]["spec"]["containers"][0]["imagee"] = "x"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(broken))
    assert KUBECTL is not None
    result = server.run(KUBECTL, "apply", "-f", str(bad))
    assert result.returncode == 1
    assert 'unknown field "imagee" in io.k8s.api.core.v1.Container' in result.stderr
    assert not server.writes()


def test_apply_reads_openapi_v3_and_validates_on_the_server(
    server: CaptureServer, tmp_path: Path
) -> None:
    manifests = _write_manifests(tmp_path)
    out = kubectl(server, "apply", "-f", str(manifests))
    assert "configmap/c1 created" in out
    paths = [r.path.split("?")[0] for r in server.requests if r.method == "GET"]
    assert "/openapi/v3" in paths
    for doc in ("api/v1", "apis/apps/v1", "apis/kubevirt.io/v1"):
        assert f"/openapi/v3/{doc}" in paths
    assert "/openapi/v2" not in paths
    posts = [r for r in server.requests if r.method == "POST"]
    assert len(posts) == 3
    for post in posts:
        assert "fieldValidation=Strict" in post.path
        assert "fieldManager=kubectl-client-side-apply" in post.path
        assert post.content_type == "application/json"


def test_apply_dry_run_server(server: CaptureServer, tmp_path: Path) -> None:
    out = kubectl(server, "apply", "--dry-run=server", "-f", str(_write_manifests(tmp_path)))
    assert "(server dry run)" in out
    assert all("dryRun=All" in r.path for r in server.requests if r.method == "POST")


def test_apply_kustomize(server: CaptureServer, tmp_path: Path) -> None:
    (tmp_path / "cm.json").write_text(json.dumps(MANIFESTS[0]))
    (tmp_path / "kustomization.yaml").write_text("namespace: team-a\nresources: [cm.json]\n")
    kubectl(server, "apply", "-k", str(tmp_path))
    (post,) = [r for r in server.requests if r.method == "POST"]
    assert post.path.startswith("/api/v1/namespaces/team-a/configmaps?")


def test_reapply_computes_a_strategic_merge_patch_from_the_schemas(tmp_path: Path) -> None:
    old = MANIFESTS[1]
    current = json.loads(json.dumps(old))
    current["metadata"].update(
        namespace="default",
        resourceVersion="7",
        uid="u1",
        annotations={"kubectl.kubernetes.io/last-applied-configuration": json.dumps(old)},
    )
    current["status"] = {"numberReady": 1}
    new = json.loads(json.dumps(old))
    new["spec"]["template"]["spec"]["containers"] = [
        {"name": "side", "image": "busybox"},
        {"name": "c", "image": "nginx:2"},
    ]
    manifest = tmp_path / "ds.json"
    manifest.write_text(json.dumps(new))
    path = "/apis/apps/v1/namespaces/default/daemonsets/ds1"
    with CaptureServer(objects={path: current}) as capture:
        out = kubectl(capture, "apply", "-f", str(manifest))
        assert "daemonset.apps/ds1 configured" in out
        (patch,) = [r for r in capture.requests if r.method == "PATCH"]
    assert patch.content_type == "application/strategic-merge-patch+json"
    body = json.loads(patch.body)
    pod_spec = body["spec"]["template"]["spec"]
    assert pod_spec["$setElementOrder/containers"] == [{"name": "side"}, {"name": "c"}]
    # Fields the old manifest had and the new one drops are deleted by the patch.
    assert {"name": "c", "image": "nginx:2", "ports": None, "resources": None} in (
        pod_spec["containers"]
    )


def test_reapply_of_a_custom_resource_is_a_merge_patch(tmp_path: Path) -> None:
    old = MANIFESTS[2]
    current = json.loads(json.dumps(old))
    current["metadata"].update(
        namespace="default",
        annotations={"kubectl.kubernetes.io/last-applied-configuration": json.dumps(old)},
    )
    new = json.loads(json.dumps(old))
    new["spec"]["domain"]["cpu"] = {"cores": 2}
    manifest = tmp_path / "vmi.json"
    manifest.write_text(json.dumps(new))
    path = "/apis/kubevirt.io/v1/namespaces/default/virtualmachineinstances/vm1"
    with CaptureServer(objects={path: current}) as capture:
        kubectl(capture, "apply", "-f", str(manifest))
        (patch,) = [r for r in capture.requests if r.method == "PATCH"]
    assert patch.content_type == "application/merge-patch+json"
    assert json.loads(patch.body)["spec"] == {"domain": {"cpu": {"cores": 2}}}


def test_server_side_apply_sends_apply_patches(server: CaptureServer, tmp_path: Path) -> None:
    kubectl(server, "apply", "--server-side", "-f", str(_write_manifests(tmp_path)))
    patches = [r for r in server.requests if r.method == "PATCH"]
    assert len(patches) == 3
    assert {r.content_type for r in patches} == {"application/apply-patch+yaml"}
    assert all("fieldManager=kubectl" in r.path and "force=false" in r.path for r in patches)


def test_explain_uses_the_generated_schemas(server: CaptureServer) -> None:
    out = kubectl(server, "explain", "pods.spec.containers.ports")
    assert "containerPort\t<integer>" in out
    out = kubectl(server, "explain", "daemonsets.spec.updateStrategy.rollingUpdate")
    assert "maxUnavailable\t<IntOrString>" in out


def test_version_reports_the_imitated_line(server: CaptureServer) -> None:
    assert KUBECTL is not None
    result = server.run(KUBECTL, "version", "-o", "json")
    info = json.loads(result.stdout)["serverVersion"]
    assert (info["major"], info["minor"]) == ("1", "37")  # the pinned reference release


def test_auth_reconcile_creates_and_updates_with_protobuf(tmp_path: Path) -> None:
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": "r1"},
        "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}],
    }
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": "b1"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "r1"},
        "subjects": [{"kind": "User", "name": "alice", "apiGroup": "rbac.authorization.k8s.io"}],
    }
    manifest = tmp_path / "rbac.yaml"
    manifest.write_text(json.dumps(role) + "\n---\n" + json.dumps(binding))
    existing = {**role, "metadata": {"name": "r1", "resourceVersion": "4"}, "rules": []}
    with CaptureServer(
        objects={"/apis/rbac.authorization.k8s.io/v1/clusterroles/r1": existing}
    ) as capture:
        kubectl(capture, "auth", "reconcile", "-f", str(manifest))
        writes = capture.writes()
    assert [(w.method, w.content_type) for w in writes] == [
        ("PUT", protobuf.MEDIA_TYPE),
        ("POST", protobuf.MEDIA_TYPE),
    ]
    updated = protobuf.decode(writes[0].body)
    assert updated["metadata"] == {"name": "r1", "resourceVersion": "4"}
    assert updated["rules"] == [{"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]}]
    created = protobuf.decode(writes[1].body)
    assert created["subjects"] == binding["subjects"]
    assert created["roleRef"] == binding["roleRef"]
