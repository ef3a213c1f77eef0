"""Pod Security admission through HTTP, as kube-apiserver v1.37.2 answers: the 403 for an
``enforce`` violation, ``Warning`` headers for ``warn``, audit annotations for every evaluated
pod write, namespace label validation, the warnings when ``enforce`` tightens over existing
pods, pod templates (warned, never refused), versioned policies and the Pod defaulting Pod
Security sees. Run against both backends: every text here is the real server's.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from ._raw import request

APIServer = Any
L = "pod-security.kubernetes.io/"
MERGE = "application/merge-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"
RESTRICTED_DEFAULTS = (
    'allowPrivilegeEscalation != false (container "c" must set '
    "securityContext.allowPrivilegeEscalation=false), "
    'unrestricted capabilities (container "c" must set securityContext.capabilities.drop=["ALL"]), '
    'runAsNonRoot != true (pod or container "c" must set securityContext.runAsNonRoot=true), '
    'seccompProfile (pod or container "c" must set securityContext.seccompProfile.type to '
    '"RuntimeDefault" or "Localhost")'
)
PRIVILEGED_C = 'privileged (container "c" must not set securityContext.privileged=true)'
NAMESPACES = {
    "psa-restricted": {L + "enforce": "restricted"},
    "psa-baseline": {L + "enforce": "baseline", L + "warn": "restricted"},
    "psa-warn": {L + "warn": "baseline", L + "audit": "restricted"},
    "psa-old": {
        L + "enforce": "restricted",
        L + "enforce-version": "v1.22",
        L + "warn-version": "latest",
    },
    "psa-audit": {L + "audit": "baseline", L + "audit-version": "v1.0"},
    "psa-templates": {L + "warn": "baseline", L + "audit": "baseline"},
}


def pod(name: str, **spec: Any) -> dict[str, Any]:
    container = {"name": "c", "image": "busybox"}
    container.update(spec.pop("container", {}))
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"containers": [container], **spec},
    }


RESTRICTED_OK = {
    "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
    "container": {
        "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}
    },
}


@pytest.fixture(scope="module")
def server(apiserver_class: Callable[..., Any]) -> Iterator[APIServer]:
    with apiserver_class() as srv:
        srv.apply(
            *(
                {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": n, "labels": labels}}
                for n, labels in NAMESPACES.items()
            )
        )
        yield srv


def send(
    server: APIServer,
    method: str,
    path: str,
    body: Any = None,
    content_type: str = "application/json",
) -> tuple[int, Any, list[str]]:
    """(status, body, the texts of the Warning headers)."""
    code, data, headers = request(
        server, method, path, token=server.admin_token, body=body, content_type=content_type
    )
    texts = []
    for value in headers.get_all("Warning") or []:
        match = re.fullmatch(r'299 - "((?:[^"\\]|\\.)*)"', value)
        assert match is not None, value
        texts.append(re.sub(r"\\(.)", r"\1", match[1]))
    return code, data, texts


def create(server: APIServer, namespace: str, obj: dict[str, Any]) -> tuple[int, Any, list[str]]:
    return send(server, "POST", f"/api/v1/namespaces/{namespace}/pods", obj)


def psa_annotations(server: APIServer, uri: str, verb: str) -> dict[str, str]:
    """The Pod Security audit annotations of the last completed request to ``uri``."""
    events = [
        e
        for e in server.audit_events()
        if e["requestURI"] == uri and e["verb"] == verb and e["stage"] == "ResponseComplete"
    ]
    assert events, f"no audit event for {verb} {uri}"
    annotations = events[-1].get("annotations") or {}
    return {k: v for k, v in annotations.items() if k.startswith(L)}


# ------------------------------------------------------------------------------- enforce


def test_a_privileged_pod_is_refused_in_a_restricted_namespace(server: APIServer) -> None:
    body = pod("x", container={"securityContext": {"privileged": True}})
    code, status, warnings = create(server, "psa-restricted", body)
    assert code == 403
    assert status["reason"] == "Forbidden"
    assert status["details"] == {"name": "x", "kind": "pods"}
    assert status["message"] == (
        'pods "x" is forbidden: violates PodSecurity "restricted:latest": '
        f"{PRIVILEGED_C}, {RESTRICTED_DEFAULTS}"
    )
    assert warnings == []
    assert psa_annotations(server, "/api/v1/namespaces/psa-restricted/pods", "create") == {
        L + "enforce-policy": "restricted:latest"
    }


def test_host_port_is_defaulted_from_the_container_port_under_host_network(
    server: APIServer,
) -> None:
    body = pod("hn", hostNetwork=True, container={"ports": [{"containerPort": 8080}]})
    code, status, _ = create(server, "psa-baseline", body)
    assert code == 403
    assert status["message"] == (
        'pods "hn" is forbidden: violates PodSecurity "baseline:latest": '
        'host namespaces (hostNetwork=true), hostPort (container "c" uses hostPort 8080)'
    )
    code, created, _ = create(server, "default", body)
    assert code == 201
    assert created["spec"]["containers"][0]["ports"][0]["hostPort"] == 8080


def test_a_pod_meeting_restricted_is_created(server: APIServer) -> None:
    code, created, warnings = create(server, "psa-restricted", pod("ok", **RESTRICTED_OK))
    assert code == 201, created
    assert warnings == []


def test_a_generated_name_is_named_in_the_refusal(server: APIServer) -> None:
    body = pod("", container={"securityContext": {"privileged": True}})
    body["metadata"] = {"generateName": "gen-"}
    code, status, _ = create(server, "psa-baseline", body)
    assert code == 403
    assert re.fullmatch(
        r'pods "gen-[a-z0-9]{5}" is forbidden: violates PodSecurity "baseline:latest": '
        + re.escape(PRIVILEGED_C),
        status["message"],
    ), status["message"]


def test_validation_answers_before_pod_security(server: APIServer) -> None:
    body = pod("invalid", hostNetwork=True)
    del body["spec"]["containers"][0]["image"]
    code, status, _ = create(server, "psa-restricted", body)
    assert (code, status["message"]) == (
        422,
        'Pod "invalid" is invalid: spec.containers[0].image: Required value',
    )


# ------------------------------------------------------------------------------- warn, audit


def test_warn_and_audit_levels_warn_and_annotate_without_refusing(server: APIServer) -> None:
    body = pod("w", hostNetwork=True, container={"securityContext": {"privileged": True}})
    code, _, warnings = create(server, "psa-warn", body)
    assert code == 201
    assert warnings == [
        'would violate PodSecurity "baseline:latest": host namespaces (hostNetwork=true), '
        + PRIVILEGED_C
    ]
    assert psa_annotations(server, "/api/v1/namespaces/psa-warn/pods", "create") == {
        L + "enforce-policy": "privileged:latest",
        L + "audit-violations": 'would violate PodSecurity "restricted:latest": '
        f"host namespaces (hostNetwork=true), {PRIVILEGED_C}, {RESTRICTED_DEFAULTS}",
    }


def test_a_pod_enforce_allows_is_warned_about(server: APIServer) -> None:
    """psa-baseline enforces baseline and warns restricted."""
    code, _, warnings = create(server, "psa-baseline", pod("bw"))
    assert code == 201
    assert warnings == [f'would violate PodSecurity "restricted:latest": {RESTRICTED_DEFAULTS}']


def test_every_pod_write_in_a_privileged_namespace_is_annotated(server: APIServer) -> None:
    code, _, _ = create(server, "default", pod("plain"))
    assert code == 201
    path = "/api/v1/namespaces/default/pods/plain"
    assert psa_annotations(server, "/api/v1/namespaces/default/pods", "create") == {
        L + "enforce-policy": "privileged:latest"
    }
    code, _, _ = send(server, "PATCH", path, {"metadata": {"labels": {"a": "b"}}}, MERGE)
    assert code == 200
    assert psa_annotations(server, path, "patch") == {L + "enforce-policy": "privileged:latest"}


def test_only_updates_that_change_what_the_policy_sees_are_evaluated(server: APIServer) -> None:
    code, _, _ = create(server, "psa-old", pod("upd", **RESTRICTED_OK))
    assert code == 201
    path = "/api/v1/namespaces/psa-old/pods/upd"
    code, _, _ = send(server, "PATCH", path, {"metadata": {"labels": {"a": "b"}}}, MERGE)
    assert code == 200
    assert psa_annotations(server, path, "patch") == {}
    image = {"spec": {"containers": [{"name": "c", "image": "busybox:2"}]}}
    code, _, _ = send(server, "PATCH", path, image, STRATEGIC)
    assert code == 200
    assert psa_annotations(server, path, "patch") == {L + "enforce-policy": "restricted:v1.22"}


def test_old_policy_versions_check_what_they_checked_then(server: APIServer) -> None:
    """restricted:v1.22 had no runAsUser check (v1.23) and no probe host check (v1.34); psa-old
    warns at restricted:latest (an unset warn level follows enforce, keeping its own version)."""
    body = pod(
        "v122",
        **{
            **RESTRICTED_OK,
            "container": {
                "securityContext": {
                    "allowPrivilegeEscalation": False,
                    "capabilities": {"drop": ["ALL"]},
                    "runAsUser": 0,
                },
                "readinessProbe": {"httpGet": {"host": "10.0.0.1", "port": 80}},
            },
        },
    )
    latest = (
        'probe or lifecycle host (container "c" uses probe or lifecycle host "10.0.0.1"), '
        'runAsUser=0 (container "c" must not set runAsUser=0)'
    )
    code, _, warnings = create(server, "psa-old", body)
    assert code == 201
    assert warnings == [f'would violate PodSecurity "restricted:latest": {latest}']
    body["metadata"]["name"] = "latest"
    code, status, _ = create(server, "psa-restricted", body)
    assert code == 403
    assert status["message"] == (
        f'pods "latest" is forbidden: violates PodSecurity "restricted:latest": {latest}'
    )


def test_many_controls_are_listed_in_kubes_order(server: APIServer) -> None:
    body = pod(
        "many",
        securityContext={
            "sysctls": [
                {"name": "kernel.msgmax", "value": "1"},
                {"name": "net.ipv4.tcp_notsent_lowat", "value": "1"},
            ]
        },
        container={
            "securityContext": {
                "runAsUser": 0,
                "seccompProfile": {"type": "Unconfined"},
                "capabilities": {"add": ["SYS_ADMIN", "NET_RAW"], "drop": ["ALL"]},
                "procMount": "Unmasked",
            }
        },
        volumes=[
            {"name": "v"},
            {"name": "h", "hostPath": {"path": "/x"}},
            {"name": "n", "nfs": {"server": "s", "path": "/"}},
        ],
        hostUsers=False,
    )
    body["metadata"]["annotations"] = {
        "container.apparmor.security.beta.kubernetes.io/c": "unconfined"
    }
    code, status, warnings = create(server, "psa-restricted", body)
    assert code == 403
    assert status["message"] == (
        'pods "many" is forbidden: violates PodSecurity "restricted:latest": '
        'forbidden AppArmor profiles (container "c" and annotation must not set AppArmor profile '
        'type to "Unconfined", "container.apparmor.security.beta.kubernetes.io/c="unconfined""), '
        "forbidden sysctls (kernel.msgmax), "
        'allowPrivilegeEscalation != false (container "c" must set '
        "securityContext.allowPrivilegeEscalation=false), "
        'unrestricted capabilities (container "c" must not include "NET_RAW", "SYS_ADMIN" in '
        "securityContext.capabilities.add), "
        'procMount (container "c" must not set securityContext.procMount to "Unmasked"), '
        'restricted volume types (volumes "h", "n" use restricted volume types "hostPath", "nfs"), '
        'seccompProfile (container "c" must not set securityContext.seccompProfile.type to '
        '"Unconfined")'
    )
    # The pod strategy copies the deprecated annotation into the field, and says so.
    assert warnings == [
        "metadata.annotations[container.apparmor.security.beta.kubernetes.io/c]: deprecated "
        'since v1.30; use the "appArmorProfile" field instead'
    ]
    assert psa_annotations(server, "/api/v1/namespaces/psa-restricted/pods", "create") == {
        L + "enforce-policy": "restricted:latest"
    }


def test_an_old_audit_version_audits_old_controls(server: APIServer) -> None:
    body = pod("aud", container={"ports": [{"containerPort": 80, "hostPort": 80}]})
    body["spec"]["securityContext"] = {"sysctls": [{"name": "net.ipv4.tcp_rmem", "value": "1"}]}
    code, _, warnings = create(server, "psa-audit", body)
    assert (code, warnings) == (201, [])
    assert psa_annotations(server, "/api/v1/namespaces/psa-audit/pods", "create") == {
        L + "enforce-policy": "privileged:latest",
        L
        + "audit-violations": 'would violate PodSecurity "baseline:v1.0": hostPort (container "c" '
        "uses hostPort 80), forbidden sysctls (net.ipv4.tcp_rmem)",
    }


# ------------------------------------------------------------------------------- templates


def daemonset(name: str) -> dict[str, Any]:
    template = pod(name, hostNetwork=True, container={"ports": [{"containerPort": 80}]})
    template["spec"]["volumes"] = [{"name": "h", "hostPath": {"path": "/run"}}]
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": name},
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": template["spec"]},
        },
    }


def test_a_pod_template_is_warned_about_never_refused(server: APIServer) -> None:
    """No hostPort in the warning: the API server defaults it on Pods only."""
    path = "/apis/apps/v1/namespaces/psa-restricted/daemonsets"
    code, created, warnings = send(server, "POST", path, daemonset("ds"))
    assert code == 201, created
    assert warnings == [
        'would violate PodSecurity "restricted:latest": host namespaces (hostNetwork=true), '
        'allowPrivilegeEscalation != false (container "c" must set '
        "securityContext.allowPrivilegeEscalation=false), "
        'unrestricted capabilities (container "c" must set '
        'securityContext.capabilities.drop=["ALL"]), '
        'restricted volume types (volume "h" uses restricted volume type "hostPath"), '
        'runAsNonRoot != true (pod or container "c" must set securityContext.runAsNonRoot=true), '
        'seccompProfile (pod or container "c" must set securityContext.seccompProfile.type to '
        '"RuntimeDefault" or "Localhost")'
    ]
    assert created["spec"]["template"]["spec"]["containers"][0]["ports"] == [
        {"containerPort": 80, "protocol": "TCP"}
    ]
    assert psa_annotations(server, path, "create") == {}


def test_a_pod_template_is_audited(server: APIServer) -> None:
    path = "/apis/apps/v1/namespaces/psa-audit/daemonsets"
    code, _, warnings = send(server, "POST", path, daemonset("audited"))
    assert (code, warnings) == (201, [])
    assert psa_annotations(server, path, "create") == {
        L + "audit-violations": 'would violate PodSecurity "baseline:v1.0": host namespaces '
        '(hostNetwork=true), hostPath volumes (volume "h")'
    }


HOST_PID = {
    "metadata": {"labels": {"a": "b"}},
    "spec": {"hostPID": True, "containers": [{"name": "c", "image": "busybox"}]},
}
# Every built-in resource with a pod template, where the template is.
WORKLOADS = {
    ("v1", "ReplicationController", "replicationcontrollers"): {
        "spec": {"selector": {"a": "b"}, "template": HOST_PID}
    },
    ("v1", "PodTemplate", "podtemplates"): {"template": HOST_PID},
    ("apps/v1", "Deployment", "deployments"): {
        "spec": {"selector": {"matchLabels": {"a": "b"}}, "template": HOST_PID}
    },
    ("apps/v1", "ReplicaSet", "replicasets"): {
        "spec": {"selector": {"matchLabels": {"a": "b"}}, "template": HOST_PID}
    },
    ("apps/v1", "StatefulSet", "statefulsets"): {
        "spec": {"selector": {"matchLabels": {"a": "b"}}, "serviceName": "s", "template": HOST_PID}
    },
    ("batch/v1", "Job", "jobs"): {
        "spec": {"template": {**HOST_PID, "spec": {**HOST_PID["spec"], "restartPolicy": "Never"}}}
    },
    ("batch/v1", "CronJob", "cronjobs"): {
        "spec": {
            "schedule": "* * * * *",
            "jobTemplate": {
                "spec": {
                    "template": {
                        **HOST_PID,
                        "spec": {**HOST_PID["spec"], "restartPolicy": "Never"},
                    }
                }
            },
        }
    },
}


@pytest.mark.parametrize("workload", sorted(WORKLOADS), ids=lambda w: w[1])
def test_every_workload_template_is_warned_about_and_audited(
    server: APIServer, workload: tuple[str, str, str]
) -> None:
    api_version, kind, resource = workload
    prefix = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
    _, listing = server.request("GET", prefix)
    if kind not in {r["kind"] for r in (listing or {}).get("resources", [])}:
        pytest.skip(f"this server serves no {kind} yet")
    body = {
        "apiVersion": api_version,
        "kind": kind,
        "metadata": {"name": "w"},
        **WORKLOADS[workload],
    }
    path = f"{prefix}/namespaces/psa-templates/{resource}"
    code, created, warnings = send(server, "POST", path, body)
    violation = 'would violate PodSecurity "baseline:latest": host namespaces (hostPID=true)'
    assert (code, warnings) == (201, [violation]), created
    assert psa_annotations(server, path, "create") == {L + "audit-violations": violation}
    if resource != "podtemplates":  # a subresource write (status, scale) is not evaluated
        code, _, warnings = send(server, "PUT", f"{path}/w/status", created)
        assert (code, warnings) == (200, [])
        assert psa_annotations(server, f"{path}/w/status", "update") == {}


# ------------------------------------------------------------------------------- namespaces


def test_namespace_labels_must_parse(server: APIServer) -> None:
    body = {
        "metadata": {
            "name": "psa-bad",
            "labels": {L + "enforce": "strict", L + "warn-version": "v2.0"},
        }
    }
    code, status, _ = send(server, "POST", "/api/v1/namespaces", body)
    assert code == 422
    assert status["message"] == (
        'Namespace "psa-bad" is invalid: ['
        f'metadata.labels[{L}enforce]: Invalid value: "strict": must be one of privileged, '
        "baseline, restricted, "
        f'metadata.labels[{L}warn-version]: Invalid value: "v2.0": must be "latest" or "v1.x"]'
    )
    assert status["details"]["causes"] == [
        {
            "reason": "FieldValueInvalid",
            "message": 'Invalid value: "strict": must be one of privileged, baseline, restricted',
            "field": f"metadata.labels[{L}enforce]",
        },
        {
            "reason": "FieldValueInvalid",
            "message": 'Invalid value: "v2.0": must be "latest" or "v1.x"',
            "field": f"metadata.labels[{L}warn-version]",
        },
    ]
    patch = {"metadata": {"labels": {L + "audit-version": "v1.01"}}}
    code, status, _ = send(server, "PATCH", "/api/v1/namespaces/psa-warn", patch, MERGE)
    assert (code, status["message"]) == (
        422,
        f'Namespace "psa-warn" is invalid: metadata.labels[{L}audit-version]: Invalid value: '
        '"v1.01": must be "latest" or "v1.x"',
    )


def test_tightening_enforce_warns_about_existing_pods(server: APIServer) -> None:
    server.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "psa-tighten"}})
    bad = {"securityContext": {"privileged": True}}
    for name in ("b-priv", "a-priv", "c-priv"):
        assert create(server, "psa-tighten", pod(name, container=bad))[0] == 201
    assert create(server, "psa-tighten", pod("hostnet", hostNetwork=True))[0] == 201
    assert create(server, "psa-tighten", pod("fine", **RESTRICTED_OK))[0] == 201
    path = "/api/v1/namespaces/psa-tighten"
    expected = [
        'existing pods in namespace "psa-tighten" violate the new PodSecurity enforce level '
        '"baseline:v1.30"',
        "a-priv (and 2 other pods): privileged",
        "hostnet: host namespaces",
    ]
    warnings: list[str] = []
    for _ in range(40):  # kube reads pods from an informer a few ms behind
        labels = {L + "enforce": "baseline", L + "enforce-version": "v1.30"}
        code, _, warnings = send(server, "PATCH", path, {"metadata": {"labels": labels}}, MERGE)
        assert code == 200
        if warnings == expected:
            break
        send(server, "PATCH", path, {"metadata": {"labels": {L + "enforce": None}}}, MERGE)
        time.sleep(0.05)
    assert warnings == expected
    # The same level again, or a looser one, is not checked.
    code, _, warnings = send(
        server, "PATCH", path, {"metadata": {"annotations": {"a": "b"}}}, MERGE
    )
    assert (code, warnings) == (200, [])
    labels = {L + "enforce": "privileged"}
    code, _, warnings = send(server, "PATCH", path, {"metadata": {"labels": labels}}, MERGE)
    assert (code, warnings) == (200, [])
    # restricted reasons list every control each pod misses, without details.
    labels = {L + "enforce": "restricted", L + "enforce-version": "latest"}
    code, _, warnings = send(server, "PATCH", path, {"metadata": {"labels": labels}}, MERGE)
    assert code == 200
    reasons = (
        "allowPrivilegeEscalation != false, unrestricted capabilities, runAsNonRoot != true, "
        "seccompProfile"
    )
    assert warnings == [
        'existing pods in namespace "psa-tighten" violate the new PodSecurity enforce level '
        '"restricted:latest"',
        f"a-priv (and 2 other pods): privileged, {reasons}",
        f"hostnet: host namespaces, {reasons}",
    ]


# ------------------------------------------------------------------------------- kubectl


def kubectl_binary(server: APIServer) -> str:
    binary = getattr(server, "kubectl", None)
    if binary is None:
        from constrained_impersonation.testing._assets import KubeBinariesNotFound, find_assets

        try:
            binary = find_assets().kubectl
        except KubeBinariesNotFound:
            binary = None
    if binary is None:
        pytest.skip("the kubectl of the pinned release was not built (make kube)")
    return str(binary)


def test_kubectl_shows_the_warning(server: APIServer) -> None:
    manifest = pod("kubectl-warned", hostNetwork=True)
    manifest["metadata"]["namespace"] = "psa-warn"
    config = server.kubeconfig(server.admin_token)
    done = subprocess.run(
        [kubectl_binary(server), "--kubeconfig", config, "create", "-f", "-"],
        input=json.dumps(manifest),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines() == [
        'Warning: would violate PodSecurity "baseline:latest": host namespaces (hostNetwork=true)'
    ]
    assert done.stdout.strip() == "pod/kubectl-warned created"


def test_an_ephemeral_container_is_checked_like_any_other(server: APIServer) -> None:
    code, created, _ = create(server, "psa-baseline", pod("debugged"))
    assert code == 201
    path = "/api/v1/namespaces/psa-baseline/pods/debugged/ephemeralcontainers"
    debug = {"name": "dbg", "image": "busybox", "securityContext": {"privileged": True}}
    created["spec"]["ephemeralContainers"] = [debug]
    code, status, _ = send(server, "PUT", path, created)
    if code == 405:
        pytest.skip("this server does not write pods/ephemeralcontainers yet")
    assert code == 403
    assert status["message"] == (
        'pods "debugged" is forbidden: violates PodSecurity "baseline:latest": '
        'privileged (container "dbg" must not set securityContext.privileged=true)'
    )
    assert psa_annotations(server, path, "update") == {L + "enforce-policy": "baseline:latest"}
