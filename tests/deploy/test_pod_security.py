"""Both workloads on kube-apiserver 1.37 and on the embedded server: applied as users apply
them, and admitted by exactly the Pod Security levels their manifests claim.

No controller runs here, so a DaemonSet or Deployment never makes Pods; Pod Security only
warns about workload objects. Enforcement is tested the way the kubelet's Pods would meet it:
a Pod created from each workload's own template in namespaces labelled
``pod-security.kubernetes.io/enforce=<level>`` (and ``warn``). The messages are kube-apiserver's.
"""

from __future__ import annotations

import copy
import json
import re
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
LEVELS = ("privileged", "baseline", "restricted")
WORKLOADS = {
    "daemonset": (DEPLOY / "daemonset" / "daemonset.yaml"),
    "deputy": (DEPLOY / "deputy" / "deployment.yaml"),
}
AGENT_POD = "node-agent-psa"

# What kube-apiserver v1.37.2 answers for the agent's Pod: the controls namespace.yaml names.
BASELINE_VIOLATIONS = (
    'host namespaces (hostNetwork=true), hostPath volumes (volume "run-cimp"), '
    'hostPort (container "agent" uses hostPort 9102), '
    'probe or lifecycle host (container "agent" uses probe or lifecycle host "127.0.0.1")'
)
RESTRICTED_VIOLATIONS = (
    'host namespaces (hostNetwork=true), hostPort (container "agent" uses hostPort 9102), '
    'probe or lifecycle host (container "agent" uses probe or lifecycle host "127.0.0.1"), '
    'unrestricted capabilities (container "own-run-dir" must not include "CHOWN" in '
    "securityContext.capabilities.add), "
    'restricted volume types (volume "run-cimp" uses restricted volume type "hostPath"), '
    'runAsNonRoot != true (container "own-run-dir" must not set securityContext.runAsNonRoot=false), '
    'runAsUser=0 (container "own-run-dir" must not set runAsUser=0)'
)
# (workload, level) -> None when admitted, else the violations listed in the 403.
EXPECTED: dict[tuple[str, str], str | None] = {
    ("daemonset", "privileged"): None,
    ("daemonset", "baseline"): BASELINE_VIOLATIONS,
    ("daemonset", "restricted"): RESTRICTED_VIOLATIONS,
    ("deputy", "privileged"): None,
    ("deputy", "baseline"): None,
    ("deputy", "restricted"): None,
}
NO_PRIORITY = (
    "needs kube-apiserver (--apiserver=kube): the embedded server has no Priority admission "
    "(priorityClassName to priority) yet"
)
NO_ADMISSION_CONFIG = (
    "needs kube-apiserver (--apiserver=kube): the embedded server takes no admission "
    "configuration file (ResourceQuota limitedResources)"
)


def workload(name: str) -> dict[str, Any]:
    [document] = [d for d in yaml.safe_load_all(WORKLOADS[name].read_text()) if d]
    result: dict[str, Any] = document
    return result


def pod_from_template(name: str, pod_name: str) -> dict[str, Any]:
    """What the workload's controller would create (no controller runs here)."""
    template = copy.deepcopy(workload(name)["spec"]["template"])
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {**template["metadata"], "name": pod_name},
        "spec": template["spec"],
    }


@pytest.fixture(scope="module")
def kube(apiserver_class: Callable[..., Any]) -> Iterator[Any]:
    """One API server (either backend) for the module, with a namespace per Pod Security
    level."""
    with apiserver_class() as server:
        for level in LEVELS:
            labels = {
                "pod-security.kubernetes.io/enforce": level,
                "pod-security.kubernetes.io/warn": level,
            }
            server.apply(
                {
                    "apiVersion": "v1",
                    "kind": "Namespace",
                    "metadata": {"name": f"psa-{level}", "labels": labels},
                }
            )
        yield server


def served_kinds(server: Any, api_version: str) -> set[str]:
    prefix = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
    status, listing = server.request("GET", prefix)
    return {r["kind"] for r in listing.get("resources", [])} if status == 200 else set()


