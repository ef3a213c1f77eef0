"""deploy/daemonset/ and the Dockerfile as written: complete, least-privilege, hardened."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from node_agent.manifests import DEFAULT_DIR, find, load

REPO = Path(__file__).resolve().parents[2]
OBJECTS = load(DEFAULT_DIR)


def agent_container(objects: list[dict[str, Any]] = OBJECTS) -> dict[str, Any]:
    spec = find(objects, "DaemonSet")["spec"]["template"]["spec"]
    (container,) = [c for c in spec["containers"] if c["name"] == "agent"]
    result: dict[str, Any] = container
    return result


def test_kustomization_lists_every_manifest_and_each_kind_once() -> None:
    kustomization = yaml.safe_load((DEFAULT_DIR / "kustomization.yaml").read_text())
    on_disk = {p.name for p in DEFAULT_DIR.glob("*.yaml")} - {"kustomization.yaml"}
    assert set(kustomization["resources"]) == on_disk
    kinds = sorted(obj["kind"] for obj in OBJECTS)
    assert kinds == sorted(
        ["Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "DaemonSet"]
    )
    assert kustomization["resources"][0] == "namespace.yaml", "namespace is created first"


@pytest.mark.parametrize("obj", OBJECTS, ids=lambda o: o["kind"])
def test_every_object_is_a_valid_kubernetes_object(obj: dict[str, Any]) -> None:
    """Required fields and types, checked by the official client's generated models."""
    from kubernetes import client

    model = getattr(client, f"V1{obj['kind']}")
    assert obj["apiVersion"] in ("v1", "rbac.authorization.k8s.io/v1", "apps/v1")
    parsed = model.from_dict(obj)
    assert parsed.metadata.name
    assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", parsed.metadata.name)
    if obj["kind"] in ("ServiceAccount", "DaemonSet"):
        assert obj["metadata"]["namespace"] == find(OBJECTS, "Namespace")["metadata"]["name"]


def test_rbac_grants_associated_node_and_list_watch_only() -> None:
    role = find(OBJECTS, "ClusterRole")
    assert role["rules"] == [
        {
            "apiGroups": ["authentication.k8s.io"],
            "resources": ["nodes"],
            "verbs": ["impersonate:associated-node"],
        },
        {
            "apiGroups": [""],
            "resources": ["pods"],
            "verbs": [
                "impersonate-on:associated-node:list",
                "impersonate-on:associated-node:watch",
            ],
        },
    ]
    assert all("resourceNames" not in rule for rule in role["rules"]), "the check uses name *"
    binding = find(OBJECTS, "ClusterRoleBinding")
    account = find(OBJECTS, "ServiceAccount")
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": role["metadata"]["name"],
    }
    assert binding["subjects"] == [
        {
            "kind": "ServiceAccount",
            "name": account["metadata"]["name"],
            "namespace": account["metadata"]["namespace"],
        }
    ]
    assert [o["kind"] for o in OBJECTS if o["kind"] in ("Role", "RoleBinding")] == []


def test_daemonset_pod_is_hardened() -> None:
    daemonset = find(OBJECTS, "DaemonSet")
    spec = daemonset["spec"]["template"]["spec"]
    assert daemonset["spec"]["selector"]["matchLabels"].items() <= (
        daemonset["spec"]["template"]["metadata"]["labels"].items()
    )
    assert spec["serviceAccountName"] == find(OBJECTS, "ServiceAccount")["metadata"]["name"]
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert isinstance(spec["securityContext"]["runAsUser"], int)
    assert spec["securityContext"]["runAsUser"] > 0
    assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert spec["tolerations"] == [{"operator": "Exists"}], "runs on every node"
    for container in [*spec["containers"], *spec.get("initContainers", [])]:
        context = container["securityContext"]
        assert context["allowPrivilegeEscalation"] is False
        assert context["readOnlyRootFilesystem"] is True
        assert context["capabilities"]["drop"] == ["ALL"]
        assert set(context["capabilities"].get("add", [])) <= {"CHOWN"}
        for key in ("requests", "limits"):
            assert {"cpu", "memory"} <= set(container["resources"][key])
    agent = agent_container()
    context = agent["securityContext"]
    assert context["runAsNonRoot"] is True and context["runAsUser"] > 0
    assert "add" not in context["capabilities"]
    assert context["seccompProfile"] == {"type": "RuntimeDefault"}


