"""kubectl 1.37 on the built-in workloads and services, on both backends.

``kubectl create deployment|job|cronjob`` (protobuf bodies), ``scale``, ``expose``, ``apply``
and re-apply (a strategic merge patch computed from the served OpenAPI), ``get`` with kube's
columns, ``get all``, ``explain``, and what needs a kubelet (``logs``, ``exec``) answering as a
kube-apiserver without one.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
KUBECTL = REPO / ".tools" / "kube" / "v1.37.2" / "kubectl"
NAMES = (f"kubectl-builtin-{i}" for i in itertools.count())


class Kubectl:
    """kubectl 1.37 with its own kubeconfig, cache and HOME."""

    def __init__(self, kubeconfig: str, home: Path) -> None:
        if not KUBECTL.exists():
            pytest.skip("kubectl 1.37 not built (make kube)")
        self.kubeconfig, self.home = kubeconfig, home
        home.mkdir(parents=True, exist_ok=True)

    def run(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(KUBECTL), f"--cache-dir={self.home / 'cache'}", *args],
            capture_output=True,
            text=True,
            input=stdin,
            timeout=60,
            env={**os.environ, "KUBECONFIG": self.kubeconfig, "HOME": str(self.home)},
            check=False,
        )

    def ok(self, *args: str, stdin: str | None = None) -> str:
        result = self.run(*args, stdin=stdin)
        assert result.returncode == 0, (args, result.stdout, result.stderr)
        return result.stdout


@pytest.fixture(scope="module")
def server(apiserver_class: Any) -> Iterator[Any]:
    with apiserver_class() as started:
        yield started


@pytest.fixture(scope="module")
def kubectl(server: Any, tmp_path_factory: pytest.TempPathFactory) -> Kubectl:
    return Kubectl(server.kubeconfig(), tmp_path_factory.mktemp("kubectl-home"))


@pytest.fixture
def ns(kubectl: Kubectl) -> str:
    name = next(NAMES)
    kubectl.ok("create", "namespace", name)
    return name


def test_create_scale_and_expose_a_deployment(kubectl: Kubectl, ns: str) -> None:
    kubectl.ok("create", "deployment", "web", "--image=nginx:1.27", "--replicas=2", "-n", ns)
    header, row = kubectl.ok("get", "deployments", "-n", ns).splitlines()
    assert header.split() == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    assert row.split()[:4] == ["web", "0/2", "0", "0"]
    assert kubectl.ok("scale", "deployment", "web", "--replicas=3", "-n", ns).strip() == (
        "deployment.apps/web scaled"
    )
    replicas = kubectl.ok("get", "deployment", "web", "-n", ns, "-o", "jsonpath={.spec.replicas}")
    assert replicas == "3"
    kubectl.ok("expose", "deployment", "web", "--port=80", "--target-port=8080", "-n", ns)
    service = json.loads(kubectl.ok("get", "service", "web", "-n", ns, "-o", "json"))
    assert service["spec"]["selector"] == {"app": "web"}
    assert service["spec"]["clusterIP"].startswith("10.96.")
    assert service["spec"]["ports"][0]["targetPort"] == 8080
    wide = kubectl.ok("get", "deployment", "web", "-n", ns, "-o", "wide").splitlines()
    assert wide[0].split()[-3:] == ["CONTAINERS", "IMAGES", "SELECTOR"]
    assert wide[1].split()[-3:] == ["nginx", "nginx:1.27", "app=web"]


def test_create_jobs_and_cron_jobs(kubectl: Kubectl, ns: str) -> None:
    kubectl.ok("create", "job", "once", "--image=busybox", "-n", ns, "--", "true")
    kubectl.ok("create", "cronjob", "tick", "--image=busybox", "--schedule=*/5 * * * *", "-n", ns)
    jobs = kubectl.ok("get", "jobs", "-n", ns).splitlines()
    assert jobs[0].split() == ["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"]
    assert jobs[1].split()[:3] == ["once", "Running", "0/1"]
    crons = kubectl.ok("get", "cronjobs", "-n", ns).splitlines()
    assert crons[0].split()[:3] == ["NAME", "SCHEDULE", "TIMEZONE"]
    assert "*/5 * * * *" in crons[1]
    bad = kubectl.run(
        "create", "cronjob", "bad", "--image=busybox", "--schedule=61 * * * *", "-n", ns
    )
    assert bad.returncode != 0
    assert "end of range (61) above maximum (59): 61" in bad.stderr


MANIFEST = """
apiVersion: apps/v1
kind: Deployment
metadata:
  name: applied
  labels: {{tier: {tier}}}