def kubectl(server: Any, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    binary = getattr(server, "kubectl", None)
    if binary is None:  # the embedded server: the kubectl built with the reference server
        from constrained_impersonation.testing._assets import KubeBinariesNotFound, find_assets

        try:
            binary = find_assets().kubectl
        except KubeBinariesNotFound:
            binary = None
    if binary is None:
        pytest.skip("the kubectl of the pinned release was not built (make kube)")
    config = server.kubeconfig(server.admin_token)
    return subprocess.run(
        [str(binary), "--kubeconfig", str(config), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("directory", ["daemonset", "deputy"])
def test_kubectl_apply_k_creates_every_object_without_a_pod_security_warning(
    kube: Any, directory: str
) -> None:
    rendered = kubectl(kube, "kustomize", str(DEPLOY / directory))
    assert rendered.returncode == 0, rendered.stderr
    objects = [d for d in yaml.safe_load_all(rendered.stdout) if d]
    missing = sorted(
        {o["kind"] for o in objects if o["kind"] not in served_kinds(kube, o["apiVersion"])}
    )
    if missing:
        pytest.skip(f"this server serves no {', '.join(missing)} yet")
    done = kubectl(kube, "apply", "-k", str(DEPLOY / directory))
    assert done.returncode == 0, done.stderr
    assert "Warning" not in done.stderr, done.stderr
    for obj in objects:
        meta = obj["metadata"]
        got = kubectl(
            kube, "get", obj["kind"], meta["name"], "-n", meta.get("namespace", ""), "-o", "json"
        )
        assert got.returncode == 0, (obj["kind"], meta["name"], got.stderr)
        assert json.loads(got.stdout)["metadata"]["name"] == meta["name"]
    kinds = {o["kind"] for o in objects}
    expected = {"DaemonSet"} if directory == "daemonset" else {"Deployment", "PodDisruptionBudget"}
    assert expected <= kinds


@pytest.mark.parametrize(("name", "level"), sorted(EXPECTED))
def test_each_pod_template_is_admitted_by_exactly_the_levels_it_claims(
    kube: Any, name: str, level: str
) -> None:
    pod_name = f"{name}-{level}"
    status, body = kube.request(
        "POST", f"/api/v1/namespaces/psa-{level}/pods", pod_from_template(name, pod_name)
    )
    violations = EXPECTED[(name, level)]
    if violations is None:
        assert status == 201, body
        return
    assert status == 403, body
    assert body["reason"] == "Forbidden"
    assert body["message"] == (
        f'pods "{pod_name}" is forbidden: violates PodSecurity "{level}:latest": {violations}'
    )


def test_the_namespace_names_every_baseline_control_the_agent_needs() -> None:
    """namespace.yaml's explanation covers exactly the controls baseline refuses."""
    comment = " ".join(
        line.lstrip("# ")
        for line in (DEPLOY / "daemonset" / "namespace.yaml").read_text().splitlines()
        if line.startswith("#")
    )
    controls = re.findall(r"(?:^|, )([a-zA-Z ]+?) \(", BASELINE_VIOLATIONS)
    assert controls == [
        "host namespaces",
        "hostPath volumes",
        "hostPort",
        "probe or lifecycle host",
    ]
    for control in controls:
        assert control.split()[0] in comment, control
    [namespace] = [
        d for d in yaml.safe_load_all((DEPLOY / "daemonset" / "namespace.yaml").read_text()) if d
    ]
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "privileged"
    [namespace] = [
        d for d in yaml.safe_load_all((DEPLOY / "deputy" / "namespace.yaml").read_text()) if d
    ]
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


def test_workload_objects_are_admitted_with_a_warning_where_their_pods_would_not_be(
    kube: Any,
) -> None:
    """Pod Security does not enforce on a DaemonSet; it warns, naming the same controls but
    hostPort, which the API server sets on Pods only (from containerPort under hostNetwork):
    the warning understates what the Pods will need."""
    daemonset = workload("daemonset")
    daemonset["metadata"]["namespace"] = "psa-baseline"
    done = kubectl(kube, "apply", "-f", "-", stdin=json.dumps(daemonset))
    assert done.returncode == 0, done.stderr
    without_host_port = BASELINE_VIOLATIONS.replace(
        'hostPort (container "agent" uses hostPort 9102), ', ""
    )
    assert done.stderr.splitlines() == [
        f'Warning: would violate PodSecurity "baseline:latest": {without_host_port}'
    ]
    assert done.stdout.strip() == "daemonset.apps/node-agent created"


def test_the_agent_gets_system_node_critical_in_its_own_namespace(
    apiserver_backend: str, kube: Any
) -> None:
    if apiserver_backend == "embedded":
        pytest.skip(NO_PRIORITY)
    kube.apply(DEPLOY / "daemonset" / "namespace.yaml")
    status, body = kube.request(
        "POST", "/api/v1/namespaces/node-agents/pods", pod_from_template("daemonset", AGENT_POD)
    )
    assert status == 201, body
    assert body["spec"]["priorityClassName"] == "system-node-critical"
    assert body["spec"]["priority"] == 2000001000


def readme_quota() -> dict[str, Any]:
    text = (DEPLOY / "daemonset" / "README.md").read_text()
    match = re.search(r"<!-- priority-quota -->\s*```yaml\n(.*?)```", text, re.S)
    assert match is not None, "README.md: the ResourceQuota block after <!-- priority-quota -->"
    block = "\n".join(line.removeprefix("  ") for line in match[1].splitlines())
    quota: dict[str, Any] = yaml.safe_load(block)
    return quota


def test_where_critical_classes_are_limited_the_readme_quota_admits_the_agent(
    apiserver_backend: str, apiserver_class: Callable[..., Any], tmp_path: Path
) -> None:
    """A cluster configured as the Kubernetes docs suggest (ResourceQuota admission with
    limitedResources for critical priority classes) refuses the agent's Pods until the
    namespace has the quota deploy/daemonset/README.md gives."""
    if apiserver_backend == "embedded":
        pytest.skip(NO_ADMISSION_CONFIG)
    config = tmp_path / "admission.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "apiserver.config.k8s.io/v1",
                "kind": "AdmissionConfiguration",
                "plugins": [
                    {
                        "name": "ResourceQuota",
                        "configuration": {
                            "apiVersion": "apiserver.config.k8s.io/v1",
                            "kind": "ResourceQuotaConfiguration",
                            "limitedResources": [
                                {
                                    "resource": "pods",
                                    "matchScopes": [
                                        {
                                            "scopeName": "PriorityClass",
                                            "operator": "In",
                                            "values": [
                                                "system-node-critical",
                                                "system-cluster-critical",
                                            ],
                                        }
                                    ],
                                }
                            ],
                        },
                    }
                ],
            }
        )
    )
    with apiserver_class(extra_args=[f"--admission-control-config-file={config}"]) as server:
        server.apply(DEPLOY / "daemonset" / "namespace.yaml")
        pod = pod_from_template("daemonset", AGENT_POD)
        status, body = server.request("POST", "/api/v1/namespaces/node-agents/pods", pod)
        assert (status, body["message"]) == (
            500,
            "insufficient quota to match these scopes: "
            "[{PriorityClass In [system-node-critical system-cluster-critical]}]",
        )
        quota = readme_quota()
        assert quota["metadata"]["namespace"] == "node-agents"
        server.apply(quota)
        status, body = server.request("POST", "/api/v1/namespaces/node-agents/pods", pod)
        assert status == 201, body