def test_daemonset_wires_node_name_token_probes_and_output() -> None:
    spec = find(OBJECTS, "DaemonSet")["spec"]["template"]["spec"]
    agent = agent_container()
    env = {e["name"]: e for e in agent["env"]}
    assert env["NODE_NAME"]["valueFrom"] == {"fieldRef": {"fieldPath": "spec.nodeName"}}

    # The token: projected, short-lived, pod-bound; nothing mounted automatically.
    assert spec["automountServiceAccountToken"] is False
    volumes = {v["name"]: v for v in spec["volumes"]}
    mounts = {m["mountPath"]: m for m in agent["volumeMounts"]}
    token_mount = mounts["/var/run/secrets/kubernetes.io/serviceaccount"]
    assert token_mount["readOnly"] is True
    sources = volumes[token_mount["name"]]["projected"]["sources"]
    token = next(s["serviceAccountToken"] for s in sources if "serviceAccountToken" in s)
    assert token["path"] == "token" and token["expirationSeconds"] <= 3600
    assert any(s.get("configMap", {}).get("name") == "kube-root-ca.crt" for s in sources)

    # Endpoints on the node's loopback; the kubelet probes the same address.
    args = agent["args"]
    assert "--listen=127.0.0.1:9102" in args and spec["hostNetwork"] is True
    assert spec["dnsPolicy"] == "ClusterFirstWithHostNet"
    for probe, path in (("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")):
        assert agent[probe]["httpGet"] == {"host": "127.0.0.1", "path": path, "port": 9102}

    # The inventory file lands on the host, where a CNI plugin reads it.
    assert "--output=/run/cimp/pods.json" in args
    run_mount = mounts["/run/cimp"]
    assert volumes[run_mount["name"]]["hostPath"] == {
        "path": "/run/cimp",
        "type": "DirectoryOrCreate",
    }
    (init,) = spec["initContainers"]
    uid = spec["securityContext"]["runAsUser"]
    assert init["command"] == [
        "chown",
        f"{uid}:{spec['securityContext']['runAsGroup']}",
        "/run/cimp",
    ]
    assert spec["terminationGracePeriodSeconds"] >= 6, "the agent exits within 5 s"


def dockerfile_stages() -> list[list[str]]:
    """Instructions per stage, continuation lines joined, comments dropped."""
    text = (REPO / "Dockerfile").read_text()
    joined = re.sub(r"\\\n\s*", " ", text)
    stages: list[list[str]] = [[]]
    for raw in joined.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.upper().startswith("FROM "):
            stages.append([])
        stages[-1].append(line)
    return stages


def test_dockerfile_is_multi_stage_hash_pinned_and_runs_as_a_numeric_user() -> None:
    preamble, *stages = dockerfile_stages()
    assert any(line.startswith("ARG PYTHON_IMAGE=python:3.11-slim") for line in preamble)
    assert len(stages) >= 2
    assert all(stage[0].startswith("FROM ${PYTHON_IMAGE}") for stage in stages)
    build, final = "\n".join(stages[0]), stages[-1]
    assert "--require-hashes" in build and "requirements.lock" in build
    assert "--no-cache-dir" in build and "PIP_NO_CACHE_DIR=1" in build
    final_text = "\n".join(final)
    assert "COPY --from=" in final_text
    assert not re.search(r"apt-get install|gcc|build-essential|requirements", final_text)
    assert "pip uninstall" in final_text.replace("-m pip", "pip")
    assert "rm -rf /root/.cache" in final_text
    (user,) = [line.split()[1] for line in final if line.startswith("USER ")]
    assert all(part.isdigit() and int(part) > 0 for part in user.split(":"))
    assert final[-1] == 'ENTRYPOINT ["cimp-node-agent"]'
    uid = find(OBJECTS, "DaemonSet")["spec"]["template"]["spec"]["securityContext"]["runAsUser"]
    assert user.split(":")[0] == str(uid), "the manifest runs the image's own user"


def test_image_in_manifests_is_the_one_the_dockerfile_documents() -> None:
    text = (REPO / "Dockerfile").read_text()
    build = next(line for line in text.splitlines() if "docker build -t" in line)
    tag = shlex.split(build.lstrip("# "))[3]
    spec = find(OBJECTS, "DaemonSet")["spec"]["template"]["spec"]
    images = {c["image"] for c in [*spec["containers"], *spec["initContainers"]]}
    assert images == {tag}
    version = re.search(
        r'^__version__ = "(.+)"$',
        (REPO / "sdk/constrained_impersonation/_version.py").read_text(),
        re.M,
    )
    assert version is not None and tag.endswith(":" + version.group(1))


def test_dockerignore_keeps_secrets_and_local_state_out_of_the_context() -> None:
    lines = [
        line.strip()
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines[0] == "*", "allow-list: nothing enters the build context unless listed"
    allowed = {line[1:].rstrip("/") for line in lines if line.startswith("!")}
    assert allowed == {
        "Dockerfile",
        "requirements.lock",
        "requirements-build.lock",  # hatchling, hash-pinned, for the wheel build stage
        "pyproject.toml",
        "hatch_build.py",  # the testing extra's pin, derived from the one version file
        "README.md",
        "sdk",
        "agent",
    }