spec:
  replicas: 1
  selector: {{matchLabels: {{app: applied}}}}
  template:
    metadata: {{labels: {{app: applied}}}}
    spec:
      containers:
      - name: app
        image: {image}
        env: [{{name: MODE, value: "{tier}"}}]
---
apiVersion: v1
kind: Service
metadata: {{name: applied}}
spec:
  selector: {{app: applied}}
  ports: [{{port: 80, name: http}}]
"""


def test_apply_and_reapply_with_a_strategic_merge_patch(kubectl: Kubectl, ns: str) -> None:
    first = kubectl.ok(
        "apply", "-n", ns, "-f", "-", stdin=MANIFEST.format(tier="blue", image="nginx:1.26")
    )
    assert first.split("\n")[:2] == ["deployment.apps/applied created", "service/applied created"]
    again = kubectl.ok(
        "apply", "-n", ns, "-f", "-", stdin=MANIFEST.format(tier="green", image="nginx:1.27")
    )
    assert again.split("\n")[:2] == [
        "deployment.apps/applied configured",
        "service/applied unchanged",
    ]
    deployed = json.loads(kubectl.ok("get", "deployment", "applied", "-n", ns, "-o", "json"))
    container = deployed["spec"]["template"]["spec"]["containers"][0]
    assert (container["image"], container["env"]) == (
        "nginx:1.27",
        [{"name": "MODE", "value": "green"}],
    )
    assert deployed["metadata"]["generation"] == 2
    listed = kubectl.ok("get", "all", "-n", ns, "-o", "name").split()
    assert sorted(listed) == ["deployment.apps/applied", "service/applied"]


def test_explain_reads_kubes_schema(kubectl: Kubectl) -> None:
    out = kubectl.ok("explain", "deployment.spec.strategy.rollingUpdate")
    assert "KIND:       Deployment" in out
    assert "maxSurge\t<IntOrString>" in out


def test_what_needs_a_kubelet(server: Any, kubectl: Kubectl, ns: str) -> None:
    kubectl.ok("run", "lonely", "--image=busybox", "-n", ns)
    logs = kubectl.run("logs", "lonely", "-n", ns)
    assert (logs.returncode, logs.stdout) == (0, "")  # not scheduled: nothing logged yet
    ran = kubectl.run("exec", "lonely", "-n", ns, "--", "true")
    assert ran.returncode != 0
    assert "pod lonely does not have a host assigned" in ran.stderr
    kubectl.ok(
        "create",
        "-f",
        "-",
        stdin='{"apiVersion":"v1","kind":"Node","metadata":{"name":"kubectl-n1"}}',
    )
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "placed"},
        "spec": {"nodeName": "kubectl-n1", "containers": [{"name": "c", "image": "busybox"}]},
    }
    kubectl.ok("create", "-n", ns, "-f", "-", stdin=json.dumps(pod))
    status, body = server.request("GET", f"/api/v1/namespaces/{ns}/pods/placed/log")
    assert (status, body["message"]) == (500, "no preferred addresses found; known addresses: []")
    assert "reason" not in body
    status, body = server.request("GET", f"/api/v1/namespaces/{ns}/pods/missing/log")
    assert (status, body["message"]) == (404, 'pods "missing" not found')
    status, body = server.request("GET", "/api/v1/nodes/kubectl-n1/proxy/stats")
    assert (status, body["message"]) == (500, "no preferred addresses found; known addresses: []")
    status, body = server.request("GET", f"/api/v1/namespaces/{ns}/pods/placed/proxy/")
    assert (status, body["message"]) == (400, "address not allowed")
    status, body = server.request("GET", f"/api/v1/namespaces/{ns}/services/none/proxy/")
    assert (status, body["reason"]) == (503, "ServiceUnavailable")
    assert body["message"] == 'no endpoints available for service "none"'
